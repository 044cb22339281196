#include "disentangle/layers.h"
#include "disentangle/tensor.h"

void dense_forward(float *y, const float *x, const float *w, const float *b, int B, int in, int out) {
  /* Start y from the bias rows so the GEMM accumulates onto it (beta = 1): one pass less. */
  for (int r = 0; r < B; r++) {
    float *yr = y + (size_t)r * out;
    for (int o = 0; o < out; o++) yr[o] = b[o];
  }
  tensor_sgemm(0, 1, B, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

void dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                    int B, int in, int out) {
  if (dw) tensor_sgemm(1, 0, out, in, B, 1.0f, dy, out, x, in, 1.0f, dw, in);
  if (db) {
    for (int r = 0; r < B; r++) {
      const float *dyr = dy + (size_t)r * out;
      for (int o = 0; o < out; o++) db[o] += dyr[o];
    }
  }
  if (dx) tensor_sgemm(0, 0, B, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}
