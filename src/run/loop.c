/* The training loop of a run: steps with progress lines, history.csv, timed and requested
 * checkpoints, and the summary of a finished run. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "disentangle/ckpt.h"
#include "disentangle/error.h"
#include "disentangle/jsonio.h"
#include "disentangle/latents.h"
#include "disentangle/log.h"
#include "disentangle/phases.h"
#include "disentangle/run.h"
#include "disentangle/tensor.h"
#include "disentangle/vmath.h"

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
  const Method *me = run->method;
  for (int k = 0, at = 0; k < me->nlosses && at < (int)sizeof losses; k++)
    at += snprintf(losses + at, sizeof losses - at, "  %s %.5f", me->loss_names[k], l->value[k]);
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
  const double peak_rss_mb = log_peak_rss_mb(run->par.world);
  json_t *method_options = json_object();
  PetscCheck(method_options, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory building summary.json");
  const MethodOps *ops = run->method->ops;
  for (int k = 0; k < ops->noptions; k++) { /* "-nashae_lambda": "0.2", as the options text has them */
    char *text, value[256] = "";
    PetscCall(options_format(&ops->options[k], 1, run->method_opts, &text));
    ckpt_option(text, ops->options[k].name, value, sizeof value);
    PetscCall(PetscFree(text));
    PetscCall(jsonio_set_string(method_options, ops->options[k].name, value));
  }
  PetscCall(jsonio_set_string(s, "run_id", run->run_id));
  if (run->log) PetscCall(jsonio_set_string(s, "run_log", run->log));
  PetscCall(jsonio_set_string(s, "method", cfg->method));
  PetscCall(jsonio_set_int(s, "ranks", run->par.size));
  PetscCall(jsonio_set_int(s, "steps", (long long)cfg->steps));
  PetscCall(jsonio_set_int(s, "seed", (long long)cfg->seed));
  PetscCall(jsonio_set_int(s, "batch", (long long)cfg->batch));
  PetscCall(jsonio_set_int(s, "latents", m));
  PetscCheck(json_object_set_new(s, "method_options", method_options) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "out of memory building summary.json");
  PetscCall(jsonio_set_int(s, "active_latents", latents_active(zmin, zmax, m, cfg->active_threshold)));
  PetscCall(jsonio_set_number(s, "active_threshold", (double)cfg->active_threshold));
  PetscCall(jsonio_set_numbers(s, "latent_ranges", ranges, m));
  PetscCall(jsonio_set_numbers(s, "latent_min", zmin, m));
  PetscCall(jsonio_set_numbers(s, "latent_max", zmax, m));
  PetscCall(jsonio_set_number(s, "final_rec", rec));
  for (int k = 0; k < run->method->nlosses; k++) { /* last_step_loss, last_step_rec, ... by the method's names */
    char key[80];
    snprintf(key, sizeof key, "last_step_%s", run->method->loss_names[k]);
    PetscCall(jsonio_set_number(s, key, last->value[k]));
  }
  /* timings of this invocation's steps (a restarted run counts only what it did itself) */
  PetscCall(jsonio_set_number(s, "seconds", seconds));
  PetscCall(jsonio_set_number(s, "ms_per_step", ms_per_step));
  PetscCall(jsonio_set_number(s, "samples_per_s", ms_per_step > 0 ? 1e3 * cfg->batch / ms_per_step : 0.0));
  PetscCall(jsonio_set_int(s, "skipped_batches", run->skipped)); /* -on_nan skip_batch, this invocation */
  long bad_records, bad_files;
  PetscCall(archive_skipped(run->archive, &bad_records, &bad_files)); /* -on_bad_record skip */
  PetscCall(jsonio_set_int(s, "skipped_records", bad_records));
  PetscCall(jsonio_set_int(s, "skipped_files", bad_files));
  PetscCall(jsonio_set_string(s, "sampler", cfg->sampler));
  if (!strcmp(cfg->sampler, "grouped")) { /* what the grouped batches were made of */
    PetscCall(jsonio_set_int(s, "group_size", (long long)cfg->group_size));
    PetscCall(jsonio_set_number(s, "holdout_groups", (double)cfg->holdout_groups));
    PetscCall(jsonio_set_int(s, "groups", (long long)archive_ngroups(run->archive)));
    PetscCall(jsonio_set_int(s, "groups_held_out",
                             (long long)sampler_groups_held_out(run->archive, (uint64_t)cfg->seed, (double)cfg->holdout_groups)));
  }
  PetscCall(jsonio_set_number(s, "io_buffer_mb", (double)cfg->io_buffer_mb));
  PetscCall(jsonio_set_number(s, "peak_rss_mb", peak_rss_mb)); /* the largest of the ranks */
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

