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
#include "disentangle/archive.h"
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
  {"-io_buffer_mb", OPT_REAL, ECFG(io_buffer_mb), "-1", -1, 1e9, NULL,
   "> 0: stream the archives from disk, holding at most this many MB of samples per rank; 0: hold them in memory; "
   "-1: as the run was trained"},
  {"-base", OPT_INT, ECFG(base), "0", 0, 2147483647, NULL, "sample whose code the traversals in latents.h5 start from"},
  {"-seed", OPT_INT, ECFG(seed), "1", 0, 2147483647, NULL, "seed of the metrics' sampling"},
  {"-tdv_d", OPT_INT, ECFG(tdv_d), "0", 0, 1e6, NULL, "d of TdV, the top-d variance share (0: the number of factors, else 1)"},
  {"-layer", OPT_STRING, ECFG(layer), "", 0, 0, NULL, "also the spectrum of a hidden layer, e.g. encoder.dense1 (net.denseK)"},
  {"-eig_distributed_min", OPT_INT, ECFG(eig_distributed_min), "512", 1, 1e9, NULL,
   "eigenproblems at least this large go to ScaLAPACK over all ranks"},
  /* 64: dSprites' factors (at most 40 values) stay discrete, as the lib treats them; a beam
   * archive's duty cycle (120 values, 3 samples each) is continuous */
  {"-factor_values", OPT_INT, ECFG(factor_values), "64", 1, 1e9, NULL,
   "a factor with at most this many distinct values is discrete (keeps its values); more: continuous"},
  {"-factor_kinds", OPT_STRING, ECFG(factor_kinds), "", 0, 0, NULL,
   "comma-separated kind of each factor, auto|discrete|continuous (default: the archive's /factors attribute kinds, "
   "else all auto, by -factor_values)"},
  {"-factor_bins", OPT_INT, ECFG(factor_bins), "20", 2, 1e6, NULL,
   "bins of a continuous factor wherever a score needs classes (MIG, modularity, classifiers)"},
  /* 1/3: the lib's 10000 training and 5000 test points */
  {"-metric_test_share", OPT_REAL, ECFG(test_share), "0.333333333333", 0.01, 0.99, NULL,
   "share of the archive's rows held out as the supervised scores' test part (disjoint from training)"},
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

static const double *lookup(const Metrics *ms, const char *name) {
  for (int i = 0; i < ms->n; i++)
    if (!strcmp(ms->name[i], name)) return &ms->value[i];
  return NULL;
}

/* The factor-capture matrix: eta^2 of each latent (rows) with each factor (columns), then per
 * factor whether some active latent captures it cleanly. */
static void print_capture(const Run *run, const Metrics *ms) {
  const Archive *a = run->archive;
  const int m = run->method->ae.latents, k = archive_nfactors(a);
  const char *const *names = archive_factor_names(a);
  char key[96], label[32];
  printf("\nfactor capture: eta^2 (share of a latent's variance its factor explains); clean: >= %.1f for one "
         "factor, <= %.1f for the others, active latent\n%-8s",
         SCORES_CAPTURE_HIGH, SCORES_CAPTURE_LOW, "latent");
  for (int f = 0; f < k; f++) {
    if (names && names[f]) snprintf(label, sizeof label, "%.14s", names[f]);
    else snprintf(label, sizeof label, "factor%d", f);
    snprintf(key, sizeof key, "factor_continuous_%d", f);
    const double *cont = lookup(ms, key);
    printf(" %15s%s", label, cont && *cont ? "~" : " ");
  }
  printf("\n");
  for (int j = 0; j < m; j++) {
    snprintf(key, sizeof key, "active_latent_%d", j);
    const double *act = lookup(ms, key);
    printf("z%-3d%-4s", j, act && *act ? "" : "off");
    for (int f = 0; f < k; f++) {
      snprintf(key, sizeof key, "eta2_%d_%d", j, f);
      const double *v = lookup(ms, key);
      printf(" %15.3f ", v ? *v : NAN);
    }
    printf("\n");
  }
  printf("%-8s", "clean");
  for (int f = 0; f < k; f++) {
    snprintf(key, sizeof key, "captured_by_%d", f);
    const double *by = lookup(ms, key);
    if (by && *by >= 0) snprintf(label, sizeof label, "yes (z%d)", (int)*by);
    else snprintf(label, sizeof label, "no");
    printf(" %15s ", label);
  }
  printf("\n(~: a continuous factor, binned into classes)\n");
}

