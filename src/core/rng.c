/* Philox4x32-10: ten rounds of two 32x32->64 multiplications, a key schedule by the Weyl
 * constants. Checked against the Random123 known-answer vectors in tests/unit_rng.c. */
#include "disentangle/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rng_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

void rng_block(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b, uint32_t out[4]) {
  /* The stream is folded into the counter's high words with b, leaving a the full 64 bits:
   * b is a position within a step (< 2^40) and streams are small. */
  uint64_t hi = b ^ (stream << 40);
  uint32_t ctr[4] = {(uint32_t)a, (uint32_t)(a >> 32), (uint32_t)hi, (uint32_t)(hi >> 32)};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  rng_philox4x32(ctr, key, out);
}

static double unit_from_words(uint32_t hi, uint32_t lo) {
  /* 53 random bits -> [0, 1) */
  uint64_t bits = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11);
  return (double)(bits & ((UINT64_C(1) << 53) - 1)) * 0x1.0p-53;
}

double rng_uniform(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  uint32_t w[4];
  rng_block(seed, stream, a, b, w);
  return unit_from_words(w[0], w[1]);
}

double rng_normal(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  uint32_t w[4];
  rng_block(seed, stream, a, b, w);
  double u1 = 1.0 - unit_from_words(w[0], w[1]); /* (0, 1]: log is finite */
  double u2 = unit_from_words(w[2], w[3]);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t rng_below(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b, uint64_t n) {
  uint32_t w[4];
  rng_block(seed, stream, a, b, w);
  /* Multiply-shift on 64 random bits: bias below n / 2^64, far under anything measurable. */
  uint64_t r = ((uint64_t)w[0] << 32) | w[1];
  return (uint64_t)(((unsigned __int128)r * n) >> 64);
}
