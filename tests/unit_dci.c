/* DCI, SAP and the gradient-boosted trees behind DCI on constructed latents whose answer is
 * known: identity, rotation, pure noise, a duplicated latent, a dead latent; the trees on
 * separable data and on stumps checked by hand; determinism from the seed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disentangle/dci.h"
#include "disentangle/factors.h"
#include "disentangle/gbt.h"
#include "disentangle/rng.h"
#include "testing.h"


static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* ---- synthetic archives ------------------------------------------------------------------ */

enum { N_ARCHIVE = 3000, TEST_SEED = 20240611 };
static const int n_values[3] = {5, 8, 4}; /* the three factors: values each */

/* factors[n][3]: value indices drawn uniformly. */
static void make_factors(double *factors, int n) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < 3; j++) factors[i * 3 + j] = (double)rng_below(TEST_SEED, 1, i, j, n_values[j]);
}

/* Factor j of sample i scaled to [0, 1]. */
static double scaled(const double *factors, int i, int j) { return factors[i * 3 + j] / (n_values[j] - 1); }

static double noise(int i, int j) { return rng_normal(TEST_SEED, 2, i, j); }

typedef enum { LAT_IDENTITY, LAT_ROTATION, LAT_NOISE, LAT_DUPLICATE, LAT_DEAD } LatentKind;

/* Latents of each kind; returns m. Noise 0.01 is well below the level spacing (1/7 at most). */
static int make_latents(LatentKind kind, const double *f, int n, double *z) {
  /* rotation: R_z(45 deg) R_x(45 deg), an orthogonal matrix mixing all three factors */
  const double c = sqrt(0.5), rot[3][3] = {{c, -0.5, 0.5}, {c, 0.5, -0.5}, {0.0, c, c}};
  for (int i = 0; i < n; i++) {
    double a = scaled(f, i, 0), b = scaled(f, i, 1), e = scaled(f, i, 2);
    double *zi;
    switch (kind) {
    case LAT_IDENTITY:
      zi = z + i * 3, zi[0] = a, zi[1] = b, zi[2] = e;
      for (int j = 0; j < 3; j++) zi[j] += 0.01 * noise(i, j);
      break;
    case LAT_ROTATION:
      zi = z + i * 3;
      for (int j = 0; j < 3; j++) zi[j] = rot[j][0] * a + rot[j][1] * b + rot[j][2] * e + 0.01 * noise(i, j);
      break;
    case LAT_NOISE:
      zi = z + i * 3;
      for (int j = 0; j < 3; j++) zi[j] = noise(i, j);
      break;
    case LAT_DUPLICATE: /* [f1, f1, f2] of the first two factors: latent 1 is an exact copy */
      zi = z + i * 3, zi[0] = a + 0.01 * noise(i, 0), zi[1] = zi[0], zi[2] = b + 0.01 * noise(i, 2);
      break;
    case LAT_DEAD: /* identity plus a constant latent */
      zi = z + i * 4, zi[0] = a + 0.01 * noise(i, 0), zi[1] = b + 0.01 * noise(i, 1), zi[2] = e + 0.01 * noise(i, 2);
      zi[3] = 0.5;
      break;
    }
  }
  return kind == LAT_DEAD ? 4 : 3;
}

/* An archive of N_ARCHIVE samples of the given latents; k factors (the first k of the three). */
typedef struct {
  double *factors, *z;
  FactorData fd;
} Archive3;

static int archive_make(Archive3 *a, LatentKind kind, int k) {
  a->factors = malloc(sizeof(double) * N_ARCHIVE * 3), a->z = malloc(sizeof(double) * N_ARCHIVE * 4);
  if (!a->factors || !a->z) return -1;
  make_factors(a->factors, N_ARCHIVE);
  int m = make_latents(kind, a->factors, N_ARCHIVE, a->z);
  if (k < 3) /* keep only the first k factor columns */
    for (int i = 0; i < N_ARCHIVE; i++)
      for (int j = 0; j < k; j++) a->factors[i * k + j] = a->factors[i * 3 + j];
  return factors_create(&a->fd, a->z, N_ARCHIVE, m, a->factors, k, 64, 20, NULL);
}

static void archive_free(Archive3 *a) {
  factors_free(&a->fd);
  free(a->factors), free(a->z);
}

