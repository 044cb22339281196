/* The supervised scores of scores.h. Where a choice had to be made beyond what
 * disentanglement_lib does (its code would divide by zero, crash, or depends on numpy details),
 * the comment at that place says what we do and why. */
#include "disentangle/scores.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/classify.h"
#include "disentangle/rng.h"

/* rng streams of the scores, far from rng.h's (1, and 1024 + net id); counters are
 * (point index, draw index within the point). */
enum {
  STREAM_SCORES = 0x5C0000,
  STREAM_BVAE_TRAIN = STREAM_SCORES,
  STREAM_BVAE_EVAL,
  STREAM_NASH_INIT,
  STREAM_NASH_TRAIN,
  STREAM_NASH_EVAL,
  STREAM_FVAE_VARIANCE,
  STREAM_FVAE_TRAIN,
  STREAM_FVAE_EVAL,
  STREAM_CODES,
};

ScoreParams scores_default_params(void) {
  return (ScoreParams){
      .beta_vae = {.batch_size = 64, .num_train = 10000, .num_eval = 5000, .C = 1.0},
      .nash = {.batch_size = 20, .iterations = 10000, .num_eval = 1000, .lr = 1.0},
      .factor_vae = {.batch_size = 64, .num_train = 10000, .num_eval = 5000, .num_variance_estimate = 10000,
                     .prune_threshold = 0.05},
      .mig = {.num_train = 10000, .bins = 20},
      .modexpl = {.num_train = 10000, .num_test = 5000, .bins = 20, .C = 1.0},
  };
}

static const double *latent_row(const FactorData *fd, int i) { return fd->z + (size_t)i * fd->m; }

/* ---- BetaVAE, disentanglement_lib ------------------------------------------------------------ */

/* One point: a factor k, batch pairs that share factor k's value (a fresh value per pair, as the
 * lib copies factors1[:, k] row by row), the rest random; feature[m] = mean |z1 - z2|. */
static int beta_vae_point(const FactorData *fd, int batch, uint64_t seed, uint64_t stream, uint64_t point,
                          double *feature) {
  const int k = (int)rng_below(seed, stream, point, 0, (uint64_t)fd->k);
  memset(feature, 0, sizeof(double) * fd->m);
  for (int b = 0; b < batch; b++) {
    const int v = factors_random_value(fd, k, seed, stream, point, 3 * (uint64_t)b + 1);
    const double *z1 = latent_row(fd, factors_sample_with(fd, k, v, seed, stream, point, 3 * (uint64_t)b + 2));
    const double *z2 = latent_row(fd, factors_sample_with(fd, k, v, seed, stream, point, 3 * (uint64_t)b + 3));
    for (int j = 0; j < fd->m; j++) feature[j] += fabs(z1[j] - z2[j]);
  }
  for (int j = 0; j < fd->m; j++) feature[j] /= batch;
  return k;
}

static double accuracy_of(const LogReg *lr, const double *x, const int *y, int n, int d) {
  long right = 0;
  for (int i = 0; i < n; i++) right += logreg_predict(lr, x + (size_t)i * d) == y[i];
  return n > 0 ? (double)right / n : 0.0;
}

void beta_vae_points(const FactorData *fd, const BetaVaeParams *p, uint64_t seed, int eval, int first, int n, double *x,
                     int *y) {
  const uint64_t stream = eval ? STREAM_BVAE_EVAL : STREAM_BVAE_TRAIN;
  for (int i = 0; i < n; i++)
    y[i] = beta_vae_point(fd, p->batch_size, seed, stream, (uint64_t)first + i, x + (size_t)i * fd->m);
}

int beta_vae_fit(const double *x_train, const int *y_train, const double *x_eval, const int *y_eval, int m, int k,
                 const BetaVaeParams *p, AccuracyPair *out) {
  LogReg lr = {0};
  if (logreg_fit(&lr, x_train, y_train, p->num_train, m, k, p->C, NULL, 0) < 0) return -1;
  out->train_accuracy = accuracy_of(&lr, x_train, y_train, p->num_train, m);
  out->eval_accuracy = accuracy_of(&lr, x_eval, y_eval, p->num_eval, m);
  logreg_free(&lr);
  return 0;
}

