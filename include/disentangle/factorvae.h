/* FactorVAE's discriminator, as the tests reach it (the method itself is method_factorvae). */
#ifndef DISENTANGLE_FACTORVAE_H
#define DISENTANGLE_FACTORVAE_H

#include "disentangle/method.h"

/* Forward b (this rank's rows of the global batch) through the autoencoder, then the
 * discriminator's cross-entropy gradient on the global batch of z (class 0) and its per-latent
 * permutation (class 1), summed over ranks, in the "discriminator" group's gradient block;
 * no update. *ce: the cross-entropy (global). */
PetscErrorCode factorvae_discriminator_gradient(Method *me, const Batch *b, double *ce);

/* The permutation of latent j's column at a step: row r of the permuted batch takes latent j
 * from row perm[r]. A Fisher-Yates shuffle, for i = B-1 down to 1 swapping perm[i] with perm[k],
 * k = rng_below(seed, RNG_STREAM_FACTORVAE_PERMUTE, step, j * B + i, i + 1): a function of
 * (seed, step, j) alone, so every rank count draws the same one. */
void factorvae_permutation(uint64_t seed, int64_t step, int B, int j, int *perm);

#endif