static void print_matrix(const char *name, const double *R, int m, int k) {
  printf("  %s:", name);
  for (int j = 0; j < m; j++) {
    printf(" [");
    for (int f = 0; f < k; f++) printf("%s%.3f", f ? " " : "", R[j * k + f]);
    printf("]");
  }
  printf("\n");
}

static int has_nan(const double *v, int n) {
  for (int i = 0; i < n; i++)
    if (isnan(v[i])) return 1;
  return 0;
}

/* Score one constructed case with DCI and SAP at the given sizes; prints everything. */
static int score_case(const char *name, LatentKind kind, int k, int n_train, int n_test, DciResult *d, SapResult *s) {
  Archive3 a = {0};
  DciParams dp = dci_default_params();
  SapParams sp = sap_default_params();
  dp.num_train = sp.num_train = n_train, dp.num_test = sp.num_test = n_test;
  double t0 = seconds();
  int rc = archive_make(&a, kind, k) || dci_compute(&a.fd, &a.fd, &dp, TEST_SEED, d);
  double t1 = seconds();
  rc = rc || sap_compute(&a.fd, &a.fd, &sp, TEST_SEED, s);
  double t2 = seconds();
  archive_free(&a);
  if (rc) return -1;
  printf("%s (num_train %d, num_test %d): D %.4f C %.4f I_train %.4f I_test %.4f | SAP %.4f | DCI %.2f s, SAP %.2f s\n",
         name, n_train, n_test, d->disentanglement, d->completeness, d->informativeness_train, d->informativeness_test,
         s->score, t1 - t0, t2 - t1);
  print_matrix("R", d->importance, d->m, d->k);
  print_matrix("S", s->matrix, s->m, s->k);
  return 0;
}

/* ---- the constructed cases ---------------------------------------------------------------- */

static double identity_sap; /* for comparing the other cases */

static void case_identity(void) {
  DciResult d;
  SapResult s;
  /* the one run at disentanglement_lib's defaults: num_train 10000, num_test 5000 */
  if (score_case("identity", LAT_IDENTITY, 3, 10000, 5000, &d, &s)) {
    test_report(0, "identity: scoring failed");
    return;
  }
  /* each latent is one factor's own code: the trees need no other latent, so off-diagonal
   * importance is only what the last, noise-fitting stages pick up (a few percent at most) */
  test_report(d.disentanglement > 0.9 && d.completeness > 0.9, "identity: D %.4f and C %.4f > 0.9", d.disentanglement,
        d.completeness);
  /* levels 1/7 apart with noise 0.01 (7 sigma): every code recoverable */
  test_report(d.informativeness_test > 0.99, "identity: informativeness_test %.4f > 0.99", d.informativeness_test);
  /* a 1-D linear one-vs-rest rule cannot recover middle values of a factor; still the own latent
   * beats chance (1/values) by far while the others stay at chance: gap > 0.15 */
  test_report(s.score > 0.15, "identity: SAP %.4f > 0.15", s.score);
  identity_sap = s.score;
  dci_result_free(&d), sap_result_free(&s);
}

static void case_rotation(void) {
  DciResult d;
  SapResult s;
  if (score_case("rotation", LAT_ROTATION, 3, 2000, 1000, &d, &s)) {
    test_report(0, "rotation: scoring failed");
    return;
  }
  /* every latent mixes 2-3 factors, so each row and column of R spreads: an even two-way split
   * alone costs 1 - log 2 / log 3 = 0.37 of the score */
  test_report(d.disentanglement < 0.7 && d.completeness < 0.7, "rotation: D %.4f and C %.4f < 0.7", d.disentanglement,
        d.completeness);
  test_report(s.score < identity_sap - 0.05, "rotation: SAP %.4f below identity's %.4f by > 0.05", s.score, identity_sap);
  dci_result_free(&d), sap_result_free(&s);
}

/* Pure noise on disjoint train and test samples of the archive: the archive draws of dci_compute
 * repeat training samples in the test set, where the trees' memorisation would show. */