int score_beta_vae(const FactorData *train, const FactorData *test, const BetaVaeParams *p, uint64_t seed,
                   AccuracyPair *out) {
  const int m = train->m;
  double *x_train = malloc(sizeof(double) * ((size_t)p->num_train * m + 1));
  double *x_eval = malloc(sizeof(double) * ((size_t)p->num_eval * m + 1));
  int *y_train = malloc(sizeof(int) * (p->num_train + 1)), *y_eval = malloc(sizeof(int) * (p->num_eval + 1)), rc = -1;
  if (x_train && x_eval && y_train && y_eval) {
    beta_vae_points(train, p, seed, 0, 0, p->num_train, x_train, y_train);
    beta_vae_points(test, p, seed, 1, 0, p->num_eval, x_eval, y_eval);
    rc = beta_vae_fit(x_train, y_train, x_eval, y_eval, m, train->k, p, out);
  }
  free(x_train), free(x_eval), free(y_train), free(y_eval);
  return rc;
}

/* ---- BetaVAE, NashAE notebooks --------------------------------------------------------------- */

/* The notebook's point for a given factor k: per pair a fresh value of k, then the first two of
 * a shuffle of the samples with that value, i.e. two distinct samples (the same one twice only
 * when the value has a single sample, where the notebook would fail). */
static void nash_point(const FactorData *fd, int k, int batch, uint64_t seed, uint64_t stream, uint64_t point,
                       double *feature) {
  memset(feature, 0, sizeof(double) * fd->m);
  for (int b = 0; b < batch; b++) {
    const int v = factors_random_value(fd, k, seed, stream, point, 3 * (uint64_t)b + 1);
    const int nv = fd->n_with[k][v];
    const int r1 = (int)rng_below(seed, stream, point, 3 * (uint64_t)b + 2, (uint64_t)nv);
    int r2 = r1;
    if (nv > 1) r2 = (int)rng_below(seed, stream, point, 3 * (uint64_t)b + 3, (uint64_t)nv - 1), r2 += r2 >= r1;
    const double *z1 = latent_row(fd, fd->by_value[k][v][r1]), *z2 = latent_row(fd, fd->by_value[k][v][r2]);
    for (int j = 0; j < fd->m; j++) feature[j] += fabs(z1[j] - z2[j]);
  }
  for (int j = 0; j < fd->m; j++) feature[j] /= batch;
}

/* logits[K] = W feature + b of the linear layer wb[K][m + 1]. */
static void linear_logits(const double *wb, const double *feature, int m, int K, double *logits) {
  for (int c = 0; c < K; c++) {
    const double *row = wb + (size_t)c * (m + 1);
    double s = row[m];
    for (int j = 0; j < m; j++) s += row[j] * feature[j];
    logits[c] = s;
  }
}

/* One Adagrad step (PyTorch's rule: sum += g^2; p -= lr g / (sqrt(sum) + 1e-10)) on the
 * cross-entropy of a single point with label k. */
static void nash_adagrad_step(double *wb, double *sumsq, const double *feature, int k, int m, int K, double lr,
                              double *logits) {
  linear_logits(wb, feature, m, K, logits);
  double top = logits[0], s = 0;
  for (int c = 1; c < K; c++) top = fmax(top, logits[c]);
  for (int c = 0; c < K; c++) s += logits[c] = exp(logits[c] - top);
  for (int c = 0; c < K; c++) {
    const double dlogit = logits[c] / s - (c == k);
    for (int j = 0; j <= m; j++) {
      const size_t at = (size_t)c * (m + 1) + j;
      const double g = dlogit * (j < m ? feature[j] : 1.0);
      sumsq[at] += g * g;
      wb[at] -= lr * g / (sqrt(sumsq[at]) + 1e-10);
    }
  }
}

