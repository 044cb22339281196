/* Covariance of distributed activations and the statistics read off it (see covstats.h). */
#include "disentangle/covstats.h"

#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>

#include "disentangle/error.h"
#include "disentangle/spectrum.h"

/* Rows centred at a time: bounds the scratch copy to ROWS_PER_BLOCK x p doubles while keeping
 * dsyrk's inner dimension long enough to run at BLAS-3 speed. */
#define ROWS_PER_BLOCK 256

/* Sum over comm with the result bitwise identical on every rank: MPI_Allreduce does not promise
 * that (ranks may add in different orders), and decisions taken on these sums -- which units
 * are dead, hence the order of the matrix handed to the collective eigensolver -- must agree. */
static PetscErrorCode sum_to_all(double *buf, int count, MPI_Comm comm) {
  int rank;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : buf, buf, count, MPI_DOUBLE, MPI_SUM, 0, comm));
  PetscCallMPI(MPI_Bcast(buf, count, MPI_DOUBLE, 0, comm));
  PetscFunctionReturn(0);
}

static PetscErrorCode global_rows(MPI_Comm comm, long n_local, long *n) {
  PetscFunctionBeginUser;
  PetscCheck(n_local >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "covstats: %ld local rows", n_local);
  PetscCallMPI(MPI_Allreduce(&n_local, n, 1, MPI_LONG, MPI_SUM, comm));
  PetscFunctionReturn(0);
}

/* acc[p][p] += X^T X (upper triangle) and acc_sum[p] += column sums of X, X = the rows minus
 * mean, one block of rows at a time. */
static PetscErrorCode accumulate_centred(const double *h, long n_local, int p, const double *mean, double *acc,
                                         double *acc_sum) {
  double *block;
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)ROWS_PER_BLOCK * p, &block));
  for (long start = 0; start < n_local; start += ROWS_PER_BLOCK) {
    const int rows = (int)PetscMin((long)ROWS_PER_BLOCK, n_local - start);
    for (int r = 0; r < rows; r++)
      for (int j = 0; j < p; j++) {
        double x = h[(size_t)(start + r) * p + j] - mean[j];
        block[(size_t)r * p + j] = x, acc_sum[j] += x;
      }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, p, rows, 1.0, block, p, 1.0, acc, p);
  }
  PetscCall(PetscFree(block));
  PetscFunctionReturn(0);
}

PetscErrorCode covstats_covariance(MPI_Comm comm, const double *h_local, long n_local, int p, double *mean, double *cov) {
  long n;
  double *acc; /* [p*p] sum of centred outer products, then [p] sum of centred rows */
  PetscFunctionBeginUser;
  PetscCheck(p >= 1 && (size_t)p * p + p <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "covstats: %d units (1 .. 46340 supported)", p);
  PetscCall(global_rows(comm, n_local, &n));
  DT_INPUT_CHECK(n >= 2, comm, "covariance of %ld sample(s): at least 2 are needed", n);

  /* pass 1: the mean */
  for (int j = 0; j < p; j++) mean[j] = 0;
  for (long r = 0; r < n_local; r++)
    for (int j = 0; j < p; j++) mean[j] += h_local[(size_t)r * p + j];
  PetscCall(sum_to_all(mean, p, comm));
  for (int j = 0; j < p; j++) mean[j] /= (double)n;

  /* pass 2: centred products. Subtracting s s^T / N, s = the sum of the centred rows (zero but
   * for the rounding of the mean), removes the first-order error of that rounding
   * (Chan, Golub & LeVeque's corrected two-pass algorithm). */
  PetscCall(PetscCalloc1((size_t)p * p + p, &acc));
  double *acc_sum = acc + (size_t)p * p;
  PetscCall(accumulate_centred(h_local, n_local, p, mean, acc, acc_sum));
  for (int i = 0; i < p; i++)
    for (int j = 0; j < i; j++) acc[(size_t)i * p + j] = acc[(size_t)j * p + i];
  PetscCall(sum_to_all(acc, p * p + p, comm));
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++)
      cov[(size_t)i * p + j] = (acc[(size_t)i * p + j] - acc_sum[i] * acc_sum[j] / (double)n) / (double)(n - 1);
  /* the correction can push a constant unit's variance a few ulps below zero */
  for (int i = 0; i < p; i++) cov[(size_t)i * p + i] = PetscMax(cov[(size_t)i * p + i], 0.0);
  PetscCall(PetscFree(acc));

  /* identical on every rank, so every rank raises this together */
  for (size_t k = 0; k < (size_t)p * p; k++)
    PetscCheck(isfinite(cov[k]), PETSC_COMM_SELF, PETSC_ERR_FP, "covstats: activations are not finite (unit %zu or %zu)",
               k / p, k % p);
  PetscFunctionReturn(0);
}

