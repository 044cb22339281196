/* DCI and SAP as disentanglement_lib's dci.py and sap_score.py (see dci.h for the definitions
 * and where we differ). */
#include "disentangle/dci.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/rng.h"

#define DCI_ENTROPY_FLOOR 1e-11 /* dci.py adds it to every entry before the entropy */

DciParams dci_default_params(void) {
  DciParams p = {.num_train = 10000, .num_test = 5000, .gbt = gbt_default_params()};
  return p;
}

SapParams sap_default_params(void) {
  SapParams p = {.num_train = 10000, .num_test = 5000, .C = 0.01};
  return p;
}

/* ---- sampling ---------------------------------------------------------------------------- */

/* n archive samples drawn uniformly with replacement: latents z[n][m], codes y[n][k], values v[n][k]. */
static void draw_samples(const FactorData *fd, int n, uint64_t seed, uint64_t stream, uint64_t part, double *z,
                         int *y, double *v) {
  for (int i = 0; i < n; i++) {
    int s = (int)rng_below(seed, stream, part, (uint64_t)i, (uint64_t)fd->n);
    memcpy(z + (size_t)i * fd->m, fd->z + (size_t)s * fd->m, sizeof(double) * fd->m);
    memcpy(y + (size_t)i * fd->k, fd->codes + (size_t)s * fd->k, sizeof(int) * fd->k);
    memcpy(v + (size_t)i * fd->k, fd->values + (size_t)s * fd->k, sizeof(double) * fd->k);
  }
}

typedef struct {
  double *z_train, *z_test, *v_train, *v_test;
  int *y_train, *y_test;
} Samples;

static void samples_free(Samples *s) {
  free(s->z_train), free(s->z_test), free(s->y_train), free(s->y_test), free(s->v_train), free(s->v_test);
}

/* Training samples from train, test samples from test (two parts of one archive). */
static int samples_draw(const FactorData *train, const FactorData *test, int n_train, int n_test, uint64_t seed,
                        uint64_t stream, Samples *s) {
  const int m = train->m, k = train->k;
  s->z_train = malloc(sizeof(double) * (size_t)n_train * m);
  s->z_test = malloc(sizeof(double) * (size_t)n_test * m);
  s->y_train = malloc(sizeof(int) * (size_t)n_train * k);
  s->y_test = malloc(sizeof(int) * (size_t)n_test * k);
  s->v_train = malloc(sizeof(double) * (size_t)n_train * k);
  s->v_test = malloc(sizeof(double) * (size_t)n_test * k);
  if (!s->z_train || !s->z_test || !s->y_train || !s->y_test || !s->v_train || !s->v_test) {
    samples_free(s);
    return -1;
  }
  draw_samples(train, n_train, seed, stream, 0, s->z_train, s->y_train, s->v_train);
  draw_samples(test, n_test, seed, stream, 1, s->z_test, s->y_test, s->v_test);
  return 0;
}

static int valid_archive(const FactorData *fd, int n_train, int n_test) {
  return fd && fd->z && fd->codes && fd->n > 0 && fd->m > 0 && fd->k > 0 && n_train > 0 && n_test > 0;
}

static int valid_parts(const FactorData *train, const FactorData *test, int n_train, int n_test) {
  return valid_archive(train, n_train, n_test) && valid_archive(test, n_train, n_test) && train->m == test->m &&
         train->k == test->k;
}

/* ---- DCI ----------------------------------------------------------------------------------- */

/* scipy.stats.entropy(v + floor, base): len entries at stride, normalised; base 1 -> 0. */
static double entropy_base(const double *v, int len, int stride, double floor) {
  if (len < 2) return 0.0;
  double total = 0.0, h = 0.0;
  for (int i = 0; i < len; i++) total += v[(size_t)i * stride] + floor;
  for (int i = 0; i < len; i++) {
    double p = (v[(size_t)i * stride] + floor) / total;
    if (p > 0.0) h -= p * log(p);
  }
  return h / log((double)len);
}