int score_beta_vae_nashae(const FactorData *train, const FactorData *test, const NashBetaVaeParams *p, uint64_t seed,
                          double *accuracy) {
  const int m = train->m, K = train->k, nparam = K * (m + 1);
  double *wb = malloc(sizeof(double) * nparam), *sumsq = calloc(nparam, sizeof(double));
  double *feature = malloc(sizeof(double) * m), *logits = malloc(sizeof(double) * K);
  if (!wb || !sumsq || !feature || !logits) {
    free(wb), free(sumsq), free(feature), free(logits);
    return -1;
  }
  /* torch.nn.Linear(m, K) with kaiming_normal_(fan_in, 'linear') weights: N(0, 1/m); the bias
   * keeps Linear's default U(-1/sqrt(m), 1/sqrt(m)) */
  const double scale = 1.0 / sqrt((double)m);
  for (int c = 0; c < K; c++) {
    for (int j = 0; j < m; j++) wb[(size_t)c * (m + 1) + j] = scale * rng_normal(seed, STREAM_NASH_INIT, c, j);
    wb[(size_t)c * (m + 1) + m] = scale * (2 * rng_uniform(seed, STREAM_NASH_INIT, c, m) - 1);
  }
  for (int it = 0; it < p->iterations; it++) {
    const int k = (int)rng_below(seed, STREAM_NASH_TRAIN, it, 0, (uint64_t)K);
    nash_point(train, k, p->batch_size, seed, STREAM_NASH_TRAIN, it, feature);
    nash_adagrad_step(wb, sumsq, feature, k, m, K, p->lr, logits);
  }
  long right = 0;
  for (int i = 0; i < p->num_eval; i++) { /* consecutive blocks of num_eval / K points per factor */
    const int k = (int)((long)i * K / p->num_eval);
    nash_point(test, k, p->batch_size, seed, STREAM_NASH_EVAL, i, feature);
    linear_logits(wb, feature, m, K, logits);
    int best = 0;
    for (int c = 1; c < K; c++) best = logits[c] > logits[best] ? c : best;
    right += best == k;
  }
  *accuracy = p->num_eval > 0 ? (double)right / p->num_eval : 0.0;
  free(wb), free(sumsq), free(feature), free(logits);
  return 0;
}

/* ---- FactorVAE --------------------------------------------------------------------------------- */

/* var[m] with ddof = 1 (np.var(..., ddof=1), as the lib for both global and batch variances) of
 * the latents of samples idx[n]; two passes for accuracy. */
static void latent_variances(const FactorData *fd, const int *idx, int n, double *mean, double *var) {
  const int m = fd->m;
  memset(mean, 0, sizeof(double) * m), memset(var, 0, sizeof(double) * m);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < m; j++) mean[j] += latent_row(fd, idx[i])[j];
  for (int j = 0; j < m; j++) mean[j] /= n;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < m; j++) {
      const double dz = latent_row(fd, idx[i])[j] - mean[j];
      var[j] += dz * dz;
    }
  for (int j = 0; j < m; j++) var[j] /= n > 1 ? n - 1 : 1;
}

typedef struct {
  const double *global_var;
  const int *active;
  int *idx;            /* [batch_size] */
  double *mean, *var;  /* [m] scratch */
} FactorVaeWork;

/* One vote: factor k, a value v, batch samples with factor k = v; the active latent whose
 * variance in the batch is the smallest fraction of its global variance (first on ties, as
 * np.argmin). Counted in votes[K][m]. */
static void factor_vae_vote(const FactorData *fd, int batch, uint64_t seed, uint64_t stream, uint64_t point,
                            FactorVaeWork *w, long *votes) {
  const int k = (int)rng_below(seed, stream, point, 0, (uint64_t)fd->k);
  const int v = factors_random_value(fd, k, seed, stream, point, 1);
  for (int b = 0; b < batch; b++) w->idx[b] = factors_sample_with(fd, k, v, seed, stream, point, 2 + (uint64_t)b);
  latent_variances(fd, w->idx, batch, w->mean, w->var);
  int best = -1;
  double best_ratio = INFINITY;
  for (int j = 0; j < fd->m; j++)
    if (w->active[j] && (best < 0 || w->var[j] / w->global_var[j] < best_ratio))
      best = j, best_ratio = w->var[j] / w->global_var[j];
  votes[(size_t)k * fd->m + best]++;
}

