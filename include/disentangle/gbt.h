/* Gradient-boosted classification trees: our own implementation of what scikit-learn's
 * GradientBoostingClassifier() does with its defaults, because disentanglement_lib's DCI reads the
 * importance matrix from that model's feature_importances_ and we must not depend on Python.
 *
 * What is reproduced (scikit-learn >= 0.21, sklearn/ensemble/_gb.py and sklearn/tree):
 *  - loss log-loss: K > 2 classes -> one regression tree per class per stage, fitted to the
 *    negative gradient y_k - softmax_k(F); K = 2 -> one tree per stage on y - sigmoid(F);
 *  - initial F: log of the class priors (binary: log-odds), priors clipped to float32 eps;
 *  - trees: exact greedy "best" splitter over all features, max_depth 3, min_samples_split 2,
 *    min_samples_leaf 1, criterion friedman_mse (its proxy n_l n_r (mean_l - mean_r)^2 ranks the
 *    splits of one node exactly as the squared-error decrease does), a node is a leaf when its
 *    impurity (variance) <= DBL_EPSILON; two values closer than 1e-7 are never split apart;
 *    the threshold is the midpoint of the neighbouring values; features are cast to float32;
 *  - leaf values: one Newton step (Friedman 2001): sum(residual) / sum(p (1 - p)), times
 *    (K - 1) / K for K > 2; 0 when the denominator is below 1e-150; F += learning_rate * value;
 *  - feature_importances_: per tree, the weighted variance decrease of each split summed per
 *    feature and divided by the root's sample count (NOT normalised per tree: scikit-learn 0.20
 *    changed that, PR #11176), summed over all trees, then normalised to sum 1; all zeros when no
 *    tree has a split (>= 0.21, PR #13620).
 * Where it differs: scikit-learn visits the features of a node in a random order (random_state
 * None in disentanglement_lib: not reproducible) and keeps the first of equally good splits; we
 * draw that order from the counter-based RNG (seed, stream), so equal splits (e.g. duplicated
 * latents) are shared between features as in scikit-learn, but reproducibly. A single class in
 * the training labels is an error in scikit-learn; here it gives a constant model whose
 * importances are all zero. */
#ifndef DISENTANGLE_GBT_H
#define DISENTANGLE_GBT_H

#include <stdint.h>

typedef struct {
  int n_estimators;      /* boosting stages (100) */
  double learning_rate;  /* shrinkage of every tree (0.1) */
  int max_depth;         /* of every tree, 1 .. 16 (3) */
  int min_samples_split; /* a node with fewer samples is a leaf (2) */
  int min_samples_leaf;  /* no split leaves fewer samples on a side (1) */
  uint64_t seed;         /* feature visiting order in each node: only breaks ties (0) */
  uint64_t stream;       /* RNG stream for that order (GBT_RNG_STREAM) */
} GbtParams;

enum { GBT_RNG_STREAM = 0x47425400 }; /* "GBT": stream for the feature order; callers may offset it */

/* GradientBoostingClassifier() defaults. */
GbtParams gbt_default_params(void);

typedef struct Gbt Gbt;

/* Fit on x[n][m] (row-major) with integer labels y[n] (any values; the classes are the distinct
 * ones, in increasing order). Returns 0 and *out, or -1 (bad arguments, non-finite x or x beyond
 * float32 range, out of memory) with *out = NULL. */
int gbt_fit(Gbt **out, const GbtParams *p, const double *x, int n, int m, const int *y);

/* Class label (one of the training labels) of each row of x[n][m] (not checked for NaN: a NaN
 * goes left at every split). */
int gbt_predict(const Gbt *g, const double *x, int n, int *label);

/* Raw scores F[n][gbt_num_scores(g)]: the log-odds of the second class when there are two
 * classes, the per-class scores before the softmax otherwise; for checking leaf values. */
int gbt_decision_function(const Gbt *g, const double *x, int n, double *score);
int gbt_num_scores(const Gbt *g);
int gbt_num_classes(const Gbt *g);

/* importance[m]: non-negative, summing to 1 (all 0 when no tree split). */
void gbt_importances(const Gbt *g, double *importance);

void gbt_free(Gbt *g);

#endif
