#include "disentangle/net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/layers.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"

static const char *const kind_names[] = {"dense", "selu", "relu", "sigmoid", "tanh", "identity"};

const char *net_layer_kind_name(LayerKind kind) { return kind_names[kind]; }

PetscErrorCode net_activation_from_name(const char *name, LayerKind *kind) {
  PetscFunctionBeginUser;
  for (int k = LAYER_SELU; k <= LAYER_IDENTITY; k++)
    if (!strcmp(name, kind_names[k])) {
      *kind = (LayerKind)k;
      PetscFunctionReturn(0);
    }
  if (!strcmp(name, "linear")) {
    *kind = LAYER_IDENTITY;
    PetscFunctionReturn(0);
  }
  DT_INPUT_ERROR(PETSC_COMM_WORLD, "unknown activation '%s'; allowed: selu, relu, sigmoid, tanh, identity", name);
}

static PetscErrorCode net_push(Net *net, LayerKind kind, int in, int out) {
  PetscFunctionBeginUser;
  PetscCheck(net->nlayers < NET_MAX_LAYERS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "net %s: more than %d layers", net->name, NET_MAX_LAYERS);
  Layer *l = &net->layers[net->nlayers++];
  l->kind = kind, l->in = in, l->out = out;
  if (kind == LAYER_DENSE) {
    l->w_off = net->nparams;
    l->b_off = net->nparams + (size_t)in * out;
    net->nparams += (size_t)in * out + out;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode net_init_mlp(Net *net, const char *name, const int *widths, int n, LayerKind hidden_act,
                            LayerKind out_act) {
  PetscFunctionBeginUser;
  memset(net, 0, sizeof *net);
  snprintf(net->name, sizeof net->name, "%s", name);
  for (int i = 0; i + 1 < n; i++) {
    PetscCheck(widths[i] > 0 && widths[i + 1] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "net %s: layer width must be positive", name);
    PetscCall(net_push(net, LAYER_DENSE, widths[i], widths[i + 1]));
    LayerKind act = i + 2 < n ? hidden_act : out_act;
    if (act != LAYER_IDENTITY) PetscCall(net_push(net, act, widths[i + 1], widths[i + 1]));
  }
  PetscFunctionReturn(0);
}

int net_in(const Net *net) { return net->layers[0].in; }
int net_out(const Net *net) { return net->layers[net->nlayers - 1].out; }

PetscErrorCode net_bind(Net *net, float *params, float *grads, int max_batch) {
  PetscFunctionBeginUser;
  net->params = params, net->grads = grads, net->max_batch = max_batch;
  int widest = 0;
  for (int l = 0; l < net->nlayers; l++) {
    Layer *L = &net->layers[l];
    widest = PetscMax(widest, PetscMax(L->in, L->out));
    /* Activations run in place on the previous output: their backward needs only their output. */
    if (L->kind != LAYER_DENSE && l > 0) net->acts[l] = net->acts[l - 1];
    else PetscCall(tensor_alloc((size_t)max_batch * L->out, &net->acts[l]));
  }
  for (int s = 0; s < 2; s++) PetscCall(tensor_alloc((size_t)max_batch * widest, &net->scratch[s]));
  PetscFunctionReturn(0);
}

void net_free(Net *net) {
  for (int l = 0; l < net->nlayers; l++)
    if (net->layers[l].kind == LAYER_DENSE || l == 0) tensor_free(&net->acts[l]);
  for (int l = 0; l < net->nlayers; l++) net->acts[l] = NULL;
  for (int s = 0; s < 2; s++) tensor_free(&net->scratch[s]);
}

void net_init_params(Net *net, uint64_t seed, int net_id) {
  uint64_t stream = RNG_STREAM_INIT + (uint64_t)net_id;
  for (int l = 0; l < net->nlayers; l++) {
    const Layer *L = &net->layers[l];
    if (L->kind != LAYER_DENSE) continue;
    double bound = 1.0 / sqrt((double)L->in); /* fan_in; 'linear' gain 1 */
    size_t nw = (size_t)L->in * L->out;
    for (size_t i = 0; i < nw; i++) net->params[L->w_off + i] = (float)(bound * rng_normal(seed, stream, 2 * l, i));
    for (int o = 0; o < L->out; o++)
      net->params[L->b_off + o] = (float)(bound * (2.0 * rng_uniform(seed, stream, 2 * l + 1, o) - 1.0));
  }
}

static void activation_forward(LayerKind kind, float *y, const float *x, long n) {
  switch (kind) {
  case LAYER_SELU: selu_forward(y, x, n); break;
  case LAYER_RELU: relu_forward(y, x, n); break;
  case LAYER_SIGMOID: sigmoid_forward(y, x, n); break;
  case LAYER_TANH: tanh_forward(y, x, n); break;
  case LAYER_IDENTITY:
    if (y != x) memcpy(y, x, (size_t)n * sizeof *y);
    break;
  case LAYER_DENSE: break;
  }
}

static void activation_backward(LayerKind kind, float *dx, const float *dy, const float *y, long n) {
  switch (kind) {
  case LAYER_SELU: selu_backward(dx, dy, y, n); break;
  case LAYER_RELU: relu_backward(dx, dy, y, n); break;
  case LAYER_SIGMOID: sigmoid_backward(dx, dy, y, n); break;
  case LAYER_TANH: tanh_backward(dx, dy, y, n); break;
  case LAYER_IDENTITY:
    if (dx != dy) memcpy(dx, dy, (size_t)n * sizeof *dx);
    break;
  case LAYER_DENSE: break;
  }
}

const float *net_forward(Net *net, const float *x, int B) {
  const float *in = x;
  for (int l = 0; l < net->nlayers; l++) {
    const Layer *L = &net->layers[l];
    float *out = net->acts[l];
    if (L->kind == LAYER_DENSE)
      dense_forward(out, in, net->params + L->w_off, net->params + L->b_off, B, L->in, L->out);
    else activation_forward(L->kind, out, in, (long)B * L->out);
    in = out;
  }
  return in;
}

void net_backward(Net *net, const float *x, const float *dout, int B, int param_grads, float *dx) {
  const float *g = dout; /* gradient w.r.t. the current layer's output */
  int cur = -1;          /* scratch buffer holding g, -1 while g is the caller's dout */
  for (int l = net->nlayers - 1; l >= 0; l--) {
    const Layer *L = &net->layers[l];
    const float *in = l == 0 ? x : net->acts[l - 1];
    int next = cur == 0 ? 1 : 0;
    float *target = l == 0 ? dx : net->scratch[next];
    if (L->kind == LAYER_DENSE) {
      float *dw = param_grads ? net->grads + L->w_off : NULL;
      float *db = param_grads ? net->grads + L->b_off : NULL;
      dense_backward(target, dw, db, g, in, net->params + L->w_off, B, L->in, L->out);
    } else if (target) {
      activation_backward(L->kind, target, g, net->acts[l], (long)B * L->out);
    }
    g = target, cur = next;
  }
}

void net_tensor_name(const Net *net, int layer, int is_bias, char *buf, size_t len) {
  int index = 0;
  for (int l = 0; l < layer; l++) index += net->layers[l].kind == LAYER_DENSE;
  snprintf(buf, len, "dense%d.%s", index, is_bias ? "bias" : "weight");
}

const float *net_dense_output(const Net *net, int dense, int *width) {
  for (int l = 0, seen = 0; l < net->nlayers; l++) {
    if (net->layers[l].kind != LAYER_DENSE || seen++ != dense) continue;
    *width = net->layers[l].out;
    /* activations run in place, so the dense layer's buffer holds the activated values */
    return net->acts[l];
  }
  return NULL;
}
