/* beta-VAE (Higgins et al., ICLR 2017): a Gaussian head, the reconstruction likelihood
 * (-rec_loss gaussian or bernoulli) and beta KL(q(z|x) || N(0, I)). */
#include <stddef.h>

#include "disentangle/method.h"

typedef struct {
  PetscReal beta;
} BetaOptions;

static const OptSpec betavae_options[] = {
  {"-betavae_beta", OPT_REAL, offsetof(BetaOptions, beta), sizeof(PetscReal), "4", 0, 1e6, NULL,
   "weight of KL(q(z|x) || N(0, I)); 1 is the plain VAE (the large study's grid: 1, 2, 4, 6, 8, 16)", NULL},
};

static PetscErrorCode betavae_create(Method *me) {
  PetscFunctionBeginUser;
  const BetaOptions *opt = me->opts;
  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_kl, opt->beta, SITE_CODE, 0, NULL));
  PetscFunctionReturn(0);
}

static void betavae_destroy(Method *me) { (void)me; }

const MethodOps method_betavae = {
  .name = "betavae",
  .summary = "beta-VAE: Gaussian latents, reconstruction + beta KL",
  .options = betavae_options,
  .noptions = sizeof betavae_options / sizeof *betavae_options,
  .options_size = sizeof(BetaOptions),
  .head = &head_gaussian,
  .nlosses = 3,
  .loss_names = {"loss", "rec", "kl"},
  .create = betavae_create,
  .step = method_step_autoencoder,
  .loss_gradient = terms_loss_gradient,
  .reproducible = 1,
  .destroy = betavae_destroy,
  .nets = method_nets_autoencoder,
};
