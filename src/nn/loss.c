#include "disentangle/layers.h"
#include "disentangle/vmath.h"

VMATH_CLONES double mse_forward_backward(float *d, const float *pred, const float *target, long n, float scale) {
  double sum = 0.0;
  for (long i = 0; i < n; i++) {
    float e = pred[i] - target[i];
    sum += (double)e * e;
    if (d) d[i] = scale * e;
  }
  return sum;
}
