/* DIP-VAE (Kumar, Sattigeri, Balakrishnan, "Variational Inference of Disentangled Latent Concepts
 * from Unlabeled Observations", ICLR 2018): a Gaussian head, the reconstruction likelihood, KL(q(z|x)
 * || N(0, I)) and a penalty pulling a covariance C of the inferred latents towards the identity:
 *
 *   lambda_od sum_{i != j} C_ij^2  +  lambda_d sum_i (C_ii - 1)^2,
 *
 *   type i  (Eq. 6): C = Cov_p(x)[mu(x)]                       over the batch,
 *   type ii (Eq. 7): C = Cov_p(x)[mu(x)] + E_p(x)[diag sigma^2(x)]  (the covariance of z).
 *
 * As disentanglement_lib computes it (methods/unsupervised/vae.py: compute_covariance_z_mean,
 * regularize_diag_off_diag_dip, DIPVAE.regularizer): the biased estimator E[mu mu^T] - E[mu] E[mu]^T
 * over the batch, KL with weight 1. Here the batch is the GLOBAL batch: the covariance needs only
 * the sums of mu, of mu mu^T and (ii) of sigma^2, which go through the step's one statistics
 * allreduce, so the penalty and its gradient do not depend on the rank count.
 *
 * The penalty is two terms, its off-diagonal and its diagonal part, weighted by lambda_od and
 * lambda_d, so that history.csv shows each unweighted: columns dip_od = sum_{i != j} C_ij^2 and
 * dip_d = sum_i (C_ii - 1)^2 (loss = rec + kl + lambda_od dip_od + lambda_d dip_d). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/method.h"

typedef struct {
  char type[8];
  PetscReal lambda_od, lambda_d;
} DipOptions;

#define DOPT(field) offsetof(DipOptions, field), sizeof(((DipOptions *)0)->field)

/* Defaults: the large study's (Locatello et al. 2019, disentanglement_lib
 * config/unsupervised_study_v1/sweep.py): lambda_od from {1, 2, 5, 10, 20, 50}, lambda_d =
 * lambda_d_factor * lambda_od with the factor fixed at 10 for DIP-VAE-I and 1 for DIP-VAE-II. A
 * negative lambda_d (the default, -1) stands for that factor, so that changing the type or
 * lambda_od alone gives the study's pairing. */
static const OptSpec dipvae_options[] = {
  {"-dipvae_type", OPT_STRING, DOPT(type), "i", 0, 0, "i|ii",
   "i: penalise the covariance of mu over the batch; ii: of z (covariance of mu plus the mean encoder variance)", NULL},
  {"-dipvae_lambda_od", OPT_REAL, DOPT(lambda_od), "10", 0, 1e9, NULL,
   "weight of the squared off-diagonal covariances (the study's grid: 1, 2, 5, 10, 20, 50)", NULL},
  {"-dipvae_lambda_d", OPT_REAL, DOPT(lambda_d), "-1", -1, 1e9, NULL,
   "weight of the squared deviations of the variances from 1; -1: the study's, 10 lambda_od for type i, lambda_od for ii", NULL},
};

typedef struct {
  int type_ii;  /* C includes the mean encoder variance */
  int diagonal; /* this term is the diagonal part (else the off-diagonal one) */
} DipPart;

typedef struct {
  DipPart od, d;
} Dip;

/* The encoder variance enters only the diagonal of type ii. */
static int with_variance(const DipPart *part) { return part->type_ii && part->diagonal; }

/* Slot: sum_r mu_r [m], sum_r mu_r mu_r^T [m][m], and (with_variance) sum_r sigma_r^2 [m]. */
static int dip_nstats(const Term *t, const Method *m) {
  const int lat = m->ae.latents;
  return lat + lat * lat + (with_variance(t->state) ? lat : 0);
}

static void dip_local(Term *t, Method *m, const float *x, int count, double *stats) {
  (void)x;
  const DipPart *part = t->state;
  const int lat = m->ae.latents;
  const float *code = autoencoder_code(&m->ae);
  double *s1 = stats, *s2 = stats + lat, *sv = s2 + lat * lat;
  memset(stats, 0, sizeof *stats * (size_t)dip_nstats(t, m));
  for (int r = 0; r < count; r++) {
    const float *mu = code + (size_t)r * 2 * lat, *logvar = mu + lat;
    for (int i = 0; i < lat; i++) {
      s1[i] += mu[i];
      for (int j = 0; j < lat; j++) s2[i * lat + j] += (double)mu[i] * mu[j];
      if (with_variance(part)) sv[i] += exp((double)logvar[i]);
    }
  }
}

