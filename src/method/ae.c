/* The plain autoencoder: MSE/2 reconstruction only, the lambda = 0 baseline of NashAE. */
#include "disentangle/method.h"

static PetscErrorCode ae_create(Method *me) {
  (void)me;
  return 0;
}

static PetscErrorCode ae_loss_gradient(Method *me, const float *x, int count, int encoded, StepLosses *out) {
  PetscFunctionBeginUser;
  Autoencoder *ae = &me->ae;
  const int B = me->global_batch;
  double sq;
  if (!encoded) autoencoder_forward(ae, x, count, NULL, NULL);
  sq = autoencoder_reconstruction(ae, x, count, (float)(1.0 / ((double)B * ae->features)));
  PetscCall(par_allreduce_stats(&sq, 1, me->par->world));
  autoencoder_backward_decoder(ae, count);
  autoencoder_backward_encoder(ae, x, count);
  if (me->par->size > 1) PetscCall(par_allreduce_grads(ae->grads, ae->nparams, me->par->world));
  double rec = 0.5 * sq / ((double)B * ae->features);
  *out = (StepLosses){.n = 2, .value = {rec, rec}};
  PetscFunctionReturn(0);
}

static PetscErrorCode ae_step(Method *me, const float *x, int count, StepLosses *out) {
  PetscFunctionBeginUser;
  PetscCall(ae_loss_gradient(me, x, count, 0, out));
  method_update(me, me->ae.group);
  PetscFunctionReturn(0);
}

static void ae_destroy(Method *me) { (void)me; }

static int ae_nets(Method *me, Net **nets, int max) {
  int n = 0;
  if (n < max) nets[n++] = &me->ae.enc;
  if (n < max) nets[n++] = &me->ae.dec;
  return n;
}

const MethodOps method_ae = {
  .name = "ae",
  .summary = "plain autoencoder (the lambda = 0 baseline, no regressors)",
  .latent_act = &layer_sigmoid,
  .nlosses = 2,
  .loss_names = {"loss", "rec"},
  .create = ae_create,
  .step = ae_step,
  .loss_gradient = ae_loss_gradient,
  .destroy = ae_destroy,
  .nets = ae_nets,
};