/* sum_a rho_a (1 - H(R along b)), a over `outer` rows of stride so, b over `inner` at stride si. */
static double weighted_specificity(const double *R, int outer, int so, int inner, int si) {
  double total = 0.0, score = 0.0;
  for (int a = 0; a < outer; a++)
    for (int b = 0; b < inner; b++) total += R[(size_t)a * so + (size_t)b * si];
  for (int a = 0; a < outer; a++) {
    double share = 0.0;
    for (int b = 0; b < inner; b++) share += R[(size_t)a * so + (size_t)b * si];
    share = total > 0.0 ? share / total : 1.0 / outer; /* dci.py: all-zero R counts as all ones */
    score += share * (1.0 - entropy_base(R + (size_t)a * so, inner, si, DCI_ENTROPY_FLOOR));
  }
  return score;
}

double dci_disentanglement(const double *R, int m, int k) { return weighted_specificity(R, m, k, k, 1); }

double dci_completeness(const double *R, int m, int k) { return weighted_specificity(R, k, 1, m, k); }

static double accuracy(const int *pred, const int *y, int n, int stride) {
  int hits = 0;
  for (int i = 0; i < n; i++) hits += pred[i] == y[(size_t)i * stride];
  return (double)hits / n;
}

/* Factor f's model: its column of R and its train and test accuracy. */
static int dci_factor(const double *z_train, const int *y_train, int n_train, const double *z_test, const int *y_test,
                      int n_test, int m, int k, int f, const GbtParams *gbt, double *R, double acc[2]) {
  int *label = malloc(sizeof(int) * (size_t)(n_train > n_test ? n_train : n_test));
  double *imp = malloc(sizeof(double) * m);
  GbtParams p = *gbt;
  p.stream = gbt->stream + (uint64_t)f;
  Gbt *g = NULL;
  int rc = -1;
  if (!label || !imp) goto done;
  for (int i = 0; i < n_train; i++) label[i] = y_train[(size_t)i * k + f];
  if (gbt_fit(&g, &p, z_train, n_train, m, label)) goto done;
  gbt_importances(g, imp);
  for (int j = 0; j < m; j++) R[(size_t)j * k + f] = fabs(imp[j]);
  if (gbt_predict(g, z_train, n_train, label)) goto done;
  acc[0] = accuracy(label, y_train + f, n_train, k);
  if (gbt_predict(g, z_test, n_test, label)) goto done;
  acc[1] = accuracy(label, y_test + f, n_test, k);
  rc = 0;
done:
  gbt_free(g), free(label), free(imp);
  return rc;
}

int dci_from_samples(const double *z_train, const int *y_train, int n_train, const double *z_test, const int *y_test,
                     int n_test, int m, int k, const GbtParams *gbt, DciResult *out) {
  memset(out, 0, sizeof *out);
  if (!z_train || !y_train || !z_test || !y_test || n_train <= 0 || n_test <= 0 || m <= 0 || k <= 0 || !gbt) return -1;
  out->m = m, out->k = k;
  if (!(out->importance = calloc((size_t)m * k, sizeof(double)))) return -1;
  double train = 0.0, test = 0.0;
  for (int f = 0; f < k; f++) {
    double acc[2];
    if (dci_factor(z_train, y_train, n_train, z_test, y_test, n_test, m, k, f, gbt, out->importance, acc)) {
      dci_result_free(out);
      return -1;
    }
    train += acc[0], test += acc[1];
  }
  out->informativeness_train = train / k, out->informativeness_test = test / k;
  out->disentanglement = dci_disentanglement(out->importance, m, k);
  out->completeness = dci_completeness(out->importance, m, k);
  return 0;
}

int dci_compute_factor(const FactorData *train, const FactorData *test, const DciParams *p, uint64_t seed, int f,
                       double *importance, double acc[2]) {
  if (!p || !valid_parts(train, test, p->num_train, p->num_test) || f < 0 || f >= train->k) return -1;
  const int m = train->m, k = train->k;
  Samples s;
  double *R = malloc(sizeof(double) * (size_t)m * k);
  if (!R || samples_draw(train, test, p->num_train, p->num_test, seed, DCI_RNG_STREAM, &s)) {
    free(R);
    return -1;
  }
  GbtParams gbt = p->gbt;
  gbt.seed = seed, gbt.stream = DCI_GBT_RNG_STREAM;
  int rc = dci_factor(s.z_train, s.y_train, p->num_train, s.z_test, s.y_test, p->num_test, m, k, f, &gbt, R, acc);
  for (int j = 0; rc == 0 && j < m; j++) importance[j] = R[(size_t)j * k + f];
  samples_free(&s);
  free(R);
  return rc;
}

