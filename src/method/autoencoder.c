#include "disentangle/autoencoder.h"

#include <string.h>

#include "disentangle/error.h"
#include "disentangle/layers.h"
#include "disentangle/options.h"
#include "disentangle/tensor.h"

#define MAX_HIDDEN 16

PetscErrorCode autoencoder_create(Autoencoder *ae, ParamSet *ps, const Config *cfg, int features, int max_batch,
                                  const LayerOps *latent_act) {
  PetscFunctionBeginUser;
  memset(ae, 0, sizeof *ae);
  int hidden[MAX_HIDDEN], nh = 0, w[MAX_HIDDEN + 2];
  const LayerOps *act;
  PetscCall(options_parse_widths("-hidden", cfg->hidden, hidden, MAX_HIDDEN, &nh));
  PetscCall(net_activation_from_name(cfg->activation, &act));
  ae->features = features, ae->latents = (int)cfg->latents, ae->max_batch = max_batch;

  w[0] = features;
  for (int i = 0; i < nh; i++) w[1 + i] = hidden[i];
  w[nh + 1] = ae->latents;
  PetscCall(net_init_mlp(&ae->enc, "encoder", w, nh + 2, act, latent_act));
  for (int i = 0; i < nh + 2; i++) w[i] = i == 0 ? ae->latents : i == nh + 1 ? features : hidden[nh - i];
  PetscCall(net_init_mlp(&ae->dec, "decoder", w, nh + 2, act, NULL));

  PetscCall(paramset_group(ps, "autoencoder", &ae->group));
  PetscCall(net_register(&ae->enc, ps, ae->group));
  PetscCall(net_register(&ae->dec, ps, ae->group));
  PetscCall(paramset_allocate(ps));
  ae->nparams = ps->groups[ae->group].n;
  ae->params = ps->groups[ae->group].params, ae->grads = ps->groups[ae->group].grads;
  PetscCall(net_bind(&ae->enc, ps, max_batch));
  PetscCall(net_bind(&ae->dec, ps, max_batch));
  net_init_params(&ae->enc, (uint64_t)cfg->seed, 0);
  net_init_params(&ae->dec, (uint64_t)cfg->seed, 1);
  PetscCall(tensor_alloc((size_t)max_batch * ae->latents, &ae->dz));
  PetscCall(tensor_alloc((size_t)max_batch * features, &ae->dxhat));
  PetscFunctionReturn(0);
}

void autoencoder_free(Autoencoder *ae) {
  net_free(&ae->enc);
  net_free(&ae->dec);
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
