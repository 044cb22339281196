/* `disentangle eval`: encode an archive with a trained model (each rank a block of samples) and
 * measure the code: unsupervised statistics of the latents (and of any hidden layer), and, when
 * the archive has /factors, the supervised disentanglement scores. Writes RUN_DIR/metrics.json
 * (a flat object: the method, then one "key": number per line) and RUN_DIR/latents.h5 (what the
 * report draws), and prints a table. The same
 * numbers on any rank count. */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/covstats.h"
#include "disentangle/dci.h"
#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/eval.h"
#include "disentangle/factors.h"
#include "disentangle/jsonio.h"
#include "disentangle/log.h"
#include "disentangle/tensor.h"
#include "disentangle/scores.h"

#define ECFG(field) offsetof(EvalConfig, field), sizeof(((EvalConfig *)0)->field)

static const OptSpec eval_spec[] = {
  {"-run_dir", OPT_STRING, ECFG(run_dir), "runs/default", 0, 0, NULL, "the run to evaluate; metrics.json is written there"},
  {"-model", OPT_STRING, ECFG(model), "", 0, 0, NULL, "model or checkpoint file (default RUN_DIR/model.h5)"},
  {"-data", OPT_STRING, ECFG(data), "", 0, 0, NULL, "archive(s) to encode (default: the run's training data)"},
  {"-base", OPT_INT, ECFG(base), "0", 0, 2147483647, NULL, "sample whose code the traversals in latents.h5 start from"},
  {"-seed", OPT_INT, ECFG(seed), "1", 0, 2147483647, NULL, "seed of the metrics' sampling"},
  {"-tdv_d", OPT_INT, ECFG(tdv_d), "0", 0, 1e6, NULL, "d of TdV, the top-d variance share (0: the number of factors, else 1)"},
  {"-layer", OPT_STRING, ECFG(layer), "", 0, 0, NULL, "also the spectrum of a hidden layer, e.g. encoder.dense1 (net.denseK)"},
  {"-eig_distributed_min", OPT_INT, ECFG(eig_distributed_min), "512", 1, 1e9, NULL,
   "eigenproblems at least this large go to ScaLAPACK over all ranks"},
  {"-factor_values", OPT_INT, ECFG(factor_values), "1000", 2, 1e9, NULL,
   "a factor with at most this many distinct values keeps them; more are binned"},
  {"-factor_bins", OPT_INT, ECFG(factor_bins), "20", 2, 1e6, NULL, "bins for a factor with more distinct values"},
  {"-metric_train", OPT_INT, ECFG(metric_train), "10000", 10, 1e8, NULL, "training points of the supervised scores"},
  {"-metric_eval", OPT_INT, ECFG(metric_eval), "5000", 10, 1e8, NULL, "evaluation points of the supervised scores"},
  /* 0.01 nats: the usual cut for a "used" VAE latent (a posterior that moved measurably from the
   * prior); collapsed latents sit at ~1e-4 or below, used ones at 0.1 and above, so the count is
   * not sensitive to the exact value. */
  {"-kl_threshold", OPT_REAL, ECFG(kl_threshold), "0.01", 0, 1e6, NULL,
   "Gaussian-head methods: a latent whose mean KL(q(z_j|x) || N(0,1)) exceeds this (nats) counts in kl_active_latents"},
};
#define NSPEC ((int)(sizeof eval_spec / sizeof eval_spec[0]))

