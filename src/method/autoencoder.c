#include "disentangle/autoencoder.h"

#include <stdio.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/layers.h"
#include "disentangle/options.h"
#include "disentangle/phase.h"
#include "disentangle/phases.h"
#include "disentangle/tensor.h"

#define MAX_HIDDEN 16

/* -arch mlp: features -> hidden... -> latents, decoder mirrored, from -hidden/-activation (-hidden
 * none: no hidden layer). */
static PetscErrorCode build_mlp(Autoencoder *ae, const Config *cfg, int code_width) {
  PetscFunctionBeginUser;
  int hidden[MAX_HIDDEN], nh = 0, w[MAX_HIDDEN + 2];
  const LayerOps *act;
  /* none: the code layer alone (with -head identity, the linear autoencoder of the L_Sigma paper) */
  if (strcmp(cfg->hidden, "none")) PetscCall(options_parse_widths("-hidden", cfg->hidden, hidden, MAX_HIDDEN, &nh));
  PetscCall(net_activation_from_name(cfg->activation, &act));
  w[0] = ae->features;
  for (int i = 0; i < nh; i++) w[1 + i] = hidden[i];
  w[nh + 1] = code_width;
  PetscCall(net_init_mlp(&ae->enc, "encoder", w, nh + 2, act, NULL));
  for (int i = 0; i < nh + 2; i++) w[i] = i == 0 ? head_decoder_width(&ae->head) : i == nh + 1 ? ae->features : hidden[nh - i];
  PetscCall(net_init_mlp(&ae->dec, "decoder", w, nh + 2, act, NULL));
  PetscFunctionReturn(0);
}

/* The dSprites nets take one 64x64 image per sample: [1,64,64], or a flat sample of 4096 values
 * (a caller that knows only the feature count) read as that image. */
static PetscErrorCode check_dsprites_input(const Config *cfg, Shape s) {
  PetscFunctionBeginUser;
  int image = s.ndim == 3 && s.d[0] == 1 && s.d[1] == 64 && s.d[2] == 64;
  int flat = s.ndim == 1 && s.d[0] == 64 * 64;
  if (!image && !flat) {
    char got[64];
    if (s.ndim == 3) snprintf(got, sizeof got, "[%d,%d,%d]", s.d[0], s.d[1], s.d[2]);
    else snprintf(got, sizeof got, "[%d]", s.d[0]);
    DT_INPUT_ERROR(PETSC_COMM_WORLD, "option -arch %s: needs samples of shape [1,64,64] (64x64 single-channel images); the archive's samples are %s",
                   cfg->arch, got);
  }
  PetscFunctionReturn(0);
}

/* -arch dsprites_conv, the published NashAE dSprites net: conv 4x4 stride 2 pad 1 with 32, 32,
 * 64 channels (64 -> 32 -> 16 -> 8), flatten, dense 256, dense m; the decoder mirrored with
 * transposed convolutions; SELU between layers, a linear output. */
static PetscErrorCode build_dsprites_conv(Autoencoder *ae, const Config *cfg, int code_width) {
  PetscFunctionBeginUser;
  const int channels[3] = {32, 32, 64};
  PetscCall(check_dsprites_input(cfg, ae->sample));
  Net *e = &ae->enc, *d = &ae->dec;
  /* a flat sample is the same memory as the image: the same net, layer for layer, either way */
  PetscCall(net_create(e, "encoder", (Shape){3, {1, 64, 64}}));
  for (int i = 0; i < 3; i++) {
    PetscCall(net_add_conv2d(e, channels[i], 4, 2, 1));
    PetscCall(net_add(e, &layer_selu, NULL, 0));
  }
  PetscCall(net_add_flatten(e));
  PetscCall(net_add_dense(e, 256));
  PetscCall(net_add(e, &layer_selu, NULL, 0));
  PetscCall(net_add_dense(e, code_width));

  PetscCall(net_create(d, "decoder", shape_vector(head_decoder_width(&ae->head))));
  PetscCall(net_add_dense(d, 256));
  PetscCall(net_add(d, &layer_selu, NULL, 0));
  PetscCall(net_add_dense(d, 64 * 8 * 8));
  PetscCall(net_add(d, &layer_selu, NULL, 0));
  PetscCall(net_add_reshape(d, 64, 8, 8));
  PetscCall(net_add_conv_transpose2d(d, 32, 4, 2, 1, 0));
  PetscCall(net_add(d, &layer_selu, NULL, 0));
  PetscCall(net_add_conv_transpose2d(d, 32, 4, 2, 1, 0));
  PetscCall(net_add(d, &layer_selu, NULL, 0));
  PetscCall(net_add_conv_transpose2d(d, 1, 4, 2, 1, 0));
  PetscFunctionReturn(0);
}

/* -arch dsprites_fc, its fully connected variant: 4096 -> 1200 -> 1200 -> m with ReLU, the
 * decoder mirrored with ReLU and a linear output. */
