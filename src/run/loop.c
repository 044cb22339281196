/* The training loop of a run: steps with progress lines, history.csv, timed and requested
 * checkpoints, and the summary of a finished run. */
#include <cblas.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "disentangle/ckpt.h"
#include "disentangle/error.h"
#include "disentangle/jsonio.h"
#include "disentangle/latents.h"
#include "disentangle/log.h"
#include "disentangle/run.h"
#include "disentangle/tensor.h"

PetscErrorCode run_make_dir(MPI_Comm comm, const char *dir) {
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



PetscErrorCode run_write_summary(const Run *run, const double *zmin, const double *zmax, double rec,
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
PetscErrorCode run_train_steps(Run *run, StepLosses *last, double *seconds, long *done_steps, int *stopped) {
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

