/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
 * A draw is a pure function of (seed, stream, counter words), so what a run draws depends
 * neither on the number of ranks nor on where it was restarted. */
#ifndef DISENTANGLE_RNG_H
#define DISENTANGLE_RNG_H

#include <stdint.h>

/* Streams keep unrelated uses apart. */
enum {
  RNG_STREAM_BATCH = 1,   /* global batch sample indices: counters (step, position) */
  RNG_STREAM_EPOCH = 3,   /* epoch sampler: chunk order (epoch, i), window shuffle (epoch, window << 32 | i) */
  RNG_STREAM_NOISE = 2,   /* the heads' noise: counters (step, global row * latents + latent) */
  RNG_STREAM_FACTORVAE_PERMUTE = 0xFAC7, /* FactorVAE's per-latent batch permutations: (step, latent * B + i) */
  RNG_STREAM_GROUP_NOISE = 0x4D4C56, /* ML-VAE's content noise, one draw per batch group: counters (step, group * content latents + latent) */
  RNG_STREAM_GENERATE = 0x6E4, /* eval's latent draws for generated samples: counters (0, draw * latents + latent) */
  RNG_STREAM_GROUP_DRAW = 0x6770,    /* grouped sampler: a batch's groups, counters (step, slot) */
  RNG_STREAM_GROUP_MEMBER = 0x6771,  /* grouped sampler: members of each group, counters (step, global row) */
  RNG_STREAM_GROUP_HOLDOUT = 0x6772, /* grouped sampler: held-out groups, counters (group id, 0) */
  RNG_STREAM_INIT = 1024, /* parameter initialisation: stream RNG_STREAM_INIT + net id */
  /* the metrics draw from streams of their own: scores.c from 0x5C0000 up, dci.c 0x44434900
   * (DCI samples), 0x44434700 + factor (its boosted trees), 0x53415000 (SAP) */
};

/* The raw generator: 128-bit counter {c0, c1, c2, c3}, 64-bit key. */
void rng_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* One block of four words for (seed, stream, a, b). */
void rng_block(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b, uint32_t out[4]);

double rng_uniform(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);  /* in [0, 1) */
double rng_normal(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);   /* N(0, 1) */
uint64_t rng_below(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b, uint64_t n); /* [0, n) */

#endif
