/* `disentangle train`: options -> data -> method -> steps -> model, history, summary. */
#include <cblas.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "disentangle/ckpt.h"
#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/jsonio.h"
#include "disentangle/latents.h"
#include "disentangle/log.h"
#include "disentangle/tensor.h"

#define CFG(field) offsetof(Config, field), sizeof(((Config *)0)->field)

static const OptSpec train_spec[] = {
  {"-method", OPT_STRING, CFG(method), "nashae", 0, 0, NULL, "what to train (see the methods' own options below)"},
  {"-data", OPT_STRING, CFG(data), "data/beam.h5", 0, 0, NULL, "input archive(s), comma-separated HDF5 files with /data"},
  {"-run_dir", OPT_STRING, CFG(run_dir), "runs/default", 0, 0, NULL, "directory of ONE run: history.csv, summary.json, model.h5, run.json, checkpoints"},
  {"-seed", OPT_INT, CFG(seed), "1", 0, 2147483647, NULL, "seed of initialisation and batch sampling"},
  {"-steps", OPT_INT, CFG(steps), "1000", 1, 1e9, NULL, "autoencoder updates"},
  {"-batch", OPT_INT, CFG(batch), "100", 1, 1e6, NULL, "global batch size (sampled with replacement), split over ranks"},
  {"-latents", OPT_INT, CFG(latents), "4", 1, 4096, NULL, "latent units m"},
  {"-hidden", OPT_STRING, CFG(hidden), "200,80,40", 0, 0, NULL, "encoder hidden widths; the decoder mirrors them"},
  {"-activation", OPT_STRING, CFG(activation), "selu", 0, 0, "selu|relu|tanh|sigmoid|identity", "hidden activation"},
  {"-arch", OPT_STRING, CFG(arch), "mlp", 0, 0, "mlp|dsprites_conv|dsprites_fc", "encoder/decoder: mlp from -hidden/-activation, or a published dSprites net (64x64 images)"},
  {"-rec_loss", OPT_STRING, CFG(rec_loss), "mse", 0, 0, "mse|bernoulli", "reconstruction: MSE/2, or Bernoulli cross-entropy on logits (data in [0,1], not normalised)"},
  {"-lr", OPT_REAL, CFG(lr), "1e-3", 1e-12, 10, NULL, "Adam learning rate of encoder and decoder"},
  {"-groups", OPT_INT, CFG(groups), "0", 0, 1e6, NULL, "adversary rank groups G (NashAE: regressor i on group i mod G); 0 = min(ranks, latents)"},
  {"-data_mean", OPT_REAL, CFG(data_mean), "0", -1e300, 1e300, NULL, "normalisation mean (used with -data_std)"},
  {"-data_std", OPT_REAL, CFG(data_std), "0", 0, 1e300, NULL, "normalisation std; 0 = the archive's mean/std attributes, else computed"},
  {"-active_threshold", OPT_REAL, CFG(active_threshold), "0.2", 0, 1e300, NULL, "a latent is active when its range over the data exceeds this"},
  {"-progress_every", OPT_INT, CFG(progress_every), "100", 0, 1e9, NULL, "progress line every N steps (0: none)"},
  {"-blas_threads", OPT_INT, CFG(blas_threads), "1", 1, 1024, NULL, "OpenBLAS threads per rank (1 when ranks fill the cores)"},
  {"-checkpoint_every", OPT_INT, CFG(checkpoint_every), "0", 0, 1e9, NULL, "write RUN_DIR/ckpt-STEP.h5 every N steps (0: off)"},
  {"-checkpoint_minutes", OPT_REAL, CFG(checkpoint_minutes), "30", 0, 1e9, NULL, "and every T minutes of wall-clock time (0: off)"},
  {"-checkpoint_keep", OPT_INT, CFG(checkpoint_keep), "3", 1, 1e6, NULL, "how many step checkpoints to keep (older ones are removed)"},
  {"-restart", OPT_STRING, CFG(restart), "none", 0, 0, NULL, "none, auto (newest valid checkpoint in RUN_DIR) or a checkpoint file"},
};

const OptSpec *train_options(int *n) {
  *n = (int)(sizeof train_spec / sizeof train_spec[0]);
  return train_spec;
}

