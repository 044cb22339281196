/* RUN_DIR/latents.h5: an archive encoded by a trained model, everything the report draws
 * besides the loss history, so a report can be redrawn without the model (DESIGN.md "Run and
 * report"). `eval` writes it; `report` reads it.
 *
 * Layout (HDF5, float64 unless said):
 *   /z           [n][m]            the latents of every sample
 *   /zmin, /zmax [m]               their range over the data
 *   /factors     [n][k]            ground-truth factors (only when the archive has them), with
 *                                  attribute `names` (k strings)
 *   /traversals  float32 [m][steps][features]  decoder outputs in data units while latent j
 *                                  sweeps zmin_j .. zmax_j in `steps` even steps, the others at
 *                                  the code of sample `base`
 *   /kl          [m]               optional (Gaussian heads): each latent's KL(q(z_j|x) || N(0,1))
 *                                  averaged over the samples, in nats; files without it (other
 *                                  heads, or written before it existed) read with kl = NULL;
 *                                  attribute `threshold` (float64): eval's -kl_threshold
 *   /generated   float32 [g][features]  optional: decoder outputs in data units of g latent
 *                                  vectors drawn from the Gaussian fitted to /z (its mean and
 *                                  covariance): generation by sampling the latent space
 *   /swap        float32 [s][s][features]  optional (ML-VAE): decoder outputs in data units of the
 *                                  content latents of sample swap_rows[i] with the style latents
 *                                  of sample swap_rows[j] (the samples from s distinct groups;
 *                                  the diagonal is their reconstruction); /swap_rows int64 [s];
 *                                  root attribute swap_content (int64): the content latents
 *                                  (0 .. swap_content - 1 of z)
 *   attributes on /: version (int), sample_dims (int64 [1] = {L} or [3] = {C, H, W}),
 *     data_mean, data_std (the data normalisation: data units = mean + std * net units),
 *     active_threshold, base, step, seed (int64), method, title, data (strings).
 *
 * Reading checks every dataset and attribute (class, size, rank, shape) before it is used: a
 * file this program did not write is one input error naming the file and the dataset. */
#ifndef DISENTANGLE_ENCODED_H
#define DISENTANGLE_ENCODED_H

#include <mpi.h>
#include <petscsys.h>
#include <stdint.h>

#define ENCODED_VERSION 1
#define ENCODED_MAX_FACTORS 64
#define ENCODED_WORD_LEN 64
#define ENCODED_TEXT_LEN 4096

typedef struct {
  int n, m;                  /* samples, latents */
  double *z;                 /* [n][m] */
  double *zmin, *zmax;       /* [m] */
  double *kl;                /* [m] mean KL to the prior per latent, or NULL (no /kl) */
  double kl_threshold;       /* a latent with more KL counts as used; NaN when not known */
  double active_threshold;   /* a latent whose range exceeds this is active */
  int k;                     /* ground-truth factors; 0: none */
  double *factors;           /* [n][k], or NULL */
  char *factor_names[ENCODED_MAX_FACTORS];
  int sample_ndims;          /* 1: samples are [L]; 3: [C, H, W] */
  int64_t sample_dims[3];
  double data_mean, data_std;
  int steps;                 /* traversal positions per latent */
  int64_t features;          /* values per sample: the product of sample_dims */
  float *traversals;         /* [m][steps][features] */
  int ngenerated;            /* rows of generated; 0: none */
  float *generated;          /* [ngenerated][features], or NULL */
  int nswap;                 /* samples of the content/style swap grid; 0: none */
  int swap_content;          /* latents 0 .. swap_content-1 are content */
  int64_t *swap_rows;        /* [nswap] */
  float *swap;               /* [nswap][nswap][features]: content of row i, style of row j */
  int64_t base, step, seed;
  char method[ENCODED_WORD_LEN];
  char title[ENCODED_TEXT_LEN]; /* one line, e.g. "nashae, 4 latents, seed 1, step 1500" */
  char data[ENCODED_TEXT_LEN];  /* the archive(s) encoded */
} Encoded;

/* Write e to path (PATH.tmp, then renamed): rank 0 writes with serial HDF5, every rank learns
 * the outcome; a failure is an output error naming the file. Collective on comm. */
PetscErrorCode encoded_write(MPI_Comm comm, const char *path, const Encoded *e);

/* Read path into *e (arrays PetscMalloc'd; encoded_free releases them). Every rank reads the
 * file, so every rank finds the same problem: a missing file, a file that is not HDF5, or a
 * dataset or attribute of the wrong class, size or shape is an input error naming the file
 * (and the dataset). */
PetscErrorCode encoded_read(MPI_Comm comm, const char *path, Encoded *e);
void encoded_free(Encoded *e);

#endif