PetscErrorCode covstats_range(MPI_Comm comm, const double *h_local, long n_local, int p, double *hmin, double *hmax) {
  long n;
  PetscFunctionBeginUser;
  PetscCall(global_rows(comm, n_local, &n));
  DT_INPUT_CHECK(n >= 1, comm, "range of 0 samples");
  for (int j = 0; j < p; j++) hmin[j] = INFINITY, hmax[j] = -INFINITY;
  for (long r = 0; r < n_local; r++)
    for (int j = 0; j < p; j++) {
      double x = h_local[(size_t)r * p + j];
      hmin[j] = PetscMin(hmin[j], x), hmax[j] = PetscMax(hmax[j], x);
    }
  /* min and max are exact, so a plain allreduce already agrees on every rank */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hmin, p, MPI_DOUBLE, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hmax, p, MPI_DOUBLE, MPI_MAX, comm));
  PetscFunctionReturn(0);
}

void covstats_unit_variance(const double *cov, int p, double *var) {
  for (int i = 0; i < p; i++) var[i] = cov[(size_t)i * p + i];
}

/* Variances at or below this are dead; relative to the layer's largest, so that the verdict
 * does not depend on the activations' scale. 0 when every unit is exactly constant. */
static double dead_threshold(const double *cov, int p) {
  double largest = 0;
  for (int i = 0; i < p; i++) largest = PetscMax(largest, cov[(size_t)i * p + i]);
  return COVSTATS_DEAD_REL * largest;
}

int covstats_live_units(const double *cov, int p, int *live) {
  const double threshold = dead_threshold(cov, p);
  int count = 0;
  for (int i = 0; i < p; i++) count += live[i] = cov[(size_t)i * p + i] > threshold;
  return count;
}

double covstats_mapc(const double *cov, int p, int *live_units) {
  const double threshold = dead_threshold(cov, p);
  double sum = 0;
  long pairs = 0;
  int live = 0;
  for (int i = 0; i < p; i++) {
    const double vi = cov[(size_t)i * p + i];
    if (!(vi > threshold)) continue;
    live++;
    for (int j = i + 1; j < p; j++) {
      const double vj = cov[(size_t)j * p + j];
      if (!(vj > threshold)) continue;
      /* |correlation| <= 1 by Cauchy-Schwarz; the clamp only removes round-off */
      sum += PetscMin(1.0, fabs(cov[(size_t)i * p + j]) / sqrt(vi * vj));
      pairs++;
    }
  }
  if (live_units) *live_units = live;
  return pairs ? sum / (double)pairs : 0.0;
}

/* The paper writes L_Sigma with a 1/p^2 factor on the entrywise norm and, in one place, the same
 * factor on CVR's numerator; we use the plain entrywise L1 norm, so that CVR = 1 means exactly
 * "no off-diagonal covariance" and CVR does not shrink with the layer's width. */
double covstats_cvr(const double *cov, int p) {
  double l1 = 0, trace = 0;
  for (int i = 0; i < p; i++) {
    trace += cov[(size_t)i * p + i];
    for (int j = 0; j < p; j++) l1 += fabs(cov[(size_t)i * p + j]);
  }
  return trace > 0 ? l1 / trace : 1.0;
}

/* Eigenvalues of a covariance are >= 0; what comes out below 0 is round-off of a zero. */
static double total_variance(const double *w, int p) {
  double total = 0;
  for (int i = 0; i < p; i++) total += PetscMax(w[i], 0.0);
  return total;
}

double covstats_tdv(const double *w, int p, int d) {
  const double total = total_variance(w, p);
  double top = 0;
  d = PetscMax(0, PetscMin(d, p));
  for (int i = 0; i < d; i++) top += PetscMax(w[i], 0.0);
  return total > 0 ? top / total : 1.0;
}

