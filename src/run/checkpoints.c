/* A run's checkpoints: writing them (DIR/ckpt-STEP.h5, keeping the last K of this run), and
 * restarting from one (-restart FILE, or auto: the newest valid one of the directory's run,
 * model.h5 of a finished run included; a damaged newest one is reported and the one before it
 * used; a valid one of another model refuses the restart). The run's identity is in
 * rundir.c. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disentangle/phases.h"
#include "disentangle/run.h"
#include <hdf5.h>
#include "disentangle/error.h"
#include "disentangle/log.h"

#define MAX_CANDIDATES 4096

static PetscErrorCode fill_meta(const Run *run, CkptMeta *meta, char **options) {
  PetscFunctionBeginUser;
  PetscCall(run_options_text(run, options));
  memset(meta, 0, sizeof *meta);
  meta->step = run->step;
  meta->epoch = (double)run->step * run->cfg.batch / archive_samples(run->archive);
  snprintf(meta->method, sizeof meta->method, "%s", run->cfg.method);
  meta->options = *options;
  meta->ranks = run->par.size;
  meta->seed = (uint64_t)run->cfg.seed;
  meta->global_batch = (int)run->cfg.batch;
  archive_normalisation(run->archive, &meta->data_mean, &meta->data_std);
  meta->history = run->history;
  meta->history_rows = run->history_rows;
  meta->history_cols = run->history_cols;
  meta->history_columns = (char *)run->history_columns; /* not freed: fill_meta's meta is not ckpt_meta_free'd */
  snprintf(meta->run_id, sizeof meta->run_id, "%s", run->run_id);
  meta->run_log = run->log; /* not freed here either */
  int64_t dims[CKPT_MAX_DIMS];
  meta->sample_ndims = archive_sample_dims(run->archive, dims);
  Sampler s;
  PetscCall(run_sampler(run, &s));
  int64_t e, q;
  sampler_cursor(&s, &e, &q);
  sampler_free(&s);
  meta->cursor_epoch = e, meta->cursor_sample = q, meta->data_samples = archive_samples(run->archive);
  for (int k = 0; k < meta->sample_ndims; k++) meta->sample_dims[k] = dims[k];
  PetscFunctionReturn(0);
}

