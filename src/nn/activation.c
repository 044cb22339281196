#include <math.h>

#include "disentangle/layers.h"
#include "disentangle/vmath.h"

VMATH_CLONES void selu_forward(float *y, const float *x, long n) {
  const float scale = (float)SELU_SCALE, sa = (float)(SELU_SCALE * SELU_ALPHA);
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? scale * x[i] : sa * vmath_expm1(x[i] < 0.0f ? x[i] : 0.0f);
}

VMATH_CLONES void selu_backward(float *dx, const float *dy, const float *y, long n) {
  /* For x <= 0, y = sa (e^x - 1), so dy/dx = sa e^x = y + sa. */
  const float scale = (float)SELU_SCALE, sa = (float)(SELU_SCALE * SELU_ALPHA);
#pragma omp simd
  for (long i = 0; i < n; i++) dx[i] = dy[i] * (y[i] > 0.0f ? scale : y[i] + sa);
}

VMATH_CLONES void relu_forward(float *y, const float *x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

VMATH_CLONES void relu_backward(float *dx, const float *dy, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

VMATH_CLONES void sigmoid_forward(float *y, const float *x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] = 1.0f / (1.0f + vmath_exp(-x[i]));
}

VMATH_CLONES void sigmoid_backward(float *dx, const float *dy, const float *y, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void tanh_forward(float *y, const float *x, long n) {
  for (long i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

VMATH_CLONES void tanh_backward(float *dx, const float *dy, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
