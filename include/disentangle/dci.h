/* DCI (Eastwood & Williams 2018) and SAP (Kumar et al. 2018) as google-research
 * disentanglement_lib computes them (evaluation/metrics/dci.py and sap_score.py), on the latents
 * of archive samples (FactorData). Plain C: every rank holds all latents and computes the same
 * numbers from the same seed.
 *
 * Sampling: disentanglement_lib draws factor vectors and observes them; here num_train samples
 * are drawn uniformly with replacement from a training part of the archive and num_test from a
 * disjoint test part (eval splits the rows, factors_split), so on a small archive "test"
 * informativeness is not training accuracy.
 *
 * DCI: per factor, a gradient-boosted classifier (gbt.h: our re-implementation of scikit-learn's
 * GradientBoostingClassifier() defaults) from all latents to the factor codes; R[j][k] = its
 * feature_importances_ of latent j. As in dci.py:
 *   disentanglement = sum_j rho_j (1 - H_K(R[j,:] + 1e-11)),  rho_j = sum_k R[j][k] / sum R
 *   completeness    = sum_k rho_k (1 - H_D(R[:,k] + 1e-11)),  rho_k = sum_j R[j][k] / sum R
 * (H_b: entropy of the normalised vector in base b, as scipy.stats.entropy; every column of R sums
 * to 1, so completeness is the plain mean over factors unless a factor gets no importance at all;
 * when sum R = 0 every rho is uniform), informativeness = mean accuracy over factors (train, test).
 * Where the lib gives NaN (one factor: base 1; one latent) we give 1: one latent or one factor
 * cannot be shared.
 *
 * SAP: S[j][k] = test accuracy of a linear classifier from latent j alone to factor k: the lib's
 * LinearSVC(C=0.01, class_weight="balanced") (squared hinge, L2, one-vs-rest with liblinear's
 * weights: positives C * w_class, negatives C; two classes: one problem, each class weighted by
 * its own weight; intercept as a feature of value 1, so penalised). We solve that same problem to
 * optimality (Newton's method on the 2 parameters). liblinear's dual solver (scikit-learn < 1.5
 * default) stops at tol 1e-4 / max_iter 1000: on well-scaled latents it agrees with ours to a
 * few test samples; on latents with large offsets it does not converge and its S is an artefact.
 * SAP = mean over factors of (largest - second largest S[:,k]); it needs m >= 2 latents. */
#ifndef DISENTANGLE_DCI_H
#define DISENTANGLE_DCI_H

#include <stdint.h>

#include "disentangle/factors.h"
#include "disentangle/gbt.h"

/* RNG streams of the sample draws (counters: 0 train / 1 test, sample number); the GBT of
 * factor k uses stream DCI_GBT_RNG_STREAM + k for its tie-breaking feature order. */
enum { DCI_RNG_STREAM = 0x44434900, SAP_RNG_STREAM = 0x53415000, DCI_GBT_RNG_STREAM = 0x44434700 };

typedef struct {
  int num_train, num_test; /* 10000, 5000 */
  GbtParams gbt;           /* GradientBoostingClassifier() defaults; seed and stream set by dci */
} DciParams;

typedef struct {
  double disentanglement, completeness, informativeness_train, informativeness_test;
  int m, k;
  double *importance; /* [m][k] R */
} DciResult;

typedef struct {
  int num_train, num_test; /* 10000, 5000 */
  double C;                /* LinearSVC penalty: 0.01 */
} SapParams;

typedef struct {
  double score;
  int m, k;
  double *matrix; /* [m][k] S */
} SapResult;

DciParams dci_default_params(void);
SapParams sap_default_params(void);

/* Draw the training samples from train and the test samples from test (two disjoint parts of
 * the archive in eval; the same data twice gives the lib's draws), then score. 0, or -1 (bad
 * arguments, GBT failure, out of memory). Free the result with dci_result_free / sap_result_free.
 * SAP's entry for a continuous factor (fd->continuous) is the held-out R^2 of a least-squares
 * line from the latent to the factor's value (the lib's continuous mode: its squared
 * correlation, here fitted on the training samples and measured on the test samples). */
int dci_compute(const FactorData *train, const FactorData *test, const DciParams *p, uint64_t seed, DciResult *out);
int sap_compute(const FactorData *train, const FactorData *test, const SapParams *p, uint64_t seed, SapResult *out);

/* DCI one factor at a time (eval spreads the factors over ranks): factor f's importance column
 * importance[m] and its accuracies acc[2] (train, test), the same bits as dci_compute's. Then
 * dci_finish fills r's scores from r->importance[m][k] (allocated, m, k set) and acc[k][2]. */
int dci_compute_factor(const FactorData *train, const FactorData *test, const DciParams *p, uint64_t seed, int f,
                       double *importance, double acc[2]);
void dci_finish(DciResult *r, const double *acc);

/* SAP's column of factor f, column[m] (the matrix's entries S[j][f]); sap_from_matrix turns the
 * m x k matrix into the score. */
int sap_compute_factor(const FactorData *train, const FactorData *test, const SapParams *p, uint64_t seed, int f,
                       double *column);
/* The same on given samples: z[n][m] latents, y[n][k] factor codes. gbt->seed/stream are used
 * as given (stream + factor index for each factor's model). */
int dci_from_samples(const double *z_train, const int *y_train, int n_train, const double *z_test,
                     const int *y_test, int n_test, int m, int k, const GbtParams *gbt, DciResult *out);
int sap_from_samples(const double *z_train, const int *y_train, int n_train, const double *z_test,
                     const int *y_test, int n_test, int m, int k, double C, SapResult *out);
/* The same with factor kinds: continuous[k] (NULL: all discrete) and the factor values v[n][k]
 * that a continuous factor's regression needs. */
int sap_from_samples_kinds(const double *z_train, const int *y_train, const double *v_train, int n_train,
                           const double *z_test, const int *y_test, const double *v_test, int n_test, int m, int k,
                           const int *continuous, double C, SapResult *out);

/* The scores of an importance matrix R[m][k], and SAP of a score matrix S[m][k] (NaN for m < 2;
 * sap_compute and sap_from_samples refuse m < 2). */
double dci_disentanglement(const double *R, int m, int k);
double dci_completeness(const double *R, int m, int k);
double sap_from_matrix(const double *S, int m, int k);

void dci_result_free(DciResult *r);
void sap_result_free(SapResult *r);

#endif
