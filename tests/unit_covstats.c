/* The unsupervised layer statistics on data whose answers are known:
 *  - a 4 x 3 data set whose covariance, MAPC and CVR are worked out by hand;
 *  - independent unit-variance units (MAPC ~ 0, CVR ~ 1, TdV(d) ~ d/p, UD90 = ceil(0.9 p));
 *  - data in a d-dimensional subspace (UD90 <= d, TdV(d) = 1, infinite total correlation);
 *  - dead units (left out of MAPC and TC, no NaN anywhere) and exactly correlated pairs.
 * Tolerances on random data come from the sampling distribution of a correlation coefficient:
 * with N samples of independent units, r ~ N(0, 1/N), so E|r| = sqrt(2 / (pi N)). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "disentangle/covstats.h"
#include "disentangle/rng.h"
#include "disentangle/spectrum.h"
#include "testing.h"

#define N_SAMPLES 20000
#define MAX_UNITS 10


/* Everything the header promises, from one call, for the checks below. */
typedef struct {
  double mean[MAX_UNITS], cov[MAX_UNITS * MAX_UNITS], w[MAX_UNITS];
  CovStats s;
  int tc_units;
} Measured;

static PetscErrorCode measure(const double *h, long n, int p, int d, Measured *m) {
  double tc;
  PetscFunctionBeginUser;
  PetscCall(covstats_covariance(PETSC_COMM_WORLD, h, n, p, m->mean, m->cov));
  PetscCall(covstats_summary(PETSC_COMM_WORLD, m->cov, p, d, SPECTRUM_DISTRIBUTED_MIN_DEFAULT, &m->s, m->w));
  PetscCall(covstats_gaussian_tc(PETSC_COMM_WORLD, m->cov, p, SPECTRUM_DISTRIBUTED_MIN_DEFAULT, &tc, &m->tc_units));
  PetscCheck(tc == m->s.gaussian_tc || (isnan(tc) && isnan(m->s.gaussian_tc)), PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "summary and covstats_gaussian_tc disagree");
  PetscFunctionReturn(0);
}

static int stats_finite(const CovStats *s) { return isfinite(s->mapc) && isfinite(s->cvr) && isfinite(s->tdv); }

/* Columns 0 and 1 exactly proportional, column 2 a 0/1 pattern. By hand (deviations from the
 * mean (4, 8, 0.5), divided by N - 1 = 3): C = [20 40 2; 40 80 4; 2 4 1] / 3; correlations
 * r01 = 1, r02 = r12 = 2 / sqrt(20); CVR = (101 + 2 * 46) / 101 = 193 / 101. */
static PetscErrorCode hand_computed(void) {
  const double h[4 * 3] = {1, 2, 0, 3, 6, 1, 5, 10, 0, 7, 14, 1};
  const double want_cov[9] = {20 / 3.0, 40 / 3.0, 2 / 3.0, 40 / 3.0, 80 / 3.0, 4 / 3.0, 2 / 3.0, 4 / 3.0, 1 / 3.0};
  const double want_mean[3] = {4, 8, 0.5}, want_min[3] = {1, 2, 0}, want_max[3] = {7, 14, 1};
  double mean[3], cov[9], hmin[3], hmax[3], err = 0, range_err = 0;
  PetscFunctionBeginUser;
  PetscCall(covstats_covariance(PETSC_COMM_WORLD, h, 4, 3, mean, cov));
  for (int k = 0; k < 9; k++) err = fmax(err, fabs(cov[k] - want_cov[k]) / want_cov[k]);
  for (int j = 0; j < 3; j++) err = fmax(err, fabs(mean[j] - want_mean[j]) / want_mean[j]);
  test_report(err < 1e-15, "hand 4x3: mean and covariance, max relative error %.1e", err);
  double mapc = covstats_mapc(cov, 3, NULL), want_mapc = (1 + 4 / sqrt(20.0)) / 3, cvr = covstats_cvr(cov, 3);
  test_report(fabs(mapc - want_mapc) < 1e-15, "hand 4x3: MAPC %.15f, by hand %.15f", mapc, want_mapc);
  test_report(fabs(cvr - 193 / 101.0) < 1e-15, "hand 4x3: CVR %.15f, by hand 193/101 = %.15f", cvr, 193 / 101.0);
  PetscCall(covstats_range(PETSC_COMM_WORLD, h, 4, 3, hmin, hmax));
  for (int j = 0; j < 3; j++) range_err += fabs(hmin[j] - want_min[j]) + fabs(hmax[j] - want_max[j]);
  test_report(range_err == 0, "hand 4x3: per-unit min/max exact");

  /* the same data shifted by 1e6 (and 1e-3 units of noise that the shift must not drown): the
   * two-pass covariance must not change beyond round-off of the data, where E[x^2] - E[x]^2
   * would lose ~12 digits */
  double shifted[200 * 3], base[200 * 3], cov_base[9], cov_shifted[9], shift_err = 0;
  for (int k = 0; k < 200 * 3; k++) base[k] = 1e-3 * rng_normal(11, 1, k, 0), shifted[k] = base[k] + 1e6;
  PetscCall(covstats_covariance(PETSC_COMM_WORLD, base, 200, 3, mean, cov_base));
  PetscCall(covstats_covariance(PETSC_COMM_WORLD, shifted, 200, 3, mean, cov_shifted));
  for (int k = 0; k < 9; k++) shift_err = fmax(shift_err, fabs(cov_shifted[k] - cov_base[k]) / cov_base[0]);
  /* the data themselves are rounded at 1e6 * 2^-53 ~ 1e-10, i.e. 1e-7 relative to sd 1e-3 */
  test_report(shift_err < 1e-6, "shift by 1e6 (sd 1e-3): covariance changes by %.1e of the variance", shift_err);
  PetscFunctionReturn(0);
}

