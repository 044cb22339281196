#include "disentangle/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/layers.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"

static const LayerOps *const activations[] = {&layer_selu, &layer_relu, &layer_sigmoid, &layer_tanh, &layer_identity};

PetscErrorCode net_activation_from_name(const char *name, const LayerOps **ops) {
  PetscFunctionBeginUser;
  for (size_t k = 0; k < sizeof activations / sizeof *activations; k++)
    if (!strcmp(name, activations[k]->kind)) {
      *ops = activations[k];
      PetscFunctionReturn(0);
    }
  if (!strcmp(name, "linear")) {
    *ops = &layer_identity;
    PetscFunctionReturn(0);
  }
  DT_INPUT_ERROR(PETSC_COMM_WORLD, "unknown activation '%s'; allowed: selu, relu, sigmoid, tanh, identity", name);
}

PetscErrorCode net_create(Net *net, const char *name, Shape in) {
  PetscFunctionBeginUser;
  memset(net, 0, sizeof *net);
  snprintf(net->name, sizeof net->name, "%s", name);
  net->in = in;
  net->first_tensor = -1;
  PetscFunctionReturn(0);
}

PetscErrorCode net_add(Net *net, const LayerOps *ops, const int *args, int nargs) {
  PetscFunctionBeginUser;
  PetscCheck(net->nlayers < NET_MAX_LAYERS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "net %s: more than %d layers",
             net->name, NET_MAX_LAYERS);
  PetscCheck(nargs <= LAYER_MAX_ARGS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "net %s: too many layer arguments",
             net->name);
  Layer *l = &net->layers[net->nlayers];
  memset(l, 0, sizeof *l);
  l->ops = ops;
  l->in = net->nlayers ? net->layers[net->nlayers - 1].out : net->in;
  for (int i = 0; i < nargs; i++) l->arg[i] = args[i];
  PetscCall(ops->setup(l));
  for (int t = 0; t < l->ntensors; t++) {
    size_t size = 1;
    for (int d = 0; d < l->tensor_ndim[t]; d++) size *= (size_t)l->tensor_dims[t][d];
    l->offset[t] = net->nparams;
    net->nparams += size;
  }
  l->w_off = l->offset[0], l->b_off = l->offset[1];
  net->nlayers++;
  PetscFunctionReturn(0);
}

PetscErrorCode net_add_dense(Net *net, int out) {
  PetscFunctionBeginUser;
  PetscCall(net_add(net, &layer_dense, &out, 1));
  PetscFunctionReturn(0);
}

PetscErrorCode net_init_mlp(Net *net, const char *name, const int *widths, int n, const LayerOps *hidden_act,
                            const LayerOps *out_act) {
  PetscFunctionBeginUser;
  PetscCall(net_create(net, name, shape_vector(widths[0])));
  for (int i = 0; i + 1 < n; i++) {
    PetscCheck(widths[i] > 0 && widths[i + 1] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "net %s: layer width must be positive", name);
    PetscCall(net_add_dense(net, widths[i + 1]));
    const LayerOps *act = i + 2 < n ? hidden_act : out_act;
    if (act && act != &layer_identity) PetscCall(net_add(net, act, NULL, 0));
  }
  PetscFunctionReturn(0);
}

int net_in(const Net *net) { return (int)shape_size(&net->in); }
Shape net_out_shape(const Net *net) { return net->nlayers ? net->layers[net->nlayers - 1].out : net->in; }
int net_out(const Net *net) {
  Shape s = net_out_shape(net);
  return (int)shape_size(&s);
}

void net_layer_name(const Net *net, int l, char *buf, size_t len) {
  int index = 0;
  for (int k = 0; k < l; k++) index += net->layers[k].ops == net->layers[l].ops;
  snprintf(buf, len, "%s%d", net->layers[l].ops->kind, index);
}

int net_find_layer(const Net *net, const char *name) {
  char here[64];
  for (int l = 0; l < net->nlayers; l++) {
    net_layer_name(net, l, here, sizeof here);
    if (!strcmp(here, name)) return l;
  }
  return -1;
}