static void print_table(const Run *run, const Metrics *ms) {
  if (run->par.rank != 0) return;
  printf("%-32s %s\n", "metric", "value");
  for (int i = 0; i < ms->n; i++) {
    if (strchr(ms->name[i], '_') && isdigit((unsigned char)ms->name[i][strlen(ms->name[i]) - 1])) continue; /* per-unit rows */
    if (isfinite(ms->value[i])) printf("%-32s %.4g\n", ms->name[i], ms->value[i]);
    else printf("%-32s %s\n", ms->name[i], "n/a");
  }
  if (lookup(ms, "captured_factors")) print_capture(run, ms);
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

/* ---- the supervised scores ----------------------------------------------------------------- */

/* The archive's rows as the scores see them: all of them (MIG, modularity, capture), a training
 * part and a disjoint test part; each for all latents (v = 0) and for the active ones (v = 1). */
typedef struct {
  FactorData full[2], train[2], test[2];
  int nactive, *active, has[2]; /* has[1]: there are active latents to score */
} Parts;

static void parts_free(Parts *pt) { /* factors_free takes a zeroed FactorData too */
  for (int v = 0; v < 2; v++) factors_free(&pt->full[v]), factors_free(&pt->train[v]), factors_free(&pt->test[v]);
  free(pt->active);
}

/* Per-factor kinds: -factor_kinds, else the archive's /factors attribute kinds, else auto. */
static PetscErrorCode factor_kinds(MPI_Comm comm, const char *list, const Archive *a, int k, int *kinds) {
  PetscFunctionBeginUser;
  static const int as_factor[] = {[ARCHIVE_KIND_AUTO] = FACTOR_AUTO, [ARCHIVE_KIND_DISCRETE] = FACTOR_DISCRETE,
                                  [ARCHIVE_KIND_CONTINUOUS] = FACTOR_CONTINUOUS};
  const int *stored = archive_factor_kinds(a);
  for (int f = 0; f < k; f++) kinds[f] = as_factor[stored[f]];
  if (!list[0]) PetscFunctionReturn(0);
  char buf[CONFIG_PATH_LEN], *save = NULL;
  snprintf(buf, sizeof buf, "%s", list);
  int f = 0;
  for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save), f++) {
    DT_INPUT_CHECK(f < k, comm, "option -factor_kinds: %d kinds given, the archive has %d factors", f + 1, k);
    const int kind = archive_kind_of(w);
    DT_INPUT_CHECK(kind >= 0, comm, "option -factor_kinds: '%s' is not auto, discrete or continuous", w);
    kinds[f] = as_factor[kind];
  }
  DT_INPUT_CHECK(f == k, comm, "option -factor_kinds: %d kinds given, the archive has %d factors", f, k);
  PetscFunctionReturn(0);
}

static PetscErrorCode parts_create(Run *run, const EvalConfig *ec, const double *z, Parts *pt, int *n_train,
                                   int *n_test) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  const int n = (int)archive_samples(a), m = run->method->ae.latents, k = archive_nfactors(a);
  int *kinds, *rows, *train, *test, *cols;
  memset(pt, 0, sizeof *pt);
  PetscCall(PetscMalloc5(k, &kinds, n, &rows, n, &train, n, &test, m, &cols));
  PetscCall(factor_kinds(run->par.world, ec->factor_kinds, a, k, kinds));
  for (int i = 0; i < n; i++) rows[i] = i;
  pt->active = calloc(m, sizeof(int));
  /* the split first: every score below draws its training points from `train` only */
  int err = !pt->active ||
            factors_create(&pt->full[0], z, n, m, archive_factors(a), k, (int)ec->factor_values, (int)ec->factor_bins,
                           kinds) != 0 ||
            factors_split(n, ec->test_share, (uint64_t)ec->seed, train, n_train, test, n_test) != 0;
  /* active: range over the archive above the run's -active_threshold, the rule of active_latents */
  for (int j = 0; !err && j < m; j++) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) lo = fmin(lo, z[(size_t)i * m + j]), hi = fmax(hi, z[(size_t)i * m + j]);
    if ((pt->active[j] = hi - lo > run->cfg.active_threshold)) cols[pt->nactive++] = j;
  }
  pt->has[0] = 1, pt->has[1] = pt->nactive > 0;
  for (int v = 0; v < 2 && !err; v++) {
    if (!pt->has[v]) continue;
    const int *c = v ? cols : NULL, nc = v ? pt->nactive : m;
    err = (v && factors_subset(&pt->full[0], rows, n, c, nc, &pt->full[1]) != 0) ||
          factors_subset(&pt->full[0], train, *n_train, c, nc, &pt->train[v]) != 0 ||
          factors_subset(&pt->full[0], test, *n_test, c, nc, &pt->test[v]) != 0;
  }
  PetscCall(PetscFree5(kinds, rows, train, test, cols));
  if (err) parts_free(pt);
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory in the supervised metrics");
  PetscFunctionReturn(0);
}