static void independent_data(double *h, long n, int p, uint64_t seed) {
  for (long r = 0; r < n; r++)
    for (int j = 0; j < p; j++) h[r * p + j] = rng_normal(seed, 2, r, j);
}

/* Sample eigenvalues of white data fill [1 - 2 sqrt(p/N), 1 + 2 sqrt(p/N)] (Marchenko-Pastur):
 * +-4.5% at p = 10, N = 20000. Hence:
 *  - UD90: with all eigenvalues near 1, the top k hold ~k/p of the variance, so UD90 =
 *    ceil(0.9 p), not p: p = 8 for p = 8 (the top 7 hold 1 - lambda_min / total, at most
 *    1 - 0.955 / (8 * 1.045) = 0.886 < 0.9), but p - 1 = 9 for p = 10 (the top 9 hold
 *    1 - lambda_min / total > 0.9 since lambda_min is below the mean; the top 8 at most
 *    8 * 1.045 / (10 * 0.955) = 0.875).
 *  - MAPC: E|r| = sqrt(2 / (pi N)) = 0.0056; the mean over 28 or 45 pairs is within 0.001 of it,
 *    so 0.02 is a safe ceiling and still far below any real correlation.
 *  - CVR - 1 = sum_{i != j} |C_ij| / tr C ~ (p - 1) E|r| (0.04 at p = 8, 0.05 at p = 10): we
 *    require 1 <= CVR < 1 + 2 (p - 1) E|r|.
 *  - TdV(d) - d/p is at most d/p times the 4.5% spread: |TdV(d) - d/p| < 0.05.
 *  - TC ~ 1/2 sum_{i<j} r_ij^2, mean p (p - 1) / (4 N): below 5 times that. */
static PetscErrorCode independent_units(int p) {
  static double h[N_SAMPLES * MAX_UNITS];
  Measured m;
  const double expected_abs_r = sqrt(2 / (M_PI * N_SAMPLES));
  PetscFunctionBeginUser;
  independent_data(h, N_SAMPLES, p, 100 + p);
  PetscCall(measure(h, N_SAMPLES, p, p / 2, &m));
  const int want_ud90 = (int)ceil(0.9 * p - 1e-9);
  test_report(m.s.mapc < 0.02, "independent p=%d: MAPC %.4f (E|r| = %.4f, ceiling 0.02)", p, m.s.mapc, expected_abs_r);
  test_report(m.s.cvr >= 1 && m.s.cvr < 1 + 2 * (p - 1) * expected_abs_r, "independent p=%d: CVR %.4f (expected ~%.4f, < %.4f)", p,
        m.s.cvr, 1 + (p - 1) * expected_abs_r, 1 + 2 * (p - 1) * expected_abs_r);
  test_report(m.s.ud90 == want_ud90, "independent p=%d: UD90 %d, want ceil(0.9 p) = %d", p, m.s.ud90, want_ud90);
  double worst = 0;
  for (int d = 0; d <= p; d++) worst = fmax(worst, fabs(covstats_tdv(m.w, p, d) - (double)d / p));
  test_report(worst < 0.05, "independent p=%d: max_d |TdV(d) - d/p| = %.4f (< 0.05); TdV(%d) = %.4f", p, worst, m.s.tdv_d, m.s.tdv);
  const double tc_scale = p * (p - 1) / (4.0 * N_SAMPLES);
  test_report(m.s.gaussian_tc >= 0 && m.s.gaussian_tc < 5 * tc_scale && m.tc_units == p,
        "independent p=%d: Gaussian TC %.2e (~%.2e expected) over %d units", p, m.s.gaussian_tc, tc_scale, m.tc_units);
  test_report(m.s.live_units == p && m.w[p - 1] > 0.9 && m.w[0] < 1.1, "independent p=%d: eigenvalues in [%.4f, %.4f]", p,
        m.w[p - 1], m.w[0]);
  PetscFunctionReturn(0);
}

