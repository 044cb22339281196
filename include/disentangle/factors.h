/* Ground truth for the supervised metrics: the latents of every archive sample beside its
 * generative factors, discretised. Where disentanglement_lib samples fresh observations for
 * given factor values, we pick stored samples that have them (DESIGN: an archive is the data). */
#ifndef DISENTANGLE_FACTORS_H
#define DISENTANGLE_FACTORS_H

#include <stdint.h>

typedef struct {
  int n, m, k;        /* samples, latents, factors */
  const double *z;    /* [n][m] latent code of each sample (for VAEs the mean) */
  int *codes;         /* [n][k] value index of each factor, 0 .. ncodes[j]-1 */
  int *ncodes;        /* [k] number of distinct values of each factor */
  /* samples by factor value: by_value[j][v] .. the n_with[j][v] samples whose factor j has value v */
  int ***by_value;
  int **n_with;
  double *values;     /* [n][k] the factors' raw values (a continuous factor's regression target) */
  int *continuous;    /* [k] 1: a continuous factor, its codes are bins; 0: discrete, codes are its values */
  double *z_own;      /* z when this is a subset (factors_subset), else NULL */
} FactorData;

/* Kinds of factor: decided by the number of distinct values, or given. */
enum { FACTOR_AUTO = -1, FACTOR_DISCRETE = 0, FACTOR_CONTINUOUS = 1 };

/* Discretise factors[n][k]. kinds[k] (NULL: all FACTOR_AUTO): a discrete factor keeps its
 * distinct values (codes in increasing value order); a continuous one is cut into `bins`
 * equal-width bins over its range, wherever a score needs classes. FACTOR_AUTO: continuous when
 * it has more than max_values distinct values. z is borrowed, not copied. Returns 0, or -1 when
 * out of memory. */
int factors_create(FactorData *fd, const double *z, int n, int m, const double *factors, int k, int max_values,
                   int bins, const int *kinds);
/* Codes of one factor column col[n]: its distinct values in increasing order (discrete), or
 * `bins` equal-width bins over its range (continuous; kind as above); *continuous says which.
 * Returns the number of codes, or -1 when out of memory. */
int factors_discretise(const double *col, int n, int kind, int max_values, int bins, int *codes, int *continuous);
/* The rows rows[nrows] and latent columns cols[ncols] of src (cols NULL: all) as a FactorData of
 * its own (z copied): a train or test part, or the active latents. Factor codes keep their
 * numbering, so classes agree between parts. 0, or -1 when out of memory. */
int factors_subset(const FactorData *src, const int *rows, int nrows, const int *cols, int ncols, FactorData *out);
void factors_free(FactorData *fd);

/* A disjoint train/test split of rows 0 .. n-1 by seed: a random permutation (counter-based, so
 * the same on every rank), its first round(n * test_share) rows (at least 1, at most n - 1) the
 * test part, the rest training; each part in increasing row order. train and test hold n.
 * 0, or -1 when out of memory. */
int factors_split(int n, double test_share, uint64_t seed, int *train, int *n_train, int *test, int *n_test);

/* A random sample whose factor j has value v (there is one: v was drawn among existing values),
 * and a random sample of the whole archive; r is a counter-based draw (seed, stream, a, b). */
int factors_sample_with(const FactorData *fd, int j, int v, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
/* A value of factor j drawn uniformly among the values present. */
int factors_random_value(const FactorData *fd, int j, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);

#endif