/* Activations of `net.denseK` for this rank's block of samples: h[rows][*width] (PetscMalloc'd). */
static PetscErrorCode layer_block(Run *run, const char *layer, double **h, long *rows, int *width) {
  PetscFunctionBeginUser;
  char net_name[64];
  int dense = -1;
  DT_INPUT_CHECK(sscanf(layer, "%63[^.].dense%d", net_name, &dense) == 2, run->par.world,
                 "option -layer: '%s' is not NET.denseK (e.g. encoder.dense1)", layer);
  /* the encoder reads the data, the decoder the code; other nets see other inputs */
  Net *enc = &run->method->ae.enc, *net = !strcmp(net_name, "encoder") ? enc
                                           : !strcmp(net_name, "decoder") ? &run->method->ae.dec : NULL;
  DT_INPUT_CHECK(net, run->par.world, "option -layer: '%s' is not encoder or decoder", net_name);
  DT_INPUT_CHECK(net_dense_output(net, dense, width), run->par.world, "option -layer: net '%s' has no dense%d", net_name,
                 dense);
  const Archive *a = run->archive;
  int off, cnt, chunk = run->method->ae.max_batch, w;
  par_slice_chunks(archive_samples(a), chunk, run->par.rank, run->par.size, &off, &cnt);
  *rows = cnt;
  PetscCall(PetscMalloc1((size_t)PetscMax(cnt, 1) * *width, h));
  float *xbuf;
  PetscCall(tensor_alloc((size_t)chunk * archive_features(a), &xbuf));
  for (int start = off; start < off + cnt; start += chunk) {
    int n = PetscMin(chunk, off + cnt - start);
    PetscCall(archive_read(a, start, n, xbuf));
    const float *x = xbuf;
    if (net != enc) { /* the decoder reads the latents */
      method_encode(run->method, x, n, run->method->ae.z);
      x = autoencoder_decoder_input(&run->method->ae, run->method->ae.z, n);
    }
    net_forward(net, x, n);
    const float *out = net_dense_output(net, dense, &w);
    for (long i = 0; i < (long)n * w; i++) (*h)[(size_t)(start - off) * w + i] = out[i];
  }
  tensor_free(&xbuf);
  PetscFunctionReturn(0);
}

/* ---- the metric list: flat name -> number ---------------------------------------------------- */

typedef struct {
  int n, cap;
  char (*name)[96];
  double *value;
} Metrics;

static void put(Metrics *ms, const char *name, double v) {
  if (ms->n == ms->cap) {
    ms->cap = ms->cap ? 2 * ms->cap : 64;
    ms->name = realloc(ms->name, sizeof *ms->name * ms->cap);
    ms->value = realloc(ms->value, sizeof *ms->value * ms->cap);
  }
  snprintf(ms->name[ms->n], sizeof ms->name[0], "%s", name);
  ms->value[ms->n++] = v;
}

static void put_indexed(Metrics *ms, const char *prefix, int i, double v) {
  char name[96];
  snprintf(name, sizeof name, "%.60s_%d", prefix, i);
  put(ms, name, v);
}