void dci_finish(DciResult *r, const double *acc) {
  double train = 0.0, test = 0.0;
  for (int f = 0; f < r->k; f++) train += acc[2 * f], test += acc[2 * f + 1];
  r->informativeness_train = train / r->k, r->informativeness_test = test / r->k;
  r->disentanglement = dci_disentanglement(r->importance, r->m, r->k);
  r->completeness = dci_completeness(r->importance, r->m, r->k);
}

int dci_compute(const FactorData *train, const FactorData *test, const DciParams *p, uint64_t seed, DciResult *out) {
  memset(out, 0, sizeof *out);
  if (!p || !valid_parts(train, test, p->num_train, p->num_test)) return -1;
  const int m = train->m, k = train->k;
  double *col = malloc(sizeof(double) * m), *acc = malloc(sizeof(double) * 2 * k);
  out->m = m, out->k = k;
  out->importance = calloc((size_t)m * k, sizeof(double));
  int rc = col && acc && out->importance ? 0 : -1;
  for (int f = 0; f < k && rc == 0; f++) {
    rc = dci_compute_factor(train, test, p, seed, f, col, acc + 2 * f);
    for (int j = 0; rc == 0 && j < m; j++) out->importance[(size_t)j * k + f] = col[j];
  }
  if (rc == 0) dci_finish(out, acc);
  else dci_result_free(out);
  free(col), free(acc);
  return rc;
}

void dci_result_free(DciResult *r) {
  free(r->importance);
  memset(r, 0, sizeof *r);
}

/* ---- SAP: LinearSVC on one feature --------------------------------------------------------- */

/* Objective 0.5 (w^2 + b^2) + sum_i c_i max(0, 1 - t_i (w x_i + b))^2 (liblinear's L2-regularised
 * squared hinge with the intercept as a penalised feature of value 1); with grad and Hessian. */
static double svc_objective(const double *x, const double *t, const double *c, int n, double w, double b,
                            double grad[2], double hess[3]) {
  double f = 0.5 * (w * w + b * b);
  if (grad) grad[0] = w, grad[1] = b, hess[0] = 1.0, hess[1] = 0.0, hess[2] = 1.0;
  for (int i = 0; i < n; i++) {
    double r = 1.0 - t[i] * (w * x[i] + b);
    if (r <= 0.0) continue;
    f += c[i] * r * r;
    if (!grad) continue;
    grad[0] -= 2.0 * c[i] * r * t[i] * x[i], grad[1] -= 2.0 * c[i] * r * t[i];
    hess[0] += 2.0 * c[i] * x[i] * x[i], hess[1] += 2.0 * c[i] * x[i], hess[2] += 2.0 * c[i];
  }
  return f;
}

/* The minimiser (w, b): generalised Newton steps with backtracking (the objective is convex,
 * piecewise quadratic and strongly convex through the regulariser, so this converges fast). */
static void svc_fit_1d(const double *x, const double *t, const double *c, int n, double wb[2]) {
  double w = 0.0, b = 0.0, grad[2], hess[3], g0 = 0.0;
  for (int iter = 0; iter < 100; iter++) {
    double f = svc_objective(x, t, c, n, w, b, grad, hess), gnorm = hypot(grad[0], grad[1]);
    if (iter == 0) g0 = gnorm;
    if (gnorm <= 1e-12 * (1.0 + g0)) break;
    double det = hess[0] * hess[2] - hess[1] * hess[1];
    double dw = -(hess[2] * grad[0] - hess[1] * grad[1]) / det, db = -(hess[0] * grad[1] - hess[1] * grad[0]) / det;
    double slope = grad[0] * dw + grad[1] * db, step = 1.0;
    while (step > 1e-12 && svc_objective(x, t, c, n, w + step * dw, b + step * db, NULL, NULL) > f + 1e-4 * step * slope)
      step *= 0.5;
    w += step * dw, b += step * db;
    if (fabs(step * dw) + fabs(step * db) <= 1e-15 * (1.0 + fabs(w) + fabs(b))) break;
  }
  wb[0] = w, wb[1] = b;
}

