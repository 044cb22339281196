/* A net: an ordered list of layers whose parameters are tensors of a ParamSet (see
 * paramset.h). A layer kind is a table of functions (LayerOps), so a new kind is a new file,
 * not a new branch here. Several nets share one optimizer group (the encoder and the decoder
 * do), so one allreduce and one optimizer step cover all of them.
 *
 * Life of a net: net_create + net_add_* (or net_init_mlp) describe it, net_register puts its
 * tensors into a ParamSet, and after paramset_allocate, net_bind points it at them and
 * allocates its activations. */
#ifndef DISENTANGLE_NET_H
#define DISENTANGLE_NET_H

#include <petscsys.h>
#include <stddef.h>
#include <stdint.h>

#include "disentangle/paramset.h"

#define NET_MAX_LAYERS 32
#define NET_NAME_LEN 48
#define LAYER_MAX_TENSORS 2
#define LAYER_MAX_ARGS 6

/* The shape of ONE sample: [L] (ndim 1) or [C, H, W] (ndim 3), row-major (NCHW batches). */
typedef struct {
  int ndim;
  int d[3];
} Shape;

static inline long shape_size(const Shape *s) {
  long n = 1;
  for (int i = 0; i < s->ndim; i++) n *= s->d[i];
  return n;
}
static inline Shape shape_vector(int n) { return (Shape){1, {n, 1, 1}}; }

typedef struct Layer Layer;

/* A layer kind. Conventions (those of layers.h): row-major batches of B samples; backward
 * ACCUMULATES parameter gradients (grads NULL: none wanted) and OVERWRITES dx (NULL: not
 * wanted). params/grads point at the net's first parameter; a layer finds its own tensors at
 * l->offset[t]. */
typedef struct {
  const char *kind;  /* as in tensor names ("dense0.weight") and in -help */
  int in_place;      /* element-wise: output overwrites the input buffer, backward needs only y */
  /* l->out and l->tensor shapes from l->in and l->arg; an error for impossible shapes. */
  PetscErrorCode (*setup)(Layer *l);
  /* Initial values of the layer's tensors; draws are keyed (seed, stream, counter, i). */
  void (*init)(const Layer *l, float *params, uint64_t seed, uint64_t stream, int counter);
  void (*forward)(const Layer *l, const float *params, float *y, const float *x, int B, float *scratch);
  void (*backward)(const Layer *l, const float *params, float *grads, float *dx, const float *dy, const float *x,
                   const float *y, int B, float *scratch);
  /* Floats of scratch forward/backward need for B samples (NULL: none). */
  size_t (*scratch)(const Layer *l, int B);
} LayerOps;

struct Layer {
  const LayerOps *ops;
  Shape in, out;
  int arg[LAYER_MAX_ARGS];                    /* the kind's own: dense {out}; conv {cout, k, stride, pad, out_pad} */
  int ntensors;                               /* set by setup */
  const char *tensor_name[LAYER_MAX_TENSORS]; /* "weight", "bias" */
  int tensor_ndim[LAYER_MAX_TENSORS];
  int tensor_dims[LAYER_MAX_TENSORS][PARAM_MAX_DIMS];
  size_t offset[LAYER_MAX_TENSORS];           /* into the net's parameters */
  size_t w_off, b_off;                        /* = offset[0], offset[1] (the dense names) */
};

/* Layer kinds (src/nn/dense.c, src/nn/activation.c, src/nn/conv_layer.c, src/nn/reshape.c). */
extern const LayerOps layer_dense, layer_selu, layer_relu, layer_sigmoid, layer_tanh, layer_identity;
extern const LayerOps layer_leaky_relu; /* slope 0.2 (the FactorVAE discriminator's) */
extern const LayerOps layer_conv2d, layer_conv_transpose2d, layer_reshape;