typedef struct {
  ScoreParams sp;
  DciParams dp;
  SapParams sap;
  uint64_t seed;
  int blocks; /* BetaVAE's points and FactorVAE's votes are cut into this many blocks */
} ScoreSetup;

/* Where one latent set's results go in a flat buffer. Each piece of work fills its own slots
 * (FactorVAE's vote counts add up), every other rank leaves them 0, so one sum over ranks gives
 * every rank all of them exactly: x + 0 = x, and the counts are whole numbers. */
typedef struct {
  int nash, mig, mod, modn, err, fvae_active, dci, expl, sap, bx[2], by[2], votes[2], len;
} Layout;

static Layout layout_of(const Parts *pt, const ScoreSetup *ss, int v) {
  const int m = pt->train[v].m, k = pt->train[v].k;
  const int points[2] = {ss->sp.beta_vae.num_train, ss->sp.beta_vae.num_eval};
  Layout l;
  int at = 0;
  l.nash = at++, l.mig = at++, l.mod = at++, l.modn = at++, l.err = at++, l.fvae_active = at++;
  l.dci = at, at += k * (m + 2); /* per factor: importance[m], accuracy on training and test points */
  l.expl = at, at += 2 * k;      /* per factor: AUC on training and test points */
  l.sap = at, at += m * k;       /* per factor: the column S[:, f] */
  for (int e = 0; e < 2; e++) l.bx[e] = at, at += points[e] * m, l.by[e] = at, at += points[e];
  for (int e = 0; e < 2; e++) l.votes[e] = at, at += k * m;
  l.len = at;
  return l;
}

/* The pieces of work of the scores. The first round's pieces need only the latents; the second
 * round's (BetaVAE's fit) needs the first round's points. */
enum { W_DCI, W_EXPLICITNESS, W_SAP, W_BETAVAE_POINTS, W_FACTORVAE_VOTES, W_NASH, W_MIG_MODULARITY, W_BETAVAE_FIT };
static const char *const work_name[] = {"DCI of factor",         "explicitness of factor", "SAP of factor",
                                        "BetaVAE points, block", "FactorVAE votes, block", "BetaVAE (NashAE protocol)",
                                        "MIG and modularity",    "BetaVAE fit"};
typedef struct {
  int set, kind, index, owner; /* index: the factor, or the block */
  double cost;
} Work;

/* [first, first + count): block b of n points cut into `blocks` */
static void block_range(int n, int blocks, int b, int *first, int *count) {
  *first = (int)((long)n * b / blocks), *count = (int)((long)n * (b + 1) / blocks) - *first;
}

/* A piece's rough cost in seconds on one core, fitted to timings on dSprites latents (10 latents,
 * 10000 training points, factors of 3 to 40 values), only to deal the pieces out evenly: which
 * rank computes a piece never changes its result. */