/* Share of votes[K][m] that the majority classifier (latent -> its most voted factor) gets right. */
static double vote_accuracy(const long *votes, const int *classifier, int K, int m) {
  long right = 0, total = 0;
  for (int k = 0; k < K; k++)
    for (int j = 0; j < m; j++) {
      total += votes[(size_t)k * m + j];
      if (classifier[j] == k) right += votes[(size_t)k * m + j];
    }
  return total > 0 ? (double)right / total : 0.0;
}

int factor_vae_active(const FactorData *train, const FactorVaeParams *p, uint64_t seed, double *global_var, int *active) {
  const int m = train->m, nvar = p->num_variance_estimate;
  int *idx = malloc(sizeof(int) * (nvar + 1)), num_active = 0;
  double *mean = malloc(sizeof(double) * m);
  if (!idx || !mean) {
    free(idx), free(mean);
    return -1;
  }
  for (int i = 0; i < nvar; i++) idx[i] = (int)rng_below(seed, STREAM_FVAE_VARIANCE, i, 0, (uint64_t)train->n);
  latent_variances(train, idx, nvar, mean, global_var);
  /* prune_dims: std >= threshold; a zero variance is never active, even with threshold 0,
   * where the lib would divide by it */
  for (int j = 0; j < m; j++) num_active += active[j] = sqrt(global_var[j]) >= p->prune_threshold && global_var[j] > 0;
  free(idx), free(mean);
  return num_active;
}

int factor_vae_count(const FactorData *fd, const FactorVaeParams *p, uint64_t seed, int eval, const double *global_var,
                     const int *active, int first, int n, long *votes) {
  const int m = fd->m;
  FactorVaeWork w = {.global_var = global_var, .active = active, .idx = malloc(sizeof(int) * p->batch_size),
                     .mean = malloc(sizeof(double) * m), .var = malloc(sizeof(double) * m)};
  const int rc = w.idx && w.mean && w.var ? 0 : -1;
  for (int i = 0; rc == 0 && i < n; i++)
    factor_vae_vote(fd, p->batch_size, seed, eval ? STREAM_FVAE_EVAL : STREAM_FVAE_TRAIN, (uint64_t)first + i, &w, votes);
  free(w.idx), free(w.mean), free(w.var);
  return rc;
}

void factor_vae_finish(const long *train_votes, const long *eval_votes, int k, int m, int num_active,
                       FactorVaeResult *out) {
  *out = (FactorVaeResult){.num_active = num_active};
  if (num_active == 0) return; /* the lib's answer: accuracies 0 */
  int classifier[m];
  for (int j = 0; j < m; j++) { /* np.argmax over factors: the first on ties, 0 for no votes */
    classifier[j] = 0;
    for (int f = 1; f < k; f++)
      if (train_votes[(size_t)f * m + j] > train_votes[(size_t)classifier[j] * m + j]) classifier[j] = f;
  }
  out->train_accuracy = vote_accuracy(train_votes, classifier, k, m);
  out->eval_accuracy = vote_accuracy(eval_votes, classifier, k, m);
}

int score_factor_vae(const FactorData *train, const FactorData *test, const FactorVaeParams *p, uint64_t seed,
                     FactorVaeResult *out) {
  const int m = train->m, K = train->k;
  int *active = malloc(sizeof(int) * m), num_active = -1, rc = -1;
  double *gvar = malloc(sizeof(double) * m);
  long *votes = calloc((size_t)2 * K * m, sizeof(long));
  if (active && gvar && votes && (num_active = factor_vae_active(train, p, seed, gvar, active)) >= 0)
    rc = num_active > 0 && (factor_vae_count(train, p, seed, 0, gvar, active, 0, p->num_train, votes) ||
                            factor_vae_count(test, p, seed, 1, gvar, active, 0, p->num_eval, votes + (size_t)K * m))
             ? -1
             : 0;
  if (rc == 0) factor_vae_finish(votes, votes + (size_t)K * m, K, m, num_active, out);
  free(active), free(gvar), free(votes);
  return rc;
}

