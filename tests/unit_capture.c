/* What eval adds to the library's scores, on constructed latents whose answer is known: the
 * disjoint train/test split, scores over the active latents only (a dead latent beside clean
 * ones: the *_active scores ARE the clean scores, bit for bit), continuous factors (SAP as R^2),
 * normalised modularity, and the factor-capture matrix (eta^2) with its clean/not flags.
 *
 * Archive: a full grid of two factors, f0 with 10 values and f1 with 6 (scaled to [0, 1]), each
 * combination 5 times: n = 300. Latents (tiny = N(0, 0.001^2) noise, far below the spacing 1/9):
 *   identity   z = (f0, f1) + tiny
 *   rotation   z = R45 (f0, f1) + tiny
 *   duplicate  z = (f0, f0, f1) + tiny (independent noise on the copies)
 *   dead       z = (f0, f1) + tiny, then 0.5 + 1e-4 noise: a switched-off latent that MIG bins
 *              over its own tiny range
 * and a beam-like grid: a continuous factor (120 values 0.200 .. 0.795) x a discrete one (3
 * values), once each, n = 360, z = (c, d) + tiny. Sample counts are small, so this runs in seconds. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disentangle/dci.h"
#include "disentangle/factors.h"
#include "disentangle/rng.h"
#include "disentangle/scores.h"

static int failures, checks;

static void check(int ok, const char *what, double value) {
  checks++, failures += !ok;
  printf("%s %-64s %.6f\n", ok ? "PASS" : "FAIL", what, value);
}

static double tiny(int i, int j) { return 1e-3 * rng_normal(21, 2, i, j); }

/* ---- the split ------------------------------------------------------------------------------ */

static void split_cases(void) {
  enum { N = 1000 };
  static int train[N], test[N], train2[N], test2[N], seen[N];
  int ntr, nte, ntr2, nte2;
  if (factors_split(N, 1.0 / 3, 5, train, &ntr, test, &nte) || factors_split(N, 1.0 / 3, 5, train2, &ntr2, test2, &nte2)) {
    check(0, "split: out of memory", 0);
    return;
  }
  check(ntr == 667 && nte == 333, "split: 1000 rows, share 1/3 -> 667 train, 333 test", nte);
  memset(seen, 0, sizeof seen);
  int ordered = 1;
  for (int i = 0; i < ntr; i++) seen[train[i]] |= 1, ordered &= i == 0 || train[i] > train[i - 1];
  for (int i = 0; i < nte; i++) seen[test[i]] |= 2, ordered &= i == 0 || test[i] > test[i - 1];
  int both = 0, none = 0;
  for (int i = 0; i < N; i++) both += seen[i] == 3, none += seen[i] == 0;
  check(both == 0, "split: no test row in training", both);
  check(none == 0 && ordered, "split: every row in one part, each part in row order", none);
  check(!memcmp(train, train2, sizeof(int) * ntr) && !memcmp(test, test2, sizeof(int) * nte), "split: same seed, same split", 0);
  factors_split(N, 1.0 / 3, 6, train2, &ntr2, test2, &nte2);
  check(memcmp(test, test2, sizeof(int) * nte) != 0, "split: another seed, another split", 0);
  factors_split(2, 0.001, 5, train2, &ntr2, test2, &nte2);
  check(ntr2 == 1 && nte2 == 1, "split: 2 rows keep one in each part", nte2);
}

/* ---- fixtures ------------------------------------------------------------------------------- */

typedef enum { IDENTITY, ROTATION, DUPLICATE, DEAD, BEAM } Kind;

typedef struct {
  int n, m, k;
  double *factors, *z;
  FactorData fd;
} Fixture;

static int fixture_make(Fixture *fx, Kind kind, const int *kinds) {
  const int beam = kind == BEAM;
  fx->k = 2;
  fx->n = beam ? 360 : 300;
  fx->m = kind == DUPLICATE || kind == DEAD ? 3 : 2;
  fx->factors = malloc(sizeof(double) * fx->n * fx->k), fx->z = malloc(sizeof(double) * fx->n * fx->m);
  if (!fx->factors || !fx->z) return -1;
  for (int i = 0; i < fx->n; i++) {
    double *f = fx->factors + i * 2, *z = fx->z + i * fx->m;
    if (beam) f[0] = 0.2 + 0.005 * (i % 120), f[1] = 10 + 5 * (i / 120);
    else f[0] = (i % 10) / 9.0, f[1] = (i / 10 % 6) / 5.0;
    const double r = sqrt(0.5);
    switch (kind) {
    case ROTATION: z[0] = r * (f[0] + f[1]) + tiny(i, 0), z[1] = r * (f[1] - f[0]) + tiny(i, 1); break;
    case DUPLICATE: z[0] = f[0] + tiny(i, 0), z[1] = f[0] + tiny(i, 2), z[2] = f[1] + tiny(i, 1); break;
    default: /* identity, beam and dead: the live latents; dead adds its switched-off one */
      z[0] = f[0] + tiny(i, 0), z[1] = f[1] + tiny(i, 1);
      if (kind == DEAD) z[2] = 0.5 + 0.1 * tiny(i, 2);
    }
  }
  return factors_create(&fx->fd, fx->z, fx->n, fx->m, fx->factors, fx->k, 64, 20, kinds);
}