/* The target is lowered by a relative 1e-12 so that an exact tie (e.g. 10 equal eigenvalues and
 * share 0.9: 9 of them are exactly 90%) is not lost to the rounding of the partial sums. */
int covstats_dims_for_share(const double *w, int p, double share) {
  const double total = total_variance(w, p), target = share * total * (1 - 1e-12);
  double cumulative = 0;
  if (!(total > 0)) return 0;
  for (int k = 0; k < p; k++) {
    cumulative += PetscMax(w[k], 0.0);
    if (cumulative >= target) return k + 1;
  }
  return p;
}

int covstats_ud90(const double *w, int p) { return covstats_dims_for_share(w, p, COVSTATS_UD_SHARE); }

/* The correlation matrix R = D^-1/2 C D^-1/2 of the m live units, r[m][m]. */
static void live_correlation(const double *cov, int p, const int *live, int m, double *r) {
  int a = 0;
  for (int i = 0; i < p; i++) {
    if (!live[i]) continue;
    int b = 0;
    for (int j = 0; j < p; j++) {
      if (!live[j]) continue;
      const double cii = cov[(size_t)i * p + i], cjj = cov[(size_t)j * p + j];
      r[(size_t)a * m + b] = i == j ? 1.0 : cov[(size_t)i * p + j] / sqrt(cii * cjj);
      b++;
    }
    a++;
  }
}

/* With D = diag(C), log det C = sum_i log C_ii + log det R, so the total correlation is
 * -1/2 log det R = -1/2 sum log(eigenvalues of R). Working on R rather than C avoids taking the
 * difference of two large sums (variances spanning decades) and makes the singularity test
 * scale-free: R counts as singular when its smallest eigenvalue is within m * eps of the largest
 * (the rank tolerance of numpy's matrix_rank), and a singular R means an infinite TC -- the
 * exact value for a Gaussian confined to a subspace -- which we return rather than a huge
 * number made of round-off. */
PetscErrorCode covstats_gaussian_tc(MPI_Comm comm, const double *cov, int p, int distributed_min, double *tc,
                                    int *units_used) {
  int *live, m = 0;
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(p, &live));
  (void)covstats_live_units(cov, p, live);
  /* rank 0's verdict for all: the eigensolver is collective, every rank must pass the same m */
  PetscCallMPI(MPI_Bcast(live, p, MPI_INT, 0, comm));
  for (int i = 0; i < p; i++) m += live[i];
  if (units_used) *units_used = m;
  *tc = 0; /* one live unit or none: nothing to be correlated with */
  if (m >= 2) {
    double *r, *mu, log_det = 0;
    PetscCall(PetscMalloc2((size_t)m * m, &r, m, &mu));
    live_correlation(cov, p, live, m, r);
    PetscCall(spectrum_eigenvalues(comm, r, m, distributed_min, mu));
    if (mu[m - 1] <= m * DBL_EPSILON * mu[0]) *tc = INFINITY;
    else {
      for (int k = 0; k < m; k++) log_det += log(mu[k]);
      *tc = PetscMax(0.0, -0.5 * log_det); /* >= 0 since tr R = m (AM-GM); clamp the round-off */
    }
    PetscCall(PetscFree2(r, mu));
  }
  PetscCall(PetscFree(live));
  PetscFunctionReturn(0);
}

PetscErrorCode covstats_summary(MPI_Comm comm, const double *cov, int p, int d, int distributed_min, CovStats *stats,
                                double *w) {
  double *eigenvalues = w;
  PetscFunctionBeginUser;
  if (!w) PetscCall(PetscMalloc1(p, &eigenvalues));
  PetscCall(spectrum_eigenvalues(comm, cov, p, distributed_min, eigenvalues));
  stats->units = p;
  stats->mapc = covstats_mapc(cov, p, &stats->live_units);
  stats->cvr = covstats_cvr(cov, p);
  stats->tdv_d = PetscMax(0, PetscMin(d, p));
  stats->tdv = covstats_tdv(eigenvalues, p, stats->tdv_d);
  stats->ud90 = covstats_ud90(eigenvalues, p);
  PetscCall(covstats_gaussian_tc(comm, cov, p, distributed_min, &stats->gaussian_tc, NULL));
  if (!w) PetscCall(PetscFree(eigenvalues));
  PetscFunctionReturn(0);
}