/* H = Z A, Z [N][d] and A [d][p] Gaussian: rank d. Then with noise of sd 1e-5 added: the null
 * eigenvalues of the correlation matrix rise to ~1e-11, far above round-off, so TC is large
 * (~ 1/2 (p - d) log 1e11 ~ 90) but finite. (Rounding H to float is not enough: its noise,
 * ~2e-8 relative, gives eigenvalues ~3e-16, below what double arithmetic can tell from 0, and
 * TC stays +inf.) */
static PetscErrorCode subspace_data(int p, int d) {
  static double h[N_SAMPLES * MAX_UNITS];
  double a[MAX_UNITS * MAX_UNITS];
  Measured m;
  PetscFunctionBeginUser;
  for (int k = 0; k < d * p; k++) a[k] = rng_normal(7, 3, k, 0);
  for (long r = 0; r < N_SAMPLES; r++)
    for (int j = 0; j < p; j++) {
      double x = 0;
      for (int k = 0; k < d; k++) x += rng_normal(7, 4, r, k) * a[k * p + j];
      h[r * p + j] = x;
    }
  PetscCall(measure(h, N_SAMPLES, p, d, &m));
  test_report(m.s.ud90 <= d, "subspace d=%d of p=%d: UD90 %d <= d", d, p, m.s.ud90);
  test_report(fabs(m.s.tdv - 1) < 1e-12, "subspace d=%d of p=%d: TdV(d) = 1 - %.1e", d, p, 1 - m.s.tdv);
  test_report(isinf(m.s.gaussian_tc) && m.s.gaussian_tc > 0 && m.tc_units == p && stats_finite(&m.s),
        "subspace d=%d of p=%d: Gaussian TC %g over %d units (singular: +inf), other statistics finite", d, p,
        m.s.gaussian_tc, m.tc_units);
  for (long k = 0; k < (long)N_SAMPLES * p; k++) h[k] += 1e-5 * rng_normal(7, 5, k, 0);
  PetscCall(measure(h, N_SAMPLES, p, d, &m));
  test_report(isfinite(m.s.gaussian_tc) && m.s.gaussian_tc > 50 && fabs(m.s.tdv - 1) < 1e-9 && m.s.ud90 <= d,
        "subspace + noise 1e-5: Gaussian TC %.2f (large, finite), TdV(d) = 1 - %.1e, UD90 %d", m.s.gaussian_tc, 1 - m.s.tdv,
        m.s.ud90);
  PetscFunctionReturn(0);
}

/* Independent units with unit 3 constant (0.7: its centred values are round-off, not zero) and
 * unit 5 exactly 0. They must drop out of MAPC and TC, which then equal the statistics of the
 * four live units alone; nothing may turn into NaN. */
static PetscErrorCode dead_units(void) {
  enum { P = 6, LIVE = 4 };
  static double h[N_SAMPLES * P], h_live[N_SAMPLES * LIVE];
  Measured m, m_live;
  PetscFunctionBeginUser;
  independent_data(h, N_SAMPLES, P, 31);
  for (long r = 0; r < N_SAMPLES; r++) {
    h[r * P + 3] = 0.7, h[r * P + 5] = 0.0;
    for (int j = 0, k = 0; j < P; j++)
      if (j != 3 && j != 5) h_live[r * LIVE + k++] = h[r * P + j];
  }
  PetscCall(measure(h, N_SAMPLES, P, 2, &m));
  PetscCall(measure(h_live, N_SAMPLES, LIVE, 2, &m_live));
  test_report(m.s.live_units == LIVE && m.tc_units == LIVE, "dead units: %d live of %d for MAPC, %d for TC", m.s.live_units, P,
        m.tc_units);
  test_report(stats_finite(&m.s) && !isnan(m.s.gaussian_tc), "dead units: no NaN (MAPC %.4f CVR %.4f TdV %.4f TC %.2e UD90 %d)",
        m.s.mapc, m.s.cvr, m.s.tdv, m.s.gaussian_tc, m.s.ud90);
  test_report(fabs(m.s.mapc - m_live.s.mapc) < 1e-14 && fabs(m.s.gaussian_tc - m_live.s.gaussian_tc) < 1e-12,
        "dead units: MAPC %.6f and TC %.3e equal those of the live units alone (%.6f, %.3e)", m.s.mapc, m.s.gaussian_tc,
        m_live.s.mapc, m_live.s.gaussian_tc);
  test_report(m.s.ud90 == m_live.s.ud90 && fabs(m.s.tdv - m_live.s.tdv) < 1e-12 && fabs(m.s.cvr - m_live.s.cvr) < 1e-12,
        "dead units: UD90 %d, TdV(2) %.4f, CVR %.4f unchanged by the dead units", m.s.ud90, m.s.tdv, m.s.cvr);

  /* every unit dead: the documented values for a layer with no variance */
  for (long r = 0; r < N_SAMPLES; r++) h[r * 3] = 1, h[r * 3 + 1] = 2, h[r * 3 + 2] = -3;
  PetscCall(measure(h, N_SAMPLES, 3, 1, &m));
  test_report(m.s.live_units == 0 && m.s.mapc == 0 && m.s.cvr == 1 && m.s.tdv == 1 && m.s.ud90 == 0 && m.s.gaussian_tc == 0,
        "all units dead: MAPC %g CVR %g TdV %g UD90 %d TC %g over %d live units", m.s.mapc, m.s.cvr, m.s.tdv, m.s.ud90,
        m.s.gaussian_tc, m.s.live_units);
  PetscFunctionReturn(0);
}