typedef struct {
  char name[NET_NAME_LEN];
  int nlayers;
  Layer layers[NET_MAX_LAYERS];
  Shape in;
  size_t nparams;
  int first_tensor, ntensors; /* in the ParamSet, after net_register */
  int group;
  float *params, *grads;      /* the net's first parameter in its group's blocks */
  int max_batch;
  float *acts[NET_MAX_LAYERS];   /* output of each layer, [max_batch][out] */
  float *inject[NET_MAX_LAYERS]; /* NULL, or a gradient added to layer l's output in backward */
  float *scratch[2];             /* ping-pong gradients in backward */
  float *work;                   /* the layers' own scratch */
  GradSync *sync;                /* NULL, or the gradient allreduce backward hands each finished layer to */
} Net;

/* Element-wise activations by option name: selu, relu, sigmoid, tanh, identity (alias linear). */
PetscErrorCode net_activation_from_name(const char *name, const LayerOps **ops);

PetscErrorCode net_create(Net *net, const char *name, Shape in);
/* Append a layer of that kind (args: its arg[] values). */
PetscErrorCode net_add(Net *net, const LayerOps *ops, const int *args, int nargs);
PetscErrorCode net_add_dense(Net *net, int out);
/* Convolutions on an image input [C,H,W] (conv.h): a k x k kernel, the same stride and zero
 * padding on both axes; out_pad adds rows/columns at the bottom/right of a transpose's output. */
PetscErrorCode net_add_conv2d(Net *net, int cout, int k, int stride, int pad);
PetscErrorCode net_add_conv_transpose2d(Net *net, int cout, int k, int stride, int pad, int out_pad);
/* The same values per sample seen as an image [c,h,w], or as a vector (flatten); no copy. */
PetscErrorCode net_add_reshape(Net *net, int c, int h, int w);
PetscErrorCode net_add_flatten(Net *net);
/* An MLP: widths[0] -> ... -> widths[n-1]; hidden_act after every dense layer but the last,
 * out_act after the last (NULL or identity: a linear output). */
PetscErrorCode net_init_mlp(Net *net, const char *name, const int *widths, int n, const LayerOps *hidden_act,
                            const LayerOps *out_act);
/* What net_init_mlp(widths, n) + net_bind(batch rows) allocate, in floats: its parameters, and
 * its activations and scratch. */
void net_mlp_cost(const int *widths, int n, double batch, double *params, double *acts);
/* Widths "a,b,c" as net_init_mlp takes them, without messages: the count, 0 if not such a list
 * (the method's own parsing reports why). */
int net_parse_widths(const char *text, int *w, int max);
int net_in(const Net *net);  /* values per input sample */
int net_out(const Net *net); /* values per output sample */
Shape net_out_shape(const Net *net);

/* Register every tensor as "NETNAME/KINDk.TENSOR" in group `group` of ps. */
PetscErrorCode net_register(Net *net, ParamSet *ps, int group);
/* After paramset_allocate: point at the tensors and allocate activations for max_batch rows. */
PetscErrorCode net_bind(Net *net, const ParamSet *ps, int max_batch);
void net_free(Net *net);

/* Kaiming-normal weights with the 'linear' gain and PyTorch's default biases, drawn from
 * (seed, RNG_STREAM_INIT + net_id). */
void net_init_params(Net *net, uint64_t seed, int net_id);

/* Forward B rows of x; returns the output (the net's last activation buffer). */
const float *net_forward(Net *net, const float *x, int B);
/* Backward from dout (gradient of the loss w.r.t. the output of the last forward), plus any
 * gradient injected at inner layers (net->inject). param_grads: accumulate into net->grads;
 * dx: input gradient [B][in] or NULL. */
void net_backward(Net *net, const float *x, const float *dout, int B, int param_grads, float *dx);

/* Index of the layer called "KINDk" (e.g. "dense1", "selu0"), or -1. */
int net_find_layer(const Net *net, const char *name);
/* Name "KINDk" of layer l. */
void net_layer_name(const Net *net, int l, char *buf, size_t len);
/* Output of dense layer number `dense` (0-based, counting dense layers only) after its activation,
 * as left by the last net_forward: [B][*width]. NULL when there is no such layer. */
const float *net_dense_output(const Net *net, int dense, int *width);

#endif