static double work_cost(const Parts *pt, const ScoreSetup *ss, const Work *w) {
  const FactorData *fd = &pt->train[w->set];
  const double m = fd->m, k = fd->k, classes = w->kind <= W_SAP ? fd->ncodes[w->index] : 0;
  const BetaVaeParams *bv = &ss->sp.beta_vae;
  const FactorVaeParams *fv = &ss->sp.factor_vae;
  switch (w->kind) {
  case W_DCI: return 1.2e-6 * (classes + 3) * m * ss->dp.num_train; /* a tree per class and stage */
  case W_EXPLICITNESS: return 6e-8 * classes * m * ss->sp.modexpl.num_train;
  case W_SAP: return 1e-9 * (fd->continuous[w->index] ? 1 : classes) * m * ss->sap.num_train;
  case W_BETAVAE_POINTS: return 1e-8 * (bv->num_train + bv->num_eval) * m * bv->batch_size / ss->blocks;
  case W_FACTORVAE_VOTES: return 5e-9 * (fv->num_train + fv->num_eval) * m * fv->batch_size / ss->blocks;
  case W_NASH: return 1e-9 * ss->sp.nash.iterations * m * (ss->sp.nash.batch_size + k);
  case W_MIG_MODULARITY: return 1e-9 * ss->sp.mig.num_train * m * k;
  default: return 1e-7 * k * m * bv->num_train; /* BetaVAE's fit */
  }
}

/* BetaVAE's points of block b, both draws, into the slots bx, by. */
static int betavae_points_block(const Parts *pt, const ScoreSetup *ss, int v, int b, const Layout *l, double *r) {
  const BetaVaeParams *p = &ss->sp.beta_vae;
  const int n[2] = {p->num_train, p->num_eval}, m = pt->train[v].m;
  int first, count, *y = malloc(sizeof(int) * (n[0] > n[1] ? n[0] : n[1]));
  if (!y) return -1;
  for (int e = 0; e < 2; e++) {
    block_range(n[e], ss->blocks, b, &first, &count);
    beta_vae_points(e ? &pt->test[v] : &pt->train[v], p, ss->seed, e, first, count, r + l->bx[e] + (size_t)first * m, y);
    for (int i = 0; i < count; i++) r[l->by[e] + first + i] = y[i];
  }
  free(y);
  return 0;
}

/* FactorVAE's votes of block b, both draws, added to the slots votes; block 0 also says how many
 * latents prune_dims keeps. */
static int factorvae_votes_block(const Parts *pt, const ScoreSetup *ss, int v, int b, const Layout *l, double *r) {
  const FactorVaeParams *p = &ss->sp.factor_vae;
  const int n[2] = {p->num_train, p->num_eval}, m = pt->train[v].m, k = pt->train[v].k;
  double *gvar = malloc(sizeof(double) * m);
  int *active = malloc(sizeof(int) * m), first, count, rc = -1, num_active;
  long *votes = malloc(sizeof(long) * k * m);
  if (gvar && active && votes && (num_active = factor_vae_active(&pt->train[v], p, ss->seed, gvar, active)) >= 0) {
    if (b == 0) r[l->fvae_active] = num_active;
    rc = 0;
    for (int e = 0; e < 2 && num_active > 0 && rc == 0; e++) {
      memset(votes, 0, sizeof(long) * k * m);
      block_range(n[e], ss->blocks, b, &first, &count);
      rc = factor_vae_count(e ? &pt->test[v] : &pt->train[v], p, ss->seed, e, gvar, active, first, count, votes);
      for (int i = 0; i < k * m; i++) r[l->votes[e] + i] += (double)votes[i];
    }
  }
  free(gvar), free(active), free(votes);
  return rc;
}

/* BetaVAE's fit on the first round's points: fit[0] train, fit[1] eval accuracy. */
static int betavae_fit(const Parts *pt, const ScoreSetup *ss, int v, const Layout *l, const double *r, double *fit) {
  const BetaVaeParams *p = &ss->sp.beta_vae;
  const int n[2] = {p->num_train, p->num_eval};
  int *y[2] = {malloc(sizeof(int) * (n[0] + 1)), malloc(sizeof(int) * (n[1] + 1))}, rc = -1;
  AccuracyPair acc;
  if (y[0] && y[1]) {
    for (int e = 0; e < 2; e++)
      for (int i = 0; i < n[e]; i++) y[e][i] = (int)r[l->by[e] + i];
    rc = beta_vae_fit(r + l->bx[0], y[0], r + l->bx[1], y[1], pt->train[v].m, pt->train[v].k, p, &acc);
    if (rc == 0) fit[0] = acc.train_accuracy, fit[1] = acc.eval_accuracy;
  }
  free(y[0]), free(y[1]);
  return rc;
}

