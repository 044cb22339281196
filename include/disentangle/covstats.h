/* The unsupervised statistics of a layer's activations H[N][p] (N samples, p units): the
 * covariance and what the seed paper ("Disentangled activations in deep networks") and the
 * disentanglement literature read off it -- MAPC, CVR, TdV, UD90, the Gaussian total
 * correlation -- plus each unit's range over the data.
 *
 * Dead units. A unit whose variance is at most COVSTATS_DEAD_REL times the largest variance of
 * the layer is dead (zero variance up to round-off). Correlations with a dead unit are 0/0, so
 * MAPC and the total correlation are computed over the live units only, and say how many that
 * was; CVR, TdV and UD90 need no exclusion (a dead unit adds nothing to any sum).
 *
 * Degenerate layers never produce NaN: with zero total variance (every unit dead) MAPC = 0 (no
 * pairs), CVR = 1, TdV = 1 and UD90 = 0 (no direction is needed to explain nothing), TC = 0. */
#ifndef DISENTANGLE_COVSTATS_H
#define DISENTANGLE_COVSTATS_H

#include <mpi.h>
#include <petscsys.h>

#define COVSTATS_DEAD_REL 1e-12

/* Share of the total variance UD90 asks for. */
#define COVSTATS_UD_SHARE 0.9

/* Global mean[p] and unbiased covariance cov[p][p] = 1/(N-1) (H - 1 mean)^T (H - 1 mean) of the
 * rows spread over comm (each rank passes its n_local rows h_local[n_local][p], row-major; a
 * rank may pass none). Collective. Two passes in double, with the Chan-Golub-LeVeque correction
 * for the rounding of the mean. Every rank ends with bitwise the same mean and cov. N < 2 is an
 * input error; non-finite activations are PETSC_ERR_FP. */
PetscErrorCode covstats_covariance(MPI_Comm comm, const double *h_local, long n_local, int p, double *mean, double *cov);

/* Each unit's min and max over all rows on all ranks (NashAE counts a unit as a learned feature
 * when max - min > 0.2). Collective. */
PetscErrorCode covstats_range(MPI_Comm comm, const double *h_local, long n_local, int p, double *hmin, double *hmax);

/* The diagonal of cov: each unit's variance. */
void covstats_unit_variance(const double *cov, int p, double *var);

/* live[i] = 1 when unit i is not dead (see above); returns the number of live units. */
int covstats_live_units(const double *cov, int p, int *live);

/* Mean over live pairs i < j of |C_ij| / sqrt(C_ii C_jj); *live_units (may be NULL) gets the
 * number of live units the pairs were drawn from. Fewer than 2 live units: 0. */
double covstats_mapc(const double *cov, int p, int *live_units);

/* Covariance-to-variance ratio sum_ij |C_ij| / tr(C), >= 1, = 1 exactly when no two units
 * covary. */
double covstats_cvr(const double *cov, int p);

/* Share of the total variance in the top d eigenvalues; w descending (spectrum_eigenvalues),
 * negative round-off eigenvalues count as 0, d is clamped to [0, p]. */
double covstats_tdv(const double *w, int p, int d);

/* The fewest top eigenvalues whose sum reaches `share` of the total variance (w descending). */
int covstats_dims_for_share(const double *w, int p, double share);

/* UD90: covstats_dims_for_share(w, p, 0.9). */
int covstats_ud90(const double *w, int p);

/* Gaussian total correlation 1/2 (sum_i log C_ii - log det C) over the live units: the KL
 * divergence of N(0, C) from the product of its marginals. +INFINITY when the live part of C is
 * singular (e.g. activations confined to a subspace); *units_used (may be NULL) gets the number
 * of live units. Collective (the eigenvalues come from spectrum_eigenvalues). */
PetscErrorCode covstats_gaussian_tc(MPI_Comm comm, const double *cov, int p, int distributed_min, double *tc,
                                    int *units_used);

typedef struct {
  int units;        /* p */
  int live_units;   /* units that are not dead: MAPC's and TC's population */
  double mapc;
  double cvr;
  int tdv_d;        /* the d of tdv (clamped to [0, p]) */
  double tdv;
  int ud90;
  double gaussian_tc; /* +INFINITY when singular */
} CovStats;

/* Every statistic above from cov; d is TdV's dimension (the data's true dimension when known).
 * w (may be NULL) gets cov's eigenvalues, descending. Collective. */
PetscErrorCode covstats_summary(MPI_Comm comm, const double *cov, int p, int d, int distributed_min, CovStats *stats,
                                double *w);

#endif