static void fixture_free(Fixture *fx) {
  factors_free(&fx->fd);
  free(fx->factors), free(fx->z);
}

/* ---- every score over the split parts, as eval computes them ---------------------------------- */

enum { S_BVAE, S_NASH, S_FVAE, S_MIG, S_MOD, S_MODN, S_EXPL, S_DCI_D, S_DCI_C, S_DCI_I, S_SAP, NSCORES };
static const char *const SCORE_NAME[NSCORES] = {"BetaVAE", "NashAE BetaVAE", "FactorVAE", "MIG", "modularity",
                                                "normalised modularity", "explicitness", "DCI disentanglement",
                                                "DCI completeness", "DCI informativeness", "SAP"};

/* Latent columns cols[ncols] (NULL: all) of the fixture, split by seed 1 (test share 1/3). */
static int scores_of(const Fixture *fx, const int *cols, int ncols, double *s) {
  ScoreParams p = scores_default_params();
  p.beta_vae.num_train = 600, p.beta_vae.num_eval = 300;
  p.nash.iterations = 1000, p.nash.num_eval = 300;
  p.factor_vae.num_train = 600, p.factor_vae.num_eval = 300, p.factor_vae.num_variance_estimate = 1000;
  p.mig.num_train = p.modexpl.num_train = 1000, p.modexpl.num_test = 300;
  DciParams dp = dci_default_params();
  SapParams sp = sap_default_params();
  dp.num_train = sp.num_train = 500, dp.num_test = sp.num_test = 200;
  dp.gbt.n_estimators = 20;
  int *rows = malloc(sizeof(int) * fx->n), *train = malloc(sizeof(int) * fx->n), *test = malloc(sizeof(int) * fx->n);
  int ntr, nte, rc = -1;
  FactorData full = {0}, tr = {0}, te = {0};
  AccuracyPair bv;
  FactorVaeResult fv;
  ExplicitnessResult ex;
  DciResult dci = {0};
  SapResult sap = {0};
  if (!rows || !train || !test) goto done;
  for (int i = 0; i < fx->n; i++) rows[i] = i;
  if (factors_split(fx->n, 1.0 / 3, 1, train, &ntr, test, &nte) || factors_subset(&fx->fd, rows, fx->n, cols, ncols, &full) ||
      factors_subset(&fx->fd, train, ntr, cols, ncols, &tr) || factors_subset(&fx->fd, test, nte, cols, ncols, &te))
    goto done;
  if (score_beta_vae(&tr, &te, &p.beta_vae, 1, &bv) || score_beta_vae_nashae(&tr, &te, &p.nash, 1, &s[S_NASH]) ||
      score_factor_vae(&tr, &te, &p.factor_vae, 1, &fv) || score_mig(&full, &p.mig, 1, &s[S_MIG]) ||
      score_modularity(&full, &p.modexpl, 1, &s[S_MOD], &s[S_MODN]) || score_explicitness(&tr, &te, &p.modexpl, 1, &ex) ||
      dci_compute(&tr, &te, &dp, 1, &dci) || (tr.m >= 2 && sap_compute(&tr, &te, &sp, 1, &sap)))
    goto done;
  s[S_BVAE] = bv.eval_accuracy, s[S_FVAE] = fv.eval_accuracy, s[S_EXPL] = ex.test;
  s[S_DCI_D] = dci.disentanglement, s[S_DCI_C] = dci.completeness, s[S_DCI_I] = dci.informativeness_test;
  s[S_SAP] = tr.m >= 2 ? sap.score : NAN;
  rc = 0;
done:
  factors_free(&full), factors_free(&tr), factors_free(&te);
  dci_result_free(&dci), sap_result_free(&sap);
  free(rows), free(train), free(test);
  return rc;
}