PetscErrorCode net_register(Net *net, ParamSet *ps, int group) {
  PetscFunctionBeginUser;
  net->group = group;
  for (int l = 0; l < net->nlayers; l++) {
    const Layer *L = &net->layers[l];
    char lname[64], name[PARAM_NAME_LEN];
    net_layer_name(net, l, lname, sizeof lname);
    for (int t = 0; t < L->ntensors; t++) {
      int index;
      int len = snprintf(name, sizeof name, "%s/%s.%s", net->name, lname, L->tensor_name[t]);
      PetscCheck(len < (int)sizeof name, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "tensor name %s/%s too long",
                 net->name, lname);
      PetscCall(paramset_add(ps, group, name, L->tensor_ndim[t], L->tensor_dims[t], &index));
      if (net->first_tensor < 0) net->first_tensor = index;
      net->ntensors++;
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode net_bind(Net *net, const ParamSet *ps, int max_batch) {
  PetscFunctionBeginUser;
  if (net->ntensors) {
    net->params = paramset_data(ps, net->first_tensor);
    net->grads = paramset_grad(ps, net->first_tensor);
  }
  net->max_batch = max_batch;
  long widest = shape_size(&net->in);
  size_t work = 0;
  for (int l = 0; l < net->nlayers; l++) {
    Layer *L = &net->layers[l];
    long out = shape_size(&L->out);
    widest = PetscMax(widest, out);
    if (L->ops->scratch) work = PetscMax(work, L->ops->scratch(L, max_batch));
    /* Element-wise layers run in place on the previous output: their backward needs only y. */
    if (L->ops->in_place && l > 0) net->acts[l] = net->acts[l - 1];
    else PetscCall(tensor_alloc((size_t)max_batch * out, &net->acts[l]));
  }
  for (int s = 0; s < 2; s++) PetscCall(tensor_alloc((size_t)max_batch * widest, &net->scratch[s]));
  if (work) PetscCall(tensor_alloc(work, &net->work));
  PetscFunctionReturn(0);
}

void net_free(Net *net) {
  for (int l = 0; l < net->nlayers; l++)
    if (!net->layers[l].ops->in_place || l == 0) tensor_free(&net->acts[l]);
  for (int l = 0; l < net->nlayers; l++) net->acts[l] = NULL;
  for (int s = 0; s < 2; s++) tensor_free(&net->scratch[s]);
  tensor_free(&net->work);
}

void net_init_params(Net *net, uint64_t seed, int net_id) {
  uint64_t stream = RNG_STREAM_INIT + (uint64_t)net_id;
  for (int l = 0; l < net->nlayers; l++)
    if (net->layers[l].ntensors && net->layers[l].ops->init) net->layers[l].ops->init(&net->layers[l], net->params, seed, stream, l);
}

const float *net_forward(Net *net, const float *x, int B) {
  const float *in = x;
  for (int l = 0; l < net->nlayers; l++) {
    const Layer *L = &net->layers[l];
    L->ops->forward(L, net->params, net->acts[l], in, B, net->work);
    in = net->acts[l];
  }
  return in;
}

static void add_into(float *restrict g, const float *restrict extra, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) g[i] += extra[i];
}

void net_backward(Net *net, const float *x, const float *dout, int B, int param_grads, float *dx) {
  const float *g = dout; /* gradient w.r.t. the current layer's output */
  int cur = -1;          /* scratch buffer holding g, -1 while g is the caller's dout */
  int fused_bias = -1;   /* the dense layer whose bias gradient the activation above it summed */
  for (int l = net->nlayers - 1; l >= 0; l--) {
    const Layer *L = &net->layers[l];
    if (net->inject[l]) { /* a loss term attached here: its gradient joins the one from above */
      long n = (long)B * shape_size(&L->out);
      if (cur < 0) {
        memcpy(net->scratch[0], g, (size_t)n * sizeof *g);
        g = net->scratch[0], cur = 0;
      }
      add_into(net->scratch[cur], net->inject[l], n);
    }
    const float *in = l == 0 ? x : net->acts[l - 1];
    int next = cur == 0 ? 1 : 0;
    float *target = l == 0 ? dx : net->scratch[next];
    const Layer *below = l > 0 ? &net->layers[l - 1] : NULL;
    if (L->ops == &layer_selu && below && below->ops == &layer_dense && param_grads && target && !net->inject[l - 1]) {
      /* SELU' and the dense layer's bias gradient in one pass over the gradient */
      selu_backward_bias(target, g, net->acts[l], net->grads + below->b_off, B, (int)shape_size(&L->out));
      fused_bias = l - 1;
    } else if (fused_bias == l) {
      dense_backward(target, net->grads + L->w_off, NULL, g, in, net->params + L->w_off, B, (int)shape_size(&L->in),
                     L->arg[0]);
    } else if (L->ntensors || target)
      L->ops->backward(L, net->params, param_grads ? net->grads : NULL, target, g, in, net->acts[l], B, net->work);
    if (param_grads && net->sync && L->ntensors) paramset_sync_ready(net->sync, net->grads + L->offset[0]);
    g = target, cur = next;
  }
}

const float *net_dense_output(const Net *net, int dense, int *width) {
  for (int l = 0, seen = 0; l < net->nlayers; l++) {
    if (net->layers[l].ops != &layer_dense || seen++ != dense) continue;
    *width = (int)shape_size(&net->layers[l].out);
    /* activations run in place, so the dense layer's buffer holds the activated values */
    return net->acts[l];
  }
  return NULL;
}

void net_mlp_cost(const int *w, int n, double batch, double *params, double *acts) {
  /* dense weights and biases; the dense outputs (activations run in place) and two scratch
   * blocks of the widest layer */
  double widest = w[0], outs = 0;
  *params = 0;
  for (int i = 0; i + 1 < n; i++) {
    *params += (double)w[i] * w[i + 1] + w[i + 1];
    outs += w[i + 1], widest = PetscMax(widest, (double)w[i + 1]);
  }
  *acts = batch * (outs + 2 * widest);
}

int net_parse_widths(const char *text, int *w, int max) {
  int n = 0;
  for (const char *p = text; *p && n < max;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 1000000 || (*end && *end != ',')) return 0;
    w[n++] = (int)v;
    p = *end ? end + 1 : end;
  }
  return n;
}