/* The whole training state (what a checkpoint holds: parameters, optimizer state, step counts)
 * copied aside before each step under -on_nan skip_batch, so that a step that went non-finite
 * is undone exactly, NashAE's regressor updates inside the step included. One copy of the
 * state and a memcpy per step: cheap next to the step, and no method needs to know. */
typedef struct {
  CkptState st;
  float *buf;
  long long *counts;
} Snapshot;

static PetscErrorCode snapshot_create(Method *m, Snapshot *s) {
  PetscFunctionBeginUser;
  size_t n = 0;
  PetscCall(method_state(m, &s->st));
  for (int i = 0; i < s->st.ntensors; i++) n += ckpt_tensor_size(&s->st.tensors[i]);
  PetscCall(PetscMalloc1(n ? n : 1, &s->buf));
  PetscCall(PetscMalloc1(s->st.ncounts + 1, &s->counts));
  PetscFunctionReturn(0);
}

static void snapshot_copy(Snapshot *s, int restore) {
  size_t at = 0;
  for (int i = 0; i < s->st.ntensors; i++) {
    size_t n = ckpt_tensor_size(&s->st.tensors[i]);
    if (restore) memcpy(s->st.tensors[i].data, s->buf + at, n * sizeof(float));
    else memcpy(s->buf + at, s->st.tensors[i].data, n * sizeof(float));
    at += n;
  }
  for (int c = 0; c < s->st.ncounts; c++) {
    if (restore) *s->st.counts[c].value = s->counts[c];
    else s->counts[c] = *s->st.counts[c].value;
  }
}

static void snapshot_free(Snapshot *s) {
  method_state_free(&s->st);
  PetscFree(s->buf);
  PetscFree(s->counts);
}

/* Any NaN or Inf among n floats. */
static int any_nonfinite(const float *x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) bad |= vmath_nonfinite(x[i]);
  return bad != 0;
}

/* After a step, collectively: the first non-finite loss (*loss, its index, or -1) and the first
 * optimizer group whose parameters are no longer finite (*group, or -1; a non-finite gradient
 * shows there, since the update has consumed it). Adam reports what it wrote, so only groups
 * of other optimizers take a pass over their parameters; a non-finite parameter stays so under
 * every later update, and the ranks that update a parameter are among those that vote. The
 * losses are global already; the allreduce makes every rank take the same decision whatever its
 * own copy says. */
static PetscErrorCode check_finite(const Run *run, const StepLosses *l, int *loss, int *group) {
  PetscFunctionBeginUser;
  Method *m = run->method;
  int flags[2] = {0, 0}; /* index + 1 */
  for (int k = 0; k < m->nlosses && !flags[0]; k++)
    if (!isfinite(l->value[k])) flags[0] = k + 1;
  for (int g = 0; g < m->params.ngroups; g++) { /* every group's flag is taken, none left for the next step */
    int bad = optim_take_nonfinite(&m->optim[g]);
    if (bad < 0) bad = !flags[1] && any_nonfinite(m->params.groups[g].params, m->params.groups[g].n);
    if (bad && !flags[1]) flags[1] = g + 1;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, flags, 2, MPI_INT, MPI_MAX, run->par.world));
  *loss = flags[0] - 1, *group = flags[1] - 1;
  PetscFunctionReturn(0);
}

/* "non-finite loss at step 12: rec = inf, loss = inf" or "non-finite parameters of optimizer
 * group 'regressors' after step 12 (a non-finite gradient)" */
static void describe_nonfinite(const Run *run, long step, const StepLosses *l, int loss, int group, char *buf, size_t len) {
  const Method *me = run->method;
  if (loss >= 0) {
    int at = snprintf(buf, len, "non-finite loss at step %ld:", step), first = 1;
    for (int k = 0; k < me->nlosses && at < (int)len; k++) /* the terms first: "loss" is their sum */
      if (k != 0 && !isfinite(l->value[k]))
        at += snprintf(buf + at, len - at, "%s %s = %g", first ? "" : ",", me->loss_names[k], l->value[k]), first = 0;
    if (at < (int)len && !isfinite(l->value[0]))
      snprintf(buf + at, len - at, "%s %s = %g", first ? "" : ",", me->loss_names[0], l->value[0]);
  } else
    snprintf(buf, len, "non-finite parameters of optimizer group '%s' after step %ld (a non-finite gradient)",
             run->method->params.groups[group].name, step);
}

