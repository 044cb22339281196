#include <math.h>

#include "disentangle/layers.h"

void selu_forward(float *y, const float *x, long n) {
  const float scale = (float)SELU_SCALE, sa = (float)(SELU_SCALE * SELU_ALPHA);
  for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? scale * x[i] : sa * expm1f(x[i]);
}

void selu_backward(float *dx, const float *dy, const float *y, long n) {
  /* For x <= 0, y = sa (e^x - 1), so dy/dx = sa e^x = y + sa. */
  const float scale = (float)SELU_SCALE, sa = (float)(SELU_SCALE * SELU_ALPHA);
  for (long i = 0; i < n; i++) dx[i] = dy[i] * (y[i] > 0.0f ? scale : y[i] + sa);
}

void relu_forward(float *y, const float *x, long n) {
  for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(float *dx, const float *dy, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void sigmoid_forward(float *y, const float *x, long n) {
  for (long i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void sigmoid_backward(float *dx, const float *dy, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void tanh_forward(float *y, const float *x, long n) {
  for (long i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void tanh_backward(float *dx, const float *dy, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