/* ---- mutual information, MIG, modularity ----------------------------------------------------- */

void scores_draw_samples(const FactorData *fd, int n, uint64_t seed, int part, int *idx) {
  for (int i = 0; i < n; i++) idx[i] = (int)rng_below(seed, STREAM_CODES, i, (uint64_t)part, (uint64_t)fd->n);
}

/* bin[n] in 0 .. bins-1 of latent j: np.digitize(x, np.histogram(x, bins)[1][:-1]) - 1, i.e.
 * the number of left edges first + e * step (e < bins, numpy's linspace) that are <= x, minus 1. */
static void histogram_bins(const FactorData *fd, const int *idx, int n, int j, int bins, int *bin) {
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < n; i++) lo = fmin(lo, latent_row(fd, idx[i])[j]), hi = fmax(hi, latent_row(fd, idx[i])[j]);
  if (lo == hi) lo -= 0.5, hi += 0.5; /* np.histogram's range for a constant */
  const double step = (hi - lo) / bins;
  for (int i = 0; i < n; i++) {
    const double x = latent_row(fd, idx[i])[j];
    int b = 0;
    while (b + 1 < bins && (b + 1) * step + lo <= x) b++;
    bin[i] = b;
  }
}

/* MI in nats of two label vectors from their contingency counts[na][nb], as sklearn's
 * mutual_info_score: sum p_ab log(p_ab / (p_a p_b)), 0 when either side has one label. */
static double mi_from_counts(const long *counts, int na, int nb, long *row, long *col, long total) {
  memset(row, 0, sizeof(long) * na), memset(col, 0, sizeof(long) * nb);
  for (int a = 0; a < na; a++)
    for (int b = 0; b < nb; b++) row[a] += counts[(size_t)a * nb + b], col[b] += counts[(size_t)a * nb + b];
  int used_a = 0, used_b = 0;
  for (int a = 0; a < na; a++) used_a += row[a] > 0;
  for (int b = 0; b < nb; b++) used_b += col[b] > 0;
  if (used_a < 2 || used_b < 2) return 0.0;
  double mi = 0;
  for (int a = 0; a < na; a++)
    for (int b = 0; b < nb; b++) {
      const long c = counts[(size_t)a * nb + b];
      if (c > 0) mi += (double)c / total * log((double)c * total / ((double)row[a] * col[b]));
    }
  return mi > 0 ? mi : 0.0; /* sklearn clips rounding below zero */
}

static int max_codes(const FactorData *fd) {
  int most = 1;
  for (int k = 0; k < fd->k; k++) most = fd->ncodes[k] > most ? fd->ncodes[k] : most;
  return most;
}

int scores_mutual_info(const FactorData *fd, const int *idx, int n, int bins, double *mi, double *entropy) {
  const int nc = max_codes(fd), wide = bins > nc ? bins : nc;
  int *bin = malloc(sizeof(int) * (n > 0 ? n : 1));
  long *counts = malloc(sizeof(long) * (size_t)bins * nc), *row = malloc(sizeof(long) * wide);
  long *col = malloc(sizeof(long) * wide);
  if (!bin || !counts || !row || !col) {
    free(bin), free(counts), free(row), free(col);
    return -1;
  }
  for (int j = 0; j < fd->m; j++) {
    histogram_bins(fd, idx, n, j, bins, bin);
    for (int k = 0; k < fd->k; k++) {
      const int nb = fd->ncodes[k];
      memset(counts, 0, sizeof(long) * (size_t)bins * nb);
      for (int i = 0; i < n; i++) counts[(size_t)bin[i] * nb + fd->codes[(size_t)idx[i] * fd->k + k]]++;
      mi[(size_t)j * fd->k + k] = mi_from_counts(counts, bins, nb, row, col, n);
    }
  }
  for (int k = 0; entropy && k < fd->k; k++) { /* mutual_info_score(y, y) = H(y) */
    memset(col, 0, sizeof(long) * fd->ncodes[k]);
    for (int i = 0; i < n; i++) col[fd->codes[(size_t)idx[i] * fd->k + k]]++;
    double h = 0;
    for (int v = 0; v < fd->ncodes[k]; v++)
      if (col[v] > 0) h -= (double)col[v] / n * log((double)col[v] / n);
    entropy[k] = h;
  }
  free(bin), free(counts), free(row), free(col);
  return 0;
}