static void case_noise(void) {
  Archive3 a = {0};
  DciResult d = {0};
  SapResult s = {0};
  int half = N_ARCHIVE / 2;
  if (archive_make(&a, LAT_NOISE, 3)) {
    test_report(0, "noise: archive failed");
    archive_free(&a);
    return;
  }
  GbtParams gp = {0}; /* learning rate 0: refused, and nothing to free */
  test_report(dci_from_samples(a.z, a.fd.codes, half, a.z + half * 3, a.fd.codes + half * 3, half, 3, 3, &gp, &d) == -1 &&
            d.importance == NULL,
        "bad GBT parameters refused");
  gp = gbt_default_params();
  int rc = dci_from_samples(a.z, a.fd.codes, half, a.z + half * 3, a.fd.codes + half * 3, half, 3, 3, &gp, &d) ||
           sap_from_samples(a.z, a.fd.codes, half, a.z + half * 3, a.fd.codes + half * 3, half, 3, 3, 0.01, &s);
  archive_free(&a);
  if (rc) {
    test_report(0, "noise: scoring failed");
    return;
  }
  double chance = (1.0 / 5 + 1.0 / 8 + 1.0 / 4) / 3;
  printf("noise (disjoint halves, 1500 each): D %.4f C %.4f I_train %.4f I_test %.4f (chance %.4f) | SAP %.4f\n",
         d.disentanglement, d.completeness, d.informativeness_train, d.informativeness_test, chance, s.score);
  print_matrix("R", d.importance, 3, 3);
  print_matrix("S", s.matrix, 3, 3);
  /* accuracy over 1500 test samples has a standard error ~0.01 per factor: within 0.04 of chance */
  test_report(fabs(d.informativeness_test - chance) < 0.04, "noise: informativeness_test %.4f within 0.04 of chance %.4f",
        d.informativeness_test, chance);
  /* every latent is equally useless: top-two gaps are sampling noise (~0.01-0.02) */
  test_report(s.score < 0.05, "noise: SAP %.4f < 0.05", s.score);
  test_report(!has_nan(d.importance, 9) && !isnan(d.disentanglement) && !isnan(d.completeness) && !isnan(s.score),
        "noise: no NaN");
  dci_result_free(&d), sap_result_free(&s);
}

static void case_duplicate(void) {
  DciResult d;
  SapResult s;
  if (score_case("duplicate [f1, f1, f2]", LAT_DUPLICATE, 2, 2000, 1000, &d, &s)) {
    test_report(0, "duplicate: scoring failed");
    return;
  }
  /* equal splits on the two copies are shared by the random feature order (as in scikit-learn):
   * each copy gets a large share of f1; f1's column then spreads over two latents (perfect
   * halves would give completeness (1 - log 2 / log 3 + 1) / 2 = 0.68), rows stay pure */
  double r0 = d.importance[0], r1 = d.importance[2];
  test_report(r0 > 0.25 && r1 > 0.25, "duplicate: both copies share f1's importance (%.3f, %.3f > 0.25)", r0, r1);
  test_report(d.completeness < 0.85, "duplicate: completeness %.4f < 0.85", d.completeness);
  test_report(d.disentanglement > 0.9, "duplicate: disentanglement %.4f > 0.9", d.disentanglement);
  dci_result_free(&d), sap_result_free(&s);
}

static void case_dead(void) {
  DciResult d;
  SapResult s;
  if (score_case("dead latent [f1, f2, f3, 0.5]", LAT_DEAD, 3, 2000, 1000, &d, &s)) {
    test_report(0, "dead: scoring failed");
    return;
  }
  /* a constant latent is never split on: exactly zero importance; it contributes nothing */
  int zero = 1;
  for (int f = 0; f < 3; f++) zero &= d.importance[3 * 3 + f] == 0.0;
  test_report(zero, "dead: constant latent has importance exactly 0");
  test_report(!has_nan(d.importance, 12) && !has_nan(s.matrix, 12) && !isnan(d.disentanglement) &&
            !isnan(d.completeness) && !isnan(s.score),
        "dead: no NaN");
  test_report(d.disentanglement > 0.9 && d.completeness > 0.9, "dead: D %.4f and C %.4f stay > 0.9", d.disentanglement,
        d.completeness);
  dci_result_free(&d), sap_result_free(&s);
}