/* Classes of a label column: distinct labels increasing, balanced weights, per-sample index. */
typedef struct {
  int n_classes;
  int *labels;    /* [n_classes] */
  double *weight; /* [n_classes] class_weight="balanced": n / (n_classes * count) */
  int *cls;       /* [n] class index of each training sample */
} ClassTable;

static void class_table_free(ClassTable *ct) { free(ct->labels), free(ct->weight), free(ct->cls); }

/* y: n codes (>= 0). -1 on negative codes or out of memory. */
static int class_table(const int *y, int n, ClassTable *ct) {
  memset(ct, 0, sizeof *ct);
  int hi = 0;
  for (int i = 0; i < n; i++) {
    if (y[i] < 0) return -1;
    hi = y[i] > hi ? y[i] : hi;
  }
  int *count = calloc((size_t)hi + 1, sizeof(int)), *index = malloc(sizeof(int) * ((size_t)hi + 1));
  ct->labels = malloc(sizeof(int) * ((size_t)hi + 1)), ct->weight = malloc(sizeof(double) * ((size_t)hi + 1));
  ct->cls = malloc(sizeof(int) * n);
  if (!count || !index || !ct->labels || !ct->weight || !ct->cls) {
    free(count), free(index), class_table_free(ct);
    return -1;
  }
  for (int i = 0; i < n; i++) count[y[i]]++;
  for (int v = 0; v <= hi; v++)
    if (count[v]) index[v] = ct->n_classes, ct->labels[ct->n_classes++] = v;
  for (int v = 0; v <= hi; v++)
    if (count[v]) ct->weight[index[v]] = (double)n / ((double)ct->n_classes * count[v]);
  for (int i = 0; i < n; i++) ct->cls[i] = index[y[i]];
  free(count), free(index);
  return 0;
}

/* Work space of the one-feature classifiers of one factor. */
typedef struct {
  double *t, *c;  /* [n_train] targets +-1 and per-sample penalties */
  double *wb;     /* [n_models][2] */
} SvcWork;

/* Train a LinearSVC(C, balanced) on x_train alone; returns its accuracy on (x_test, y_test). */
static double svc_accuracy(const double *x_train, int n_train, const ClassTable *ct, const double *x_test,
                           const int *y_test, int n_test, double C, SvcWork *ws) {
  const int K = ct->n_classes, n_models = K == 2 ? 1 : K;
  int hits = 0;
  if (K == 1) { /* scikit-learn refuses one class; the only sensible model predicts it */
    for (int i = 0; i < n_test; i++) hits += y_test[i] == ct->labels[0];
    return (double)hits / n_test;
  }
  for (int model = 0; model < n_models; model++) {
    int positive = K == 2 ? 1 : model; /* binary: one model, the second class positive */
    for (int i = 0; i < n_train; i++) {
      int pos = ct->cls[i] == positive;
      ws->t[i] = pos ? 1.0 : -1.0;
      /* liblinear: one-vs-rest weighs positives C * w_class and negatives plain C; two classes
       * are one problem weighing each class by its own weight */
      ws->c[i] = C * (pos || K == 2 ? ct->weight[ct->cls[i]] : 1.0);
    }
    svc_fit_1d(x_train, ws->t, ws->c, n_train, ws->wb + 2 * model);
  }
  const double *wb = ws->wb;
  for (int i = 0; i < n_test; i++) {
    double x = x_test[i];
    int best = 0;
    if (K == 2) best = wb[0] * x + wb[1] > 0.0; /* the second class only when the score is > 0 */
    else
      for (int model = 1; model < K; model++) /* argmax: the first of equal scores */
        if (wb[2 * model] * x + wb[2 * model + 1] > wb[2 * best] * x + wb[2 * best + 1]) best = model;
    hits += ct->labels[best] == y_test[i];
  }
  return (double)hits / n_test;
}