double scores_mig_from_mi(const double *mi, const double *entropy, int m, int k) {
  double sum = 0;
  int used = 0;
  for (int f = 0; f < k; f++) {
    /* a factor with a single value in the samples has H = 0, where the lib's 0/0 gives NaN:
     * it carries no information to capture, so it is left out of the mean */
    if (!(entropy[f] > 0)) continue;
    double top = 0, second = 0; /* MI >= 0; with one latent the second is 0 */
    for (int j = 0; j < m; j++) {
      const double v = mi[(size_t)j * k + f];
      if (v > top) second = top, top = v;
      else if (v > second) second = v;
    }
    sum += (top - second) / entropy[f], used++;
  }
  return used ? sum / used : 0.0;
}

double scores_modularity_from_mi(const double *mi, int m, int k) {
  double sum = 0;
  for (int j = 0; j < m; j++) {
    const double *row = mi + (size_t)j * k;
    double sq_sum = 0, sq_max = 0;
    for (int f = 0; f < k; f++) sq_sum += row[f] * row[f], sq_max = fmax(sq_max, row[f] * row[f]);
    /* the lib: a latent with no MI with any factor scores 0; with a single factor (K - 1 = 0)
     * the lib divides 0 by 0, and we call a latent with information about it fully modular */
    if (sq_max == 0) continue;
    sum += k > 1 ? 1.0 - (sq_sum - sq_max) / (sq_max * (k - 1)) : 1.0;
  }
  return m > 0 ? sum / m : 0.0;
}

/* MI matrix and entropies over num_train samples drawn as part 0. */
static int mi_of_train_draw(const FactorData *fd, int num_train, int bins, uint64_t seed, double *mi,
                            double *entropy) {
  int *idx = malloc(sizeof(int) * (num_train > 0 ? num_train : 1));
  if (!idx) return -1;
  scores_draw_samples(fd, num_train, seed, 0, idx);
  const int rc = scores_mutual_info(fd, idx, num_train, bins, mi, entropy);
  free(idx);
  return rc;
}

int score_mig(const FactorData *fd, const MigParams *p, uint64_t seed, double *mig) {
  double *mi = malloc(sizeof(double) * fd->m * fd->k), *entropy = malloc(sizeof(double) * fd->k);
  int rc = -1;
  if (mi && entropy && mi_of_train_draw(fd, p->num_train, p->bins, seed, mi, entropy) == 0) {
    *mig = scores_mig_from_mi(mi, entropy, fd->m, fd->k);
    rc = 0;
  }
  free(mi), free(entropy);
  return rc;
}

int score_modularity(const FactorData *fd, const ModExplParams *p, uint64_t seed, double *modularity,
                     double *normalised) {
  double *mi = malloc(sizeof(double) * fd->m * fd->k), *entropy = malloc(sizeof(double) * fd->k);
  int rc = -1;
  if (mi && entropy && mi_of_train_draw(fd, p->num_train, p->bins, seed, mi, entropy) == 0) {
    *modularity = scores_modularity_from_mi(mi, fd->m, fd->k);
    if (normalised) {
      for (int j = 0; j < fd->m; j++)
        for (int f = 0; f < fd->k; f++) {
          double *v = mi + (size_t)j * fd->k + f;
          *v = entropy[f] > 0 ? *v / entropy[f] : 0.0; /* a constant factor carries nothing to capture */
        }
      *normalised = scores_modularity_from_mi(mi, fd->m, fd->k);
    }
    rc = 0;
  }
  free(mi), free(entropy);
  return rc;
}

/* ---- factor capture: correlation ratios ------------------------------------------------------ */

