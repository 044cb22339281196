#include <string.h>

#include "disentangle/layers.h"
#include "disentangle/tensor.h"
#include "disentangle/vmath.h"

void dense_forward(float *y, const float *x, const float *w, const float *b, int B, int in, int out) {
  /* Start y from the bias rows so the GEMM accumulates onto it (beta = 1): one pass less. */
  for (int r = 0; r < B; r++) memcpy(y + (size_t)r * out, b, (size_t)out * sizeof *y);
  tensor_sgemm(0, 1, B, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

static VMATH_CLONES void sum_rows(float *restrict db, const float *restrict dy, int B, int out) {
  for (int r = 0; r < B; r++) {
    const float *restrict row = dy + (size_t)r * out;
#pragma omp simd
    for (int o = 0; o < out; o++) db[o] += row[o];
  }
}

void dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                    int B, int in, int out) {
  if (dw) tensor_sgemm(1, 0, out, in, B, 1.0f, dy, out, x, in, 1.0f, dw, in);
  if (db) sum_rows(db, dy, B, out);
  if (dx) tensor_sgemm(0, 0, B, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}
