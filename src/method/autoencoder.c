#include "disentangle/autoencoder.h"

#include <string.h>

#include "disentangle/error.h"
#include "disentangle/layers.h"
#include "disentangle/options.h"
#include "disentangle/tensor.h"

#define MAX_HIDDEN 16

PetscErrorCode autoencoder_create(Autoencoder *ae, const Config *cfg, int features, int max_batch,
                                  LayerKind latent_act) {
  PetscFunctionBeginUser;
  memset(ae, 0, sizeof *ae);
  int hidden[MAX_HIDDEN], nh = 0, w[MAX_HIDDEN + 2];
  LayerKind act;
  PetscCall(options_parse_widths("-hidden", cfg->hidden, hidden, MAX_HIDDEN, &nh));
  PetscCall(net_activation_from_name(cfg->activation, &act));
  ae->features = features, ae->latents = (int)cfg->latents, ae->max_batch = max_batch;

  w[0] = features;
  for (int i = 0; i < nh; i++) w[1 + i] = hidden[i];
  w[nh + 1] = ae->latents;
  PetscCall(net_init_mlp(&ae->enc, "encoder", w, nh + 2, act, latent_act));
  for (int i = 0; i < nh + 2; i++) w[i] = i == 0 ? ae->latents : i == nh + 1 ? features : hidden[nh - i];
  PetscCall(net_init_mlp(&ae->dec, "decoder", w, nh + 2, act, LAYER_IDENTITY));

  ae->nparams = ae->enc.nparams + ae->dec.nparams;
  PetscCall(tensor_alloc(ae->nparams, &ae->params));
  PetscCall(tensor_alloc(ae->nparams, &ae->grads));
  PetscCall(net_bind(&ae->enc, ae->params, ae->grads, max_batch));
  PetscCall(net_bind(&ae->dec, ae->params + ae->enc.nparams, ae->grads + ae->enc.nparams, max_batch));
  net_init_params(&ae->enc, (uint64_t)cfg->seed, 0);
  net_init_params(&ae->dec, (uint64_t)cfg->seed, 1);
  PetscCall(adam_create(&ae->adam, ae->nparams, cfg->lr, 0.9, 0.999, 1e-8));
  PetscCall(tensor_alloc((size_t)max_batch * ae->latents, &ae->dz));
  PetscCall(tensor_alloc((size_t)max_batch * features, &ae->dxhat));
  PetscFunctionReturn(0);
}

void autoencoder_free(Autoencoder *ae) {
  net_free(&ae->enc);
  net_free(&ae->dec);
  adam_free(&ae->adam);
  tensor_free(&ae->params);
  tensor_free(&ae->grads);
  tensor_free(&ae->dz);
  tensor_free(&ae->dxhat);
}

void autoencoder_forward(Autoencoder *ae, const float *x, int n, const float **z, const float **xhat) {
  const float *code = net_forward(&ae->enc, x, n);
  if (z) *z = code;
  const float *out = net_forward(&ae->dec, code, n);
  if (xhat) *xhat = out;
}

double autoencoder_reconstruction(Autoencoder *ae, const float *x, int n, float scale) {
  const float *xhat = ae->dec.acts[ae->dec.nlayers - 1];
  return mse_forward_backward(ae->dxhat, xhat, x, (long)n * ae->features, scale);
}

void autoencoder_backward_decoder(Autoencoder *ae, int n) {
  const float *z = ae->enc.acts[ae->enc.nlayers - 1];
  net_backward(&ae->dec, z, ae->dxhat, n, 1, ae->dz);
}

void autoencoder_backward_encoder(Autoencoder *ae, const float *x, int n) {
  net_backward(&ae->enc, x, ae->dz, n, 1, NULL);
}

void autoencoder_adam_step(Autoencoder *ae) {
  adam_tick(&ae->adam);
  adam_update(&ae->adam, ae->params, ae->grads, 0, ae->nparams);
  memset(ae->grads, 0, ae->nparams * sizeof *ae->grads);
}