/* Non-finite values are written as null (jsonio), and shown as n/a. */
static PetscErrorCode write_metrics(const Run *run, const EvalConfig *ec, const Metrics *ms) {
  PetscFunctionBeginUser;
  char path[CONFIG_PATH_LEN + 32];
  snprintf(path, sizeof path, "%s/metrics.json", ec->run_dir);
  json_t *doc = json_object();
  PetscCheck(doc, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory building metrics.json");
  PetscCall(jsonio_set_string(doc, "method", run->cfg.method));
  for (int i = 0; i < ms->n; i++) {
    PetscCheck(!json_object_get(doc, ms->name[i]), PETSC_COMM_SELF, PETSC_ERR_PLIB, "metric '%s' measured twice", ms->name[i]);
    PetscCall(jsonio_set_number(doc, ms->name[i], ms->value[i]));
  }
  /* 9 digits, as the table's float32 inputs warrant; the same text on any rank count */
  PetscCall(jsonio_write(run->par.world, path, doc, 9));
  json_decref(doc);
  PetscFunctionReturn(0);
}

static void print_table(const Run *run, const Metrics *ms) {
  if (run->par.rank != 0) return;
  printf("%-32s %s\n", "metric", "value");
  for (int i = 0; i < ms->n; i++) {
    if (strchr(ms->name[i], '_') && isdigit((unsigned char)ms->name[i][strlen(ms->name[i]) - 1])) continue; /* per-unit rows */
    if (isfinite(ms->value[i])) printf("%-32s %.4g\n", ms->name[i], ms->value[i]);
    else printf("%-32s %s\n", ms->name[i], "n/a");
  }
  fflush(stdout);
}

/* ---- the measurements ------------------------------------------------------------------------ */

/* Statistics of activations h (this rank's rows of those summed over comm): covariance spectrum, MAPC, CVR, TdV, UD90, TC;
 * with_units: per-unit range and variance too. Keys are prefixed (e.g. "" or "layer_"). */
static PetscErrorCode covariance_metrics(Run *run, MPI_Comm comm, const EvalConfig *ec, const double *h, long rows, int p,
                                         int d, const char *prefix, int with_units, Metrics *ms) {
  PetscFunctionBeginUser;
  double *mean, *cov, *w, *hmin, *hmax;
  char key[64];
  PetscCall(PetscMalloc5(p, &mean, (size_t)p * p, &cov, p, &w, p, &hmin, p, &hmax));
  PetscCall(covstats_covariance(comm, h, rows, p, mean, cov));
  PetscCall(covstats_range(comm, h, rows, p, hmin, hmax));
  CovStats st;
  PetscCall(covstats_summary(run->par.world, cov, p, d, (int)ec->eig_distributed_min, &st, w));
  int active = 0;
  for (int j = 0; j < p; j++) active += hmax[j] - hmin[j] > run->cfg.active_threshold;
  const char *names[] = {"active", "units", "live_units", "mapc", "cvr", "tdv", "tdv_d", "ud90", "gaussian_tc"};
  double values[] = {active, p, st.live_units, st.mapc, st.cvr, st.tdv, st.tdv_d, st.ud90, st.gaussian_tc};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    snprintf(key, sizeof key, "%s%s", prefix, names[i]);
    put(ms, key, values[i]);
  }
  snprintf(key, sizeof key, "%seigenvalue", prefix);
  for (int j = 0; j < p; j++) put_indexed(ms, key, j, w[j]);
  if (with_units)
    for (int j = 0; j < p; j++) {
      snprintf(key, sizeof key, "%srange", prefix);
      put_indexed(ms, key, j, hmax[j] - hmin[j]);
      snprintf(key, sizeof key, "%svariance", prefix);
      put_indexed(ms, key, j, cov[(size_t)j * p + j]);
    }
  PetscCall(PetscFree5(mean, cov, w, hmin, hmax));
  PetscFunctionReturn(0);
}

/* Every rank holds every latent: each computes the statistics over all of them, in the same
 * order, so the numbers do not depend on the rank count. */
static PetscErrorCode latent_metrics(Run *run, const EvalConfig *ec, const double *z, int d, Metrics *ms) {
  PetscFunctionBeginUser;
  const int m = run->method->ae.latents;
  int first = ms->n; /* covariance_metrics puts "active" first */
  PetscCall(covariance_metrics(run, PETSC_COMM_SELF, ec, z, archive_samples(run->archive), m, d, "", 1, ms));
  put(ms, "active_latents", ms->value[first]); /* NashAE's name for the count of latents in use */
  PetscFunctionReturn(0);
}

/* Gaussian head: each latent's mean KL to the prior (kl_j), their sum and how many exceed the
 * threshold: the VAE users' view of which latents carry information. */
static void kl_metrics(const EvalConfig *ec, const double *kl, int m, Metrics *ms) {
  double total = 0;
  int active = 0;
  for (int j = 0; j < m; j++) {
    put_indexed(ms, "kl", j, kl[j]);
    total += kl[j];
    active += kl[j] > ec->kl_threshold;
  }
  put(ms, "kl_total", total);
  put(ms, "kl_active_latents", active);
}

static PetscErrorCode layer_metrics(Run *run, const EvalConfig *ec, int d, Metrics *ms) {
  PetscFunctionBeginUser;
  double *h;
  long rows;
  int width;
  PetscCall(layer_block(run, ec->layer, &h, &rows, &width));
  PetscCall(covariance_metrics(run, run->par.world, ec, h, rows, width, d, "layer_", 0, ms));
  PetscCall(PetscFree(h));
  PetscFunctionReturn(0);
}