/* y = -2.5 x + 3 exactly: |correlation| 1, so MAPC = 1 for the pair; C = var(x) [1 -2.5; -2.5
 * 6.25] gives CVR = (1 + 6.25 + 5) / 7.25 whatever var(x); the pair is singular (TC = +inf).
 * Among 8 other independent units the pair adds 1 to MAPC's sum of 45 pairs. */
static PetscErrorCode correlated_pair(void) {
  static double h[N_SAMPLES * MAX_UNITS];
  Measured m;
  PetscFunctionBeginUser;
  for (long r = 0; r < N_SAMPLES; r++) {
    double x = rng_normal(41, 5, r, 0);
    h[r * 2] = x, h[r * 2 + 1] = -2.5 * x + 3;
  }
  PetscCall(measure(h, N_SAMPLES, 2, 1, &m));
  test_report(fabs(m.s.mapc - 1) < 1e-12, "correlated pair: MAPC = 1 - %.1e", 1 - m.s.mapc);
  test_report(fabs(m.s.cvr - 12.25 / 7.25) < 1e-12, "correlated pair: CVR %.12f, want 12.25/7.25 = %.12f", m.s.cvr, 12.25 / 7.25);
  test_report(isinf(m.s.gaussian_tc) && m.s.ud90 == 1 && fabs(m.s.tdv - 1) < 1e-12, "correlated pair: TC %g, UD90 %d, TdV(1) %.12f",
        m.s.gaussian_tc, m.s.ud90, m.s.tdv);

  const int p = MAX_UNITS;
  independent_data(h, N_SAMPLES, p, 43);
  for (long r = 0; r < N_SAMPLES; r++) h[r * p + 7] = 3 * h[r * p + 0];
  PetscCall(measure(h, N_SAMPLES, p, p, &m));
  const double floor = 1.0 / 45, ceiling = floor + 0.02;
  test_report(m.s.mapc > floor && m.s.mapc < ceiling, "pair among %d independent units: MAPC %.4f in (1/45, 1/45 + 0.02)", p,
        m.s.mapc);
  test_report(isinf(m.s.gaussian_tc), "pair among %d independent units: TC %g", p, m.s.gaussian_tc);
  PetscFunctionReturn(0);
}

/* Fewer than 2 samples is the user's problem (an input error), not a division by zero. */
static PetscErrorCode too_few_samples(void) {
  double h[3] = {1, 2, 3}, mean[3], cov[9];
  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  PetscErrorCode ierr = covstats_covariance(PETSC_COMM_WORLD, h, 1, 3, mean, cov);
  PetscCall(PetscPopErrorHandler());
  test_report(ierr == PETSC_ERR_USER_INPUT, "one sample: input error %d (want %d)", (int)ierr, PETSC_ERR_USER_INPUT);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(hand_computed());
  PetscCall(independent_units(8));
  PetscCall(independent_units(10));
  PetscCall(subspace_data(MAX_UNITS, 3));
  PetscCall(dead_units());
  PetscCall(correlated_pair());
  PetscCall(too_few_samples());
  printf(test_failures ? "FAILED: %d test_report(s)\n" : "PASS unit_covstats (%d failures)\n", test_failures);
  PetscCall(PetscFinalize());
  return test_failures ? 1 : 0;
}
