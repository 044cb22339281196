/* conv2d and conv_transpose2d as layer kinds over the kernels of conv.c.
 * arg = {cout, k, stride, pad, out_pad}; the input must be an image [C, H, W].
 * Tensors (PyTorch's layouts): conv2d weight [cout][cin][k][k], conv_transpose2d weight
 * [cin][cout][k][k]; bias [cout] for both. */
#include <math.h>
#include <stdio.h>

#include "disentangle/conv.h"
#include "disentangle/net.h"
#include "disentangle/rng.h"

static int is_transposed(const Layer *l) { return l->ops == &layer_conv_transpose2d; }

/* The kernels' geometry of layer l (validated once by setup, so recomputing it is safe). */
static ConvShape conv_shape_of(const Layer *l, char *why, size_t len, int *bad) {
  ConvShape s = {.cin = l->in.d[0], .hin = l->in.d[1], .win = l->in.d[2], .cout = l->arg[0], .k = l->arg[1],
                 .stride = l->arg[2], .pad = l->arg[3], .out_pad = l->arg[4]};
  int err = is_transposed(l) ? conv_transpose2d_shape(&s, why, len) : conv2d_shape(&s, why, len);
  if (bad) *bad = err != 0;
  return s;
}

static ConvShape shape_of(const Layer *l) {
  char why[8];
  return conv_shape_of(l, why, sizeof why, NULL);
}

static PetscErrorCode conv_setup(Layer *l) {
  PetscFunctionBeginUser;
  const char *kind = l->ops->kind;
  PetscCheck(l->in.ndim == 3, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "%s layer: its input must be an image [C,H,W], not a vector of %ld values (add a reshape layer)", kind,
             shape_size(&l->in));
  char why[256];
  int bad;
  ConvShape s = conv_shape_of(l, why, sizeof why, &bad);
  PetscCheck(!bad, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s layer on [%d,%d,%d]: %s", kind, l->in.d[0], l->in.d[1],
             l->in.d[2], why);
  l->out = (Shape){3, {s.cout, s.hout, s.wout}};
  l->ntensors = 2;
  int a = is_transposed(l) ? s.cin : s.cout, b = is_transposed(l) ? s.cout : s.cin;
  l->tensor_name[0] = "weight", l->tensor_ndim[0] = 4;
  l->tensor_dims[0][0] = a, l->tensor_dims[0][1] = b, l->tensor_dims[0][2] = s.k, l->tensor_dims[0][3] = s.k;
  l->tensor_name[1] = "bias", l->tensor_ndim[1] = 1, l->tensor_dims[1][0] = s.cout;
  PetscFunctionReturn(0);
}

/* As the published NashAE nets initialise their convolutions (s_init: kaiming-normal with the
 * 'linear' gain, std 1/sqrt(fan_in)), biases as PyTorch does (uniform +-1/sqrt(fan_in)), with
 * PyTorch's fan_in = weight.size(1) k k: cin k k for conv2d, cout k k for the transpose. The
 * same scheme as dense_init, so a net's initialisation depends on (seed, net, layer) only. */
static void conv_init(const Layer *l, float *params, uint64_t seed, uint64_t stream, int counter) {
  const int *dims = l->tensor_dims[0];
  size_t nw = (size_t)dims[0] * dims[1] * dims[2] * dims[3];
  double bound = 1.0 / sqrt((double)dims[1] * dims[2] * dims[3]);
  float *w = params + l->offset[0], *b = params + l->offset[1];
  for (size_t i = 0; i < nw; i++) w[i] = (float)(bound * rng_normal(seed, stream, 2 * counter, i));
  for (int o = 0; o < l->tensor_dims[1][0]; o++)
    b[o] = (float)(bound * (2.0 * rng_uniform(seed, stream, 2 * counter + 1, o) - 1.0));
}

static void conv_forward(const Layer *l, const float *params, float *y, const float *x, int B, float *scratch) {
  ConvShape s = shape_of(l);
  const float *w = params + l->offset[0], *b = params + l->offset[1];
  if (is_transposed(l)) conv_transpose2d_forward(y, x, w, b, B, &s, scratch);
  else conv2d_forward(y, x, w, b, B, &s, scratch);
}

static void conv_backward(const Layer *l, const float *params, float *grads, float *dx, const float *dy,
                          const float *x, const float *y, int B, float *scratch) {
  (void)y;
  ConvShape s = shape_of(l);
  const float *w = params + l->offset[0];
  float *dw = grads ? grads + l->offset[0] : NULL, *db = grads ? grads + l->offset[1] : NULL;
  if (is_transposed(l)) conv_transpose2d_backward(dx, dw, db, dy, x, w, B, &s, scratch);
  else conv2d_backward(dx, dw, db, dy, x, w, B, &s, scratch);
}

static size_t conv_scratch(const Layer *l, int B) {
  ConvShape s = shape_of(l);
  return is_transposed(l) ? conv_transpose2d_scratch_floats(&s, B) : conv2d_scratch_floats(&s, B);
}

const LayerOps layer_conv2d = {.kind = "conv2d", .setup = conv_setup, .init = conv_init, .forward = conv_forward,
                               .backward = conv_backward, .scratch = conv_scratch};
const LayerOps layer_conv_transpose2d = {.kind = "conv_transpose2d", .setup = conv_setup, .init = conv_init,
                                         .forward = conv_forward, .backward = conv_backward, .scratch = conv_scratch};

PetscErrorCode net_add_conv2d(Net *net, int cout, int k, int stride, int pad) {
  PetscFunctionBeginUser;
  int args[5] = {cout, k, stride, pad, 0};
  PetscCall(net_add(net, &layer_conv2d, args, 5));
  PetscFunctionReturn(0);
}

PetscErrorCode net_add_conv_transpose2d(Net *net, int cout, int k, int stride, int pad, int out_pad) {
  PetscFunctionBeginUser;
  int args[5] = {cout, k, stride, pad, out_pad};
  PetscCall(net_add(net, &layer_conv_transpose2d, args, 5));
  PetscFunctionReturn(0);
}
