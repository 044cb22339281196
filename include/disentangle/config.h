/* The configuration of a training run that every method shares: what `disentangle train` reads
 * from its options besides the method's own (MethodOps.options). */
#ifndef DISENTANGLE_CONFIG_H
#define DISENTANGLE_CONFIG_H

#include <petscsys.h>

#define CONFIG_PATH_LEN 4096
#define CONFIG_WORD_LEN 64

typedef struct {
  char method[CONFIG_WORD_LEN];
  char data[CONFIG_PATH_LEN];    /* comma-separated archives */
  char run_dir[CONFIG_PATH_LEN];
  PetscInt seed, steps, batch, latents;
  char hidden[CONFIG_WORD_LEN];      /* encoder hidden widths, e.g. "200,80,40"; decoder mirrors */
  char activation[CONFIG_WORD_LEN];  /* hidden activation of encoder and decoder */
  char arch[CONFIG_WORD_LEN];        /* mlp (from hidden/activation) | dsprites_conv | dsprites_fc */
  char rec_loss[CONFIG_WORD_LEN];    /* mse | gaussian | bernoulli (on the decoder's logits; data in [0,1]) */
  PetscReal lr;
  PetscInt groups;                   /* adversary rank groups; 0 = min(ranks, latents) */
  PetscReal data_mean, data_std;     /* normalisation override; std 0 = from the archive */
  PetscReal active_threshold;        /* a latent is active when its range exceeds this */
  PetscInt progress_every;
  PetscInt blas_threads;
  PetscInt checkpoint_every;         /* steps; 0: off */
  PetscReal checkpoint_minutes;      /* wall-clock minutes; 0: off */
  PetscInt checkpoint_keep;          /* how many step checkpoints stay */
  char restart[CONFIG_PATH_LEN];     /* none | auto | FILE */
  char on_nan[CONFIG_WORD_LEN];      /* stop | skip_batch: what a non-finite loss or parameter does */
  PetscInt on_nan_max;               /* skip_batch: at most this many batches skipped, then stop */
  char head[CONFIG_WORD_LEN];        /* "" (the method's own) | sigmoid | identity: a deterministic method's latents */
  PetscReal lsigma_lambda, l1_lambda; /* L_Sigma and L1 activity penalty weights (lsigma.h) */
  char lsigma_layers[CONFIG_WORD_LEN]; /* the layers they are on: latents, code, encK, decK */
  PetscInt grad_bucket_kb;           /* gradient allreduce bucket size; 0: one bucket */
  PetscBool grad_overlap;            /* start buckets during backward */
  char grad_reduce[CONFIG_WORD_LEN]; /* mpi | node: how the gradients are summed (paramset.h) */
  char sampler[CONFIG_WORD_LEN];     /* iid | epoch: how global batches are drawn (archive.h) */
  PetscInt sampler_chunk;            /* epoch: samples per chunk of the per-epoch permutation */
  PetscInt sampler_window;           /* epoch: chunks per shuffle window */
  PetscReal io_buffer_mb;            /* > 0: stream the archive with at most this much sample data per rank; 0: in memory */
  char on_bad_record[CONFIG_WORD_LEN]; /* fail | skip: a NaN/Inf sample or a file unreadable mid-run */
  PetscInt group_size;               /* -sampler grouped: samples per group in a batch; the global batch is
                                      * -batch / group_size whole groups, rows in group-major order
                                      * (global row j belongs to the batch's group j / group_size) */
  PetscBool reproducible;            /* the same bits on any rank count (docs/reproducible.md) */
  PetscInt reproducible_chunk;       /* -reproducible: rows per micro-chunk of the global batch */
  PetscReal holdout_groups;          /* -sampler grouped: share of the archive's groups never trained on (chosen from the seed) */
} Config;

#endif
