/* Gradient checks of beta-VAE and AnnealedVAE (tests/vae_check.h) on 1, 2 and 3 ranks: the KL
 * term at the Gaussian head's code, the capacity schedule on both sides of KL = C, and each
 * reconstruction likelihood. */
#include <math.h>

#include "testing.h"
#include "vae_check.h"

static double kl_sum(const double *mu, const double *logvar, int B, int m) {
  double kl = 0.0;
  for (int i = 0; i < B * m; i++) kl += 0.5 * (mu[i] * mu[i] + exp(logvar[i]) - logvar[i] - 1.0);
  return kl / B;
}

static double beta_reg(const double *mu, const double *logvar, const double *z, int B, int m, void *ctx) {
  (void)z;
  return *(double *)ctx * kl_sum(mu, logvar, B, m);
}

typedef struct {
  double gamma, c;
  double kl; /* the last KL evaluated: which side of C the check was on */
} Capacity;

static double capacity_reg(const double *mu, const double *logvar, const double *z, int B, int m, void *ctx) {
  (void)z;
  Capacity *cap = ctx;
  cap->kl = kl_sum(mu, logvar, B, m);
  return cap->gamma * fabs(cap->kl - cap->c);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  double beta = 4.0;
  vae_check_gradient(&(VaeCheck){.method = "betavae", .options = "-betavae_beta 4\n", .rec_loss = "gaussian", .step = 0, .reg = beta_reg, .ctx = &beta});
  vae_check_gradient(&(VaeCheck){.method = "betavae", .options = "-betavae_beta 4\n", .rec_loss = "bernoulli", .step = 17, .reg = beta_reg, .ctx = &beta});
  double one = 1.0;
  vae_check_gradient(&(VaeCheck){.method = "betavae", .options = "-betavae_beta 1\n", .rec_loss = "mse", .step = 3, .reg = beta_reg, .ctx = &one});
  /* C = 0.5 (step 50 of 100 to C_max 1) lies below this net's KL at its initial parameters, C =
   * 30 (C_max 30 reached) above it, so both signs of |KL - C| are checked (asserted below) */
  Capacity below = {.gamma = 10, .c = 0.5}, above = {.gamma = 10, .c = 30};
  vae_check_gradient(&(VaeCheck){.method = "annealedvae", .options = "-annealedvae_gamma 10\n-annealedvae_c_max 1\n-annealedvae_c_steps 100\n",
                                 .rec_loss = "gaussian", .step = 50, .reg = capacity_reg, .ctx = &below});
  vae_check_gradient(&(VaeCheck){.method = "annealedvae", .options = "-annealedvae_gamma 10\n-annealedvae_c_max 30\n-annealedvae_c_steps 100\n",
                                 .rec_loss = "gaussian", .step = 200, .reg = capacity_reg, .ctx = &above});
  CHECK(below.kl > below.c && above.kl < above.c, "annealedvae: KL %g vs C %g and KL %g vs C %g: not one on each side",
        below.kl, below.c, above.kl, above.c);
  return test_mpi_finish();
}
