/* What a model trained on grouped observations (ML-VAE) is judged by: whether the factor its
 * groups share is found in the content latents and not in the style latents, and whether that
 * holds for groups it never saw. */
#ifndef DISENTANGLE_GROUPED_H
#define DISENTANGLE_GROUPED_H

#include <stdint.h>

/* The factor the groups share: among factors[n][k], the one constant inside every group of
 * groups[n] (ids) that still varies over the archive; when several are, the one with the
 * most distinct values. -1: none. */
int grouped_shared_factor(const double *factors, int n, int k, const int64_t *groups);

/* Accuracy on test rows of an L2 logistic regression (classify.h, C = 1) predicting codes[row]
 * (0 .. classes-1) from columns [c0, c1) of z[n][m], fitted on train rows, every feature
 * standardised by its training mean and deviation. The share of test rows whose code is the
 * training rows' most frequent one goes to *chance. NaN (and *chance NaN) when a part is empty
 * or out of memory. */
double grouped_accuracy(const double *z, int m, int c0, int c1, const int *codes, int classes, const int *train,
                        int ntrain, const int *test, int ntest, double *chance);

/* `count` rows of distinct groups for the swap figure: the first row of groups spread evenly
 * over the groups in order of first appearance. Returns how many were found (< count when
 * there are fewer groups). */
int grouped_pick_rows(const int64_t *groups, int n, int count, int *rows);

#endif