PetscErrorCode run_options_text(const Run *run, char **text) {
  PetscFunctionBeginUser;
  int nspec;
  const OptSpec *spec = train_options(&nspec);
  char *common, *own;
  PetscCall(options_format(spec, nspec, &run->cfg, &common));
  PetscCall(options_format(run->method->ops->options, run->method->ops->noptions, run->method_opts, &own));
  size_t n = strlen(common) + strlen(own) + 1;
  PetscCall(PetscMalloc1(n, text));
  snprintf(*text, n, "%s%s", common, own);
  PetscCall(PetscFree(common));
  PetscCall(PetscFree(own));
  PetscFunctionReturn(0);
}

void run_init(Run *run) {
  memset(run, 0, sizeof *run);
  run->par.group = MPI_COMM_NULL;
}

PetscErrorCode run_setup(MPI_Comm comm, Run *run) {
  PetscFunctionBeginUser;
  int nspec;
  const OptSpec *spec = train_options(&nspec);
  const MethodOps *ops;
  PetscCall(options_read(comm, spec, nspec, &run->cfg));
  PetscCall(method_find(comm, run->cfg.method, &ops));
  PetscCall(method_options_read(comm, ops, &run->method_opts));
  PetscCall(options_reject_unknown(comm, spec, nspec));
  /* a Bernoulli likelihood is of the values as they are, in [0, 1]: no normalisation unless asked for */
  if (!strcmp(run->cfg.rec_loss, "bernoulli") && run->cfg.data_std == 0) run->cfg.data_mean = 0, run->cfg.data_std = 1;
  ArchiveNorm norm = {.mean = run->cfg.data_mean, .std = run->cfg.data_std, .have_mean = run->cfg.data_std > 0,
                      .have_std = run->cfg.data_std > 0};
  PetscCall(run_build(comm, run, &norm, 1));
  PetscFunctionReturn(0);
}

PetscErrorCode run_build(MPI_Comm comm, Run *run, const ArchiveNorm *norm, int training) {
  PetscFunctionBeginUser;
  int size;
  Config *cfg = &run->cfg;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (cfg->groups == 0) cfg->groups = PetscMin(size, cfg->latents);
  DT_INPUT_CHECK(cfg->groups <= size, comm, "option -groups: %d rank groups need at least as many ranks; this run has %d",
                 (int)cfg->groups, size);
  DT_INPUT_CHECK(!training || cfg->batch >= size, comm, "option -batch: %d is smaller than the number of ranks (%d); every rank needs a sample",
                 (int)cfg->batch, size);
  openblas_set_num_threads((int)cfg->blas_threads);
  PetscCall(archive_open(comm, cfg->data, norm, &run->archive));
  DT_INPUT_CHECK(!training || cfg->batch <= archive_samples(run->archive), comm,
                 "option -batch: %d is larger than the %lld samples in '%s'; use at most %lld", (int)cfg->batch,
                 (long long)archive_samples(run->archive), cfg->data, (long long)archive_samples(run->archive));
  PetscCall(par_create(comm, (int)cfg->groups, &run->par));
  int64_t dims[3];
  int ndims = archive_sample_dims(run->archive, dims);
  Shape sample = {ndims, {(int)dims[0], ndims == 3 ? (int)dims[1] : 1, ndims == 3 ? (int)dims[2] : 1}};
  PetscCall(method_create_shaped(cfg, run->method_opts, &run->par, sample, &run->method));
  const MethodOps *ops = run->method->ops; /* the history's columns: step, the method's losses, samples_per_s */
  int at = snprintf(run->history_columns, sizeof run->history_columns, "step");
  for (int k = 0; k < ops->nlosses; k++)
    at += snprintf(run->history_columns + at, sizeof run->history_columns - at, ",%s", ops->loss_names[k]);
  snprintf(run->history_columns + at, sizeof run->history_columns - at, ",samples_per_s");
  run->history_cols = ops->nlosses + 2;
  PetscFunctionReturn(0);
}

void run_free(Run *run) {
  method_destroy(&run->method);
  archive_close(&run->archive);
  par_free(&run->par);
  PetscFree(run->method_opts);
  PetscFree(run->history);
}