/* Piece w into its latent set's slots r (laid out by l); the BetaVAE fit into fit[2]. */
static int run_work(const Parts *pt, const ScoreSetup *ss, const Work *w, const Layout *l, double *r, double *fit) {
  const int v = w->set, f = w->index, m = pt->train[v].m;
  const FactorData *tr = &pt->train[v], *te = &pt->test[v];
  switch (w->kind) {
  case W_DCI: {
    double *col = r + l->dci + (size_t)f * (m + 2);
    return dci_compute_factor(tr, te, &ss->dp, ss->seed, f, col, col + m);
  }
  case W_EXPLICITNESS: return explicitness_factor(tr, te, &ss->sp.modexpl, ss->seed, f, r + l->expl + 2 * f);
  case W_SAP: return sap_compute_factor(tr, te, &ss->sap, ss->seed, f, r + l->sap + (size_t)f * m);
  case W_BETAVAE_POINTS: return betavae_points_block(pt, ss, v, f, l, r);
  case W_FACTORVAE_VOTES: return factorvae_votes_block(pt, ss, v, f, l, r);
  case W_NASH: return score_beta_vae_nashae(tr, te, &ss->sp.nash, ss->seed, r + l->nash);
  case W_MIG_MODULARITY:
    return score_mig(&pt->full[v], &ss->sp.mig, ss->seed, r + l->mig) ||
           score_modularity(&pt->full[v], &ss->sp.modexpl, ss->seed, r + l->mod, r + l->modn);
  default: return betavae_fit(pt, ss, v, l, r, fit);
  }
}

/* The pieces of both latent sets and their owners: in each round the costliest first, each to the
 * least loaded rank (the second round goes on from the first round's loads). Every rank deals the
 * same. The first round is w[0 .. nfirst), the second w[nfirst .. n). */
static PetscErrorCode deal_work(const Parts *pt, const ScoreSetup *ss, int size, Work **out, int *nwork, int *nfirst) {
  PetscFunctionBeginUser;
  int n = 0, cap = 0;
  for (int v = 0; v < 2; v++)
    if (pt->has[v]) cap += 3 * pt->train[v].k + 2 * ss->blocks + 3;
  Work *w;
  double *load;
  PetscCall(PetscMalloc1(cap, &w));
  PetscCall(PetscCalloc1(size, &load));
  for (int round = 0; round < 2; round++) {
    const int from = n;
    for (int v = 0; v < 2; v++) {
      if (!pt->has[v]) continue;
      const int k = pt->train[v].k, m = pt->train[v].m;
#define ADD(kind_, index_) \
  (w[n] = (Work){.set = v, .kind = (kind_), .index = (index_)}, w[n].cost = work_cost(pt, ss, &w[n]), n++)
      if (round == 1) {
        ADD(W_BETAVAE_FIT, 0);
        continue;
      }
      for (int f = 0; f < k; f++) ADD(W_DCI, f), ADD(W_EXPLICITNESS, f);
      for (int f = 0; f < k && m >= 2; f++) ADD(W_SAP, f); /* SAP is a gap between two latents: none for one */
      for (int b = 0; b < ss->blocks; b++) ADD(W_BETAVAE_POINTS, b), ADD(W_FACTORVAE_VOTES, b);
      ADD(W_NASH, 0), ADD(W_MIG_MODULARITY, 0);
#undef ADD
    }
    for (int i = from + 1; i < n; i++) /* by cost, descending; equal costs keep their order */
      for (int j = i; j > from && w[j].cost > w[j - 1].cost; j--) {
        const Work t = w[j];
        w[j] = w[j - 1], w[j - 1] = t;
      }
    for (int i = from; i < n; i++) {
      int least = 0;
      for (int q = 1; q < size; q++) least = load[q] < load[least] ? q : least;
      w[i].owner = least, load[least] += w[i].cost;
    }
    if (round == 0) *nfirst = n;
  }
  PetscCall(PetscFree(load));
  *out = w, *nwork = n;
  PetscFunctionReturn(0);
}

/* Every score of both latent sets, as two rounds of pieces dealt over the ranks (deal_work), each
 * round closed by one sum over ranks. Each piece is a pure function of (latents, parts, seed), so
 * the numbers do not depend on the rank count. r[v]: set v's slots; fit[v]: its BetaVAE accuracies
 * and an error flag. */
