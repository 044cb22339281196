/* Symmetric eigenvalues on 1, 2 and 3 ranks: the ScaLAPACK path and the LAPACK path against
 * each other and against spectra known in advance:
 *  - Q diag(lambda) Q^T with Q orthogonal (QR of a seeded Gaussian matrix), lambda chosen
 *    (negative, clustered and a triple eigenvalue included);
 *  - the tridiagonal Toeplitz matrix tridiag(-1, 2, -1), eigenvalues 2 - 2 cos(k pi / (n + 1)).
 * Also the distributed side of covstats, which feeds this solver: the covariance of rows spread
 * over the ranks (unevenly, some ranks possibly empty) against the one-rank covariance.
 * Every check is collective and printed once as a PASS/FAIL line; the 1000 x 1000 timings of
 * both paths are printed too. Options: -n (default 1000), -repeats (timing, default 3). */
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "disentangle/covstats.h"
#include "disentangle/rng.h"
#include "disentangle/spectrum.h"

extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work, const int *lwork,
                    int *info);
extern void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau,
                    double *work, const int *lwork, int *info);

static int failures = 0;

/* A collective check: passes only if it passes on every rank; rank 0 prints the verdict. */
static void check(MPI_Comm comm, int ok, const char *fmt, ...) {
  int rank, all_ok;
  MPI_Comm_rank(comm, &rank);
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  failures += !all_ok;
  if (rank == 0) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", all_ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
  }
}

/* max_i |x_i - y_i| / max_i |y_i| */
static double relative_gap(const double *x, const double *y, int n) {
  double gap = 0, scale = 0;
  for (int i = 0; i < n; i++) gap = fmax(gap, fabs(x[i] - y[i])), scale = fmax(scale, fabs(y[i]));
  return scale > 0 ? gap / scale : gap;
}

static int is_descending(const double *w, int n) {
  for (int i = 1; i < n; i++)
    if (w[i] > w[i - 1]) return 0;
  return 1;
}

/* The known spectrum of the dense test matrix, descending: a quadratic ramp over [-1, 9] with a
 * triple eigenvalue 3 and a tight cluster near 7, which exercise the iteration's deflation. */
static void chosen_spectrum(int n, double *lambda) {
  for (int k = 0; k < n; k++) {
    double t = n > 1 ? (double)k / (n - 1) : 0;
    lambda[k] = 10 * t * t - 1;
  }
  if (n >= 8) {
    lambda[1] = lambda[2] = lambda[3] = 3.0;
    lambda[4] = 7.0, lambda[5] = 7.0 + 1e-9, lambda[6] = 7.0 - 1e-9;
  }
  for (int i = 0; i < n; i++) /* insertion sort, descending: n is small enough */
    for (int j = i; j > 0 && lambda[j] > lambda[j - 1]; j--) {
      double t = lambda[j];
      lambda[j] = lambda[j - 1], lambda[j - 1] = t;
    }
}

/* a = Q diag(lambda) Q^T, exactly symmetric, Q from the QR factorisation of a Gaussian matrix. */
static PetscErrorCode dense_known(int n, uint64_t seed, const double *lambda, double *a) {
  double *q, *q_scaled, *tau, work_query, *work;
  int info, lwork = -1;
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3((size_t)n * n, &q, (size_t)n * n, &q_scaled, n, &tau));
  for (size_t i = 0; i < (size_t)n * n; i++) q[i] = rng_normal(seed, 7, i / n, i % n);
  dgeqrf_(&n, &n, q, &n, tau, &work_query, &lwork, &info);
  lwork = (int)work_query;
  PetscCall(PetscMalloc1(lwork, &work));
  dgeqrf_(&n, &n, q, &n, tau, work, &lwork, &info);
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "dgeqrf info %d", info);
  dorgqr_(&n, &n, &n, q, &n, tau, work, &lwork, &info);
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "dorgqr info %d", info);
  for (int i = 0; i < n; i++) /* (row-major view) q_scaled = Q diag(lambda) */
    for (int j = 0; j < n; j++) q_scaled[(size_t)i * n + j] = q[(size_t)i * n + j] * lambda[j];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, q_scaled, n, q, n, 0.0, a, n);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++) a[(size_t)i * n + j] = a[(size_t)j * n + i] = 0.5 * (a[(size_t)i * n + j] + a[(size_t)j * n + i]);
  PetscCall(PetscFree(work));
  PetscCall(PetscFree3(q, q_scaled, tau));
  PetscFunctionReturn(0);
}