static void print_scores(const char *name, const double *s) {
  printf("  %-22s", name);
  for (int i = 0; i < NSCORES; i++) printf(" %.4f", s[i]);
  printf("\n");
}

/* A dead latent beside clean ones: over the active latents, every score equals the clean
 * model's to the last bit (same latents, same draws); over all latents, some do not. */
static void dead_latent_cases(void) {
  Fixture id, dead;
  double clean[NSCORES], active[NSCORES], all[NSCORES];
  const int cols[2] = {0, 1};
  if (fixture_make(&id, IDENTITY, NULL) || fixture_make(&dead, DEAD, NULL) || scores_of(&id, NULL, 0, clean) ||
      scores_of(&dead, cols, 2, active) || scores_of(&dead, NULL, 0, all)) {
    check(0, "dead latent: out of memory", 0);
    return;
  }
  printf("  scores: BVAE NashBVAE FVAE MIG mod mod_n expl DCI_D DCI_C DCI_I SAP\n");
  print_scores("clean (f0, f1)", clean), print_scores("dead, active latents", active), print_scores("dead, all latents", all);
  for (int i = 0; i < NSCORES; i++) {
    char what[96];
    snprintf(what, sizeof what, "dead beside clean: %s_active == clean (bitwise)", SCORE_NAME[i]);
    check(active[i] == clean[i], what, active[i] - clean[i]);
  }
  /* over all latents the dead one counts: MIG bins it over its own tiny range, so its MI
   * (estimator noise) becomes the runner-up of every factor's gap */
  check(all[S_MIG] < clean[S_MIG] - 0.05, "dead beside clean: all-latent MIG below clean", all[S_MIG]);
  check(clean[S_MIG] > 0.9 && clean[S_DCI_D] > 0.9 && clean[S_DCI_I] > 0.95, "clean: MIG, DCI high", clean[S_MIG]);
  /* capture: eta^2 of the dead latent is noise; it is inactive, so it can never count */
  double eta2[6];
  int by[2], act[3] = {1, 1, 0};
  scores_eta2(&dead.fd, eta2);
  int n = scores_capture(eta2, act, 3, 2, by);
  check(n == 2 && by[0] == 0 && by[1] == 1, "dead beside clean: both factors captured, by z0 and z1", n);
  fixture_free(&id), fixture_free(&dead);
}

/* ---- factor capture -------------------------------------------------------------------------- */

static void capture_cases(void) {
  /* hand-made: a latent equal to the factor's code has eta^2 1; one alternating within every
   * group has 0 */
  double zf[8] = {0, 0, 1, 1, 0, 1, 0, 1}, f[4] = {0, 0, 1, 1}, z[8], eta2[2];
  for (int i = 0; i < 4; i++) z[2 * i] = zf[i], z[2 * i + 1] = zf[4 + i];
  FactorData fd;
  if (factors_create(&fd, z, 4, 2, f, 1, 64, 20, NULL) == 0) {
    scores_eta2(&fd, eta2);
    check(fabs(eta2[0] - 1) < 1e-15 && eta2[1] == 0, "eta^2 of a copy of the factor = 1, of a balanced alternation = 0",
          eta2[0]);
    factors_free(&fd);
  }
  const char *names[] = {"identity", "rotation", "duplicate"};
  const int want[] = {2, 0, 2};
  for (Kind kind = IDENTITY; kind <= DUPLICATE; kind++) {
    Fixture fx;
    double e[6];
    int by[2];
    if (fixture_make(&fx, kind, NULL)) return;
    scores_eta2(&fx.fd, e);
    const int n = scores_capture(e, NULL, fx.m, 2, by);
    printf("  %-9s eta^2:", names[kind]);
    for (int j = 0; j < fx.m; j++) printf("  z%d (%.3f, %.3f)", j, e[2 * j], e[2 * j + 1]);
    printf("\n");
    char what[96];
    snprintf(what, sizeof what, "%s: %d factor(s) captured cleanly", names[kind], want[kind]);
    check(n == want[kind], what, n);
    if (kind == IDENTITY) check(e[0] > 0.99 && e[3] > 0.99 && e[1] < 0.01 && e[2] < 0.01, "identity: eta^2 ~ I", e[0]);
    /* R45: each latent's variance splits between the two factors by their variances (f0's
     * 10 values and f1's 6 have nearly the same variance on [0, 1]) */
    if (kind == ROTATION) check(fabs(e[0] - 0.5) < 0.05 && fabs(e[1] - 0.5) < 0.05, "rotation: eta^2 ~ 1/2 each", e[0]);
    if (kind == DUPLICATE) check(by[0] == 0 && by[1] == 2, "duplicate: f0 by the first copy, f1 by z2", by[0]);
    fixture_free(&fx);
  }
}