static PetscErrorCode score_work(Run *run, const Parts *pt, const ScoreSetup *ss, const Layout l[2], int loud,
                                 double *r[2], double fit[2][3]) {
  PetscFunctionBeginUser;
  const int rank = run->par.rank, len[2] = {l[0].len, pt->has[1] ? l[1].len : 0};
  double *buf, t0 = log_seconds();
  Work *w = NULL;
  int n = 0, nfirst = 0;
  PetscCall(deal_work(pt, ss, run->par.size, &w, &n, &nfirst));
  PetscCall(PetscCalloc1(len[0] + len[1], &buf));
  r[0] = buf, r[1] = buf + len[0];
  memset(fit, 0, sizeof(double) * 2 * 3);
  for (int round = 0; round < 2; round++) {
    for (int i = round ? nfirst : 0; i < (round ? n : nfirst); i++) {
      if (w[i].owner != rank) continue;
      const double t = log_seconds();
      const int v = w[i].set;
      if (run_work(pt, ss, &w[i], &l[v], r[v], fit[v])) r[v][l[v].err] = fit[v][2] = 1;
      if (!loud) continue;
      char which[32] = "";
      if (w[i].kind <= W_FACTORVAE_VOTES) snprintf(which, sizeof which, " %d", w[i].index + 1);
      log_info(PETSC_COMM_SELF, "  rank %d: %s latents, %s%s: %.1f s (at %.0f s)", rank, v ? "active" : "all",
               work_name[w[i].kind], which, log_seconds() - t, log_seconds() - t0);
    }
    if (round == 0) /* every rank gets every slot: BetaVAE's fit needs all the points */
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, buf, len[0] + len[1], MPI_DOUBLE, MPI_SUM, run->par.world));
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, fit, 2 * 3, MPI_DOUBLE, MPI_SUM, run->par.world));
  PetscCall(PetscFree(w));
  int err = fit[0][2] || fit[1][2];
  for (int v = 0; v < 2; v++) err |= pt->has[v] && r[v][l[v].err];
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory in the supervised metrics");
  PetscFunctionReturn(0);
}

/* One latent set's scores; suffix "" (all latents, the lib's definitions) or "_active". */
static PetscErrorCode put_scores(const Parts *pt, int v, const Layout *l, const double *r, const double *fit,
                                 Metrics *ms) {
  PetscFunctionBeginUser;
  const char *suffix = v ? "_active" : "";
  char key[96];
#define PUT(name, value) (snprintf(key, sizeof key, "%s%s", name, suffix), put(ms, key, value))
  if (!pt->has[v]) { /* no active latent: nothing to score */
    const char *names[] = {"betavae_score", "betavae_nashae_protocol", "factorvae_score", "mig", "modularity",
                           "modularity_normalised", "explicitness", "dci_disentanglement", "dci_completeness",
                           "dci_informativeness", "sap"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) PUT(names[i], NAN);
    PetscFunctionReturn(0);
  }
  const int k = pt->train[v].k, m = pt->train[v].m;
  FactorVaeResult fv;
  ExplicitnessResult ex;
  DciResult dci = {.m = m, .k = k};
  double *acc, *sap;
  long *votes;
  PetscCall(PetscMalloc4((size_t)m * k, &dci.importance, 2 * k, &acc, (size_t)m * k, &sap, (size_t)2 * k * m, &votes));
  for (int i = 0; i < 2 * k * m; i++) votes[i] = (long)r[l->votes[0] + i]; /* the evaluation votes follow */
  factor_vae_finish(votes, votes + (size_t)k * m, k, m, (int)r[l->fvae_active], &fv);
  explicitness_finish(r + l->expl, k, &ex);
  PUT("betavae_score", fit[1]);
  if (!v) put(ms, "betavae_train_accuracy", fit[0]);
  PUT("betavae_nashae_protocol", r[l->nash]);
  PUT("factorvae_score", fv.eval_accuracy);
  if (!v) put(ms, "factorvae_train_accuracy", fv.train_accuracy), put(ms, "factorvae_active_dims", fv.num_active);
  PUT("mig", r[l->mig]);
  PUT("modularity", r[l->mod]);
  PUT("modularity_normalised", r[l->modn]);
  PUT("explicitness", ex.test);
  for (int f = 0; f < k; f++) {
    const double *col = r + l->dci + (size_t)f * (m + 2);
    for (int j = 0; j < m; j++)
      dci.importance[(size_t)j * k + f] = col[j], sap[(size_t)j * k + f] = r[l->sap + (size_t)f * m + j];
    acc[2 * f] = col[m], acc[2 * f + 1] = col[m + 1];
  }
  dci_finish(&dci, acc);
  PUT("dci_disentanglement", dci.disentanglement);
  PUT("dci_completeness", dci.completeness);
  PUT("dci_informativeness", dci.informativeness_test);
  if (!v) put(ms, "dci_informativeness_train", dci.informativeness_train);
  PUT("sap", sap_from_matrix(sap, m, k)); /* NaN for one latent: SAP is undefined (null) there */
#undef PUT
  PetscCall(PetscFree4(dci.importance, acc, sap, votes));
  PetscFunctionReturn(0);
}

