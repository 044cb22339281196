/* reshape as a layer kind: the same values under another per-sample shape (NCHW batches are
 * row-major, so a flatten or an unflatten moves nothing). arg = {C, H, W}, or arg[0] = 0 for a
 * flatten to a vector. It runs in place: inside a net its output IS its input buffer, so forward
 * and backward copy only when the net hands them distinct buffers (a net's first layer, or the
 * backward ping-pong). */
#include <string.h>

#include "disentangle/net.h"

static PetscErrorCode reshape_setup(Layer *l) {
  PetscFunctionBeginUser;
  long n = shape_size(&l->in);
  if (l->arg[0] == 0) l->out = shape_vector((int)n);
  else {
    l->out = (Shape){3, {l->arg[0], l->arg[1], l->arg[2]}};
    PetscCheck(l->arg[0] > 0 && l->arg[1] > 0 && l->arg[2] > 0 && shape_size(&l->out) == n, PETSC_COMM_SELF,
               PETSC_ERR_ARG_OUTOFRANGE, "reshape layer: %ld values per sample cannot be viewed as [%d,%d,%d]", n,
               l->arg[0], l->arg[1], l->arg[2]);
  }
  PetscFunctionReturn(0);
}

static void reshape_forward(const Layer *l, const float *params, float *y, const float *x, int B, float *scratch) {
  (void)params, (void)scratch;
  if (y != x) memcpy(y, x, sizeof *y * (size_t)B * shape_size(&l->in));
}

static void reshape_backward(const Layer *l, const float *params, float *grads, float *dx, const float *dy,
                             const float *x, const float *y, int B, float *scratch) {
  (void)params, (void)grads, (void)x, (void)y, (void)scratch;
  if (dx && dx != dy) memcpy(dx, dy, sizeof *dx * (size_t)B * shape_size(&l->in));
}

const LayerOps layer_reshape = {
  .kind = "reshape", .in_place = 1, .setup = reshape_setup, .forward = reshape_forward, .backward = reshape_backward};

PetscErrorCode net_add_reshape(Net *net, int c, int h, int w) {
  PetscFunctionBeginUser;
  int args[3] = {c, h, w};
  PetscCall(net_add(net, &layer_reshape, args, 3));
  PetscFunctionReturn(0);
}

PetscErrorCode net_add_flatten(Net *net) {
  PetscFunctionBeginUser;
  int zero = 0;
  PetscCall(net_add(net, &layer_reshape, &zero, 1));
  PetscFunctionReturn(0);
}
