/* The plain autoencoder: reconstruction only (-rec_loss), the lambda = 0 baseline of NashAE. */
#include "disentangle/method.h"

static PetscErrorCode ae_create(Method *me) {
  PetscFunctionBeginUser;
  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscFunctionReturn(0);
}

static void ae_destroy(Method *me) { (void)me; }

const MethodOps method_ae = {
  .name = "ae",
  .summary = "plain autoencoder (the lambda = 0 baseline, no regressors)",
  .head = &head_sigmoid,
  .nlosses = 2,
  .loss_names = {"loss", "rec"},
  .create = ae_create,
  .step = method_step_autoencoder,
  .loss_gradient = terms_loss_gradient,
  .reproducible = 1,
  .destroy = ae_destroy,
  .nets = method_nets_autoencoder,
};