/* DCI (gradient-boosted trees' importances) and SAP. */
static PetscErrorCode dci_sap_metrics(const FactorData *fd, const EvalConfig *ec, Metrics *ms) {
  PetscFunctionBeginUser;
  DciParams dp = dci_default_params();
  SapParams sp = sap_default_params();
  dp.num_train = sp.num_train = (int)ec->metric_train;
  dp.num_test = sp.num_test = (int)ec->metric_eval;
  DciResult dci;
  SapResult sap = {0};
  /* SAP is the gap between the two most informative latents: undefined (null) for one latent */
  int sap_defined = fd->m >= 2;
  PetscCheck(dci_compute(fd, &dp, (uint64_t)ec->seed, &dci) == 0 &&
                 (!sap_defined || sap_compute(fd, &sp, (uint64_t)ec->seed, &sap) == 0),
             PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory in DCI/SAP");
  if (!sap_defined) sap.score = NAN;
  put(ms, "dci_disentanglement", dci.disentanglement);
  put(ms, "dci_completeness", dci.completeness);
  put(ms, "dci_informativeness", dci.informativeness_test);
  put(ms, "dci_informativeness_train", dci.informativeness_train);
  put(ms, "sap", sap.score);
  dci_result_free(&dci);
  sap_result_free(&sap);
  PetscFunctionReturn(0);
}

/* The supervised scores: every rank holds every latent and computes the same numbers. */
static PetscErrorCode supervised_metrics(Run *run, const EvalConfig *ec, const double *z, Metrics *ms) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  FactorData fd;
  PetscCheck(factors_create(&fd, z, (int)archive_samples(a), run->method->ae.latents, archive_factors(a), archive_nfactors(a), (int)ec->factor_values,
                            (int)ec->factor_bins) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory");
  /* Every rank computes the same scores. The gradient-boosted trees of DCI hold the most per
   * training point: features, sort orders, and per class raw scores, probabilities, residuals.
   * Refuse what the node cannot hold before minutes of silent work; say what goes on when the
   * points are many (the default 10000 takes tens of seconds already). */
  int classes = 1, on_node;
  for (int j = 0; j < fd.k; j++) classes = PetscMax(classes, fd.ncodes[j]);
  const double m = fd.m, k = fd.k;
  double need = (double)ec->metric_train * (20 * m + 36.0 * classes + 4 * k + 8) + (double)ec->metric_eval * (8 * m + 8.0 * classes + 4 * k), have;
  PetscCall(node_memory(run->par.world, &have, &on_node));
  if (have > 0 && need * on_node > 0.9 * have) {
    factors_free(&fd);
    DT_INPUT_ERROR(run->par.world,
                   "eval: the supervised scores on %d training and %d evaluation points (%d latents, factors of up to %d "
                   "values) need about %.3g GB per rank, %.3g GB for the %d rank(s) on this node, and %.3g GB are "
                   "available; use a smaller -metric_train (default 10000)%s",
                   (int)ec->metric_train, (int)ec->metric_eval, (int)m, classes, need / 1e9, need * on_node / 1e9, on_node,
                   have / 1e9, on_node > 1 ? " or fewer ranks per node" : "");
  }
  const int loud = ec->metric_train > 10000 || ec->metric_eval > 10000;
  if (loud)
    log_info(run->par.world, "supervised scores on %d training and %d evaluation points, about %.3g GB per rank; this may take "
             "long: each score is announced as it starts", (int)ec->metric_train, (int)ec->metric_eval, need / 1e9);
  ScoreParams sp = scores_default_params();
  sp.beta_vae.num_train = sp.factor_vae.num_train = sp.mig.num_train = sp.modexpl.num_train = (int)ec->metric_train;
  sp.beta_vae.num_eval = sp.factor_vae.num_eval = sp.modexpl.num_test = (int)ec->metric_eval;
  const uint64_t seed = (uint64_t)ec->seed;
  AccuracyPair bv;
  FactorVaeResult fv;
  ExplicitnessResult ex;
  double nash, mig, modularity, t0 = log_seconds();
#define SCORE(name, call) (loud ? log_info(run->par.world, "  %s (at %.0f s)...", name, log_seconds() - t0) : (void)0, (call))
  int err = SCORE("beta-VAE", score_beta_vae(&fd, &sp.beta_vae, seed, &bv)) ||
            SCORE("beta-VAE, NashAE protocol", score_beta_vae_nashae(&fd, &sp.nash, seed, &nash)) ||
            SCORE("FactorVAE", score_factor_vae(&fd, &sp.factor_vae, seed, &fv)) || SCORE("MIG", score_mig(&fd, &sp.mig, seed, &mig)) ||
            SCORE("modularity", score_modularity(&fd, &sp.modexpl, seed, &modularity)) ||
            SCORE("explicitness", score_explicitness(&fd, &sp.modexpl, seed, &ex));
#undef SCORE
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory in the supervised metrics");
  put(ms, "betavae_score", bv.eval_accuracy);
  put(ms, "betavae_train_accuracy", bv.train_accuracy);
  put(ms, "betavae_nashae_protocol", nash);
  put(ms, "factorvae_score", fv.eval_accuracy);
  put(ms, "factorvae_train_accuracy", fv.train_accuracy);
  put(ms, "factorvae_active_dims", fv.num_active);
  put(ms, "mig", mig);
  put(ms, "modularity", modularity);
  put(ms, "explicitness", ex.test);
  if (loud) log_info(run->par.world, "  DCI and SAP (at %.0f s)...", log_seconds() - t0);
  PetscCall(dci_sap_metrics(&fd, ec, ms));
  factors_free(&fd);
  PetscFunctionReturn(0);
}

PetscErrorCode eval_command(int help, int *code, int nargs, char **args) {
  PetscFunctionBeginUser;
  *code = DT_EXIT_OK;
  if (help) {
    options_print_help(stdout, "usage: mpiexec -n P disentangle eval -run_dir DIR [-data FILE,...] [options]\n\n"
                               "Encode an archive with the trained model and write DIR/metrics.json: unsupervised\n"
                               "statistics of the latents (and of -layer), and the supervised disentanglement\n"
                               "scores when the archive has /factors; and DIR/latents.h5, what `report` draws.",
                       eval_spec, NSPEC);
    PetscFunctionReturn(0);
  }
  DT_INPUT_CHECK(nargs == 0, PETSC_COMM_WORLD, "eval takes options only ('%s' is not one)", nargs ? args[0] : "");
  EvalConfig ec;
  Run run;
  double *z, *kl;
  run_init(&run);
  PetscCall(options_read(PETSC_COMM_WORLD, eval_spec, NSPEC, &ec));
  PetscCall(options_reject_unknown(PETSC_COMM_WORLD, eval_spec, NSPEC));
  PetscCall(run_load_encoded(PETSC_COMM_WORLD, ec.run_dir, ec.model, sizeof ec.model, ec.data, &run, &z, &kl));
  const Archive *a = run.archive;
  DT_INPUT_CHECK(archive_samples(a) >= 2, run.par.world,
                 "archive '%s' holds %lld sample; eval needs at least 2 (its statistics are over the samples)", run.cfg.data,
                 (long long)archive_samples(a));
  const int d = ec.tdv_d ? (int)ec.tdv_d : archive_nfactors(a) ? archive_nfactors(a) : 1;
  Metrics ms = {0};
  put(&ms, "samples", (double)archive_samples(a));
  put(&ms, "factors", archive_nfactors(a));
  put(&ms, "step", run.step);
  PetscCall(latent_metrics(&run, &ec, z, d, &ms));
  if (kl) kl_metrics(&ec, kl, run.method->ae.latents, &ms);
  if (ec.layer[0]) PetscCall(layer_metrics(&run, &ec, d, &ms));
  if (archive_nfactors(a)) PetscCall(supervised_metrics(&run, &ec, z, &ms));
  else log_info(run.par.world, "'%s' has no /factors: supervised scores skipped", run.cfg.data);
  PetscCall(write_metrics(&run, &ec, &ms));
  PetscCall(run_write_encoded(&run, ec.run_dir, (int)ec.base, z, kl, ec.kl_threshold));
  print_table(&run, &ms);
  log_info(run.par.world, "wrote %s/metrics.json", ec.run_dir);
  free(ms.name), free(ms.value);
  PetscCall(PetscFree(z));
  PetscCall(PetscFree(kl));
  run_free(&run);
  PetscFunctionReturn(0);
}
