#include <math.h>
#include <string.h>

#include "disentangle/net.h"

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

VMATH_CLONES void selu_bias_forward(float *restrict y, const float *restrict b, int rows, int width) {
  const float scale = (float)SELU_SCALE, sa = (float)(SELU_SCALE * SELU_ALPHA);
  for (int r = 0; r < rows; r++) {
    float *restrict row = y + (size_t)r * width;
#pragma omp simd
    for (int o = 0; o < width; o++) {
      float x = row[o] + b[o];
      row[o] = x > 0.0f ? scale * x : sa * vmath_expm1(x < 0.0f ? x : 0.0f);
    }
  }
}

VMATH_CLONES void selu_backward_bias(float *dx, const float *dy, const float *y, float *restrict db, int rows, int width) {
  const float scale = (float)SELU_SCALE, sa = (float)(SELU_SCALE * SELU_ALPHA);
  for (int r = 0; r < rows; r++) {
    const size_t at = (size_t)r * width;
    if (db) {
#pragma omp simd
      for (int o = 0; o < width; o++) {
        dx[at + o] = dy[at + o] * (y[at + o] > 0.0f ? scale : y[at + o] + sa);
        db[o] += dx[at + o];
      }
    } else {
#pragma omp simd
      for (int o = 0; o < width; o++) dx[at + o] = dy[at + o] * (y[at + o] > 0.0f ? scale : y[at + o] + sa);
    }
  }
}

VMATH_CLONES void relu_forward(float *y, const float *x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

VMATH_CLONES void relu_backward(float *dx, const float *dy, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* LeakyReLU with slope 0.2 below zero (tf.nn.leaky_relu's default alpha, the FactorVAE
 * discriminator's). The slope is positive, so y has the sign of x and backward works from y. */
VMATH_CLONES void leaky_relu_forward(float *y, const float *x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : LEAKY_RELU_SLOPE * x[i];
}

VMATH_CLONES void leaky_relu_backward(float *dx, const float *dy, const float *y, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : LEAKY_RELU_SLOPE * dy[i];
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

/* ---- as layer kinds: element-wise, shape-preserving, in place ----------------------------- */

static PetscErrorCode elementwise_setup(Layer *l) {
  l->out = l->in;
  return 0;
}

static void identity_forward(float *y, const float *x, long n) {
  if (y != x) memcpy(y, x, (size_t)n * sizeof *y);
}
static void identity_backward(float *dx, const float *dy, const float *y, long n) {
  (void)y;
  if (dx != dy) memcpy(dx, dy, (size_t)n * sizeof *dx);
}

#define ELEMENTWISE_LAYER(NAME, FWD, BWD)                                                                    \
  static void NAME##_layer_forward(const Layer *l, const float *params, float *y, const float *x, int B,     \
                                   float *scratch) {                                                         \
    (void)params, (void)scratch;                                                                             \
    FWD(y, x, (long)B * shape_size(&l->in));                                                                 \
  }                                                                                                          \
  static void NAME##_layer_backward(const Layer *l, const float *params, float *grads, float *dx,           \
                                    const float *dy, const float *x, const float *y, int B, float *scratch) { \
    (void)params, (void)grads, (void)x, (void)scratch;                                                       \
    if (dx) BWD(dx, dy, y, (long)B * shape_size(&l->in));                                                    \
  }                                                                                                          \
  const LayerOps layer_##NAME = {.kind = #NAME, .in_place = 1, .setup = elementwise_setup,                  \
                                 .forward = NAME##_layer_forward, .backward = NAME##_layer_backward};

ELEMENTWISE_LAYER(selu, selu_forward, selu_backward)
ELEMENTWISE_LAYER(relu, relu_forward, relu_backward)
ELEMENTWISE_LAYER(leaky_relu, leaky_relu_forward, leaky_relu_backward)
ELEMENTWISE_LAYER(sigmoid, sigmoid_forward, sigmoid_backward)
ELEMENTWISE_LAYER(tanh, tanh_forward, tanh_backward)
ELEMENTWISE_LAYER(identity, identity_forward, identity_backward)