PetscErrorCode run_history_append(Run *run, const double *row) {
  PetscFunctionBeginUser;
  if (run->history_rows == run->history_cap) {
    long cap = run->history_cap ? 2 * run->history_cap : 1024;
    double *grown;
    PetscCall(PetscMalloc1((size_t)cap * run->history_cols, &grown));
    if (run->history_rows) PetscCall(PetscArraycpy(grown, run->history, (size_t)run->history_rows * run->history_cols));
    PetscCall(PetscFree(run->history));
    run->history = grown, run->history_cap = cap;
  }
  PetscCall(PetscArraycpy(run->history + run->history_rows * run->history_cols, row, run->history_cols));
  run->history_rows++;
  PetscFunctionReturn(0);
}

static PetscErrorCode make_run_dir(MPI_Comm comm, const char *dir) {
  PetscFunctionBeginUser;
  int rank, err = 0;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char path[CONFIG_PATH_LEN];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
      if (*p == '/') *p = 0, mkdir(path, 0777), *p = '/';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) err = errno;
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  DT_INPUT_CHECK(!err, comm, "option -run_dir: cannot create '%s': %s", dir, strerror(err));
  PetscFunctionReturn(0);
}

static PetscErrorCode open_output(MPI_Comm comm, const char *dir, const char *name, FILE **fp) {
  PetscFunctionBeginUser;
  *fp = NULL;
  char path[CONFIG_PATH_LEN + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) *fp = fopen(path, "w");
  int ok = rank != 0 || *fp != NULL;
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  DT_INPUT_CHECK(ok, comm, "cannot write '%s': %s", path, strerror(errno));
  PetscFunctionReturn(0);
}

static void progress_line(const Run *run, long step, const StepLosses *l, double per_step, double sps) {
  char eta[32], losses[512] = "";
  const MethodOps *ops = run->method->ops;
  for (int k = 0, at = 0; k < ops->nlosses && at < (int)sizeof losses; k++)
    at += snprintf(losses + at, sizeof losses - at, "  %s %.5f", ops->loss_names[k], l->value[k]);
  log_duration(per_step * (run->cfg.steps - step), eta, sizeof eta);
  log_info(run->par.world, "step %ld/%ld%s  %.0f samples/s  ETA %s", step, (long)run->cfg.steps, losses, sps, eta);
}