static PetscErrorCode build_dsprites_fc(Autoencoder *ae, const Config *cfg, int code_width) {
  PetscFunctionBeginUser;
  PetscCall(check_dsprites_input(cfg, ae->sample));
  int we[4] = {64 * 64, 1200, 1200, code_width}, wd[4] = {head_decoder_width(&ae->head), 1200, 1200, 64 * 64};
  PetscCall(net_init_mlp(&ae->enc, "encoder", we, 4, &layer_relu, NULL));
  PetscCall(net_init_mlp(&ae->dec, "decoder", wd, 4, &layer_relu, NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode autoencoder_create(Autoencoder *ae, ParamSet *ps, const Config *cfg, Shape sample, int max_batch,
                                  const HeadOps *head, int width) {
  PetscFunctionBeginUser;
  memset(ae, 0, sizeof *ae);
  ae->sample = sample;
  ae->features = (int)shape_size(&sample), ae->latents = (int)cfg->latents, ae->max_batch = max_batch;
  PetscCall(head_create(&ae->head, head, ae->latents, width, max_batch, (uint64_t)cfg->seed));
  const int code = head_code_width(&ae->head);
  const char *arch = cfg->arch[0] ? cfg->arch : "mlp";
  if (!strcmp(arch, "mlp")) PetscCall(build_mlp(ae, cfg, code));
  else if (!strcmp(arch, "dsprites_conv")) PetscCall(build_dsprites_conv(ae, cfg, code));
  else if (!strcmp(arch, "dsprites_fc")) PetscCall(build_dsprites_fc(ae, cfg, code));
  else DT_INPUT_ERROR(PETSC_COMM_WORLD, "option -arch: unknown architecture '%s'; allowed: mlp, dsprites_conv, dsprites_fc", arch);
  PetscCheck(net_out(&ae->dec) == ae->features, PETSC_COMM_SELF, PETSC_ERR_PLIB, "-arch %s: the decoder gives %d values, not %d",
             arch, net_out(&ae->dec), ae->features);

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
  PetscCall(tensor_alloc((size_t)max_batch * ae->latents, &ae->z));
  PetscCall(tensor_alloc((size_t)max_batch * ae->latents, &ae->dz));
  PetscCall(tensor_alloc((size_t)max_batch * code, &ae->dcode));
  PetscCall(tensor_alloc((size_t)max_batch * ae->features, &ae->dxhat));
  if (head->lift) {
    PetscCall(tensor_alloc((size_t)max_batch * code, &ae->zin));
    PetscCall(tensor_alloc((size_t)max_batch * code, &ae->dzin));
  }
  PetscFunctionReturn(0);
}

void autoencoder_rebind_grads(Autoencoder *ae, const ParamSet *ps) {
  ae->grads = ps->groups[ae->group].grads;
  Net *nets[2] = {&ae->enc, &ae->dec};
  for (int k = 0; k < 2; k++)
    if (nets[k]->ntensors) nets[k]->grads = paramset_grad(ps, nets[k]->first_tensor);
}

void autoencoder_free(Autoencoder *ae) {
  net_free(&ae->enc);
  net_free(&ae->dec);
  head_free(&ae->head);
  tensor_free(&ae->z);
  tensor_free(&ae->dz);
  tensor_free(&ae->dcode);
  tensor_free(&ae->dxhat);
  tensor_free(&ae->zin);
  tensor_free(&ae->dzin);
}

const float *autoencoder_decoder_input(Autoencoder *ae, const float *z, int n) {
  if (!ae->head.ops->lift) return z;
  ae->head.ops->lift(&ae->head, z, n, ae->zin);
  return ae->zin;
}

const float *autoencoder_decode(Autoencoder *ae, const float *z, int n) {
  return net_forward(&ae->dec, autoencoder_decoder_input(ae, z, n), n);
}

/* The step's phases are logged here (-log_view); these return nothing, so the events'
 * codes are dropped: they fail only when PETSc's logging itself is broken. */
void autoencoder_forward(Autoencoder *ae, const float *x, int n, const float **z, const float **xhat) {
  Phase was = phase_switch(PHASE_ENCODER);
  (void)PetscLogEventBegin(dt_events.forward, 0, 0, 0, 0);
  const float *code = net_forward(&ae->enc, x, n);
  ae->head.ops->forward(&ae->head, code, n, ae->z);
  if (z) *z = ae->z;
  phase_switch(PHASE_DECODER);
  const float *out = autoencoder_decode(ae, ae->z, n);
  if (xhat) *xhat = out;
  phase_switch(was);
  (void)PetscLogEventEnd(dt_events.forward, 0, 0, 0, 0);
}

void autoencoder_reconstruct(Autoencoder *ae, const float *x, int n, const float **z, const float **xhat) {
  const float *code = net_forward(&ae->enc, x, n);
  ae->head.ops->encode(&ae->head, code, n, ae->z);
  if (z) *z = ae->z;
  const float *out = autoencoder_decode(ae, ae->z, n);
  if (xhat) *xhat = out;
}

void autoencoder_backward_decoder(Autoencoder *ae, int n) {
  Phase was = phase_switch(PHASE_DECODER);
  (void)PetscLogEventBegin(dt_events.backward, 0, 0, 0, 0);
  if (!ae->head.ops->lift) {
    net_backward(&ae->dec, ae->z, ae->dxhat, n, 1, ae->dz);
  } else {
    net_backward(&ae->dec, ae->zin, ae->dxhat, n, 1, ae->dzin);
    ae->head.ops->lift_backward(&ae->head, ae->z, ae->dzin, n, ae->dz);
  }
  (void)PetscLogEventEnd(dt_events.backward, 0, 0, 0, 0);
  phase_switch(was);
}

void autoencoder_backward_head(Autoencoder *ae, int n) {
  Phase was = phase_switch(PHASE_ENCODER);
  (void)PetscLogEventBegin(dt_events.backward, 0, 0, 0, 0);
  ae->head.ops->backward(&ae->head, autoencoder_code(ae), ae->z, ae->dz, n, ae->dcode);
  (void)PetscLogEventEnd(dt_events.backward, 0, 0, 0, 0);
  phase_switch(was);
}

void autoencoder_backward_encoder(Autoencoder *ae, const float *x, int n) {
  Phase was = phase_switch(PHASE_ENCODER);
  (void)PetscLogEventBegin(dt_events.backward, 0, 0, 0, 0);
  net_backward(&ae->enc, x, ae->dcode, n, 1, NULL);
  (void)PetscLogEventEnd(dt_events.backward, 0, 0, 0, 0);
  phase_switch(was);
}
