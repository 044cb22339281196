/* A run (src/run/): its configuration, data, ranks and method, the training loop, restart,
 * stop requests, checkpoints, the run directory, and encoding an archive with its model. The
 * commands (src/driver/) call these and never each other. */
#ifndef DISENTANGLE_RUN_H
#define DISENTANGLE_RUN_H

#include "disentangle/archive.h"
#include "disentangle/ckpt.h"
#include "disentangle/comm.h"
#include "disentangle/config.h"
#include "disentangle/error.h"
#include "disentangle/method.h"
#include "disentangle/options.h"

/* The option table of `train` (bench reads the same options). */
const OptSpec *train_options(int *n);


/* Everything a run is made of, set up from a Config: the data, the ranks, the method, and
 * where the run is: the last completed step and the loss history up to it. */
typedef struct {
  Config cfg;
  Archive *archive;
  Par par;
  Method *method;
  void *method_opts; /* the method's own options (MethodOps.options) */
  long step;
  double *history; /* [history_rows][history_cols] */
  long history_rows, history_cap;
  int history_cols; /* step, the method's losses (MethodOps.loss_names), samples_per_s */
  char history_columns[512]; /* their names, comma-separated: the header of history.csv */
  char run_id[CKPT_RUN_ID_LEN + 1]; /* this run's identity, in every file it writes */
  int continued;                    /* restarted from a checkpoint (of run run_id) */
  long skipped;                     /* batches whose update was skipped (-on_nan skip_batch), this invocation */
  char *log;                        /* this invocation's run log line (runlog.h), PetscMalloc'd */
} Run;

/* An empty run, safe to run_free. */
void run_init(Run *run);
/* Read and validate the options, open the data, create the method. */
PetscErrorCode run_setup(MPI_Comm comm, Run *run);
/* Open the data and create the method from run->cfg as it stands (norm: how to normalise;
 * training: check that the batch fits the ranks and the data). */
PetscErrorCode run_build(MPI_Comm comm, Run *run, const ArchiveNorm *norm, int training);
/* A trained model for evaluation: the configuration stored in the model file (a checkpoint or
 * model.h5), the data given (or the run's own when data is NULL or ""), normalised as in
 * training, and the trained state loaded. io_buffer_mb >= 0 replaces the run's -io_buffer_mb
 * (how the data is read: streamed or in memory); < 0 keeps it. */
PetscErrorCode run_load_model(MPI_Comm comm, const char *model, const char *data, double io_buffer_mb, Run *run);
/* A checkpoint's method attribute: a method this program knows, the one its options name, and
 * (want not NULL) the one wanted; an input error naming the file otherwise. */
PetscErrorCode run_check_method(MPI_Comm comm, const char *path, const CkptMeta *meta, const char *want);
void run_free(Run *run);
/* Before the method is created (src/run/cost.c): estimate the memory its model needs per rank
 * from the options; refuse what this node cannot hold (an input error naming the estimate and
 * the option that would help), and announce a large one (its set-up takes a while). */
PetscErrorCode run_check_model_cost(MPI_Comm comm, const Config *cfg, const MethodOps *ops, const void *opts, int features);
/* "-name value" lines of every option of the run, the common ones and the method's: what a
 * checkpoint records (PetscMalloc'd). */
PetscErrorCode run_options_text(const Run *run, char **text);
PetscErrorCode run_history_append(Run *run, const double *row);
/* The sampler of the run's global batches from run->step on (sampler_free it). */
PetscErrorCode run_sampler(const Run *run, Sampler *s);

/* Checkpoints of a run (src/run/checkpoints.c): DIR/ckpt-STEP.h5, the last -checkpoint_keep
 * kept; the final model DIR/model.h5 in the same layout. */
PetscErrorCode run_checkpoint(Run *run, const char *path);
PetscErrorCode run_checkpoint_step(Run *run, char *path, size_t len);
/* -restart none|auto|FILE: load the state and history; run->step is where to go on from.
 * Sets run->run_id: the checkpoint's for a continued run, a new random one otherwise. */
PetscErrorCode run_restart(Run *run);
/* Once the run directory exists: lock it for this run (a second run on it is refused), refuse a
 * new run where another run's files are, or a continued run in another run's directory, and
 * record the run's identity in RUN_DIR/run.json. Nothing in the directory is changed when refused. */
PetscErrorCode run_claim_dir(Run *run);
/* A new random identity for run->run_id (rank 0 draws it, every rank gets it). */
PetscErrorCode run_new_id(Run *run);
/* The run RUN_DIR/run.json names (every rank gets it); "" when there is none. */
PetscErrorCode run_dir_owner(const Run *run, char owner[CKPT_RUN_ID_LEN + 1]);

/* Stop requests (src/run/stop.c): SIGTERM, SIGUSR1 or a file RUN_DIR/STOP make the run
 * finish its step, checkpoint and exit with DT_EXIT_STOPPED. */