static PetscErrorCode write_summary(const Run *run, const double *zmin, const double *zmax, double rec,
                                    const StepLosses *last, double seconds, double ms_per_step) {
  PetscFunctionBeginUser;
  const Config *cfg = &run->cfg;
  char path[CONFIG_PATH_LEN + 32];
  int m = (int)cfg->latents;
  double *ranges;
  json_t *s = json_object();
  PetscCheck(s, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory building summary.json");
  PetscCall(PetscMalloc1(m, &ranges));
  for (int j = 0; j < m; j++) ranges[j] = zmax[j] - zmin[j];
  char lambda[64] = "0", *options;
  PetscCall(run_options_text(run, &options));
  ckpt_option(options, "-nashae_lambda", lambda, sizeof lambda);
  PetscCall(PetscFree(options));
  PetscCall(jsonio_set_string(s, "run_id", run->run_id));
  PetscCall(jsonio_set_string(s, "method", cfg->method));
  PetscCall(jsonio_set_int(s, "ranks", run->par.size));
  PetscCall(jsonio_set_int(s, "steps", (long long)cfg->steps));
  PetscCall(jsonio_set_int(s, "seed", (long long)cfg->seed));
  PetscCall(jsonio_set_int(s, "batch", (long long)cfg->batch));
  PetscCall(jsonio_set_int(s, "latents", m));
  PetscCall(jsonio_set_number(s, "lambda", atof(lambda)));
  PetscCall(jsonio_set_int(s, "active_latents", latents_active(zmin, zmax, m, cfg->active_threshold)));
  PetscCall(jsonio_set_number(s, "active_threshold", (double)cfg->active_threshold));
  PetscCall(jsonio_set_numbers(s, "latent_ranges", ranges, m));
  PetscCall(jsonio_set_numbers(s, "latent_min", zmin, m));
  PetscCall(jsonio_set_numbers(s, "latent_max", zmax, m));
  PetscCall(jsonio_set_number(s, "final_rec", rec));
  for (int k = 0; k < run->method->ops->nlosses; k++) { /* last_step_loss, last_step_rec, ... by the method's names */
    char key[64];
    snprintf(key, sizeof key, "last_step_%s", run->method->ops->loss_names[k]);
    PetscCall(jsonio_set_number(s, key, last->value[k]));
  }
  /* timings of this invocation's steps (a restarted run counts only what it did itself) */
  PetscCall(jsonio_set_number(s, "seconds", seconds));
  PetscCall(jsonio_set_number(s, "ms_per_step", ms_per_step));
  PetscCall(jsonio_set_number(s, "samples_per_s", ms_per_step > 0 ? 1e3 * cfg->batch / ms_per_step : 0.0));
  snprintf(path, sizeof path, "%s/summary.json", cfg->run_dir);
  PetscCall(jsonio_write(run->par.world, path, s, 9)); /* a non-finite value is written as null */
  json_decref(s);
  PetscCall(PetscFree(ranges));
  PetscFunctionReturn(0);
}

static void history_line(FILE *fp, const double *r, int cols) {
  fprintf(fp, "%ld", (long)r[0]);
  for (int c = 1; c + 1 < cols; c++) fprintf(fp, ",%.9g", r[c]);
  fprintf(fp, ",%.1f\n", r[cols - 1]);
}

/* history.csv: the rows a restart brought back first, so the file always covers steps 1..now. */
static PetscErrorCode open_history(Run *run, FILE **hist) {
  PetscFunctionBeginUser;
  PetscCall(open_output(run->par.world, run->cfg.run_dir, "history.csv", hist));
  if (*hist) {
    fprintf(*hist, "%s\n", run->history_columns);
    for (long r = 0; r < run->history_rows; r++)
      history_line(*hist, run->history + r * run->history_cols, run->history_cols);
    fflush(*hist);
  }
  PetscFunctionReturn(0);
}

/* Steps run->step+1 .. steps. *stopped: a stop was requested and a checkpoint written. */
static PetscErrorCode train_loop(Run *run, StepLosses *last, double *seconds, long *done_steps, int *stopped) {
  PetscFunctionBeginUser;
  const Config *cfg = &run->cfg;
  const Archive *a = run->archive;
  int off, cnt;
  par_slice((int)cfg->batch, run->par.rank, run->par.size, &off, &cnt);
  Batch batch;
  PetscCall(batch_create(a, off, cnt, &batch));
  FILE *hist;
  PetscCall(open_history(run, &hist));
  Sampler sampler;
  sampler_init(&sampler, SAMPLER_IID, (uint64_t)cfg->seed, run->step, (int)cfg->batch, archive_samples(a));
  long first = run->step;
  double t0 = log_seconds();
  *stopped = 0;
  while (run->step < cfg->steps && !*stopped) {
    double ts = log_seconds();
    PetscCall(archive_next_batch(a, &sampler, &batch));
    PetscCall(run->method->ops->step(run->method, &batch, last));
    run->step++;
    double row[METHOD_MAX_LOSSES + 2];
    row[0] = (double)run->step;
    for (int k = 0; k < run->history_cols - 2; k++) row[1 + k] = last->value[k];
    row[run->history_cols - 1] = cfg->batch / (log_seconds() - ts);
    PetscCall(run_history_append(run, row));
    if (hist) history_line(hist, row, run->history_cols);
    long done = run->step - first;
    if (cfg->progress_every && (run->step % cfg->progress_every == 0 || run->step == cfg->steps))
      progress_line(run, run->step, last, (log_seconds() - t0) / done, cfg->batch * done / (log_seconds() - t0));
    int due;
    PetscCall(stop_poll(run, stopped, &due));
    if (run->step == cfg->steps) *stopped = 0; /* the last step: finish normally, model.h5 included */
    due |= cfg->checkpoint_every > 0 && run->step % cfg->checkpoint_every == 0;
    if ((due || *stopped) && run->step < cfg->steps) {
      char path[CONFIG_PATH_LEN + 64];
      if (hist) fflush(hist);
      PetscCall(run_checkpoint_step(run, path, sizeof path));
      if (*stopped) log_info(run->par.world, "stop requested%s: checkpoint %s written at step %ld; go on with -restart auto",
                             stop_signal() ? " by signal" : " (STOP file)", path, run->step);
    }
  }
  *seconds = log_seconds() - t0;
  *done_steps = run->step - first;
  if (hist) fclose(hist);
  batch_free(&batch);
  PetscFunctionReturn(0);
}

PetscErrorCode train_main(int help, int *code) {
  PetscFunctionBeginUser;
  int nspec;
  const OptSpec *spec = train_options(&nspec);
  *code = DT_EXIT_OK;
  if (help) {
    options_print_help(stdout, "usage: mpiexec -n P disentangle train [options]\n\n"
                               "Train a model on HDF5 archives; writes RUN_DIR/history.csv, summary.json, model.h5.\n"
                               "A run directory holds one run (named in RUN_DIR/run.json, locked while it runs): a new\n"
                               "run is refused where another run's files are; go on with it with -restart auto, or\n"
                               "start afresh with another -run_dir. Nothing of another run is overwritten or deleted.\n"
                               "SIGTERM, SIGUSR1 or a file RUN_DIR/STOP: finish the step, write a checkpoint, exit 75.",
                       spec, nspec);
    method_options_help(stdout);
    PetscFunctionReturn(0);
  }
  Run run;
  run_init(&run);
  stop_install_handlers();
  PetscLogStage stage_setup, stage_train, stage_eval;
  PetscCall(PetscLogStageRegister("Setup", &stage_setup));
  PetscCall(PetscLogStageRegister("Train", &stage_train));
  PetscCall(PetscLogStageRegister("Evaluate+Write", &stage_eval));

  PetscCall(PetscLogStagePush(stage_setup));
  PetscCall(run_setup(PETSC_COMM_WORLD, &run));
  PetscCall(run_restart(&run));
  PetscCall(make_run_dir(run.par.world, run.cfg.run_dir));
  PetscCall(run_claim_dir(&run)); /* this run's alone from here: locked, and no other run's files */
  const Config *cfg = &run.cfg;
  log_info(run.par.world, "%s on %lld samples x %lld values, %d ranks, %d regressor groups, batch %ld, steps %ld..%ld",
           cfg->method, (long long)archive_samples(run.archive), (long long)archive_features(run.archive), run.par.size, run.par.ngroups,
           (long)cfg->batch, run.step + 1, (long)cfg->steps);
  PetscCall(PetscLogStagePop());

  StepLosses last = {0};
  if (run.history_rows) { /* a run restarted at its end still reports its last losses */
    const double *r = run.history + (run.history_rows - 1) * run.history_cols;
    last.n = run.history_cols - 2;
    for (int k = 0; k < last.n; k++) last.value[k] = r[1 + k];
  }
  double seconds = 0.0, ms_per_step;
  long done_steps = 0;
  int stopped;
  PetscCall(PetscLogStagePush(stage_train));
  PetscCall(train_loop(&run, &last, &seconds, &done_steps, &stopped));
  ms_per_step = done_steps ? 1e3 * seconds / done_steps : 0.0;
  PetscCall(PetscLogStagePop());
  if (stopped) {
    stop_clear(&run);
    run_free(&run);
    *code = DT_EXIT_STOPPED;
    PetscFunctionReturn(0);
  }

  PetscCall(PetscLogStagePush(stage_eval));
  int m = (int)cfg->latents;
  double *zmin, *zmax, rec;
  char path[CONFIG_PATH_LEN + 64];
  PetscCall(PetscMalloc2(m, &zmin, m, &zmax));
  PetscCall(latents_survey(run.method, run.archive, zmin, zmax, &rec));
  PetscCall(write_summary(&run, zmin, zmax, rec, &last, seconds, ms_per_step));
  snprintf(path, sizeof path, "%s/model.h5", cfg->run_dir);
  PetscCall(run_checkpoint(&run, path));
  log_info(run.par.world, "done: %d of %d latents active (range > %g), reconstruction MSE/2 %.5f, %.2f ms/step",
           latents_active(zmin, zmax, m, cfg->active_threshold), m, (double)cfg->active_threshold, rec,
           ms_per_step);
  log_info(run.par.world, "results in %s/: history.csv, summary.json, model.h5", cfg->run_dir);
  stop_clear(&run); /* a stop request that came with the last step is void */
  PetscCall(PetscFree2(zmin, zmax));
  PetscCall(PetscLogStagePop());
  run_free(&run);
  PetscFunctionReturn(0);
}
