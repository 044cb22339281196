/* The engine every method stands on: an encoder and a decoder, their tensors in one optimizer
 * group of the method's ParamSet ("autoencoder"), trained data-parallel (each rank a slice of
 * the batch, gradients summed with one allreduce). */
#ifndef DISENTANGLE_AUTOENCODER_H
#define DISENTANGLE_AUTOENCODER_H

#include "disentangle/comm.h"
#include "disentangle/config.h"
#include "disentangle/head.h"
#include "disentangle/net.h"
#include "disentangle/optim.h"
#include "disentangle/paramset.h"

typedef struct {
  Net enc, dec;          /* encoder: sample -> code; decoder: latents -> sample */
  Head head;             /* code -> latents */
  Shape sample;          /* one input sample: [L] or [C,H,W] */
  int features, latents, max_batch;
  int group;             /* its optimizer group in the ParamSet */
  size_t nparams;
  float *params, *grads; /* the group's blocks: [enc | dec] */
  float *z;              /* [max_batch][latents] the head's output of the last forward */
  float *dz;             /* [max_batch][latents] latent gradient, summed over the loss terms */
  float *dcode;          /* [max_batch][code width] its gradient at the encoder's output */
  float *dxhat;          /* [max_batch][features] */
  float *zin, *dzin;     /* [max_batch][decoder width] a lifting head's output and its gradient */
} Autoencoder;

/* Encoder sample -> ... -> code (linear; the head's code width), head code -> latents, decoder back to the sample's
 * values with a linear output, as cfg->arch says (mlp: from cfg->hidden and cfg->activation;
 * dsprites_conv, dsprites_fc: the published NashAE dSprites nets, which need [1,64,64] samples);
 * width: the encoder's output width when the method fixes it (0: the head's); registered in ps as group "autoencoder", allocated, and initialised from cfg->seed (nets 0
 * and 1). */
PetscErrorCode autoencoder_create(Autoencoder *ae, ParamSet *ps, const Config *cfg, Shape sample, int max_batch,
                                  const HeadOps *head, int width);
/* Take the gradient block's pointers again after it moved (paramset_sync_node). */
void autoencoder_rebind_grads(Autoencoder *ae, const ParamSet *ps);
void autoencoder_free(Autoencoder *ae);

/* code = enc(x), z = head(code), xhat = dec(z) for n rows (the head's noise: head_set_rows). */
void autoencoder_forward(Autoencoder *ae, const float *x, int n, const float **z, const float **xhat);

/* As autoencoder_forward without noise: z = the head's encoding (a Gaussian head's mean). */
void autoencoder_reconstruct(Autoencoder *ae, const float *x, int n, const float **z, const float **xhat);

/* What the decoder reads for n rows of latents z: z itself, or the head's lift of it (ae->zin). */
const float *autoencoder_decoder_input(Autoencoder *ae, const float *z, int n);
/* Decode n rows of latents (through the head's lift if it has one). */
const float *autoencoder_decode(Autoencoder *ae, const float *z, int n);

/* Backward through the decoder from ae->dxhat: decoder gradients, and ae->dz = d/dz. */
void autoencoder_backward_decoder(Autoencoder *ae, int n);
/* Backward through the head: ae->dcode from ae->dz (after the terms at the latents added theirs). */
void autoencoder_backward_head(Autoencoder *ae, int n);
/* Backward through the encoder from ae->dcode (after the terms at the code added theirs). */
void autoencoder_backward_encoder(Autoencoder *ae, const float *x, int n);
/* The encoder's output of the last forward: [n][head_code_width]. */
static inline const float *autoencoder_code(const Autoencoder *ae) { return ae->enc.acts[ae->enc.nlayers - 1]; }

#endif