/* ---- continuous factors ------------------------------------------------------------------------ */

/* SAP's gap of factor f from the score matrix. */
static double sap_gap(const SapResult *s, int f) {
  double top = -1, second = -1;
  for (int j = 0; j < s->m; j++) {
    const double v = s->matrix[j * s->k + f];
    if (v > top) second = top, top = v;
    else if (v > second) second = v;
  }
  return top - second;
}

static void continuous_cases(void) {
  const int as_classes[2] = {FACTOR_DISCRETE, FACTOR_AUTO};
  Fixture c, d;
  if (fixture_make(&c, BEAM, NULL) || fixture_make(&d, BEAM, as_classes)) return;
  check(c.fd.continuous[0] == 1 && c.fd.continuous[1] == 0 && c.fd.ncodes[0] == 20 && c.fd.ncodes[1] == 3,
        "120 values: continuous (20 bins); 3 values: discrete", c.fd.ncodes[0]);
  check(d.fd.continuous[0] == 0 && d.fd.ncodes[0] == 120, "-factor_kinds discrete keeps the 120 values", d.fd.ncodes[0]);
  SapParams sp = sap_default_params();
  sp.num_train = 1000, sp.num_test = 500;
  SapResult sc = {0}, sd = {0};
  if (sap_compute(&c.fd, &c.fd, &sp, 1, &sc) || sap_compute(&d.fd, &d.fd, &sp, 1, &sd)) {
    check(0, "continuous: out of memory", 0);
    return;
  }
  printf("  continuous factor encoded linearly: SAP gap %.4f as R^2, %.4f as 120 classes; SAP %.4f / %.4f\n",
         sap_gap(&sc, 0), sap_gap(&sd, 0), sc.score, sd.score);
  check(sap_gap(&sc, 0) > 0.99, "continuous, linear latent: SAP's R^2 gap near 1", sap_gap(&sc, 0));
  check(sap_gap(&sd, 0) < 0.3, "the same as 120 classes: a 1-D linear classifier's gap is small", sap_gap(&sd, 0));
  /* the 3-valued factor stays a classification: one-vs-rest lines on one feature cannot cut out
   * the middle value, so its own latent gets ~2/3 right, the other latent chance (1/3): ~1/3 */
  check(fabs(sap_gap(&sc, 1) - 1.0 / 3) < 0.1, "discrete 3-valued factor: classification gap ~1/3", sap_gap(&sc, 1));
  /* R^2 is invariant to an affine map of the latent */
  for (int i = 0; i < c.n; i++) c.z[i * 2] = 5 - 40 * c.z[i * 2];
  SapResult sa = {0};
  if (sap_compute(&c.fd, &c.fd, &sp, 1, &sa) == 0)
    check(fabs(sap_gap(&sa, 0) - sap_gap(&sc, 0)) < 1e-9, "continuous: R^2 unchanged by z -> 5 - 40 z", sap_gap(&sa, 0));
  sap_result_free(&sa), sap_result_free(&sc), sap_result_free(&sd);
  /* normalised modularity: MI / H. A latent with MI 2 of a factor of entropy 4 and ALL of a
   * factor of entropy 0.5 looks modular on raw MI (the many-valued factor dominates), and is
   * not once each MI is a share of its factor's entropy. */
  const double mi[2] = {2.0, 0.5}, h[2] = {4.0, 0.5}, mn[2] = {mi[0] / h[0], mi[1] / h[1]};
  const double raw = scores_modularity_from_mi(mi, 1, 2), norm = scores_modularity_from_mi(mn, 1, 2);
  check(fabs(raw - 0.9375) < 1e-12 && fabs(norm - 0.75) < 1e-12,
        "modularity of MI (2, 0.5), H (4, 0.5): raw 15/16, normalised 3/4", norm);
  fixture_free(&c), fixture_free(&d);
}

int main(void) {
  const clock_t start = clock();
  split_cases();
  capture_cases();
  dead_latent_cases();
  continuous_cases();
  printf("%d passed, %d failed (%.1f s)\n", checks - failures, failures, (double)(clock() - start) / CLOCKS_PER_SEC);
  return failures != 0 || checks == 0;
}
