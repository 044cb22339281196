/* FactorVAE's gradients on 1, 2 and 3 ranks, against central differences of double-precision
 * references over the WHOLE batch:
 *   - the autoencoder's (tests/vae_check.h): rec + KL + gamma mean(logit_0 - logit_1) of D(z),
 *     D held at its parameters (read from the method, in double);
 *   - the discriminator's own: its cross-entropy on z (class 0) and z with each latent's column
 *     permuted over the global batch (class 1), each half weighted 1/2; the permutations as
 *     factorvae.h specifies them, redrawn here.
 * A small discriminator (six hidden layers of 9..4, the published depth) keeps the differences
 * cheap; the layer kinds are the published ones. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/factorvae.h"
#include "disentangle/rng.h"
#include "testing.h"
#include "vae_check.h"

#define FD_STEP 1e-6
#define DISC_HIDDEN "9,8,7,6,5,4"

typedef struct {
  double gamma;
  Net *disc;
  double *p; /* D's parameters in double */
} Tc;

static Net *discriminator_of(Method *me) {
  Net *nets[4];
  int n = me->ops->nets(me, nets, 4);
  return n == 3 ? nets[2] : NULL;
}

static void tc_prepare(Method *me, void *ctx) {
  Tc *tc = ctx;
  tc->disc = discriminator_of(me);
  free(tc->p);
  tc->p = malloc(sizeof(double) * tc->disc->nparams);
  for (size_t k = 0; k < tc->disc->nparams; k++) tc->p[k] = tc->disc->params[k];
}

static double tc_reg(const double *mu, const double *logvar, const double *z, int B, int m, void *ctx) {
  Tc *tc = ctx;
  double kl = 0.0, d = 0.0, logits[2 * VAE_B];
  for (int i = 0; i < B * m; i++) kl += 0.5 * (mu[i] * mu[i] + exp(logvar[i]) - logvar[i] - 1.0);
  ref_net_forward(tc->disc, tc->p, z, B, logits);
  for (int r = 0; r < B; r++) d += logits[2 * r] - logits[2 * r + 1];
  return kl / B + tc->gamma * d / B;
}

/* The spec of factorvae.h, written out again. */
static void reference_permutation(uint64_t seed, int64_t step, int B, int j, int *perm) {
  for (int r = 0; r < B; r++) perm[r] = r;
  for (int i = B - 1; i > 0; i--) {
    int k = (int)rng_below(seed, RNG_STREAM_FACTORVAE_PERMUTE, (uint64_t)step, (uint64_t)j * B + i, (uint64_t)i + 1);
    int t = perm[i];
    perm[i] = perm[k], perm[k] = t;
  }
}

static double log_softmax(const double *l, int c) {
  double mx = fmax(l[0], l[1]);
  return l[c] - mx - log(exp(l[0] - mx) + exp(l[1] - mx));
}

/* D's cross-entropy at parameters p: z [B][m], zp the permuted batch. */
static double reference_ce(const Net *disc, const double *p, const double *z, const double *zp, int B) {
  double lz[2 * VAE_B], lp[2 * VAE_B], ce = 0.0;
  ref_net_forward(disc, p, z, B, lz);
  ref_net_forward(disc, p, zp, B, lp);
  for (int r = 0; r < B; r++) ce -= 0.5 * (log_softmax(lz + 2 * r, 0) + log_softmax(lp + 2 * r, 1)) / B;
  return ce;
}