double sap_from_matrix(const double *S, int m, int k) {
  if (m < 2) return NAN; /* sap_score.py indexes the second largest: undefined for one latent */
  double total = 0.0;
  for (int f = 0; f < k; f++) {
    double top = -INFINITY, second = -INFINITY;
    for (int j = 0; j < m; j++) {
      double s = S[(size_t)j * k + f];
      if (s > top) second = top, top = s;
      else if (s > second) second = s;
    }
    total += top - second;
  }
  return total / k;
}

/* Column j of z[n][m] into x[n]; column f of y[n][k] into c[n]. */
static void column_d(const double *z, int n, int m, int j, double *x) {
  for (int i = 0; i < n; i++) x[i] = z[(size_t)i * m + j];
}
static void column_i(const int *y, int n, int k, int f, int *c) {
  for (int i = 0; i < n; i++) c[i] = y[(size_t)i * k + f];
}

/* Held-out R^2 of the least-squares line y = a + b x fitted on the training pairs, clipped to
 * [0, 1]: 0 when the training x or the test y does not vary (nothing to explain, or nothing
 * that explains). On the training pairs themselves it is the squared correlation, the lib's
 * continuous SAP entry cov(x, y)^2 / (var x var y). */
static double r2_heldout(const double *x_train, const double *y_train, int n_train, const double *x_test,
                         const double *y_test, int n_test) {
  double mx = 0, my = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n_train; i++) mx += x_train[i], my += y_train[i];
  mx /= n_train, my /= n_train;
  for (int i = 0; i < n_train; i++) sxx += (x_train[i] - mx) * (x_train[i] - mx), sxy += (x_train[i] - mx) * (y_train[i] - my);
  if (!(sxx / n_train > 1e-12)) return 0.0; /* the lib's cut for a constant latent */
  const double b = sxy / sxx, a = my - b * mx;
  double mt = 0, sse = 0, sst = 0;
  for (int i = 0; i < n_test; i++) mt += y_test[i];
  mt /= n_test;
  for (int i = 0; i < n_test; i++) sse += pow(y_test[i] - a - b * x_test[i], 2), sst += pow(y_test[i] - mt, 2);
  if (!(sst > 0)) return 0.0;
  const double r2 = 1.0 - sse / sst;
  return r2 > 0 ? r2 : 0.0;
}

/* S[:, f] of a continuous factor: R^2 of its value from each latent alone. */
static int sap_factor_continuous(const double *z_train, const double *v_train, int n_train, const double *z_test,
                                 const double *v_test, int n_test, int m, int k, int f, double *S) {
  double *xtr = malloc(sizeof(double) * n_train), *xte = malloc(sizeof(double) * n_test);
  double *ytr = malloc(sizeof(double) * n_train), *yte = malloc(sizeof(double) * n_test);
  int rc = -1;
  if (xtr && xte && ytr && yte) {
    for (int i = 0; i < n_train; i++) ytr[i] = v_train[(size_t)i * k + f];
    for (int i = 0; i < n_test; i++) yte[i] = v_test[(size_t)i * k + f];
    for (int j = 0; j < m; j++) {
      column_d(z_train, n_train, m, j, xtr), column_d(z_test, n_test, m, j, xte);
      S[(size_t)j * k + f] = r2_heldout(xtr, ytr, n_train, xte, yte, n_test);
    }
    rc = 0;
  }
  free(xtr), free(xte), free(ytr), free(yte);
  return rc;
}

/* S[:, f]: one factor against every latent. */
static int sap_factor(const double *z_train, const int *y_train, int n_train, const double *z_test, const int *y_test,
                      int n_test, int m, int k, int f, double C, double *S) {
  ClassTable ct;
  SvcWork ws = {0};
  int *ytr = malloc(sizeof(int) * n_train), *yte = malloc(sizeof(int) * n_test), rc = -1;
  double *xtr = malloc(sizeof(double) * n_train), *xte = malloc(sizeof(double) * n_test);
  memset(&ct, 0, sizeof ct);
  if (!ytr || !yte || !xtr || !xte) goto done;
  column_i(y_train, n_train, k, f, ytr), column_i(y_test, n_test, k, f, yte);
  if (class_table(ytr, n_train, &ct)) goto done;
  ws.t = malloc(sizeof(double) * n_train), ws.c = malloc(sizeof(double) * n_train);
  ws.wb = malloc(sizeof(double) * 2 * ct.n_classes);
  if (!ws.t || !ws.c || !ws.wb) goto done;
  for (int j = 0; j < m; j++) {
    column_d(z_train, n_train, m, j, xtr), column_d(z_test, n_test, m, j, xte);
    S[(size_t)j * k + f] = svc_accuracy(xtr, n_train, &ct, xte, yte, n_test, C, &ws);
  }
  rc = 0;
done:
  class_table_free(&ct);
  free(ws.t), free(ws.c), free(ws.wb), free(ytr), free(yte), free(xtr), free(xte);
  return rc;
}