/* With P the part's value and G = dP/dC (symmetric), C_ij = S2_ij/B - a_i a_j (+ delta_ij V_i/B)
 * with a = S1/B gives dP/dmu_ri = (2/B) sum_j G_ij (mu_rj - a_j) and, for type ii,
 * dP/dlogvar_ri = G_ii sigma_ri^2 / B. */
static void dip_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values, float *grad) {
  (void)x;
  const DipPart *part = t->state;
  const int lat = m->ae.latents;
  const double B = m->global_batch;
  const double *s1 = stats, *s2 = stats + lat, *sv = s2 + lat * lat;
  double a[lat], G[lat * lat];
  for (int i = 0; i < lat; i++) a[i] = s1[i] / B;
  double value = 0.0;
  for (int i = 0; i < lat; i++)
    for (int j = 0; j < lat; j++) {
      double c = s2[i * lat + j] / B - a[i] * a[j];
      G[i * lat + j] = 0.0;
      if (i != j && !part->diagonal) value += c * c, G[i * lat + j] = 2.0 * c;
      if (i == j && part->diagonal) {
        if (with_variance(part)) c += sv[i] / B;
        value += (c - 1.0) * (c - 1.0), G[i * lat + j] = 2.0 * (c - 1.0);
      }
    }
  values[0] = value;
  const double w = t->weight;
  const float *code = autoencoder_code(&m->ae);
  for (int r = 0; r < count; r++) {
    const float *mu = code + (size_t)r * 2 * lat, *logvar = mu + lat;
    float *gmu = grad + (size_t)r * 2 * lat, *glogvar = gmu + lat;
    for (int i = 0; i < lat; i++) {
      double g = 0.0;
      for (int j = 0; j < lat; j++) g += G[i * lat + j] * (mu[j] - a[j]);
      gmu[i] += (float)(w * 2.0 * g / B);
      if (with_variance(part)) glogvar[i] += (float)(w * G[i * lat + i] * exp((double)logvar[i]) / B);
    }
  }
}

static const TermOps term_dip_od = {.name = "dip_od", .nvalues = 1, .value_names = {"dip_od"}, .nstats = dip_nstats, .local = dip_local, .backward = dip_backward};
static const TermOps term_dip_d = {.name = "dip_d", .nvalues = 1, .value_names = {"dip_d"}, .nstats = dip_nstats, .local = dip_local, .backward = dip_backward};

static PetscErrorCode dipvae_create(Method *me) {
  PetscFunctionBeginUser;
  const DipOptions *opt = me->opts;
  DT_INPUT_CHECK(opt->lambda_d >= 0 || opt->lambda_d == -1, me->par->world,
                 "option -dipvae_lambda_d: expected a weight >= 0, or -1 for the study's (10 lambda_od for type i, lambda_od for ii); got %g",
                 (double)opt->lambda_d);
  int type_ii = !strcmp(opt->type, "ii");
  double lambda_d = opt->lambda_d >= 0 ? opt->lambda_d : (type_ii ? 1.0 : 10.0) * opt->lambda_od;
  Dip *dip;
  PetscCall(PetscCalloc1(1, &dip));
  dip->od = (DipPart){.type_ii = type_ii, .diagonal = 0};
  dip->d = (DipPart){.type_ii = type_ii, .diagonal = 1};
  me->state = dip;
  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_kl, 1.0, SITE_CODE, 0, NULL));
  PetscCall(method_add_term(me, &term_dip_od, opt->lambda_od, SITE_CODE, 0, &dip->od));
  PetscCall(method_add_term(me, &term_dip_d, lambda_d, SITE_CODE, 0, &dip->d));
  PetscFunctionReturn(0);
}

static void dipvae_destroy(Method *me) { (void)PetscFree(me->state); }

const MethodOps method_dipvae = {
  .name = "dipvae",
  .summary = "DIP-VAE-I/II: Gaussian latents, reconstruction + KL + lambda_od, lambda_d penalties on the covariance of mu (i) or z (ii)",
  .options = dipvae_options,
  .noptions = sizeof dipvae_options / sizeof *dipvae_options,
  .options_size = sizeof(DipOptions),
  .head = &head_gaussian,
  .nlosses = 5,
  .loss_names = {"loss", "rec", "kl", "dip_od", "dip_d"},
  .create = dipvae_create,
  .step = method_step_autoencoder,
  .loss_gradient = terms_loss_gradient,
  .reproducible = 1,
  .destroy = dipvae_destroy,
  .nets = method_nets_autoencoder,
};
