/* Gradient checks of DIP-VAE-I and -II (tests/vae_check.h) on 1, 2 and 3 ranks: the covariance
 * penalty is over the GLOBAL batch, so a rank's gradient depends on the other ranks' rows through
 * the summed statistics. The reference computes the covariance independently of the method's
 * E[mu mu^T] - E[mu] E[mu]^T: as the mean of centred outer products over the whole batch. */
#include <math.h>
#include <stdlib.h>

#include "testing.h"
#include "vae_check.h"

typedef struct {
  int type_ii;
  double lambda_od, lambda_d;
  double od, d; /* the last unweighted parts evaluated */
} Dip;

static double dip_reg(const double *mu, const double *logvar, const double *z, int B, int m, void *ctx) {
  (void)z;
  Dip *dip = ctx;
  double kl = 0.0;
  for (int i = 0; i < B * m; i++) kl += 0.5 * (mu[i] * mu[i] + exp(logvar[i]) - logvar[i] - 1.0);
  kl /= B;
  double mean[VAE_M] = {0}, cov[VAE_M][VAE_M] = {{0}};
  for (int r = 0; r < B; r++)
    for (int i = 0; i < m; i++) mean[i] += mu[r * m + i] / B;
  for (int r = 0; r < B; r++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j < m; j++) cov[i][j] += (mu[r * m + i] - mean[i]) * (mu[r * m + j] - mean[j]) / B;
  if (dip->type_ii)
    for (int r = 0; r < B; r++)
      for (int i = 0; i < m; i++) cov[i][i] += exp(logvar[r * m + i]) / B;
  dip->od = dip->d = 0.0;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++)
      if (i != j) dip->od += cov[i][j] * cov[i][j];
      else dip->d += (cov[i][i] - 1.0) * (cov[i][i] - 1.0);
  return kl + dip->lambda_od * dip->od + dip->lambda_d * dip->d;
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  /* -dipvae_lambda_d left at its default: the study's 10 lambda_od for type i */
  Dip i_default = {.type_ii = 0, .lambda_od = 2, .lambda_d = 20};
  vae_check_gradient(&(VaeCheck){.method = "dipvae", .options = "-dipvae_type i\n-dipvae_lambda_od 2\n", .rec_loss = "gaussian",
                                 .step = 0, .reg = dip_reg, .ctx = &i_default});
  /* ... and lambda_od for type ii; with the Bernoulli likelihood */
  Dip ii_default = {.type_ii = 1, .lambda_od = 5, .lambda_d = 5};
  vae_check_gradient(&(VaeCheck){.method = "dipvae", .options = "-dipvae_type ii\n-dipvae_lambda_od 5\n", .rec_loss = "bernoulli",
                                 .step = 9, .reg = dip_reg, .ctx = &ii_default});
  /* the off-diagonal part alone, with a weight large enough to dominate the gradient */
  Dip i_od = {.type_ii = 0, .lambda_od = 1e4, .lambda_d = 0};
  vae_check_gradient(&(VaeCheck){.method = "dipvae", .options = "-dipvae_type i\n-dipvae_lambda_od 1e4\n-dipvae_lambda_d 0\n",
                                 .rec_loss = "gaussian", .step = 4, .reg = dip_reg, .ctx = &i_od});
  /* type ii with explicit weights: the variance enters the diagonal only */
  Dip ii_explicit = {.type_ii = 1, .lambda_od = 300, .lambda_d = 3};
  vae_check_gradient(&(VaeCheck){.method = "dipvae", .options = "-dipvae_type ii\n-dipvae_lambda_od 300\n-dipvae_lambda_d 3\n",
                                 .rec_loss = "gaussian", .step = 2, .reg = dip_reg, .ctx = &ii_explicit});
  /* the checks above test what they claim only if each part weighs in the objective */
  CHECK(i_od.lambda_od * i_od.od > 1e-2, "dipvae: off-diagonal part %g too small to be checked", i_od.lambda_od * i_od.od);
  CHECK(ii_default.lambda_d * ii_default.d > 1e-2, "dipvae: diagonal part %g too small to be checked", ii_default.lambda_d * ii_default.d);
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (rank == 0)
    printf("dipvae parts at the checked parameters: i od %.3g, ii d %.3g, ii explicit od %.3g d %.3g\n", i_od.od, ii_default.d,
           ii_explicit.od, ii_explicit.d);
  return test_mpi_finish();
}
