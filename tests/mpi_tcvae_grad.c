/* Gradient checks of beta-TCVAE (tests/vae_check.h) on 1, 2 and 3 ranks, both estimators of
 * log q(z), both reconstruction likelihoods, against a reference written from the paper's
 * formulas (Chen et al. 2018) in double over the whole batch: the explicit B x B weight matrix,
 * q(z_i) = sum_j w_ij prod_k N(z_ik; mu_jk, s_jk^2), q(z_ik) = sum_j w_ij N(z_ik; mu_jk, s_jk^2).
 * The batch of 7 rows is split unevenly on 2 and 3 ranks, so the gradient w.r.t. (mu, logvar)
 * of rows owned by other ranks crosses ranks. The reported tc, mi and dwkl are checked too. */
#include <math.h>
#include <string.h>

#include "testing.h"
#include "vae_check.h"

typedef struct {
  double beta;
  int mss;
  int64_t dataset_size; /* given to the method; 0: left unknown (the method then takes N = B) */
  Method *me;
  int seen;                    /* the first evaluation is at the trained parameters */
  double ref[3], got[3];       /* tc, mi, dwkl: reference and the method's */
  double wsum_min, wsum_max;   /* MSS: row sums of W */
} Tc;

static void tc_prepare(Method *me, void *ctx) {
  Tc *t = ctx;
  t->me = me;
  if (t->dataset_size) me->dataset_size = t->dataset_size;
}

static double log_normal(double x, double mu, double logvar) {
  return -0.5 * (log(2 * M_PI) + logvar + (x - mu) * (x - mu) / exp(logvar));
}

/* log sum_j exp(v_j), shifted by the largest */
static double lse(const double *v, int n) {
  double mx = v[0], s = 0;
  for (int j = 1; j < n; j++) mx = fmax(mx, v[j]);
  for (int j = 0; j < n; j++) s += exp(v[j] - mx);
  return mx + log(s);
}

static double tc_reg(const double *mu, const double *logvar, const double *z, int B, int m, void *ctx) {
  Tc *t = ctx;
  double N = t->dataset_size ? (double)t->dataset_size : B;
  double W[VAE_B][VAE_B];
  t->wsum_min = INFINITY, t->wsum_max = -INFINITY;
  for (int i = 0; i < B; i++) {
    double sum = 0;
    for (int j = 0; j < B; j++) {
      if (!t->mss) W[i][j] = 1.0 / (N * B);
      else if (j == i) W[i][j] = 1.0 / N;
      else if (j == (i + 1) % B) W[i][j] = (N - (B - 1)) / (N * (B - 1));
      else W[i][j] = 1.0 / (B - 1);
      sum += W[i][j];
    }
    t->wsum_min = fmin(t->wsum_min, sum), t->wsum_max = fmax(t->wsum_max, sum);
  }
  double kl = 0, tc = 0, mi = 0, dwkl = 0;
  for (int i = 0; i < B; i++) {
    double joint[VAE_B], logqzx = 0, logpz = 0, logprod = 0;
    for (int j = 0; j < B; j++) {
      joint[j] = log(W[i][j]);
      for (int k = 0; k < m; k++) joint[j] += log_normal(z[i * m + k], mu[j * m + k], logvar[j * m + k]);
    }
    for (int k = 0; k < m; k++) {
      double marg[VAE_B];
      for (int j = 0; j < B; j++) marg[j] = log(W[i][j]) + log_normal(z[i * m + k], mu[j * m + k], logvar[j * m + k]);
      logprod += lse(marg, B);
      logqzx += log_normal(z[i * m + k], mu[i * m + k], logvar[i * m + k]);
      logpz += log_normal(z[i * m + k], 0, 0);
      kl += 0.5 * (mu[i * m + k] * mu[i * m + k] + exp(logvar[i * m + k]) - logvar[i * m + k] - 1);
    }
    double logqz = lse(joint, B);
    tc += logqz - logprod, mi += logqzx - logqz, dwkl += logprod - logpz;
  }
  kl /= B, tc /= B, mi /= B, dwkl /= B;
  if (!t->seen++) {
    /* the method's global statistics of this step: terms rec, kl, tc (1 value), tc_code (mi, dwkl) */
    const Term *ttc = &t->me->terms[2], *tcode = &t->me->terms[3];
    t->ref[0] = tc, t->ref[1] = mi, t->ref[2] = dwkl;
    t->got[0] = t->me->stats[ttc->offset] / B;
    t->got[1] = t->me->stats[tcode->offset] / B, t->got[2] = t->me->stats[tcode->offset + 1] / B;
  }
  return kl + (t->beta - 1) * tc;
}

static void check(const char *options, const char *rec_loss, int64_t step, Tc *t) {
  vae_check_gradient(&(VaeCheck){.method = "betatcvae", .options = options, .rec_loss = rec_loss, .step = step,
                                 .reg = tc_reg, .ctx = t, .prepare = tc_prepare});
  static const char *names[3] = {"tc", "mi", "dwkl"};
  for (int v = 0; v < 3; v++)
    CHECK(fabs(t->got[v] - t->ref[v]) < 1e-5 * (1 + fabs(t->ref[v])), "betatcvae %s: %s %.9g vs reference %.9g",
          t->mss ? "mss" : "mws", names[v], t->got[v], t->ref[v]);
  if (t->mss)
    CHECK(fabs(t->wsum_min - 1) < 1e-12 && fabs(t->wsum_max - 1) < 1e-12, "MSS weights: rows sum to %g..%g, not 1",
          t->wsum_min, t->wsum_max);
  /* a TC estimate that is identically 0 would make the check vacuous */
  CHECK(fabs(t->ref[0]) > 1e-3, "betatcvae: reference tc %g: too small for the check to mean anything", t->ref[0]);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  Tc mws = {.beta = 6}, mws_big = {.beta = 10, .dataset_size = 1000};
  Tc mss = {.beta = 4, .mss = 1, .dataset_size = 1000}, mss_small = {.beta = 6, .mss = 1, .dataset_size = 9};
  Tc vae = {.beta = 1, .dataset_size = 100};
  check("-betatcvae_beta 6\n", "gaussian", 0, &mws);
  check("-betatcvae_beta 10\n-betatcvae_estimator mws\n", "bernoulli", 17, &mws_big);
  check("-betatcvae_beta 4\n-betatcvae_estimator mss\n", "gaussian", 5, &mss);
  check("-betatcvae_beta 6\n-betatcvae_estimator mss\n", "bernoulli", 2, &mss_small);
  check("-betatcvae_beta 1\n", "mse", 3, &vae); /* TC's weight 0: the plain VAE, tc still reported */
  return test_mpi_finish();
}