static void toeplitz_known(int n, double *a, double *lambda) {
  for (size_t i = 0; i < (size_t)n * n; i++) a[i] = 0;
  for (int i = 0; i < n; i++) {
    a[(size_t)i * n + i] = 2;
    if (i + 1 < n) a[(size_t)i * n + i + 1] = a[(size_t)(i + 1) * n + i] = -1;
  }
  for (int k = 1; k <= n; k++) lambda[k - 1] = 2 - 2 * cos(k * M_PI / (n + 1)); /* ascending in k */
  for (int i = 0, j = n - 1; i < j; i++, j--) {
    double t = lambda[i];
    lambda[i] = lambda[j], lambda[j] = t;
  }
}

/* Both paths on a (same on every rank), against each other and the known spectrum. */
static PetscErrorCode compare_paths(MPI_Comm comm, const char *name, const double *a, int n, int distributed_min,
                                    const double *known) {
  double *w_auto, *w_local, *w_min, *w_max;
  int size;
  const double tol = 1e-10;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc4(n, &w_auto, n, &w_local, n, &w_min, n, &w_max));
  PetscCall(spectrum_eigenvalues(comm, a, n, distributed_min, w_auto));
  PetscCall(spectrum_eigenvalues_local(a, n, w_local));
  int scalapack = spectrum_uses_scalapack(comm, n, distributed_min);
  const char *path = scalapack ? "ScaLAPACK" : "LAPACK";
  double gap_paths = relative_gap(w_auto, w_local, n), gap_auto = relative_gap(w_auto, known, n),
         gap_local = relative_gap(w_local, known, n);
  check(comm, scalapack == (size > 1 && n >= distributed_min), "%s n=%d: path %s on %d rank(s)", name, n, path, size);
  check(comm, is_descending(w_auto, n) && is_descending(w_local, n), "%s n=%d: descending order", name, n);
  check(comm, gap_paths < tol, "%s n=%d: %s vs LAPACK max|diff|/max|lambda| = %.2e (< %.0e)", name, n, path, gap_paths,
        tol);
  check(comm, gap_auto < tol && gap_local < tol, "%s n=%d: vs known spectrum %s %.2e, LAPACK %.2e (< %.0e)", name, n, path,
        gap_auto, gap_local, tol);
  if (!scalapack) /* the same dsyevd on the same data: nothing may differ */
    check(comm, gap_paths == 0, "%s n=%d: fallback is bitwise the LAPACK result", name, n);
  PetscCallMPI(MPI_Allreduce(w_auto, w_min, n, MPI_DOUBLE, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(w_auto, w_max, n, MPI_DOUBLE, MPI_MAX, comm));
  check(comm, relative_gap(w_min, w_max, n) == 0, "%s n=%d: every rank holds the same eigenvalues", name, n);
  PetscCall(PetscFree4(w_auto, w_local, w_min, w_max));
  PetscFunctionReturn(0);
}

/* Best of `repeats` wall times (slowest rank) of the automatic path and of LAPACK on one rank. */
static PetscErrorCode time_paths(MPI_Comm comm, const double *a, int n, int repeats) {
  double *w, best_auto = INFINITY, best_local = INFINITY;
  int rank, size;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(n, &w));
  for (int r = 0; r < repeats; r++) {
    PetscCallMPI(MPI_Barrier(comm));
    double t0 = MPI_Wtime();
    PetscCall(spectrum_eigenvalues(comm, a, n, SPECTRUM_DISTRIBUTED_MIN_DEFAULT, w));
    double t = MPI_Wtime() - t0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
    best_auto = fmin(best_auto, t);
    PetscCallMPI(MPI_Barrier(comm));
    t0 = MPI_Wtime();
    if (rank == 0) PetscCall(spectrum_eigenvalues_local(a, n, w));
    t = MPI_Wtime() - t0;
    best_local = fmin(best_local, t);
  }
  PetscCallMPI(MPI_Bcast(&best_local, 1, MPI_DOUBLE, 0, comm));
  if (rank == 0)
    printf("TIME n=%d on %d rank(s): spectrum_eigenvalues (%s) %.3f s, LAPACK dsyevd on one rank %.3f s (best of %d)\n", n,
           size, spectrum_uses_scalapack(comm, n, SPECTRUM_DISTRIBUTED_MIN_DEFAULT) ? "ScaLAPACK pdsyev" : "LAPACK dsyevd",
           best_auto, best_local, repeats);
  PetscCall(PetscFree(w));
  PetscFunctionReturn(0);
}