/* The factor-capture matrix over all rows and latents: eta2_J_K, captured_K (0/1),
 * captured_by_K (the latent, or -1) and captured_factors. */
static PetscErrorCode capture_metrics(const Parts *pt, Metrics *ms) {
  PetscFunctionBeginUser;
  const FactorData *fd = &pt->full[0];
  const int m = fd->m, k = fd->k;
  double *eta2;
  int *by;
  char key[96];
  PetscCall(PetscMalloc2((size_t)m * k, &eta2, k, &by));
  scores_eta2(fd, eta2);
  const int count = scores_capture(eta2, pt->active, m, k, by);
  for (int j = 0; j < m; j++)
    for (int f = 0; f < k; f++) {
      snprintf(key, sizeof key, "eta2_%d_%d", j, f);
      put(ms, key, eta2[(size_t)j * k + f]);
    }
  for (int f = 0; f < k; f++) put_indexed(ms, "captured", f, by[f] >= 0);
  for (int f = 0; f < k; f++) put_indexed(ms, "captured_by", f, by[f]);
  put(ms, "captured_factors", count);
  PetscCall(PetscFree2(eta2, by));
  PetscFunctionReturn(0);
}

/* The supervised scores: the archive's rows split once into training and test parts; every score
 * twice, over all latents and over the active ones; the factor-capture matrix. */
static PetscErrorCode supervised_metrics(Run *run, const EvalConfig *ec, const double *z, Metrics *ms) {
  PetscFunctionBeginUser;
  Parts pt;
  int n_train, n_test;
  PetscCall(parts_create(run, ec, z, &pt, &n_train, &n_test));
  const FactorData *fd = &pt.full[0];
  /* Every rank holds every latent. The gradient-boosted trees of DCI hold the most per
   * training point: features, sort orders, and per class raw scores, probabilities, residuals.
   * Refuse what the node cannot hold before minutes of silent work; say what goes on when the
   * points are many (the default 10000 takes tens of seconds already). BetaVAE's points of both
   * latent sets sit in the buffer that the ranks sum: 16 (m + 1) bytes per point. */
  int classes = 1, on_node;
  for (int j = 0; j < fd->k; j++) classes = PetscMax(classes, fd->ncodes[j]);
  const double m = fd->m, k = fd->k;
  double need = (double)ec->metric_train * (36 * m + 36.0 * classes + 4 * k + 24) +
                (double)ec->metric_eval * (24 * m + 8.0 * classes + 4 * k + 16),
         have;
  PetscCall(node_memory(run->par.world, &have, &on_node));
  if (have > 0 && need * on_node > 0.9 * have) {
    parts_free(&pt);
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
             "long: each rank announces its scores as they start", (int)ec->metric_train, (int)ec->metric_eval, need / 1e9);
  ScoreSetup ss = {.sp = scores_default_params(), .dp = dci_default_params(), .sap = sap_default_params(),
                   .seed = (uint64_t)ec->seed};
  ss.sp.beta_vae.num_train = ss.sp.factor_vae.num_train = ss.sp.mig.num_train = ss.sp.modexpl.num_train = (int)ec->metric_train;
  ss.sp.beta_vae.num_eval = ss.sp.factor_vae.num_eval = ss.sp.modexpl.num_test = (int)ec->metric_eval;
  ss.dp.num_train = ss.sap.num_train = (int)ec->metric_train;
  ss.dp.num_test = ss.sap.num_test = (int)ec->metric_eval;
  ss.blocks = run->par.size;
  const Layout l[2] = {layout_of(&pt, &ss, 0), layout_of(&pt, &ss, 1)};
  double *r[2], fit[2][3], t0 = log_seconds();
  PetscCall(score_work(run, &pt, &ss, l, loud, r, fit));
  log_info(run->par.world, "supervised scores took %.1f s on %d rank(s)", log_seconds() - t0, run->par.size);
  put(ms, "split_train_samples", n_train);
  put(ms, "split_test_samples", n_test);
  for (int f = 0; f < fd->k; f++) put_indexed(ms, "factor_continuous", f, fd->continuous[f]);
  for (int j = 0; j < fd->m; j++) put_indexed(ms, "active_latent", j, pt.active[j]);
  PetscCall(put_scores(&pt, 0, &l[0], r[0], fit[0], ms));
  PetscCall(put_scores(&pt, 1, &l[1], r[1], fit[1], ms));
  PetscCall(capture_metrics(&pt, ms));
  PetscCall(PetscFree(r[0]));
  parts_free(&pt);
  PetscFunctionReturn(0);
}