static void determinism(void) {
  Archive3 a = {0};
  DciParams dp = dci_default_params();
  SapParams sp = sap_default_params();
  dp.num_train = sp.num_train = 1000, dp.num_test = sp.num_test = 500;
  DciResult d1, d2, d3;
  SapResult s1, s2;
  if (archive_make(&a, LAT_DUPLICATE, 2) || dci_compute(&a.fd, &a.fd, &dp, 7, &d1) || dci_compute(&a.fd, &a.fd, &dp, 7, &d2) ||
      dci_compute(&a.fd, &a.fd, &dp, 8, &d3) || sap_compute(&a.fd, &a.fd, &sp, 7, &s1) || sap_compute(&a.fd, &a.fd, &sp, 7, &s2)) {
    test_report(0, "determinism: scoring failed");
    archive_free(&a);
    return;
  }
  test_report(!memcmp(d1.importance, d2.importance, sizeof(double) * 6) && d1.disentanglement == d2.disentanglement &&
            d1.completeness == d2.completeness && d1.informativeness_test == d2.informativeness_test,
        "determinism: same seed -> bit-identical DCI (D %.6f)", d1.disentanglement);
  test_report(!memcmp(s1.matrix, s2.matrix, sizeof(double) * 6) && s1.score == s2.score,
        "determinism: same seed -> identical SAP (%.6f)", s1.score);
  test_report(memcmp(d1.importance, d3.importance, sizeof(double) * 6) != 0, "determinism: another seed -> other draws");
  dci_result_free(&d1), dci_result_free(&d2), dci_result_free(&d3), sap_result_free(&s1), sap_result_free(&s2);
  archive_free(&a);
}

/* ---- the trees on their own --------------------------------------------------------------- */

/* Separable: feature 0 carries the class (4 classes 1 apart, noise 0.1), features 1-2 noise. */
static void gbt_separable(void) {
  enum { N = 400, M = 3 };
  static double x[N * M];
  static int y[N], pred[N];
  for (int i = 0; i < N; i++) {
    y[i] = (int)rng_below(TEST_SEED, 3, i, 0, 4);
    x[i * M + 0] = y[i] + 0.1 * rng_normal(TEST_SEED, 3, i, 1);
    x[i * M + 1] = rng_normal(TEST_SEED, 3, i, 2), x[i * M + 2] = rng_normal(TEST_SEED, 3, i, 3);
  }
  GbtParams p = gbt_default_params();
  Gbt *g;
  double imp[M];
  if (gbt_fit(&g, &p, x, N, M, y) || gbt_predict(g, x, N, pred)) {
    test_report(0, "gbt separable: fit failed");
    return;
  }
  gbt_importances(g, imp);
  int hits = 0;
  for (int i = 0; i < N; i++) hits += pred[i] == y[i];
  printf("gbt separable: train accuracy %.4f, importances %.4f %.4f %.4f\n", (double)hits / N, imp[0], imp[1], imp[2]);
  test_report(hits == N, "gbt separable: train accuracy 1 (%d/%d)", hits, N);
  /* the first stages split feature 0 and remove nearly all the variance of the residuals; the
   * noise features only get the small late corrections */
  test_report(imp[0] > 0.9 && fabs(imp[0] + imp[1] + imp[2] - 1.0) < 1e-12 && imp[1] >= 0 && imp[2] >= 0,
        "gbt separable: importances concentrate on the informative feature (%.4f > 0.9), sum 1", imp[0]);
  gbt_free(g);
}