/* A NaN in the matrix is an error raised on every rank, not a quiet wrong spectrum. */
static PetscErrorCode non_finite_is_an_error(MPI_Comm comm, int n, int distributed_min) {
  double *a, *w;
  PetscFunctionBeginUser;
  PetscCall(PetscCalloc2((size_t)n * n, &a, n, &w));
  a[(size_t)(n / 2) * n + n / 3] = NAN;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  PetscErrorCode ierr = spectrum_eigenvalues(comm, a, n, distributed_min, w);
  PetscCall(PetscPopErrorHandler());
  check(comm, ierr == PETSC_ERR_FP, "n=%d with a NaN entry: error %d (PETSC_ERR_FP = %d)", n, (int)ierr, PETSC_ERR_FP);
  PetscCall(PetscFree2(a, w));
  PetscFunctionReturn(0);
}

/* Only the row-major upper triangle is read, on both paths: garbage below the diagonal must not
 * change the spectrum. */
static PetscErrorCode upper_triangle_only(MPI_Comm comm, int n, int distributed_min) {
  double *a, *w_clean, *w_dirty;
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3((size_t)n * n, &a, n, &w_clean, n, &w_dirty));
  toeplitz_known(n, a, w_clean);
  PetscCall(spectrum_eigenvalues(comm, a, n, distributed_min, w_clean));
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++) a[(size_t)i * n + j] = 1e3 * (i + 2 * j);
  PetscCall(spectrum_eigenvalues(comm, a, n, distributed_min, w_dirty));
  check(comm, relative_gap(w_dirty, w_clean, n) == 0, "n=%d %s: the lower triangle is not read", n,
        spectrum_uses_scalapack(comm, n, distributed_min) ? "ScaLAPACK" : "LAPACK");
  PetscCall(PetscFree3(a, w_clean, w_dirty));
  PetscFunctionReturn(0);
}

/* Matrices of order n built on rank 0 and broadcast, so every rank passes the same bits. */
static PetscErrorCode run_size(MPI_Comm comm, int n, int distributed_min, int repeats) {
  double *a, *known;
  int rank;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMalloc2((size_t)n * n, &a, n, &known));
  chosen_spectrum(n, known);
  if (rank == 0) PetscCall(dense_known(n, 20240 + n, known, a));
  PetscCallMPI(MPI_Bcast(a, n * n, MPI_DOUBLE, 0, comm));
  PetscCall(compare_paths(comm, "Q diag Q^T", a, n, distributed_min, known));
  if (repeats > 0) PetscCall(time_paths(comm, a, n, repeats));
  toeplitz_known(n, a, known);
  PetscCall(compare_paths(comm, "tridiag(-1,2,-1)", a, n, distributed_min, known));
  PetscCall(PetscFree2(a, known));
  PetscFunctionReturn(0);
}

/* Rows [n * rank / size, n * (rank + 1) / size) of an n x p Gaussian data set on each rank:
 * covariance, range and summary against those of the whole set computed on MPI_COMM_SELF. */