/* A model with content and style latents on a grouped archive (run.h GroupedScores). */
static PetscErrorCode grouped_metrics(Run *run, const EvalConfig *ec, const double *z, Metrics *ms) {
  PetscFunctionBeginUser;
  GroupedScores gs;
  PetscCall(run_grouped_scores(run, z, (uint64_t)ec->seed, ec->test_share, (int)ec->factor_values, (int)ec->factor_bins, &gs));
  if (!gs.content) PetscFunctionReturn(0);
  put(ms, "group_content_latents", gs.content);
  put(ms, "group_train_samples", (double)gs.train_rows);
  put(ms, "group_heldout_samples", (double)gs.heldout_rows);
  put(ms, "group_rec_mse_train", gs.rec_train);
  put(ms, "group_rec_mse_heldout", gs.rec_heldout);
  put(ms, "group_factor", gs.factor);
  put(ms, "group_content_accuracy", gs.acc_content);
  put(ms, "group_style_accuracy", gs.acc_style);
  put(ms, "group_chance", gs.chance);
  put(ms, "group_content_accuracy_heldout", gs.acc_content_heldout);
  put(ms, "group_style_accuracy_heldout", gs.acc_style_heldout);
  put(ms, "group_chance_heldout", gs.chance_heldout);
  const char *const *names = archive_factor_names(run->archive);
  if (gs.factor < 0) {
    log_info(run->par.world, "groups: no factor of the archive is shared within its groups; content/style accuracy skipped");
  } else {
    log_info(run->par.world,
             "groups share factor '%s': predicted from the %d content latents with accuracy %.3f, from the %d style "
             "latents %.3f (chance %.3f; %d/%d rows of training groups)",
             names && names[gs.factor] ? names[gs.factor] : "?", gs.content, gs.acc_content,
             run->method->ae.latents - gs.content, gs.acc_style, gs.chance, gs.split_train, gs.split_test);
    if (gs.heldout_rows)
      log_info(run->par.world, "held-out groups (%ld samples): content accuracy %.3f, style %.3f (chance %.3f)",
               gs.heldout_rows, gs.acc_content_heldout, gs.acc_style_heldout, gs.chance_heldout);
  }
  log_info(run->par.world, "reconstruction MSE per value: %.5g on training groups, %.5g on held-out groups", gs.rec_train,
           gs.rec_heldout);
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
  PetscCall(run_load_encoded(PETSC_COMM_WORLD, ec.run_dir, ec.model, sizeof ec.model, ec.data, ec.io_buffer_mb, &run, &z, &kl));
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
  if (archive_groups(a)) PetscCall(grouped_metrics(&run, &ec, z, &ms));
  PetscCall(write_metrics(&run, &ec, &ms));
  PetscCall(run_write_encoded(&run, ec.run_dir, (int)ec.base, z, kl, ec.kl_threshold));
  print_table(&run, &ms);
  /* the largest of the ranks: what a streamed eval's -io_buffer_mb bounds */
  const double peak_mb = log_peak_rss_mb(run.par.world);
  log_info(run.par.world, "wrote %s/metrics.json; peak memory %.0f MB per rank", ec.run_dir, peak_mb);
  free(ms.name), free(ms.value);
  PetscCall(PetscFree(z));
  PetscCall(PetscFree(kl));
  run_free(&run);
  PetscFunctionReturn(0);
}