/* One stump, one stage, checked by hand (the numbers are in the comments). */
static void gbt_stumps(void) {
  GbtParams p = gbt_default_params();
  p.n_estimators = 1, p.max_depth = 1;
  /* binary: x = 1..6 (feature 1 constant), y = 0 0 0 1 0 1. Prior 1/3: F0 = log(1/2).
   * residual -1/3 x3, 2/3, -1/3, 2/3. Best split 3 | 3 (proxy 9 (2/3)^2 = 4 beats 2, 0.5, 3.2),
   * threshold 3.5. Left: sum -1 / sum p(1-p) = 3 * 2/9 -> -1.5; right: 1 / (2/3) -> 1.5.
   * F(x) = -log 2 -+ 0.15. */
  double xb[12] = {1, 7, 2, 7, 3, 7, 4, 7, 5, 7, 6, 7}, F[18], imp[2];
  int yb[6] = {0, 0, 0, 1, 0, 1};
  Gbt *g;
  if (gbt_fit(&g, &p, xb, 6, 2, yb) || gbt_decision_function(g, xb, 6, F)) {
    test_report(0, "stump: fit failed");
    return;
  }
  gbt_importances(g, imp);
  double want_lo = -log(2.0) - 0.15, want_hi = -log(2.0) + 0.15;
  test_report(gbt_num_scores(g) == 1 && fabs(F[0] - want_lo) < 1e-12 && fabs(F[2] - want_lo) < 1e-12 &&
            fabs(F[3] - want_hi) < 1e-12 && fabs(F[5] - want_hi) < 1e-12 && imp[0] == 1.0 && imp[1] == 0.0,
        "stump binary: F(1) %.12f want %.12f, F(6) %.12f want %.12f, importances %.3f %.3f", F[0], want_lo, F[5],
        want_hi, imp[0], imp[1]);
  gbt_free(g);
  /* three classes: x = 1..6, y = 0 0 0 1 1 2; priors 1/2 1/3 1/6, F0 = log prior.
   * class 0: residual +-1/2 split 3|3; leaves (2/3) (3/2) / (3/4) = +-4/3.
   * class 1: residual -1/3 x3, 2/3, 2/3, -1/3: split 3|3 (proxy 4 beats 2, 0.8, 0.5, 0.8);
   *          leaves (2/3) (-1) / (2/3) = -1 and (2/3) (1) / (2/3) = 1.
   * class 2: residual -1/6 x5, 5/6: split 5|1 (proxy 5 beats 2); leaves (2/3)(-5/6)/(25/36) = -0.8
   *          and (2/3)(5/6)/(5/36) = 4. */
  double xm[6] = {1, 2, 3, 4, 5, 6};
  int ym[6] = {0, 0, 0, 1, 1, 2};
  double want[3][3] = {{log(0.5) + 0.4 / 3, log(1.0 / 3) - 0.1, log(1.0 / 6) - 0.08},  /* x = 1 */
                       {log(0.5) - 0.4 / 3, log(1.0 / 3) + 0.1, log(1.0 / 6) - 0.08},  /* x = 4 */
                       {log(0.5) - 0.4 / 3, log(1.0 / 3) + 0.1, log(1.0 / 6) + 0.4}}; /* x = 6 */
  const int at[3] = {0, 3, 5};
  if (gbt_fit(&g, &p, xm, 6, 1, ym) || gbt_decision_function(g, xm, 6, F)) {
    test_report(0, "stump 3 classes: fit failed");
    return;
  }
  double worst = 0.0;
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) worst = fmax(worst, fabs(F[at[r] * 3 + c] - want[r][c]));
  test_report(gbt_num_scores(g) == 3 && worst < 1e-12, "stump 3 classes: leaf values as by hand (largest error %.2e)", worst);
  gbt_free(g);
}

/* The size the brief asks about: n 10000, m 10, K 10, 100 stages (1000 trees). */
static void gbt_timing(void) {
  enum { N = 10000, M = 10 };
  double *x = malloc(sizeof(double) * N * M);
  int *y = malloc(sizeof(int) * N);
  if (!x || !y) return;
  for (int i = 0; i < N; i++) {
    y[i] = (int)rng_below(TEST_SEED, 4, i, 0, 10);
    for (int j = 0; j < M; j++) x[i * M + j] = rng_normal(TEST_SEED, 4, i, j + 1) + (j < 2 ? 0.3 * y[i] : 0.0);
  }
  GbtParams p = gbt_default_params();
  Gbt *g;
  double t0 = seconds();
  int rc = gbt_fit(&g, &p, x, N, M, y);
  double t1 = seconds();
  printf("gbt timing: fit n %d, m %d, 10 classes, 100 stages: %.2f s\n", N, M, t1 - t0);
  test_report(!rc, "gbt timing: fit n 10000, m 10, K 10 in %.2f s", t1 - t0);
  if (!rc) gbt_free(g);
  free(x), free(y);
}