/* S[:, f] by the factor's kind. */
static int sap_column(const double *z_train, const int *y_train, const double *v_train, int n_train, const double *z_test,
                      const int *y_test, const double *v_test, int n_test, int m, int k, int f, int continuous, double C,
                      double *S) {
  return continuous ? sap_factor_continuous(z_train, v_train, n_train, z_test, v_test, n_test, m, k, f, S)
                    : sap_factor(z_train, y_train, n_train, z_test, y_test, n_test, m, k, f, C, S);
}

int sap_from_samples(const double *z_train, const int *y_train, int n_train, const double *z_test, const int *y_test,
                     int n_test, int m, int k, double C, SapResult *out) {
  return sap_from_samples_kinds(z_train, y_train, NULL, n_train, z_test, y_test, NULL, n_test, m, k, NULL, C, out);
}

int sap_from_samples_kinds(const double *z_train, const int *y_train, const double *v_train, int n_train,
                           const double *z_test, const int *y_test, const double *v_test, int n_test, int m, int k,
                           const int *continuous, double C, SapResult *out) {
  memset(out, 0, sizeof *out);
  /* m >= 2: SAP is a gap between the best two latents (sap_score.py fails on one latent) */
  if (!z_train || !y_train || !z_test || !y_test || n_train <= 0 || n_test <= 0 || m < 2 || k <= 0 || !(C > 0.0) ||
      (continuous && (!v_train || !v_test)))
    return -1;
  out->m = m, out->k = k;
  if (!(out->matrix = calloc((size_t)m * k, sizeof(double)))) return -1;
  for (int f = 0; f < k; f++)
    if (sap_column(z_train, y_train, v_train, n_train, z_test, y_test, v_test, n_test, m, k, f,
                   continuous && continuous[f], C, out->matrix)) {
      sap_result_free(out);
      return -1;
    }
  out->score = sap_from_matrix(out->matrix, m, k);
  return 0;
}

int sap_compute(const FactorData *train, const FactorData *test, const SapParams *p, uint64_t seed, SapResult *out) {
  memset(out, 0, sizeof *out);
  if (!p || !valid_parts(train, test, p->num_train, p->num_test)) return -1;
  Samples s;
  if (samples_draw(train, test, p->num_train, p->num_test, seed, SAP_RNG_STREAM, &s)) return -1;
  int rc = sap_from_samples_kinds(s.z_train, s.y_train, s.v_train, p->num_train, s.z_test, s.y_test, s.v_test,
                                  p->num_test, train->m, train->k, train->continuous, p->C, out);
  samples_free(&s);
  return rc;
}

int sap_compute_factor(const FactorData *train, const FactorData *test, const SapParams *p, uint64_t seed, int f,
                       double *column) {
  if (!p || !valid_parts(train, test, p->num_train, p->num_test) || f < 0 || f >= train->k || !(p->C > 0.0)) return -1;
  const int m = train->m, k = train->k;
  Samples s;
  double *S = malloc(sizeof(double) * (size_t)m * k);
  if (!S || samples_draw(train, test, p->num_train, p->num_test, seed, SAP_RNG_STREAM, &s)) {
    free(S);
    return -1;
  }
  int rc = sap_column(s.z_train, s.y_train, s.v_train, p->num_train, s.z_test, s.y_test, s.v_test, p->num_test, m, k, f,
                      train->continuous && train->continuous[f], p->C, S);
  for (int j = 0; rc == 0 && j < m; j++) column[j] = S[(size_t)j * k + f];
  samples_free(&s);
  free(S);
  return rc;
}

void sap_result_free(SapResult *r) {
  free(r->matrix);
  memset(r, 0, sizeof *r);
}