void scores_eta2(const FactorData *fd, double *eta2) {
  const int m = fd->m, K = fd->k, n = fd->n;
  for (int j = 0; j < m; j++) {
    double mean = 0, total = 0;
    for (int i = 0; i < n; i++) mean += latent_row(fd, i)[j];
    mean /= n > 0 ? n : 1;
    for (int i = 0; i < n; i++) total += pow(latent_row(fd, i)[j] - mean, 2);
    for (int f = 0; f < K; f++) {
      double between = 0;
      for (int v = 0; v < fd->ncodes[f]; v++) {
        const int nv = fd->n_with[f][v];
        if (!nv) continue;
        double g = 0;
        for (int i = 0; i < nv; i++) g += latent_row(fd, fd->by_value[f][v][i])[j];
        between += nv * pow(g / nv - mean, 2);
      }
      /* a constant latent explains nothing; rounding may put the ratio a hair above 1 */
      eta2[(size_t)j * K + f] = total > 0 ? fmin(between / total, 1.0) : 0.0;
    }
  }
}

int scores_capture(const double *eta2, const int *active, int m, int k, int *captured_by) {
  int count = 0;
  for (int f = 0; f < k; f++) {
    captured_by[f] = -1;
    for (int j = 0; j < m && captured_by[f] < 0; j++) {
      const double *row = eta2 + (size_t)j * k;
      int clean = (!active || active[j]) && row[f] >= SCORES_CAPTURE_HIGH;
      for (int g = 0; g < k && clean; g++) clean = g == f || row[g] <= SCORES_CAPTURE_LOW;
      if (clean) captured_by[f] = j;
    }
    count += captured_by[f] >= 0;
  }
  return count;
}

/* ---- explicitness ---------------------------------------------------------------------------- */

/* The samples of one split: standardised latents x[n][m] and their indices. */
typedef struct {
  const FactorData *fd; /* the part of the archive the samples come from */
  int n, *idx;
  double *x;
} Split;

/* x = (z - mean) / std with the training split's mean and std (ddof 0), as the lib's
 * normalize_data. A constant latent has std 0, where the lib's 0/0 makes NaN that sklearn
 * rejects: we keep it at 0 (it carries nothing either way). */
static void standardise(Split *train, Split *test) {
  const FactorData *tr = train->fd, *te = test->fd;
  const int m = tr->m;
  for (int j = 0; j < m; j++) {
    double mean = 0, var = 0;
    for (int i = 0; i < train->n; i++) mean += latent_row(tr, train->idx[i])[j];
    mean /= train->n;
    for (int i = 0; i < train->n; i++) var += pow(latent_row(tr, train->idx[i])[j] - mean, 2);
    const double sd = sqrt(var / train->n), div = sd > 0 ? sd : 1.0;
    for (int i = 0; i < train->n; i++) train->x[(size_t)i * m + j] = (latent_row(tr, train->idx[i])[j] - mean) / div;
    for (int i = 0; i < test->n; i++) test->x[(size_t)i * m + j] = (latent_row(te, test->idx[i])[j] - mean) / div;
  }
}

/* Mean over classes c of the ROC-AUC of proba[:, c] for "code == class_code[c]" on a split
 * (sklearn's macro average). A class absent from the split (or the only one in it) has no AUC
 * and is left out, where the lib's label binariser would misalign or sklearn would raise. */
static double macro_auc(const LogReg *lr, const Split *s, int f, const int *class_code, double *proba, double *score,
                        int *positive) {
  const FactorData *fd = s->fd;
  const int C = lr->classes;
  for (int i = 0; i < s->n; i++) logreg_proba(lr, s->x + (size_t)i * fd->m, proba + (size_t)i * C);
  double sum = 0;
  int used = 0;
  for (int c = 0; c < C; c++) {
    for (int i = 0; i < s->n; i++)
      score[i] = proba[(size_t)i * C + c], positive[i] = fd->codes[(size_t)s->idx[i] * fd->k + f] == class_code[c];
    const double auc = roc_auc(score, positive, s->n);
    if (auc == auc) sum += auc, used++;
  }
  return used ? sum / used : NAN;
}

/* Explicitness of factor f: a logistic regression (C) from all latents to the factor values
 * present in training (sklearn's classes_), mean AUC on each split; -1 out of memory, 1 when
 * the factor has a single value in training (sklearn refuses to fit: the factor is skipped). */