PetscErrorCode run_checkpoint(Run *run, const char *path) {
  PetscFunctionBeginUser;
  Method *m = run->method;
  PetscCall(PetscLogEventBegin(dt_events.checkpoint, 0, 0, 0, 0));
  if (m->ops->sync_state) PetscCall(m->ops->sync_state(m));
  archive_quiesce(run->archive); /* HDF5 is the prefetch thread's until it is done */
  CkptState state;
  CkptMeta meta;
  char *options;
  PetscCall(method_state(m, &state));
  PetscCall(fill_meta(run, &meta, &options));
  PetscCall(ckpt_write(run->par.world, path, &state, &meta));
  PetscCall(PetscFree(options));
  method_state_free(&state);
  PetscCall(PetscLogEventEnd(dt_events.checkpoint, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Step of a file named ckpt-STEP.h5, or -1. */
static long checkpoint_step(const char *name) {
  long step;
  char tail[8];
  if (sscanf(name, "ckpt-%ld%7s", &step, tail) == 2 && !strcmp(tail, ".h5")) return step;
  return -1;
}

typedef struct {
  char *name;
  long step;
} Candidate;

static int by_step_descending(const void *a, const void *b) {
  long x = ((const Candidate *)a)->step, y = ((const Candidate *)b)->step;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Which files of a run directory to list, by the run_id they hold. */
typedef enum {
  RUN_ONLY,      /* written by run `id`: what may be deleted (never another run's, nor an unknown one) */
  RUN_OR_UNKNOWN /* not known to be another run's: what a restart may try (a damaged one is reported) */
} Whose;

/* Rank 0 lists the run directory's checkpoints (and model.h5, if with_model and it says its
 * step) newest first, as one blob of NUL-terminated names; *others: how many were left out as
 * another run's. id "" (a run not known): every file. */
static char *scan_directory(const char *dir, int with_model, const char *id, Whose whose, int *len, int *others) {
  Candidate *found = malloc(sizeof *found * (MAX_CANDIDATES + 1));
  int k = 0;
  *others = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; found && d && (e = readdir(d)) && k < MAX_CANDIDATES;) {
    long step = checkpoint_step(e->d_name), said = -1;
    int model = with_model && !strcmp(e->d_name, "model.h5");
    if (step < 0 && !model) continue;
    char path[CONFIG_PATH_LEN + 300], there[CKPT_RUN_ID_LEN + 1] = "";
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    int readable = ckpt_peek(path, &said, there, sizeof there) == 0; /* a crafted step attribute is no crash */
    if (model && !readable) continue;
    int mine = !strcmp(there, id) || !id[0], unknown = !there[0];
    if (whose == RUN_ONLY ? !(mine && !unknown) : !(mine || unknown)) {
      *others += !unknown;
      continue;
    }
    found[k++] = (Candidate){strdup(e->d_name), model ? said : step};
  }
  if (d) closedir(d);
  if (k) qsort(found, k, sizeof *found, by_step_descending);
  *len = 0;
  for (int i = 0; i < k; i++) *len += (int)strlen(found[i].name) + 1;
  char *blob = malloc(*len + 1);
  for (int i = 0, at = 0; i < k; i++) at += sprintf(blob + at, "%s", found[i].name) + 1, free(found[i].name);
  free(found);
  return blob;
}

/* Everyone gets rank 0's list. */
static PetscErrorCode list_checkpoints(const Run *run, int with_model, const char *id, Whose whose, char ***names, int *n,
                                       int *others) {
  PetscFunctionBeginUser;
  char *blob = NULL;
  int len = 0, counts[2] = {0, 0};
  if (run->par.rank == 0) blob = scan_directory(run->cfg.run_dir, with_model, id, whose, &counts[0], &counts[1]);
  PetscCallMPI(MPI_Bcast(counts, 2, MPI_INT, 0, run->par.world));
  len = counts[0], *others = counts[1];
  if (run->par.rank != 0) blob = malloc(len + 1);
  PetscCallMPI(MPI_Bcast(blob, len, MPI_CHAR, 0, run->par.world));
  *n = 0;
  for (int at = 0; at < len; at += (int)strlen(blob + at) + 1) (*n)++;
  *names = malloc(sizeof **names * (*n + 1));
  for (int i = 0, at = 0; i < *n; i++, at += (int)strlen(blob + at) + 1) (*names)[i] = blob + at;
  if (*n == 0) free(blob);
  PetscFunctionReturn(0);
}

static void free_list(char **names, int n) {
  if (n > 0) free(names[0]);
  free(names);
}

PetscErrorCode run_checkpoint_step(Run *run, char *path, size_t len) {
  PetscFunctionBeginUser;
  snprintf(path, len, "%s/ckpt-%08ld.h5", run->cfg.run_dir, run->step);
  PetscCall(run_checkpoint(run, path));
  char **names;
  int n, others;
  /* Older ones go only now that the new one is complete; only this run's: another run's files
   * (and any whose run is unknown) are not ours to delete. */
  PetscCall(list_checkpoints(run, 0, run->run_id, RUN_ONLY, &names, &n, &others));
  if (run->par.rank == 0)
    for (int i = (int)run->cfg.checkpoint_keep; i < n; i++) {
      char old[CONFIG_PATH_LEN + 64];
      snprintf(old, sizeof old, "%s/%s", run->cfg.run_dir, names[i]);
      unlink(old);
    }
  free_list(names, n);
  PetscFunctionReturn(0);
}

/* Options that fix the shape of the state: a checkpoint must agree on them (and on the
 * method's own structural options). */
static const char *const structural[] = {"-method", "-arch", "-latents", "-hidden", "-activation", "-rec_loss", "-head"};

PetscErrorCode run_check_method(MPI_Comm comm, const char *path, const CkptMeta *meta, const char *want) {
  PetscFunctionBeginUser;
  const char *choices = method_choices();
  size_t n = strlen(meta->method);
  int known = 0;
  for (const char *c = choices; c && *c && !known;) {
    const char *bar = strchr(c, '|');
    size_t len = bar ? (size_t)(bar - c) : strlen(c);
    known = len == n && !strncmp(c, meta->method, n);
    c = bar ? bar + 1 : NULL;
  }
  DT_INPUT_CHECK(known, comm, "checkpoint '%s': attribute method is '%s', not a method this program knows (%s)", path,
                 meta->method, choices);
  char there[64] = "";
  ckpt_option(meta->options, "-method", there, sizeof there);
  DT_INPUT_CHECK(!strcmp(there, meta->method), comm,
                 "checkpoint '%s': attribute method is '%s' but its options say -method '%s' (damaged or crafted)", path,
                 meta->method, there);
  DT_INPUT_CHECK(!want || !strcmp(want, meta->method), comm,
                 "checkpoint '%s' does not match this run: -method is '%s' there (its attribute method) and '%s' here",
                 path, meta->method, want);
  PetscFunctionReturn(0);
}

static PetscErrorCode check_compatible(const Run *run, const char *path, const CkptMeta *meta) {
  PetscFunctionBeginUser;
  PetscCall(run_check_method(run->par.world, path, meta, run->cfg.method));
  char *mine;
  PetscCall(run_options_text(run, &mine));
  const int ncommon = (int)(sizeof structural / sizeof *structural);
  for (int i = 0; i < ncommon + METHOD_MAX_STRUCTURAL; i++) {
    const char *name = i < ncommon ? structural[i] : run->method->ops->structural[i - ncommon];
    char there[256] = "", here[256] = "";
    if (!name) continue;
    ckpt_option(meta->options, name, there, sizeof there);
    ckpt_option(mine, name, here, sizeof here);
    if (strcmp(there, here)) {
      PetscCall(PetscFree(mine));
      DT_INPUT_ERROR(run->par.world, "checkpoint '%s' does not match this run: %s is '%s' there and '%s' here", path,
                     name, there, here);
    }
  }
  /* options that may change on a restart, but the user should hear of: these, and every option
   * of the method that is not structural */
  const char *common[] = {"-seed", "-batch", "-data", "-lr", "-lsigma_lambda", "-l1_lambda", "-lsigma_layers",
                          "-sampler", "-sampler_chunk", "-sampler_window", "-group_size", "-holdout_groups"};
  const MethodOps *ops = run->method->ops;
  const int nc = (int)(sizeof common / sizeof *common);
  for (int i = 0; i < nc + ops->noptions; i++) {
    const char *name = i < nc ? common[i] : ops->options[i - nc].name;
    int fixed = 0;
    for (int k = 0; k < METHOD_MAX_STRUCTURAL && ops->structural[k]; k++) fixed |= !strcmp(name, ops->structural[k]);
    if (fixed) continue;
    char there[CONFIG_PATH_LEN] = "", here[CONFIG_PATH_LEN] = "";
    ckpt_option(meta->options, name, there, sizeof there);
    ckpt_option(mine, name, here, sizeof here);
    if (strcmp(there, here)) log_info(run->par.world, "note: %s was '%s' in the checkpoint and is '%s' now", name, there, here);
  }
  PetscCall(PetscFree(mine));
  /* the epoch sampler's order is a function of the sample count: another archive would go on
   * from another position than the one the checkpoint stopped at */
  char sampler[CONFIG_WORD_LEN] = "";
  ckpt_option(meta->options, "-sampler", sampler, sizeof sampler);
  DT_INPUT_CHECK(strcmp(sampler, "epoch") || strcmp(run->cfg.sampler, "epoch") || meta->data_samples < 0 ||
                     meta->data_samples == archive_samples(run->archive), run->par.world,
                 "checkpoint '%s': its data cursor (epoch %lld, sample %lld) is in archives of %lld samples, and -data "
                 "now holds %lld: with -sampler epoch the order would not go on where it stopped; give the same archives",
                 path, meta->cursor_epoch, meta->cursor_sample, meta->data_samples, (long long)archive_samples(run->archive));
  PetscFunctionReturn(0);
}

/* Call f(run, path, meta) with errors returned instead of printed; on an input error (a damaged
 * file) say so and set *damaged. */
static PetscErrorCode quietly(PetscErrorCode (*f)(Run *, const char *, CkptMeta *), Run *run, const char *path,
                              CkptMeta *meta, int *damaged) {
  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  PetscErrorCode ierr = f(run, path, meta);
  PetscCall(PetscPopErrorHandler());
  *damaged = ierr == DT_ERR_INPUT;
  if (*damaged) {
    const char *text = NULL;
    char *specific = NULL;
    PetscErrorMessage(ierr, &text, &specific);
    log_info(run->par.world, "warning: skipping it: %s", specific ? specific : text ? text : "unreadable");
  } else PetscCall(ierr);
  PetscFunctionReturn(0);
}

static PetscErrorCode read_meta(Run *run, const char *path, CkptMeta *meta) {
  return ckpt_read_meta(run->par.world, path, meta);
}

/* What differs between the shapes of the file's tensors and this run's; "" when nothing. */
static char mismatch[512];

static PetscErrorCode find_mismatch(Run *run, const char *path, CkptMeta *meta) {
  PetscFunctionBeginUser;
  (void)meta;
  CkptState state;
  PetscCall(method_state(run->method, &state));
  PetscErrorCode ierr = ckpt_find_mismatch(run->par.world, path, &state, mismatch, sizeof mismatch);
  method_state_free(&state);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* The state, step and history of a checkpoint whose meta was read and found compatible. */
static PetscErrorCode read_state(Run *run, const char *path, CkptMeta *meta) {
  PetscFunctionBeginUser;
  CkptState state;
  PetscCall(method_state(run->method, &state));
  PetscErrorCode ierr = ckpt_read_state(run->par.world, path, &state, meta);
  method_state_free(&state);
  PetscCall(ierr);
  run->step = meta->step;
  run->history_rows = 0;
  DT_INPUT_CHECK(!strcmp(meta->history_columns, run->history_columns), run->par.world,
                 "checkpoint '%s': its /history has columns %s, this run's method reports %s", path, meta->history_columns,
                 run->history_columns);
  for (long r = 0; r < meta->history_rows; r++) PetscCall(run_history_append(run, meta->history + r * run->history_cols));
  PetscFunctionReturn(0);
}

/* Load one checkpoint. A damaged file sets *damaged when allowed (auto), else stops the run; a
 * valid checkpoint of another model (other options, or tensors of other shapes: another sample
 * length) always stops it: it is not damaged, and going on from step 0 would overwrite a run. */
static PetscErrorCode load(Run *run, const char *path, int allow_damaged, int *damaged) {
  PetscFunctionBeginUser;
  CkptMeta meta;
  memset(&meta, 0, sizeof meta);
  *damaged = 0;
  if (allow_damaged) PetscCall(quietly(read_meta, run, path, &meta, damaged));
  else PetscCall(read_meta(run, path, &meta));
  if (*damaged) {
    ckpt_meta_free(&meta);
    PetscFunctionReturn(0);
  }
  PetscErrorCode ierr = check_compatible(run, path, &meta);
  mismatch[0] = 0;
  if (!ierr) ierr = allow_damaged ? quietly(find_mismatch, run, path, &meta, damaged) : find_mismatch(run, path, &meta);
  if (!ierr && !*damaged && mismatch[0]) {
    ckpt_meta_free(&meta);
    DT_INPUT_ERROR(run->par.world, "checkpoint '%s' does not match this run: %s", path, mismatch);
  }
  if (!ierr && !*damaged) ierr = allow_damaged ? quietly(read_state, run, path, &meta, damaged) : read_state(run, path, &meta);
  int ranks = meta.ranks;
  if (!ierr && !*damaged) {
    /* the run goes on under its own name; a checkpoint of an older version has none: a new one */
    run->continued = 1;
    snprintf(run->run_id, sizeof run->run_id, "%s", meta.run_id);
  }
  ckpt_meta_free(&meta);
  PetscCall(ierr);
  if (!*damaged)
    log_info(run->par.world, "restarted from '%s' at step %ld (written by %d rank(s), now %d)", path, run->step, ranks,
             run->par.size);
  PetscFunctionReturn(0);
}

/* The newest checkpoint of the directory's run that loads; damaged ones are reported and
 * skipped; another run's are not considered. */
static PetscErrorCode load_newest(Run *run) {
  PetscFunctionBeginUser;
  char **names, owner[CKPT_RUN_ID_LEN + 1];
  int n, damaged = 1, others;
  PetscCall(run_dir_owner(run, owner));
  PetscCall(list_checkpoints(run, 1, owner, RUN_OR_UNKNOWN, &names, &n, &others));
  if (others)
    log_info(run->par.world, "note: %d checkpoint(s) in %s are of another run than %s/run.json names; not used", others,
             run->cfg.run_dir, run->cfg.run_dir);
  for (int i = 0; i < n && damaged; i++) {
    char path[CONFIG_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/%s", run->cfg.run_dir, names[i]);
    PetscErrorCode ierr = load(run, path, 1, &damaged);
    if (ierr) free_list(names, n);
    PetscCall(ierr);
  }
  free_list(names, n);
  if (damaged && owner[0]) snprintf(run->run_id, sizeof run->run_id, "%s", owner); /* that run, over again */
  if (damaged) log_info(run->par.world, "-restart auto: no usable checkpoint in %s; starting at step 0", run->cfg.run_dir);
  PetscFunctionReturn(0);
}

PetscErrorCode run_restart(Run *run) {
  PetscFunctionBeginUser;
  run->step = 0;
  run->continued = 0;
  run->run_id[0] = 0;
  if (!strcmp(run->cfg.restart, "auto")) PetscCall(load_newest(run));
  else if (strcmp(run->cfg.restart, "none")) {
    int damaged;
    PetscCall(load(run, run->cfg.restart, 0, &damaged));
  }
  /* Going on would print "steps 41..30", train nothing and rewrite the summary of a model that
   * is not the one asked for: nothing is written. */
  DT_INPUT_CHECK(run->step <= run->cfg.steps, run->par.world,
                 "-restart %s: the run has already passed -steps %ld: the checkpoint it goes on from is at step %ld; give "
                 "-steps %ld or more to go on (nothing was changed in %s)", run->cfg.restart, (long)run->cfg.steps, run->step,
                 run->step, run->cfg.run_dir);
  if (!run->run_id[0]) PetscCall(run_new_id(run));
  PetscFunctionReturn(0);
}

PetscErrorCode run_load_model(MPI_Comm comm, const char *model, const char *data, double io_buffer_mb, Run *run) {
  PetscFunctionBeginUser;
  int nspec;
  const OptSpec *spec = train_options(&nspec);
  CkptMeta meta;
  PetscCall(ckpt_read_meta(comm, model, &meta));
  const MethodOps *ops;
  PetscErrorCode ierr = run_check_method(comm, model, &meta, NULL);
  if (ierr) ckpt_meta_free(&meta);
  PetscCall(ierr);
  /* the options text is the file's: a bad value in it is the file's fault, and named so */
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = options_defaults(comm, spec, nspec, &run->cfg);
  if (!ierr) ierr = options_apply_text(comm, spec, nspec, meta.options, &run->cfg);
  if (!ierr) ierr = method_find(comm, run->cfg.method, &ops);
  if (!ierr) ierr = method_options_from_text(comm, ops, meta.options, &run->method_opts);
  PetscCall(PetscPopErrorHandler());
  if (ierr) {
    const char *text = NULL;
    char *specific = NULL, said[512];
    PetscErrorMessage(ierr, &text, &specific);
    snprintf(said, sizeof said, "%s", specific ? specific : text ? text : "unreadable");
    ckpt_meta_free(&meta);
    PetscCheck(ierr == DT_ERR_INPUT, comm, ierr, "%s", said);
    DT_INPUT_ERROR(comm, "checkpoint '%s': its attribute options (the options it was trained with): %s", model, said);
  }
  if (data && *data) snprintf(run->cfg.data, sizeof run->cfg.data, "%s", data);
  run->cfg.groups = 0; /* the rank groups of this job, not of the training job */
  if (io_buffer_mb >= 0) run->cfg.io_buffer_mb = io_buffer_mb;
  ArchiveNorm norm = {.mean = meta.data_mean, .std = meta.data_std, .have_mean = 1, .have_std = 1};
  ierr = run_build(comm, run, &norm, 0);
  if (ierr) ckpt_meta_free(&meta);
  PetscCall(ierr);
  /* an archive of other samples than the model's is the archive's mismatch, not a bad checkpoint */
  int64_t dims[CKPT_MAX_DIMS];
  int nd = archive_sample_dims(run->archive, dims), same = nd == meta.sample_ndims;
  char have[96] = "", want[96] = "";
  for (int k = 0; k < nd && same; k++) same = dims[k] == meta.sample_dims[k];
  for (int k = 0, a = 0, b = 0; k < CKPT_MAX_DIMS; k++) {
    if (k < nd) a += snprintf(have + a, sizeof have - a, "%s%lld", k ? " x " : "", (long long)dims[k]);
    if (k < meta.sample_ndims) b += snprintf(want + b, sizeof want - b, "%s%lld", k ? " x " : "", meta.sample_dims[k]);
  }
  if (!same) ckpt_meta_free(&meta);
  DT_INPUT_CHECK(same, comm,
                 "archive '%s' holds samples of %s values; model '%s' was trained on samples of %s values: give -data "
                 "archives of that shape", run->cfg.data, have, model, want);
  ierr = read_state(run, model, &meta);
  ckpt_meta_free(&meta);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
