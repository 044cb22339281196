#include "disentangle/classify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LBFGS_MEMORY = 10, LINE_SEARCH_EVALS = 60 };

/* The data and the shape of the optimised vector theta[rows][d + 1]: row r holds the weights of
 * class row_class(r). Binary problems optimise only class 1 (sklearn's binary form). */
typedef struct {
  const double *x, *sw;
  const int *y;
  int n, d, classes, rows;
  double C, sw_sum;
} Problem;

static int row_class(const Problem *p, int r) { return p->classes == 2 ? 1 : r; }

static double dot(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static double max_abs(const double *a, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
  return m;
}

/* logits[classes] of one sample; classes without a row (class 0 when binary) have logit 0.
 * Returns log-sum-exp of the logits, computed from the largest so that nothing overflows. */
static double sample_logits(const Problem *p, const double *theta, const double *xi, double *logits) {
  const int d1 = p->d + 1;
  for (int c = 0; c < p->classes; c++) logits[c] = 0;
  for (int r = 0; r < p->rows; r++) {
    const double *wr = theta + (size_t)r * d1;
    logits[row_class(p, r)] = dot(wr, xi, p->d) + wr[p->d];
  }
  double top = logits[0], s = 0;
  for (int c = 1; c < p->classes; c++) top = fmax(top, logits[c]);
  for (int c = 0; c < p->classes; c++) s += exp(logits[c] - top);
  return top + log(s);
}

/* Objective (cross-entropy + penalty, per unit sample weight) and its gradient. */
static double objective(const Problem *p, const double *theta, double *grad, double *logits) {
  const int d1 = p->d + 1, nparam = p->rows * d1;
  memset(grad, 0, sizeof(double) * nparam);
  double loss = 0;
  for (int i = 0; i < p->n; i++) {
    const double *xi = p->x + (size_t)i * p->d;
    const double sw = p->sw ? p->sw[i] : 1.0;
    const double lse = sample_logits(p, theta, xi, logits);
    loss += sw * (lse - logits[p->y[i]]);
    for (int r = 0; r < p->rows; r++) {
      const int c = row_class(p, r);
      const double resid = sw * (exp(logits[c] - lse) - (p->y[i] == c));
      double *gr = grad + (size_t)r * d1;
      for (int j = 0; j < p->d; j++) gr[j] += resid * xi[j];
      gr[p->d] += resid;
    }
  }
  for (int r = 0; r < p->rows; r++)
    for (int j = 0; j < p->d; j++) { /* the intercept (j == d) is not penalised, as in sklearn */
      const double wj = theta[(size_t)r * d1 + j];
      loss += wj * wj / (2 * p->C);
      grad[(size_t)r * d1 + j] += wj / p->C;
    }
  for (int k = 0; k < nparam; k++) grad[k] /= p->sw_sum;
  return loss / p->sw_sum;
}

/* Scratch of the optimiser, one allocation. */
typedef struct {
  double *g, *dir, *trial, *g_trial, *s, *yv, *rho, *alpha, *logits;
  double *block;
} Work;

static int work_alloc(Work *w, int k, int classes) {
  const size_t total = (size_t)k * (4 + 2 * LBFGS_MEMORY) + 2 * LBFGS_MEMORY + classes;
  double *b = w->block = malloc(sizeof(double) * total);
  if (!b) return -1;
  w->g = b, w->dir = b + k, w->trial = b + 2 * k, w->g_trial = b + 3 * k;
  w->s = b + 4 * k, w->yv = w->s + (size_t)LBFGS_MEMORY * k;
  w->rho = w->yv + (size_t)LBFGS_MEMORY * k, w->alpha = w->rho + LBFGS_MEMORY;
  w->logits = w->alpha + LBFGS_MEMORY;
  return 0;
}

/* L-BFGS two-loop recursion: dir = -H g from the stored pairs, oldest first in the ring. */
static void lbfgs_direction(Work *w, int k, int stored, int newest) {
  for (int i = 0; i < k; i++) w->dir[i] = -w->g[i];
  for (int back = 0; back < stored; back++) {
    const int m = (newest - back + LBFGS_MEMORY) % LBFGS_MEMORY;
    w->alpha[m] = w->rho[m] * dot(w->s + (size_t)m * k, w->dir, k);
    for (int i = 0; i < k; i++) w->dir[i] -= w->alpha[m] * w->yv[(size_t)m * k + i];
  }
  if (stored > 0) { /* initial Hessian scale s'y / y'y of the newest pair */
    const double *yn = w->yv + (size_t)newest * k;
    const double gamma = 1.0 / (w->rho[newest] * dot(yn, yn, k));
    for (int i = 0; i < k; i++) w->dir[i] *= gamma;
  }
  for (int back = stored - 1; back >= 0; back--) {
    const int m = (newest - back + LBFGS_MEMORY) % LBFGS_MEMORY;
    const double beta = w->rho[m] * dot(w->yv + (size_t)m * k, w->dir, k);
    for (int i = 0; i < k; i++) w->dir[i] += (w->alpha[m] - beta) * w->s[(size_t)m * k + i];
  }
}

/* Weak Wolfe step along dir by bisection/doubling (Lewis & Overton 2013): sufficient decrease
 * (c1 = 1e-4) and curvature (c2 = 0.9), which keeps s'y > 0 for the update. On success
 * trial/g_trial/f_trial hold the new point; returns the step, or 0 when none was found. */
static double wolfe_step(const Problem *p, const double *theta, double f, Work *w, int k, double *f_trial) {
  const double gd = dot(w->g, w->dir, k), c1 = 1e-4, c2 = 0.9;
  double lo = 0, hi = INFINITY, t = 1;
  for (int eval = 0; eval < LINE_SEARCH_EVALS; eval++) {
    for (int i = 0; i < k; i++) w->trial[i] = theta[i] + t * w->dir[i];
    *f_trial = objective(p, w->trial, w->g_trial, w->logits);
    if (!(*f_trial <= f + c1 * t * gd)) hi = t; /* also catches NaN */
    else if (dot(w->g_trial, w->dir, k) < c2 * gd) lo = t;
    else return t;
    t = isinf(hi) ? 2 * lo : 0.5 * (lo + hi);
  }
  if (lo > 0) { /* sufficient decrease without curvature: take it, the update will be skipped */
    for (int i = 0; i < k; i++) w->trial[i] = theta[i] + lo * w->dir[i];
    *f_trial = objective(p, w->trial, w->g_trial, w->logits);
    return lo;
  }
  return 0;
}

/* Minimise from theta (updated in place); fills the diagnostics of out. */
static void lbfgs_minimise(const Problem *p, double *theta, int k, int max_iter, Work *w, LogReg *out) {
  double f = objective(p, theta, w->g, w->logits);
  int stored = 0, newest = LBFGS_MEMORY - 1, it = 0, converged = 0;
  for (; it < max_iter && !converged; it++) {
    if (max_abs(w->g, k) <= LOGREG_GTOL) { converged = 1; break; }
    lbfgs_direction(w, k, stored, newest);
    if (dot(w->g, w->dir, k) >= 0) { /* not a descent direction: forget the curvature pairs */
      stored = 0;
      for (int i = 0; i < k; i++) w->dir[i] = -w->g[i];
    }
    double f_new;
    const double t = wolfe_step(p, theta, f, w, k, &f_new);
    if (t == 0) { converged = max_abs(w->g, k) <= 1e3 * LOGREG_GTOL; break; } /* at precision */
    const int slot = (newest + 1) % LBFGS_MEMORY;
    double *s = w->s + (size_t)slot * k, *yv = w->yv + (size_t)slot * k;
    for (int i = 0; i < k; i++) s[i] = t * w->dir[i], yv[i] = w->g_trial[i] - w->g[i];
    const double sy = dot(s, yv, k);
    if (sy > 1e-300) w->rho[slot] = 1.0 / sy, newest = slot, stored += stored < LBFGS_MEMORY;
    const double decrease = (f - f_new) / fmax(1.0, fmax(fabs(f), fabs(f_new)));
    memcpy(theta, w->trial, sizeof(double) * k), memcpy(w->g, w->g_trial, sizeof(double) * k);
    f = f_new;
    if (decrease <= LOGREG_FTOL) converged = 1;
  }
  out->iterations = it, out->converged = converged, out->loss = f, out->grad_max = max_abs(w->g, k);
}

static void problem_init(Problem *p, const double *x, const int *y, int n, int d, int classes, double C,
                        const double *sw) {
  *p = (Problem){.x = x, .y = y, .sw = sw, .n = n, .d = d, .classes = classes, .C = C};
  p->rows = classes == 2 ? 1 : classes == 1 ? 0 : classes;
  p->sw_sum = 0;
  for (int i = 0; i < n; i++) p->sw_sum += sw ? sw[i] : 1.0;
  if (!(p->sw_sum > 0)) p->sw_sum = 1.0; /* no data: the objective is the penalty alone */
}

int logreg_fit(LogReg *lr, const double *x, const int *y, int n, int d, int classes, double C,
               const double *sample_weight, int max_iter) {
  memset(lr, 0, sizeof *lr);
  Problem p;
  problem_init(&p, x, y, n, d, classes, C, sample_weight);
  const int d1 = d + 1, k = p.rows * d1;
  lr->d = d, lr->classes = classes;
  lr->w = calloc((size_t)classes * d1, sizeof(double));
  double *theta = calloc(k > 0 ? k : 1, sizeof(double));
  Work w = {0};
  if (!lr->w || !theta || work_alloc(&w, k, classes) < 0) {
    free(theta), free(w.block), logreg_free(lr);
    return -1;
  }
  if (k > 0) lbfgs_minimise(&p, theta, k, max_iter > 0 ? max_iter : LOGREG_MAX_ITER, &w, lr);
  else lr->converged = 1; /* one class: nothing to learn, every probability is 1 */
  for (int r = 0; r < p.rows; r++)
    memcpy(lr->w + (size_t)row_class(&p, r) * d1, theta + (size_t)r * d1, sizeof(double) * d1);
  free(theta), free(w.block);
  return 0;
}

double logreg_objective(const double *w, const double *x, const int *y, int n, int d, int classes, double C,
                        const double *sample_weight, double *grad) {
  Problem p;
  problem_init(&p, x, y, n, d, classes, C, sample_weight);
  const int d1 = d + 1;
  /* w has a row per class; the optimised rows are the classes row_class() names */
  double *theta = calloc((size_t)p.rows * d1 + 1, sizeof(double)), *logits = malloc(sizeof(double) * classes);
  double *g = malloc(sizeof(double) * ((size_t)p.rows * d1 + 1));
  double f = NAN;
  if (theta && logits && g) {
    for (int r = 0; r < p.rows; r++)
      memcpy(theta + (size_t)r * d1, w + (size_t)row_class(&p, r) * d1, sizeof(double) * d1);
    f = objective(&p, theta, g, logits);
    memset(grad, 0, sizeof(double) * (size_t)classes * d1);
    for (int r = 0; r < p.rows; r++)
      memcpy(grad + (size_t)row_class(&p, r) * d1, g + (size_t)r * d1, sizeof(double) * d1);
  }
  free(theta), free(logits), free(g);
  return f;
}

/* Logits of every class from the stored rows (row 0 is zero for binary fits). */
static void all_logits(const LogReg *lr, const double *x, double *logits) {
  for (int c = 0; c < lr->classes; c++) {
    const double *wc = lr->w + (size_t)c * (lr->d + 1);
    logits[c] = dot(wc, x, lr->d) + wc[lr->d];
  }
}

int logreg_predict(const LogReg *lr, const double *x) {
  int best = 0;
  double top = -INFINITY;
  for (int c = 0; c < lr->classes; c++) {
    const double *wc = lr->w + (size_t)c * (lr->d + 1);
    const double z = dot(wc, x, lr->d) + wc[lr->d];
    if (z > top) top = z, best = c;
  }
  return best;
}

void logreg_proba(const LogReg *lr, const double *x, double *proba) {
  all_logits(lr, x, proba);
  double top = proba[0], s = 0;
  for (int c = 1; c < lr->classes; c++) top = fmax(top, proba[c]);
  for (int c = 0; c < lr->classes; c++) s += proba[c] = exp(proba[c] - top);
  for (int c = 0; c < lr->classes; c++) proba[c] /= s;
}

void logreg_free(LogReg *lr) {
  free(lr->w);
  memset(lr, 0, sizeof *lr);
}

typedef struct {
  double score;
  int positive;
} Ranked;

static int cmp_ranked(const void *a, const void *b) {
  const double x = ((const Ranked *)a)->score, y = ((const Ranked *)b)->score;
  return x < y ? -1 : x > y;
}

double roc_auc(const double *score, const int *positive, int n) {
  Ranked *r = malloc(sizeof *r * (n > 0 ? n : 1));
  if (!r) return NAN;
  long npos = 0;
  for (int i = 0; i < n; i++) r[i] = (Ranked){score[i], positive[i] != 0}, npos += positive[i] != 0;
  const long nneg = n - npos;
  if (npos == 0 || nneg == 0) { free(r); return NAN; }
  qsort(r, n, sizeof *r, cmp_ranked);
  double rank_sum = 0; /* ranks 1..n of the positives, ties sharing their average rank */
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && r[j].score == r[i].score) j++;
    const double avg_rank = 0.5 * (i + 1 + j);
    for (int t = i; t < j; t++) rank_sum += r[t].positive ? avg_rank : 0;
    i = j;
  }
  free(r);
  return (rank_sum - 0.5 * (double)npos * (npos + 1)) / ((double)npos * nneg);
}
