#include <math.h>

#include "disentangle/layers.h"
#include "disentangle/vmath.h"

/* The squared error summed in double in eight lanes, element i into lane i mod 8, the lanes
 * added in a fixed tree: the loop vectorises (one double chain took 4 cycles an element) and the
 * sum has the same bits on every CPU and clone. */
VMATH_CLONES double mse_forward_backward(float *restrict d, const float *restrict pred, const float *restrict target,
                                        long n, float scale) {
  double lane[8] = {0};
  const long whole = n - n % 8;
  if (d) /* two loops, so that neither tests d per element (that test kept the lanes in memory) */
    for (long i = 0; i < whole; i += 8) {
      float e[8];
      for (int k = 0; k < 8; k++) {
        e[k] = pred[i + k] - target[i + k];
        d[i + k] = scale * e[k];
      }
      for (int k = 0; k < 8; k++) lane[k] += (double)e[k] * e[k];
    }
  else
    for (long i = 0; i < whole; i += 8)
      for (int k = 0; k < 8; k++) {
        float e = pred[i + k] - target[i + k];
        lane[k] += (double)e * e;
      }
  for (long i = whole; i < n; i++) {
    float e = pred[i] - target[i];
    lane[i - whole] += (double)e * e;
    if (d) d[i] = scale * e;
  }
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* log(1 + e) for e in [0, 1], branch-free: 2 atanh(t) with t = e / (2 + e) in [0, 1/3], whose
 * odd series to t^15 is exact to ~1e-8 relative there (and loses nothing to cancellation when e
 * is tiny, as log(1 + e) would). */
static inline float log1p_unit(float e) {
  float t = e / (2.0f + e), t2 = t * t;
  float p = 1.0f / 15.0f;
  p = p * t2 + 1.0f / 13.0f;
  p = p * t2 + 1.0f / 11.0f;
  p = p * t2 + 1.0f / 9.0f;
  p = p * t2 + 1.0f / 7.0f;
  p = p * t2 + 1.0f / 5.0f;
  p = p * t2 + 1.0f / 3.0f;
  p = p * t2 + 1.0f;
  return 2.0f * t * p;
}

/* Per element: max(l, 0) - l x + log1p(e), e = e^-|l|, which never overflows; its derivative in
 * l is sigmoid(l) - x, with sigmoid(l) = 1/(1 + e) for l >= 0 and e/(1 + e) below. Branch-free,
 * so the loop vectorises; each element's loss is summed in float, the batch in double. */
VMATH_CLONES double bernoulli_forward_backward(float *d, const float *logits, const float *target, long n, float scale) {
  double sum = 0.0;
  const long chunk = 1024;
  for (long i0 = 0; i0 < n; i0 += chunk) {
    long i1 = i0 + chunk < n ? i0 + chunk : n;
    float part = 0.0f;
#pragma omp simd reduction(+ : part)
    for (long i = i0; i < i1; i++) {
      float l = logits[i], x = target[i], e = vmath_exp(-__builtin_fabsf(l));
      part += (l > 0.0f ? l : 0.0f) - l * x + log1p_unit(e);
      if (d) {
        float s = l >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        d[i] = scale * (s - x);
      }
    }
    sum += part;
  }
  return sum;
}
