/* L2-penalised logistic regression, as scikit-learn's LogisticRegression() with its defaults
 * (penalty on the weights, not the intercepts; lbfgs; multinomial for more than two classes),
 * which is what disentanglement_lib fits for the BetaVAE score and for explicitness.
 *
 * Minimised: sum_i sw_i * crossentropy_i + ||W||^2 / (2C), divided by sum_i sw_i (the same
 * minimiser as sklearn's C * sum + ||W||^2 / 2; the division only keeps the gradient O(1)).
 * Two classes use sklearn's binary form: one weight row for class 1, class 0's logit fixed at 0
 * (the symmetric multinomial form would halve the effective penalty). More than two classes
 * use the symmetric form: one row per class.
 *
 * The optimiser is full-batch L-BFGS (memory 10) with a weak-Wolfe bisection line search,
 * started from zero, in plain loops: deterministic, so every MPI rank that fits the same data
 * gets the same bits. It stops when the largest gradient entry is below LOGREG_GTOL, when
 * an iteration lowers the objective by less than LOGREG_FTOL relative, or after max_iter. */
#ifndef DISENTANGLE_CLASSIFY_H
#define DISENTANGLE_CLASSIFY_H

#define LOGREG_MAX_ITER 500
#define LOGREG_GTOL 1e-8  /* on the per-sample objective */
#define LOGREG_FTOL 1e-12 /* relative decrease of one iteration */

typedef struct {
  int d, classes;
  double *w;         /* [classes][d + 1]: weights, last = intercept; row 0 stays 0 when classes == 2 */
  int iterations;    /* L-BFGS iterations taken */
  int converged;     /* 1 when a tolerance was met before max_iter */
  double loss;       /* final objective (per unit sample weight, penalty included) */
  double grad_max;   /* largest |gradient entry| of that objective at the end */
} LogReg;

/* Fit on x[n][d] with labels y[i] in 0 .. classes-1 (classes >= 1; a class absent from y is
 * allowed: it gets a low probability). sample_weight[n] or NULL for all ones. max_iter <= 0
 * means LOGREG_MAX_ITER. Returns 0, or -1 when out of memory (lr is then empty). */
int logreg_fit(LogReg *lr, const double *x, const int *y, int n, int d, int classes, double C,
               const double *sample_weight, int max_iter);
/* Objective and gradient (same layout as w) at parameters w, for tests and diagnostics;
 * returns the objective, or NAN when out of memory. */
double logreg_objective(const double *w, const double *x, const int *y, int n, int d, int classes, double C,
                        const double *sample_weight, double *grad);
/* The class with the largest logit (the first on ties, like numpy's argmax). */
int logreg_predict(const LogReg *lr, const double *x);
/* proba[classes]: softmax of the logits. */
void logreg_proba(const LogReg *lr, const double *x, double *proba);
void logreg_free(LogReg *lr);

/* Area under the ROC curve of score against positive[i] != 0 (Mann-Whitney U with average
 * ranks for ties, so equal to sklearn's roc_auc_score). NAN when all are positive or none. */
double roc_auc(const double *score, const int *positive, int n);

#endif