static int factor_explicitness(int f, double C, Split *train, Split *test, double *auc) {
  const FactorData *fd = train->fd;
  const int nv = fd->ncodes[f], most = train->n > test->n ? train->n : test->n;
  int *class_of = malloc(sizeof(int) * nv), *class_code = malloc(sizeof(int) * nv), *y = malloc(sizeof(int) * train->n);
  int *positive = malloc(sizeof(int) * most);
  double *proba = malloc(sizeof(double) * (size_t)most * nv), *score = malloc(sizeof(double) * most);
  LogReg lr = {0};
  int rc = -1, classes = 0;
  if (!class_of || !class_code || !y || !positive || !proba || !score) goto done;
  for (int v = 0; v < nv; v++) class_of[v] = -1;
  for (int i = 0; i < train->n; i++) class_of[fd->codes[(size_t)train->idx[i] * fd->k + f]] = 0;
  for (int v = 0; v < nv; v++)
    if (class_of[v] == 0) class_code[classes] = v, class_of[v] = classes++; /* np.unique order */
  rc = 1;
  if (classes < 2) goto done;
  for (int i = 0; i < train->n; i++) y[i] = class_of[fd->codes[(size_t)train->idx[i] * fd->k + f]];
  rc = -1;
  if (logreg_fit(&lr, train->x, y, train->n, fd->m, classes, C, NULL, 0) < 0) goto done;
  auc[0] = macro_auc(&lr, train, f, class_code, proba, score, positive);
  auc[1] = macro_auc(&lr, test, f, class_code, proba, score, positive);
  rc = 0;
done:
  logreg_free(&lr), free(class_of), free(class_code), free(y), free(positive), free(proba), free(score);
  return rc;
}

int explicitness_factor(const FactorData *trainfd, const FactorData *testfd, const ModExplParams *p, uint64_t seed,
                        int f, double auc[2]) {
  const int m = trainfd->m;
  Split train = {.fd = trainfd, .n = p->num_train}, test = {.fd = testfd, .n = p->num_test};
  train.idx = malloc(sizeof(int) * (train.n > 0 ? train.n : 1));
  test.idx = malloc(sizeof(int) * (test.n > 0 ? test.n : 1));
  train.x = malloc(sizeof(double) * ((size_t)train.n * m + 1));
  test.x = malloc(sizeof(double) * ((size_t)test.n * m + 1));
  int rc = -1;
  if (train.idx && test.idx && train.x && test.x) {
    scores_draw_samples(trainfd, train.n, seed, 0, train.idx);
    scores_draw_samples(testfd, test.n, seed, 1, test.idx);
    standardise(&train, &test);
    rc = factor_explicitness(f, p->C, &train, &test, auc);
    if (rc > 0) auc[0] = auc[1] = NAN, rc = 0; /* a single value in training: not measurable */
  }
  free(train.idx), free(test.idx), free(train.x), free(test.x);
  return rc;
}

void explicitness_finish(const double *auc, int k, ExplicitnessResult *out) {
  double sum_train = 0, sum_test = 0;
  int used_train = 0, used_test = 0;
  for (int f = 0; f < k; f++) {
    if (auc[2 * f] == auc[2 * f]) sum_train += auc[2 * f], used_train++;
    if (auc[2 * f + 1] == auc[2 * f + 1]) sum_test += auc[2 * f + 1], used_test++;
  }
  /* nothing measurable (every factor constant): 0.5, the score of a representation that says nothing */
  out->train = used_train ? sum_train / used_train : 0.5;
  out->test = used_test ? sum_test / used_test : 0.5;
}

int score_explicitness(const FactorData *train, const FactorData *test, const ModExplParams *p, uint64_t seed,
                       ExplicitnessResult *out) {
  double *auc = malloc(sizeof(double) * 2 * train->k);
  int rc = auc ? 0 : -1;
  for (int f = 0; rc == 0 && f < train->k; f++) rc = explicitness_factor(train, test, p, seed, f, auc + 2 * f);
  if (rc == 0) explicitness_finish(auc, train->k, out);
  free(auc);
  return rc;
}
