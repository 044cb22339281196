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
} FactorData;

/* Discretise factors[n][k]: a factor with at most max_values distinct values keeps them (codes
 * in increasing value order); one with more is cut into `bins` equal-width bins over its range.
 * z is borrowed, not copied. Returns 0, or -1 when out of memory. */
int factors_create(FactorData *fd, const double *z, int n, int m, const double *factors, int k, int max_values,
                   int bins);
void factors_free(FactorData *fd);

/* A random sample whose factor j has value v (there is one: v was drawn among existing values),
 * and a random sample of the whole archive; r is a counter-based draw (seed, stream, a, b). */
int factors_sample_with(const FactorData *fd, int j, int v, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
/* A value of factor j drawn uniformly among the values present. */
int factors_random_value(const FactorData *fd, int j, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);

#endif