static PetscErrorCode distributed_covariance(MPI_Comm comm, long n, int p) {
  double *h, *mean, *cov, *mean_ref, *cov_ref, *lo, *hi, *lo_ref, *hi_ref, *cov_min, *cov_max;
  int rank, size;
  CovStats s, s_ref;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc5((size_t)n * p, &h, p, &mean, (size_t)p * p, &cov, p, &mean_ref, (size_t)p * p, &cov_ref));
  PetscCall(PetscMalloc6(p, &lo, p, &hi, p, &lo_ref, p, &hi_ref, (size_t)p * p, &cov_min, (size_t)p * p, &cov_max));
  for (size_t k = 0; k < (size_t)n * p; k++) h[k] = 5 + (k % p) * rng_normal(3, 9, k / p, k % p); /* unit j: sd j */
  for (long r = 0; r < n; r++) h[r * p + 1] = 0.5 * h[r * p + 2] + 0.1 * h[r * p + 1]; /* one correlated pair */
  const long first = n * rank / size, rows = n * (rank + 1) / size - first;
  PetscCall(covstats_covariance(comm, h + first * p, rows, p, mean, cov));
  PetscCall(covstats_covariance(PETSC_COMM_SELF, h, n, p, mean_ref, cov_ref));
  PetscCall(covstats_range(comm, h + first * p, rows, p, lo, hi));
  PetscCall(covstats_range(PETSC_COMM_SELF, h, n, p, lo_ref, hi_ref));
  double gap = fmax(relative_gap(cov, cov_ref, p * p), relative_gap(mean, mean_ref, p)), range_gap = 0;
  for (int j = 0; j < p; j++) range_gap += fabs(lo[j] - lo_ref[j]) + fabs(hi[j] - hi_ref[j]);
  check(comm, gap < 1e-13, "covariance n=%ld p=%d over %d rank(s) (rank 0: %ld rows) vs one rank: %.1e", n, p, size,
        n / size, gap);
  check(comm, range_gap == 0, "range n=%ld p=%d over %d rank(s): exact", n, p, size);
  PetscCallMPI(MPI_Allreduce(cov, cov_min, p * p, MPI_DOUBLE, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(cov, cov_max, p * p, MPI_DOUBLE, MPI_MAX, comm));
  check(comm, relative_gap(cov_min, cov_max, p * p) == 0, "covariance n=%ld p=%d: bitwise the same on every rank", n, p);
  PetscCall(covstats_summary(comm, cov, p, 2, 1, &s, NULL)); /* distributed_min 1: ScaLAPACK when size > 1 */
  PetscCall(covstats_summary(PETSC_COMM_SELF, cov_ref, p, 2, 1, &s_ref, NULL));
  check(comm, fabs(s.mapc - s_ref.mapc) < 1e-12 && fabs(s.cvr - s_ref.cvr) < 1e-12 && fabs(s.tdv - s_ref.tdv) < 1e-12 &&
                  s.ud90 == s_ref.ud90 &&
                  (s.gaussian_tc == s_ref.gaussian_tc || fabs(s.gaussian_tc - s_ref.gaussian_tc) < 1e-10 * (1 + s_ref.gaussian_tc)),
        "summary n=%ld p=%d: MAPC %.6f CVR %.6f TdV(2) %.6f UD90 %d TC %.6f as on one rank", n, p, s.mapc, s.cvr, s.tdv, s.ud90,
        s.gaussian_tc);
  PetscCall(PetscFree5(h, mean, cov, mean_ref, cov_ref));
  PetscCall(PetscFree6(lo, hi, lo_ref, hi_ref, cov_min, cov_max));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv) {
  PetscInt n = 1000, repeats = 3;
  int size;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-repeats", &repeats, NULL));
  MPI_Comm comm = PETSC_COMM_WORLD;
  MPI_Comm_size(comm, &size);

  PetscCall(run_size(comm, (int)n, SPECTRUM_DISTRIBUTED_MIN_DEFAULT, (int)repeats));
  /* small: the LAPACK path, then ScaLAPACK forced with n below one block, so that on 2 and 3
   * ranks some ranks own no part of the matrix */
  PetscCall(run_size(comm, 10, SPECTRUM_DISTRIBUTED_MIN_DEFAULT, 0));
  PetscCall(run_size(comm, 10, 1, 0));
  PetscCall(run_size(comm, 1, 1, 0));
  PetscCall(upper_triangle_only(comm, 100, SPECTRUM_DISTRIBUTED_MIN_DEFAULT));
  PetscCall(upper_triangle_only(comm, 100, 1));
  PetscCall(non_finite_is_an_error(comm, 10, SPECTRUM_DISTRIBUTED_MIN_DEFAULT));
  PetscCall(non_finite_is_an_error(comm, 100, 1));
  PetscCall(distributed_covariance(comm, 1001, 7));
  PetscCall(distributed_covariance(comm, 2, 3)); /* on 3 ranks one rank has no rows */

  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) printf(failures ? "FAILED: %d check(s) on %d rank(s)\n" : "PASS mpi_spectrum (%d failures) on %d rank(s)\n",
                        failures, size);
  PetscCall(PetscFinalize());
  return failures ? 1 : 0;
}