/* Entropy-based scores of hand-made importance matrices. */
static void dci_formulas(void) {
  const double diag[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, uniform[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  const double zero[6] = {0}, half[6] = {0.5, 0, 0.5, 0, 0, 1}; /* [f1 f2] over 3 latents */
  double dd = dci_disentanglement(diag, 3, 3), du = dci_disentanglement(uniform, 3, 3);
  double ch = dci_completeness(half, 3, 2), dz = dci_disentanglement(zero, 3, 2);
  /* 1e-11 floors as in dci.py keep the diagonal a hair below 1 */
  test_report(fabs(dd - 1.0) < 1e-8 && fabs(du) < 1e-12, "formulas: diagonal D %.12f = 1, uniform D %.2e = 0", dd, du);
  double want = 0.5 * (1.0 - log(2.0) / log(3.0)) + 0.5;
  test_report(fabs(ch - want) < 1e-8, "formulas: split column completeness %.6f = %.6f", ch, want);
  test_report(fabs(dz) < 1e-12 && !isnan(dz), "formulas: all-zero R gives D %.2e (no NaN)", dz);
}

/* Degenerate inputs: one class, one latent, non-finite latents. */
static void edge_cases(void) {
  double x[8] = {0.1, 0.4, 0.2, 0.9, 0.3, 0.5, 0.8, 0.7}, F[8];
  int one[8] = {3, 3, 3, 3, 3, 3, 3, 3}, two[8] = {0, 1, 0, 1, 0, 1, 1, 0}, label[8];
  double imp[1];
  GbtParams p = gbt_default_params();
  Gbt *g;
  /* scikit-learn refuses a single class; a constant model is the only answer and gives DCI a
   * zero column instead of a crash */
  int ok = !gbt_fit(&g, &p, x, 8, 1, one) && !gbt_predict(g, x, 8, label);
  if (ok) {
    gbt_importances(g, imp);
    ok = label[0] == 3 && label[7] == 3 && imp[0] == 0.0 && gbt_num_classes(g) == 1 && gbt_num_scores(g) == 0;
    gbt_free(g);
  }
  test_report(ok, "edge: one class -> constant prediction, zero importance");
  x[3] = NAN;
  test_report(gbt_fit(&g, &p, x, 8, 1, two) == -1 && g == NULL, "edge: NaN latent refused");
  x[3] = 1e300; /* beyond float32, where scikit-learn's trees work */
  test_report(gbt_fit(&g, &p, x, 8, 1, two) == -1, "edge: latent beyond float32 refused");
  x[3] = 0.9;
  p.n_estimators = 0; /* no trees: the prior alone */
  ok = !gbt_fit(&g, &p, x, 8, 1, two);
  if (ok) {
    ok = !gbt_decision_function(g, x, 1, F) && fabs(F[0]) < 1e-15; /* balanced classes: log-odds 0 */
    gbt_free(g);
  }
  test_report(ok, "edge: zero stages -> initial log-odds %.1e", ok ? F[0] : NAN);
  /* one latent: DCI defines completeness 1 (the lib divides by log 1), SAP needs two latents */
  DciResult d;
  SapResult s;
  int codes[8] = {0, 1, 0, 1, 0, 1, 1, 0};
  double z[8] = {0.1, 0.9, 0.2, 0.8, 0.1, 0.7, 0.9, 0.3};
  p = gbt_default_params();
  ok = !dci_from_samples(z, codes, 8, z, codes, 8, 1, 1, &p, &d);
  test_report(ok && d.completeness == 1.0 && d.disentanglement == 1.0 && d.informativeness_test == 1.0,
        "edge: one latent, one factor: D %.3f C %.3f I %.3f", ok ? d.disentanglement : NAN, ok ? d.completeness : NAN,
        ok ? d.informativeness_test : NAN);
  if (ok) dci_result_free(&d);
  test_report(sap_from_samples(z, codes, 8, z, codes, 8, 1, 1, 0.01, &s) == -1 && s.matrix == NULL,
        "edge: SAP refuses one latent");
}

int main(void) {
  double t0 = seconds();
  dci_formulas();
  edge_cases();
  gbt_stumps();
  gbt_separable();
  gbt_timing();
  case_identity();
  case_rotation();
  case_noise();
  case_duplicate();
  case_dead();
  determinism();
  printf("total %.1f s\n", seconds() - t0);
  printf("%d passed, %d failed\n", test_passes, test_failures);
  return test_failures ? 1 : 0;
}
