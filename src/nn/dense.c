#include <math.h>
#include <string.h>

#include "disentangle/net.h"
#include "disentangle/rng.h"

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

/* ---- as a layer kind: arg[0] = output width; weight [out][in], bias [out] ---------------- */

static PetscErrorCode dense_setup(Layer *l) {
  PetscFunctionBeginUser;
  int in = (int)shape_size(&l->in), out = l->arg[0];
  PetscCheck(out > 0 && in > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "dense layer: widths %d -> %d", in, out);
  l->out = shape_vector(out);
  l->ntensors = 2;
  l->tensor_name[0] = "weight", l->tensor_ndim[0] = 2, l->tensor_dims[0][0] = out, l->tensor_dims[0][1] = in;
  l->tensor_name[1] = "bias", l->tensor_ndim[1] = 1, l->tensor_dims[1][0] = out;
  PetscFunctionReturn(0);
}

/* Kaiming-normal with the 'linear' gain (std 1/sqrt(fan_in)), PyTorch's default biases. */
static void dense_init(const Layer *l, float *params, uint64_t seed, uint64_t stream, int counter) {
  int in = (int)shape_size(&l->in), out = l->arg[0];
  double bound = 1.0 / sqrt((double)in);
  size_t nw = (size_t)in * out;
  float *w = params + l->offset[0], *b = params + l->offset[1];
  for (size_t i = 0; i < nw; i++) w[i] = (float)(bound * rng_normal(seed, stream, 2 * counter, i));
  for (int o = 0; o < out; o++) b[o] = (float)(bound * (2.0 * rng_uniform(seed, stream, 2 * counter + 1, o) - 1.0));
}

static void dense_layer_forward(const Layer *l, const float *params, float *y, const float *x, int B, float *scratch) {
  (void)scratch;
  dense_forward(y, x, params + l->offset[0], params + l->offset[1], B, (int)shape_size(&l->in), l->arg[0]);
}

static void dense_layer_backward(const Layer *l, const float *params, float *grads, float *dx, const float *dy,
                                 const float *x, const float *y, int B, float *scratch) {
  (void)y, (void)scratch;
  dense_backward(dx, grads ? grads + l->offset[0] : NULL, grads ? grads + l->offset[1] : NULL, dy, x,
                 params + l->offset[0], B, (int)shape_size(&l->in), l->arg[0]);
}

const LayerOps layer_dense = {
  .kind = "dense",
  .setup = dense_setup,
  .init = dense_init,
  .forward = dense_layer_forward,
  .backward = dense_layer_backward,
};