void stop_install_handlers(void);
int stop_signal(void);
/* Collectively, outside the training loop: has any rank been signalled (SIGTERM, SIGINT,
 * SIGUSR1), or is there a file DIR/STOP (dir NULL: not looked for; at most once a second)?
 * why: "by SIGTERM", "by the file DIR/STOP". */
PetscErrorCode stop_check(MPI_Comm comm, const char *dir, int *stop, char *why, size_t len);
/* A safe point of set-up: on a stop request, remove DIR/STOP and end the run with the error
 * DT_ERR_STOPPED (one line, exit DT_EXIT_STOPPED); nothing has been written yet. */
PetscErrorCode stop_during_setup(MPI_Comm comm, const char *dir);
/* Once a step, collectively: is a stop requested (any rank), is a timed checkpoint due (rank 0
 * decides, so clocks need not agree)? */
PetscErrorCode stop_poll(const Run *run, int *stop, int *checkpoint_due);
void stop_clear(const Run *run);

/* The latents of every sample of the run's archive on every rank: z[n][latents]. Each rank
 * encodes its block of samples, then the blocks are shared. kl (NULL: not wanted; Gaussian
 * head only): kl[j] the mean over the archive of KL(q(z_j|x) || N(0,1)), in nats. */
PetscErrorCode run_encode_all(Run *run, double *z, double *kl);
/* run_load_model (model "" = RUN_DIR/model.h5, filled in) then run_encode_all into *z and, for
 * a Gaussian head, *kl (else NULL) (PetscMalloc'd): what eval starts from. */
PetscErrorCode run_load_encoded(MPI_Comm comm, const char *run_dir, char *model, size_t model_len, const char *data,
                                double io_buffer_mb, Run *run, double **z, double **kl);

/* The training loop (src/run/loop.c). */
PetscErrorCode run_make_dir(MPI_Comm comm, const char *dir);
/* Steps run->step+1 .. steps, history.csv as it goes; *stopped: RUN_STOP_REQUESTED (a stop
 * was requested and a checkpoint written) or RUN_STOP_NONFINITE (a loss or parameter became
 * NaN or Inf, and -on_nan allowed no more skips: nothing was written from that state). */
enum { RUN_STOP_REQUESTED = 1, RUN_STOP_NONFINITE = 2 };
PetscErrorCode run_train_steps(Run *run, StepLosses *last, double *seconds, long *done_steps, int *stopped);
/* RUN_DIR/summary.json of a finished run. */
PetscErrorCode run_write_summary(const Run *run, const double *zmin, const double *zmax, double rec,
                                 const StepLosses *last, double seconds, double ms_per_step);
/* Encode and decode every sample (each rank a block of the archive); reduce per-latent min and
 * max, and the reconstruction MSE/2 over the whole archive into *rec (when not NULL)
 * (src/run/survey.c). stopped (when not NULL): the ranks look for a stop request (stop_check)
 * before each chunk, and on one give up at once with *stopped set (the results are then void). */
PetscErrorCode latents_survey(Method *m, const Archive *a, double *zmin, double *zmax, double *rec, int *stopped);
/* A model with content and style latents (MethodOps.content_latents, ML-VAE) on an archive with
 * /groups (src/run/grouped_eval.c). NaN where a part is empty or the archive has no factor its
 * groups share. Collective (the reconstruction error is summed over ranks). */
typedef struct {
  int factor;             /* the factor the groups share (grouped_shared_factor), -1: none */
  int content;            /* content latents: 0 .. content-1 of z; 0: the model has none */
  long train_rows, heldout_rows; /* samples of training groups and of groups held out (-holdout_groups) */
  int split_train, split_test;   /* the disjoint rows of training groups the accuracies use */
  double acc_content, acc_style, chance; /* the shared factor predicted from content / style latents, and the majority share */
  double acc_content_heldout, acc_style_heldout, chance_heldout; /* fitted on training groups, scored on held-out ones */
  double rec_train, rec_heldout; /* mean squared reconstruction error per value (normalised units) */
} GroupedScores;
PetscErrorCode run_grouped_scores(Run *run, const double *z, uint64_t seed, double test_share, int max_values, int bins,
                                  GroupedScores *gs);

/* RUN_DIR/latents.h5 (encoded.h) from the run's model and the latents z[n][m] of its archive,
 * every rank holding all of them: the traversals start from sample `base` (the last when the
 * archive is smaller); kl[m] (may be NULL) each latent's mean KL to the prior, for a Gaussian
 * head, and the threshold of a used one. Collective (src/run/traversals.c). */
PetscErrorCode run_write_encoded(Run *run, const char *run_dir, int base, const double *z, const double *kl,
                                 double kl_threshold);

#endif
