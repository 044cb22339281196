/* Element-wise math that the compiler can vectorise: libm's expf/expm1f are opaque calls that
 * keep the activation loops scalar (they were 17% of a NashAE step). Cephes-style range
 * reduction and polynomial, max relative error ~2 ulp over the ranges used; checked against
 * libm in tests/unit_layers.c. */
#ifndef DISENTANGLE_VMATH_H
#define DISENTANGLE_VMATH_H

#include <stdint.h>
#include <string.h>

/* Hot element-wise loops are compiled twice, for AVX2 and for the x86-64 baseline, and
 * the loader picks the one the CPU runs (GCC function multi-versioning). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VMATH_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VMATH_CLONES
#endif

/* Straight-line code only (no early returns, selects instead of branches), so that loops over
 * these functions if-convert and vectorise. */

/* e^x for x in [-87, 88] (clamped outside). */
static inline float vmath_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  /* n = round(x / ln 2) by the 1.5 * 2^23 trick, staying in float: a float -> int -> float
   * round trip would be rewritten by GCC into a range-checked branch that blocks AVX code. */
  float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  int n = (int)fn;
  float r = x - fn * 0.693359375f - fn * -2.12194440e-4f; /* x - n ln2, in two parts */
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union {
    int i;
    float f;
  } scale = {.i = (n + 127) << 23};
  return p * scale.f;
}

/* e^x - 1, accurate also near 0 where e^x - 1 cancels: a Taylor polynomial to x^8 there
 * (truncation < 1e-9 relative for |x| < 0.35). */
static inline float vmath_expm1(float x) {
  float p = 1.0f / 40320.0f;
  p = p * x + 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  float near_zero = (p * x + 1.0f) * x;
  float far = vmath_exp(x) - 1.0f;
  return __builtin_fabsf(x) < 0.35f ? near_zero : far;
}

/* 1 if x is NaN or infinite: its exponent bits all set (integer work, so a loop that ORs it
 * over an array vectorises). */
static inline uint32_t vmath_nonfinite(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return (u & 0x7f800000u) == 0x7f800000u;
}

#endif
