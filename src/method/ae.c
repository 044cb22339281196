/* The plain autoencoder: reconstruction only (MSE/2 or Bernoulli, -rec_loss), the lambda = 0
 * baseline of NashAE. */
#include "disentangle/method.h"

static PetscErrorCode ae_create(Method *me) {
  PetscFunctionBeginUser;
  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode ae_step(Method *me, const Batch *b, StepLosses *out) {
  PetscFunctionBeginUser;
  PetscCall(terms_loss_gradient(me, b, 0, out));
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
  .head = &head_sigmoid,
  .nlosses = 2,
  .loss_names = {"loss", "rec"},
  .create = ae_create,
  .step = ae_step,
  .loss_gradient = terms_loss_gradient,
  .destroy = ae_destroy,
  .nets = ae_nets,
};