/* The global batches of this run from run->step on (archive.h): -sampler iid, epoch or grouped. */
PetscErrorCode run_sampler(const Run *run, Sampler *s) {
  PetscFunctionBeginUser;
  const Config *cfg = &run->cfg;
  const int64_t n = archive_samples(run->archive);
  if (!strcmp(cfg->sampler, "epoch"))
    PetscCall(sampler_init_epoch(s, (uint64_t)cfg->seed, run->step, (int)cfg->batch, n, cfg->sampler_chunk, cfg->sampler_window));
  else if (!strcmp(cfg->sampler, "grouped"))
    PetscCall(sampler_init_grouped(s, run->archive, (uint64_t)cfg->seed, run->step, (int)cfg->batch, (int)cfg->group_size,
                                   (double)cfg->holdout_groups));
  else sampler_init(s, SAMPLER_IID, (uint64_t)cfg->seed, run->step, (int)cfg->batch, n);
  PetscFunctionReturn(0);
}

/* Steps run->step+1 .. steps. *stopped: RUN_STOP_REQUESTED or RUN_STOP_NONFINITE (run.h). */
PetscErrorCode run_train_steps(Run *run, StepLosses *last, double *seconds, long *done_steps, int *stopped) {
  PetscFunctionBeginUser;
  const Config *cfg = &run->cfg;
  const Archive *a = run->archive;
  int off, cnt;
  par_batch_slice((int)cfg->batch, run->method->chunk, run->par.rank, run->par.size, &off, &cnt);
  Batch batch;
  PetscCall(batch_create(a, off, cnt, &batch));
  FILE *hist;
  PetscCall(open_history(run, &hist));
  Sampler sampler;
  PetscCall(run_sampler(run, &sampler));
  long first = run->step;
  int skip = !strcmp(cfg->on_nan, "skip_batch");
  Snapshot snap;
  if (skip) PetscCall(snapshot_create(run->method, &snap));
  double t0 = log_seconds();
  *stopped = 0;
  while (run->step < cfg->steps && !*stopped) {
    double ts = log_seconds();
    PetscCall(PetscLogEventBegin(dt_events.io, 0, 0, 0, 0));
    PetscCall(archive_next_batch(a, &sampler, &batch));
    PetscCall(PetscLogEventEnd(dt_events.io, 0, 0, 0, 0));
    if (skip) snapshot_copy(&snap, 0);
    PetscCall(run->method->ops->step(run->method, &batch, last));
    int bad_loss = -1, bad_group = -1;
    PetscCall(check_finite(run, last, &bad_loss, &bad_group));
    if (bad_loss >= 0 || bad_group >= 0) {
      char what[512];
      describe_nonfinite(run, run->step + 1, last, bad_loss, bad_group, what, sizeof what);
      if (!skip || run->skipped >= cfg->on_nan_max) {
        log_info(run->par.world, "%s; stopped (exit %d)%s: nothing was written from this state, earlier checkpoints "
                 "are as they were (go on from one with -restart, e.g. with a smaller -lr)", what, DT_EXIT_NONFINITE,
                 skip ? ", more batches would be skipped than -on_nan_max allows" : "");
        *stopped = RUN_STOP_NONFINITE;
        break;
      }
      snapshot_copy(&snap, 1);
      run->skipped++;
      log_info(run->par.world, "%s; batch skipped: its update undone (%ld skipped, at most %ld: -on_nan_max)", what,
               run->skipped, (long)cfg->on_nan_max);
    }
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
    if (*stopped) *stopped = RUN_STOP_REQUESTED;
    if ((due || *stopped) && run->step < cfg->steps) {
      char path[CONFIG_PATH_LEN + 64];
      if (hist) fflush(hist);
      PetscCall(run_checkpoint_step(run, path, sizeof path));
      if (*stopped) log_info(run->par.world, "stop requested%s: checkpoint %s written at step %ld; go on with -restart auto",
                             stop_signal() ? " by signal" : " (STOP file)", path, run->step);
    }
  }
  archive_quiesce(a); /* the batch read ahead past the last step, before anything else uses HDF5 */
  sampler_free(&sampler);
  *seconds = log_seconds() - t0;
  *done_steps = run->step - first;
  if (hist) fclose(hist);
  if (skip) snapshot_free(&snap);
  batch_free(&batch);
  PetscFunctionReturn(0);
}