static void check_discriminator(int64_t step) {
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  const int B = VAE_B, L = VAE_L, m = VAE_M;
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  strcpy(cfg.method, "factorvae"), strcpy(cfg.hidden, "6,5"), strcpy(cfg.activation, "selu"), strcpy(cfg.rec_loss, "gaussian");
  cfg.seed = 3, cfg.batch = B, cfg.latents = m, cfg.lr = 1e-3;
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, "factorvae", &ops);
  method_options_from_text(PETSC_COMM_WORLD, ops, "-factorvae_disc_hidden " DISC_HIDDEN "\n", &opts);
  Par par;
  par_create(PETSC_COMM_WORLD, 1, &par);
  Method *me;
  method_create(&cfg, opts, &par, L, &me);
  Net *disc = discriminator_of(me);

  float xf[VAE_B * VAE_L], zf[VAE_B * VAE_M];
  for (int i = 0; i < B * L; i++) xf[i] = (float)rng_normal(6, 1, 0, i);
  int off, cnt;
  par_slice(B, rank, size, &off, &cnt);
  Batch batch = {.step = step, .offset = off, .count = cnt, .x = xf + off * L};
  double ce;
  factorvae_discriminator_gradient(me, &batch, &ce);
  par_allgather_rows(me->ae.z, zf, B, m, PETSC_COMM_WORLD);

  double z[VAE_B * VAE_M], zp[VAE_B * VAE_M];
  int perm[VAE_B], mine[VAE_B], moved = 0;
  for (int i = 0; i < B * m; i++) z[i] = zf[i];
  for (int j = 0; j < m; j++) {
    reference_permutation((uint64_t)cfg.seed, step, B, j, perm);
    factorvae_permutation((uint64_t)cfg.seed, step, B, j, mine);
    int seen[VAE_B] = {0}, same = 1;
    for (int r = 0; r < B; r++) seen[perm[r]]++, same &= perm[r] == mine[r], moved += perm[r] != r;
    for (int r = 0; r < B; r++) CHECK(seen[r] == 1, "permutation of latent %d: row %d drawn %d times", j, r, seen[r]);
    CHECK(same, "factorvae_permutation differs from its specification (latent %d, step %lld)", j, (long long)step);
    for (int r = 0; r < B; r++) zp[r * m + j] = z[perm[r] * m + j];
  }
  CHECK(moved > 0, "the permutations at step %lld move no row", (long long)step);

  size_t n = disc->nparams;
  double *p = malloc(sizeof(double) * n), *fd = malloc(sizeof(double) * n);
  for (size_t k = 0; k < n; k++) p[k] = disc->params[k];
  double ce0 = reference_ce(disc, p, z, zp, B);
  CHECK(fabs(ce - ce0) < 1e-5 * (1e-3 + fabs(ce0)), "discriminator: cross-entropy %.9g vs reference %.9g", ce, ce0);
  for (size_t k = 0; k < n; k++) {
    double keep = p[k];
    p[k] = keep + FD_STEP;
    double lp = reference_ce(disc, p, z, zp, B);
    p[k] = keep - FD_STEP;
    double lm = reference_ce(disc, p, z, zp, B);
    p[k] = keep;
    fd[k] = (lp - lm) / (2 * FD_STEP);
  }
  double scale = 0;
  for (size_t k = 0; k < n; k++) scale = fmax(scale, fabs(fd[k]));
  long where;
  double err = rel_error(disc->grads, fd, (long)n, 1e-3 * scale, &where);
  CHECK(err < 1e-3, "discriminator: gradient off by %.3g (relative) at parameter %ld: %g vs %g", err, where, disc->grads[where], fd[where]);
  if (rank == 0)
    printf("%-12s %-9s step %-6lld %d rank(s): cross-entropy %.6f (ref %.6f), %zu parameters, max rel gradient error %.2e\n",
           "factorvae D", "-", (long long)step, size, ce, ce0, n, err);

  /* The autoencoder's gradient holds D fixed: its TC term adds nothing to D's gradient. */
  float *keep = malloc(sizeof(float) * n);
  memcpy(keep, disc->grads, sizeof(float) * n);
  StepLosses losses;
  me->ops->loss_gradient(me, &batch, 0, &losses);
  CHECK(!memcmp(keep, disc->grads, sizeof(float) * n), "the autoencoder's gradient changed the discriminator's");
  CHECK(losses.n == 5 && fabs(losses.value[4] - ce) < 1e-6 * (1 + fabs(ce)), "loss_gradient reports disc %g, want %g",
        losses.value[4], ce);

  /* A step reads D(z) of its rows from D's training forward: its tc must be D's at the
   * parameters the step started from, on the z of the step's batch (left in ae.z). */
  batch.step = step + 1;
  me->ops->step(me, &batch, &losses);
  par_allgather_rows(me->ae.z, zf, B, m, PETSC_COMM_WORLD);
  double logits[2 * VAE_B], tc = 0.0;
  for (int i = 0; i < B * m; i++) z[i] = zf[i];
  ref_net_forward(disc, p, z, B, logits);
  for (int r = 0; r < B; r++) tc += (logits[2 * r] - logits[2 * r + 1]) / B;
  CHECK(fabs(losses.value[3] - tc) < 1e-5 * (1e-2 + fabs(tc)), "step: tc %.9g vs reference %.9g", losses.value[3], tc);
  /* Every rank ends with the same discriminator (the same summed gradient and Adam). */
  batch.step = step + 2;
  me->ops->step(me, &batch, &losses);
  float *hi = malloc(sizeof(float) * n), *lo = malloc(sizeof(float) * n);
  MPI_Allreduce(disc->params, hi, (int)n, MPI_FLOAT, MPI_MAX, PETSC_COMM_WORLD);
  MPI_Allreduce(disc->params, lo, (int)n, MPI_FLOAT, MPI_MIN, PETSC_COMM_WORLD);
  size_t changed = 0;
  for (size_t k = 0; k < n; k++) changed += (double)disc->params[k] != p[k];
  CHECK(!memcmp(hi, lo, sizeof(float) * n), "after two steps the ranks' discriminators differ");
  CHECK(changed > n / 2, "two steps changed only %zu of %zu discriminator parameters", changed, n);
  free(p), free(fd), free(keep), free(hi), free(lo);
  method_destroy(&me);
  PetscFree(opts);
  par_free(&par);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  const char *opts10 = "-factorvae_gamma 10\n-factorvae_disc_hidden " DISC_HIDDEN "\n";
  const char *opts100 = "-factorvae_gamma 100\n-factorvae_disc_hidden " DISC_HIDDEN "\n";
  Tc tc10 = {.gamma = 10}, tc100 = {.gamma = 100};
  vae_check_gradient(&(VaeCheck){.method = "factorvae", .options = opts10, .rec_loss = "gaussian", .step = 0, .reg = tc_reg,
                                 .ctx = &tc10, .prepare = tc_prepare});
  vae_check_gradient(&(VaeCheck){.method = "factorvae", .options = opts10, .rec_loss = "bernoulli", .step = 9, .reg = tc_reg,
                                 .ctx = &tc10, .prepare = tc_prepare});
  /* with MSE (mean over values) the reconstruction is small and the TC term dominates */
  vae_check_gradient(&(VaeCheck){.method = "factorvae", .options = opts100, .rec_loss = "mse", .step = 4, .reg = tc_reg,
                                 .ctx = &tc100, .prepare = tc_prepare});
  free(tc10.p), free(tc100.p);
  check_discriminator(0);
  check_discriminator(31);
  return test_mpi_finish();
}
