/* A net: an ordered list of layers over ONE contiguous parameter block and ONE gradient block.
 * Several nets may share one allocation (the encoder and decoder do), so that one allreduce
 * and one optimizer step cover all of them. */
#ifndef DISENTANGLE_NET_H
#define DISENTANGLE_NET_H

#include <petscsys.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LAYER_DENSE, LAYER_SELU, LAYER_RELU, LAYER_SIGMOID, LAYER_TANH, LAYER_IDENTITY } LayerKind;

#define NET_MAX_LAYERS 32
#define NET_NAME_LEN 48

typedef struct {
  LayerKind kind;
  int in, out;
  size_t w_off, b_off; /* offsets into the net's parameter block (dense only) */
} Layer;

typedef struct {
  char name[NET_NAME_LEN];
  int nlayers;
  Layer layers[NET_MAX_LAYERS];
  size_t nparams;
  float *params, *grads;  /* not owned: point into a block shared with other nets */
  int max_batch;
  float *acts[NET_MAX_LAYERS]; /* output of each layer, [max_batch][out] */
  float *scratch[2];           /* ping-pong gradients in backward */
} Net;

/* Activation names as used in options: selu, relu, sigmoid, tanh, identity (alias linear). */
PetscErrorCode net_activation_from_name(const char *name, LayerKind *kind);
const char *net_layer_kind_name(LayerKind kind);

/* Describe an MLP: widths[0] -> widths[1] -> ... -> widths[n-1]; hidden activation after every
 * dense layer but the last, out_act after the last (LAYER_IDENTITY for a linear output). */
PetscErrorCode net_init_mlp(Net *net, const char *name, const int *widths, int n, LayerKind hidden_act,
                            LayerKind out_act);
int net_in(const Net *net);
int net_out(const Net *net);

/* Point the net at its slices of shared blocks and allocate activations for max_batch rows. */
PetscErrorCode net_bind(Net *net, float *params, float *grads, int max_batch);
void net_free(Net *net);

/* Kaiming-normal weights with the 'linear' gain (std 1/sqrt(fan_in)) and PyTorch's default
 * biases (uniform in +-1/sqrt(fan_in)), drawn from (seed, RNG_STREAM_INIT + net_id). */
void net_init_params(Net *net, uint64_t seed, int net_id);

/* Forward B rows of x; returns the output (the net's last activation buffer). */
const float *net_forward(Net *net, const float *x, int B);
/* Backward from dout (gradient of the loss w.r.t. the output of the last forward).
 * param_grads: accumulate into net->grads; dx: input gradient [B][in] or NULL. */
void net_backward(Net *net, const float *x, const float *dout, int B, int param_grads, float *dx);

/* Output of dense layer number `dense` (0-based, counting dense layers only) after its activation,
 * as left by the last net_forward: [B][*width]. NULL when there is no such layer. */
const float *net_dense_output(const Net *net, int dense, int *width);

/* Name of tensor t of a dense layer, e.g. "dense2.weight": used in weight files. */
void net_tensor_name(const Net *net, int layer, int is_bias, char *buf, size_t len);

#endif
