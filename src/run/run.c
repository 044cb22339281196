/* A run: its configuration (the option table every command that trains or loads a model reads),
 * its data, ranks and method, and its loss history. */
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
#include "disentangle/runlog.h"
#include "disentangle/tensor.h"

#define CFG(field) offsetof(Config, field), sizeof(((Config *)0)->field)

static const OptSpec train_spec[] = {
  {"-method", OPT_STRING, CFG(method), "nashae", 0, 0, NULL, "what to train (see the methods' own options below)"},
  {"-data", OPT_STRING, CFG(data), "data/beam.h5", 0, 0, NULL, "input archive(s), comma-separated HDF5 files with /data"},
  {"-run_dir", OPT_STRING, CFG(run_dir), "runs/default", 0, 0, NULL, "directory of ONE run: history.csv, summary.json, model.h5, run.json, checkpoints"},
  {"-seed", OPT_INT, CFG(seed), "1", 0, 2147483647, NULL, "seed of initialisation and batch sampling"},
  {"-steps", OPT_INT, CFG(steps), "1000", 1, 1e9, NULL, "autoencoder updates"},
  {"-batch", OPT_INT, CFG(batch), "100", 1, 1e6, NULL, "global batch size (see -sampler), split over ranks"},
  {"-latents", OPT_INT, CFG(latents), "4", 1, 4096, NULL, "latent units m"},
  {"-hidden", OPT_STRING, CFG(hidden), "200,80,40", 0, 0, NULL, "encoder hidden widths; the decoder mirrors them; none: no hidden layer"},
  {"-activation", OPT_STRING, CFG(activation), "selu", 0, 0, "selu|relu|tanh|sigmoid|identity", "hidden activation"},
  {"-arch", OPT_STRING, CFG(arch), "mlp", 0, 0, "mlp|dsprites_conv|dsprites_fc", "encoder/decoder: mlp from -hidden/-activation, or a published dSprites net (64x64 images)"},
  {"-rec_loss", OPT_STRING, CFG(rec_loss), "mse", 0, 0, "mse|gaussian|bernoulli", "reconstruction: MSE/2 (mean over values); gaussian: squared error/2 summed over a sample's values (the unit-variance Gaussian likelihood of the VAE family); Bernoulli cross-entropy on logits (data in [0,1], not normalised)"},
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
  {"-on_nan", OPT_STRING, CFG(on_nan), "stop", 0, 0, "stop|skip_batch",
   "a non-finite loss or parameter: stop (exit 4, nothing written from that state), or skip the batch's update"},
  {"-on_nan_max", OPT_INT, CFG(on_nan_max), "10", 0, 1e9, NULL, "with -on_nan skip_batch: stop (exit 4) once more batches than this are skipped"},
  /* the regularisers any method takes (src/method/lsigma.c) */
  {"-head", OPT_STRING, CFG(head), "", 0, 0, NULL, "latents of a deterministic method (ae, nashae): sigmoid or identity (linear); empty: the method's own"},
  {"-lsigma_lambda", OPT_REAL, CFG(lsigma_lambda), "0", 0, 1e6, NULL, "L_Sigma weight: lambda (1/p^2) sum_ij |C_ij|, C the covariance of a layer over the global batch"},
  {"-l1_lambda", OPT_REAL, CFG(l1_lambda), "0", 0, 1e6, NULL, "L1 activity penalty weight: lambda mean |h| over the batch and the layer's p units"},
  {"-lsigma_layers", OPT_STRING, CFG(lsigma_layers), "latents", 0, 0, NULL, "layers of -lsigma_lambda and -l1_lambda: latents, code, encK, decK (K-th hidden layer, 1 = outermost)"},
  {"-grad_bucket_kb", OPT_INT, CFG(grad_bucket_kb), "256", 0, 1e7, NULL, "the gradient allreduce in buckets of at least this many KB (whole tensors, fixed: the same bits every run); 0: one bucket"},
  {"-grad_reduce", OPT_STRING, CFG(grad_reduce), "mpi", 0, 0, "mpi|node", "sum the gradients with MPI_Iallreduce per bucket (mpi), or through shared memory inside each node and MPI_Allreduce across nodes (node: each element in a fixed order)"},
  {"-grad_overlap", OPT_BOOL, CFG(grad_overlap), "true", 0, 0, NULL, "start each gradient bucket as soon as backward has finished its layers (false: all after backward; the same bits either way)"},
  {"-sampler", OPT_STRING, CFG(sampler), "iid", 0, 0, "iid|epoch|grouped",
   "global batches: iid with replacement from (seed, step), or epochs (every sample once per epoch: chunks permuted, then shuffled in windows); the same for any rank count"},
  {"-sampler_chunk", OPT_INT, CFG(sampler_chunk), "64", 1, 1e9, NULL, "with -sampler epoch: consecutive samples per chunk (match the archives' HDF5 chunks)"},
  {"-sampler_window", OPT_INT, CFG(sampler_window), "16", 1, 1e9, NULL, "with -sampler epoch: chunks per shuffle window"},
  {"-group_size", OPT_INT, CFG(group_size), "4", 1, 1e6, NULL, "with -sampler grouped: samples drawn from each group; a batch is -batch / -group_size whole groups of the archive's /groups"},
  {"-holdout_groups", OPT_REAL, CFG(holdout_groups), "0", 0, 0.9, NULL, "with -sampler grouped: share of the groups held out of training (chosen from -seed; eval measures generalisation on them)"},
  {"-reproducible", OPT_BOOL, CFG(reproducible), "false", 0, 0, NULL, "bit-identical parameters, losses and checkpoints on any rank count: the batch in micro-chunks of -reproducible_chunk rows, sums exact (docs/reproducible.md; slower)"},
  {"-reproducible_chunk", OPT_INT, CFG(reproducible_chunk), "10", 1, 1e6, NULL, "with -reproducible: rows per micro-chunk; -batch must be a multiple, with at least one chunk per rank"},
  {"-io_buffer_mb", OPT_REAL, CFG(io_buffer_mb), "0", 0, 1e9, NULL, "> 0: stream the archives from disk (read ahead in a thread) holding at most this many MB of samples per rank; 0: hold them in memory"},
  {"-on_bad_record", OPT_STRING, CFG(on_bad_record), "fail", 0, 0, "fail|skip",
   "a sample holding NaN/Inf, or an archive unreadable during the run: stop with its name, or skip it (named in the log, counted in summary.json)"},
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

/* The run log line (runlog.h), printed before anything that may take long or fail on the data. */
static PetscErrorCode run_log_start(MPI_Comm comm, Run *run, const MethodOps *ops) {
  PetscFunctionBeginUser;
  int nspec;
  const OptSpec *spec = train_options(&nspec);
  char *common, *own, *text;
  PetscCall(options_format(spec, nspec, &run->cfg, &common));
  PetscCall(options_format(ops->options, ops->noptions, run->method_opts, &own));
  size_t n = strlen(common) + strlen(own) + 1;
  PetscCall(PetscMalloc1(n, &text));
  snprintf(text, n, "%s%s", common, own);
  PetscCall(PetscFree(run->log));
  PetscCall(runlog_line(comm, "train", text, &run->log));
  PetscCall(PetscFree(common));
  PetscCall(PetscFree(own));
  PetscCall(PetscFree(text));
  log_info(comm, "%s", run->log);
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
  PetscCall(run_log_start(comm, run, ops));
  /* -data_mean alone would be silently ignored (it is applied with -data_std > 0 only) */
  PetscBool has_mean, has_std;
  PetscCall(PetscOptionsHasName(NULL, NULL, "-data_mean", &has_mean));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-data_std", &has_std));
  DT_INPUT_CHECK(!has_mean || run->cfg.data_std > 0, comm,
                 "option -data_mean: given without -data_std > 0, so it would be ignored; give both (the inputs become "
                 "(x - mean) / std), or neither (the archive's mean/std attributes, else computed ones)");
  if (has_std && !has_mean && run->cfg.data_std > 0)
    log_info(comm, "note: -data_std %g without -data_mean: the mean is 0 (inputs become x / %g)", (double)run->cfg.data_std,
             (double)run->cfg.data_std);
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
  int grouped = training && !strcmp(cfg->sampler, "grouped");
  DT_INPUT_CHECK(!grouped || cfg->batch % cfg->group_size == 0, comm,
                 "option -batch: %d is not a multiple of -group_size %d; a batch is whole groups of -group_size samples",
                 (int)cfg->batch, (int)cfg->group_size);
  if (training) { /* before the data is read: it may take minutes */
    const MethodOps *checked;
    PetscCall(method_find(comm, cfg->method, &checked));
    PetscCall(method_check_reproducible(comm, cfg, checked, size));
  }
  openblas_set_num_threads((int)cfg->blas_threads);
  ArchiveIO io = {.buffer_mb = (double)cfg->io_buffer_mb, .skip_bad = !strcmp(cfg->on_bad_record, "skip")};
  PetscCall(archive_open_io(comm, cfg->data, norm, &io, &run->archive));
  int most = (int)((cfg->batch + size - 1) / size); /* rows of the largest slice */
  if (training && cfg->reproducible) {
    int chunks = (int)(cfg->batch / cfg->reproducible_chunk);
    most = (int)(((chunks + size - 1) / size) * cfg->reproducible_chunk);
  }
  if (training) PetscCall(archive_check_buffer(run->archive, most));
  if (training) PetscCall(stop_during_setup(comm, cfg->run_dir)); /* reading the data may take minutes */
  DT_INPUT_CHECK(!training || cfg->batch <= archive_samples(run->archive), comm,
                 "option -batch: %d is larger than the %lld samples in '%s'; use at most %lld", (int)cfg->batch,
                 (long long)archive_samples(run->archive), cfg->data, (long long)archive_samples(run->archive));
  if (grouped) { /* /groups present, enough groups for a batch: said now, not after the model is built */
    Sampler probe;
    PetscCall(sampler_init_grouped(&probe, run->archive, (uint64_t)cfg->seed, 0, (int)cfg->batch, (int)cfg->group_size,
                                   (double)cfg->holdout_groups));
    sampler_free(&probe);
  }
  PetscCall(par_create(comm, (int)cfg->groups, &run->par));
  int64_t dims[3];
  int ndims = archive_sample_dims(run->archive, dims);
  Shape sample = {ndims, {(int)dims[0], ndims == 3 ? (int)dims[1] : 1, ndims == 3 ? (int)dims[2] : 1}};
  const MethodOps *ops;
  PetscCall(method_find(comm, cfg->method, &ops));
  PetscCall(run_check_model_cost(comm, cfg, ops, run->method_opts, (int)shape_size(&sample)));
  PetscCall(method_create_shaped(cfg, run->method_opts, &run->par, sample, &run->method));
  run->method->dataset_size = archive_samples(run->archive);
  if (training) PetscCall(stop_during_setup(comm, cfg->run_dir));
  const Method *me = run->method; /* the history's columns: step, the method's losses, samples_per_s */
  int at = snprintf(run->history_columns, sizeof run->history_columns, "step");
  for (int k = 0; k < me->nlosses; k++)
    at += snprintf(run->history_columns + at, sizeof run->history_columns - at, ",%s", me->loss_names[k]);
  snprintf(run->history_columns + at, sizeof run->history_columns - at, ",samples_per_s");
  run->history_cols = me->nlosses + 2;
  PetscFunctionReturn(0);
}

void run_free(Run *run) {
  method_destroy(&run->method);
  archive_close(&run->archive);
  par_free(&run->par);
  PetscFree(run->method_opts);
  PetscFree(run->history);
  PetscFree(run->log);
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

