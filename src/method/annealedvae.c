/* AnnealedVAE (Burgess et al., "Understanding disentangling in beta-VAE", 2018): a Gaussian head,
 * the reconstruction likelihood and gamma |KL - C|, the capacity C raised linearly from 0 to
 * C_max over a number of steps. */
#include <stddef.h>

#include "disentangle/method.h"

typedef struct {
  PetscReal gamma, c_max;
  PetscInt c_steps;
} AnnealedOptions;

#define AOPT(field) offsetof(AnnealedOptions, field), sizeof(((AnnealedOptions *)0)->field)

/* Defaults: the large study's (Locatello et al. 2019, disentanglement_lib): gamma 1000, C_max
 * from {5, 10, 25, 50, 75, 100} nats, raised over 100000 iterations. */
static const OptSpec annealedvae_options[] = {
  {"-annealedvae_gamma", OPT_REAL, AOPT(gamma), "1000", 0, 1e9, NULL, "weight of |KL - C|", NULL},
  {"-annealedvae_c_max", OPT_REAL, AOPT(c_max), "25", 0, 1e9, NULL, "final capacity C in nats (the study's grid: 5, 10, 25, 50, 75, 100)", NULL},
  {"-annealedvae_c_steps", OPT_INT, AOPT(c_steps), "100000", 0, 1e12, NULL, "steps over which C rises linearly from 0 to C_max (0: C_max at once)", NULL},
};

static PetscErrorCode annealedvae_create(Method *me) {
  PetscFunctionBeginUser;
  const AnnealedOptions *opt = me->opts;
  KlCapacity *cap;
  PetscCall(PetscCalloc1(1, &cap));
  cap->c_max = opt->c_max, cap->c_steps = (long)opt->c_steps;
  me->state = cap;
  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_kl_capacity, opt->gamma, SITE_CODE, 0, cap));
  PetscFunctionReturn(0);
}

static void annealedvae_destroy(Method *me) { (void)PetscFree(me->state); }

const MethodOps method_annealedvae = {
  .name = "annealedvae",
  .summary = "AnnealedVAE: Gaussian latents, reconstruction + gamma |KL - C|, C raised linearly to C_max",
  .options = annealedvae_options,
  .noptions = sizeof annealedvae_options / sizeof *annealedvae_options,
  .options_size = sizeof(AnnealedOptions),
  .head = &head_gaussian,
  .nlosses = 4,
  .loss_names = {"loss", "rec", "kl_gap", "kl"},
  .create = annealedvae_create,
  .step = method_step_autoencoder,
  .loss_gradient = terms_loss_gradient,
  .reproducible = 1,
  .destroy = annealedvae_destroy,
  .nets = method_nets_autoencoder,
};
