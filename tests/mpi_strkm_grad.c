/* St-RKM's gradients on 1, 2 and 3 ranks (the batch of 7 uneven on 2 and 3), against central
 * differences of an independent double-precision evaluation of its objective over the WHOLE
 * batch, w.r.t. every encoder and decoder parameter and every entry of U (the Euclidean
 * gradient, U perturbed freely off the manifold):
 *   phi = enc(x), phic = phi - mean over the batch, h = phic U, z = h (+ s eps, eps drawn as
 *   (seed, RNG_STREAM_NOISE, step, row * m + j)), xhat = dec(z U^T),
 *   loss = c_accu rec(xhat, x) + lambda mean_rows(||phic||^2 - ||h||^2).
 * Both variants and the three reconstruction losses; the centring over the global batch is
 * what the 2- and 3-rank runs test beyond the 1-rank one. Twice more under -reproducible (micro-
 * chunks of one row, 7 chunks dealt 3/2/2 on 3 ranks: the mean and the centring's gradient sum
 * made in passes of their own): the same checks, and the losses and both gradients the same bits
 * as one rank's over the whole batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/method.h"
#include "disentangle/rng.h"
#include "testing.h"

#define FD_STEP 1e-6
#define B 7
#define L 12
#define M 3
#define F 5 /* -strkm_features */

typedef struct {
  const char *rec_loss, *options;
  double c_accu, lambda, noise;
  int64_t step;
  int chunk; /* -reproducible_chunk (0: the default mode) */
} Case;

typedef struct {
  const Case *c;
  Method *me;
  const double *x, *eps;
} Ref;

static double reference_loss(const Ref *ref, const double *p, const double *U) {
  const Autoencoder *ae = &ref->me->ae;
  double phi[B * F], mu[F] = {0}, z[B * M], y[B * F], xhat[B * L], pca = 0.0, rec = 0.0;
  ref_net_forward(&ae->enc, p, ref->x, B, phi);
  for (int r = 0; r < B; r++)
    for (int k = 0; k < F; k++) mu[k] += phi[r * F + k] / B;
  for (int r = 0; r < B; r++) {
    for (int k = 0; k < F; k++) phi[r * F + k] -= mu[k], pca += phi[r * F + k] * phi[r * F + k];
    for (int j = 0; j < M; j++) {
      double s = 0.0;
      for (int k = 0; k < F; k++) s += phi[r * F + k] * U[k * M + j];
      pca -= s * s;
      z[r * M + j] = s + ref->c->noise * ref->eps[r * M + j];
    }
    for (int k = 0; k < F; k++) {
      double s = 0.0;
      for (int j = 0; j < M; j++) s += z[r * M + j] * U[k * M + j];
      y[r * F + k] = s;
    }
  }
  ref_net_forward(&ae->dec, p + ae->enc.nparams, y, B, xhat);
  const char *loss = ref->c->rec_loss;
  for (int i = 0; i < B * L; i++) {
    if (!strcmp(loss, "bernoulli")) {
      double s = 1.0 / (1.0 + exp(-xhat[i]));
      rec -= ref->x[i] * log(s) + (1.0 - ref->x[i]) * log(1.0 - s);
    } else {
      rec += 0.5 * (xhat[i] - ref->x[i]) * (xhat[i] - ref->x[i]);
    }
  }
  rec /= !strcmp(loss, "mse") ? (double)B * L : (double)B;
  return ref->c->c_accu * rec + ref->c->lambda * pca / B;
}

/* Central differences of the reference w.r.t. v[0..n) (a view into p or U), against g. */
static double fd_error(const Ref *ref, double *p, double *U, double *v, long n, const float *g, long *where) {
  double *fd = malloc(sizeof(double) * n), scale = 0.0;
  for (long k = 0; k < n; k++) {
    double keep = v[k];
    v[k] = keep + FD_STEP;
    double lp = reference_loss(ref, p, U);
    v[k] = keep - FD_STEP;
    double lm = reference_loss(ref, p, U);
    v[k] = keep;
    fd[k] = (lp - lm) / (2 * FD_STEP);
    scale = fmax(scale, fabs(fd[k]));
  }
  double err = rel_error(g, fd, n, 1e-3 * scale, where);
  free(fd);
  return err;
}

static void check(const Case *c) {
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  strcpy(cfg.method, "strkm"), strcpy(cfg.hidden, "6,5"), strcpy(cfg.activation, "selu");
  snprintf(cfg.rec_loss, sizeof cfg.rec_loss, "%s", c->rec_loss);
  int bernoulli = !strcmp(c->rec_loss, "bernoulli");
  if (bernoulli) cfg.data_mean = 0, cfg.data_std = 1;
  cfg.seed = 3, cfg.batch = B, cfg.latents = M, cfg.lr = 1e-3;
  cfg.reproducible = c->chunk ? PETSC_TRUE : PETSC_FALSE, cfg.reproducible_chunk = c->chunk ? c->chunk : 10;
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, "strkm", &ops);
  method_options_from_text(PETSC_COMM_WORLD, ops, c->options, &opts);
  Par par;
  par_create(PETSC_COMM_WORLD, 1, &par);
  Method *me;
  method_create(&cfg, opts, &par, L, &me);
  Autoencoder *ae = &me->ae;
  int iU = paramset_find(&me->params, "stiefel/U");
  CHECK(iU >= 0 && me->params.tensors[iU].dims[0] == F && me->params.tensors[iU].dims[1] == M, "no stiefel/U [%d, %d]", F, M);
  CHECK(head_code_width(&ae->head) == F && net_in(&ae->dec) == F, "encoder gives %d, decoder reads %d, want %d",
        head_code_width(&ae->head), net_in(&ae->dec), F);
  const float *Uf = paramset_data(&me->params, iU);
  CHECK(stiefel_drift(Uf, F, M) < 1e-6, "U starts %.3g off the Stiefel manifold", stiefel_drift(Uf, F, M));

  float xf[B * L];
  double x[B * L], eps[B * M], U[F * M];
  for (int i = 0; i < B * L; i++)
    xf[i] = (float)(bernoulli ? (i % 2 ? rng_uniform(5, 1, 0, i) > 0.5 : rng_uniform(5, 1, 0, i)) : rng_normal(5, 1, 0, i)), x[i] = xf[i];
  for (int i = 0; i < B * M; i++) eps[i] = (float)rng_normal((uint64_t)cfg.seed, RNG_STREAM_NOISE, (uint64_t)c->step, (uint64_t)i);
  for (int i = 0; i < F * M; i++) U[i] = Uf[i];
  double *p = malloc(sizeof(double) * ae->nparams);
  for (size_t k = 0; k < ae->nparams; k++) p[k] = ae->params[k];
  Ref ref = {.c = c, .me = me, .x = x, .eps = eps};

  int off, cnt;
  if (c->chunk) par_slice_chunks(B, c->chunk, rank, size, &off, &cnt); /* a rank holds whole chunks */
  else par_slice(B, rank, size, &off, &cnt);
  Batch batch = {.step = c->step, .offset = off, .count = cnt, .x = xf + off * L};
  StepLosses losses;
  me->ops->loss_gradient(me, &batch, 0, &losses);
  double l0 = reference_loss(&ref, p, U);
  CHECK(losses.n == 4 && fabs(losses.value[0] - l0) < 1e-5 * (1e-3 + fabs(l0)), "strkm: loss %.9g vs reference %.9g",
        losses.value[0], l0);
  CHECK(losses.value[2] > 0, "strkm: the PCA error %g is not positive (l %d > m %d)", losses.value[2], F, M);
  long where;
  double err = fd_error(&ref, p, U, p, (long)ae->nparams, ae->grads, &where);
  CHECK(err < 1e-3, "strkm %s: net gradient off by %.3g at parameter %ld: %g", c->rec_loss, err, where, ae->grads[where]);
  const float *gU = paramset_grad(&me->params, iU);
  double errU = fd_error(&ref, p, U, U, F * M, gU, &where);
  CHECK(errU < 1e-3, "strkm %s: U gradient off by %.3g at entry %ld: %g", c->rec_loss, errU, where, gU[where]);
  if (c->chunk) { /* the same method on this rank alone over the whole batch: the same bits */
    Par self;
    Method *alone;
    StepLosses one;
    par_create(PETSC_COMM_SELF, 1, &self);
    method_create(&cfg, opts, &self, L, &alone);
    Batch whole = {.step = c->step, .offset = 0, .count = B, .x = xf};
    alone->ops->loss_gradient(alone, &whole, 0, &one);
    int same = !memcmp(ae->grads, alone->ae.grads, ae->nparams * sizeof *ae->grads) &&
               !memcmp(gU, paramset_grad(&alone->params, iU), F * M * sizeof *gU) && one.n == losses.n;
    for (int v = 0; v < losses.n; v++) same &= losses.value[v] == one.value[v];
    CHECK(same, "strkm %s -reproducible: the losses or gradients on %d ranks differ from one rank's in the bits", c->rec_loss,
          size);
    method_destroy(&alone);
    par_free(&self);
  }
  if (rank == 0)
    printf("%-12s %-9s step %-6lld %d rank(s): loss %.6f (ref %.6f), %zu + %d parameters, max rel gradient error %.2e, U %.2e\n",
           "strkm", c->rec_loss, (long long)c->step, size, losses.value[0], l0, ae->nparams, F * M, err, errU);
  free(p);
  method_destroy(&me);
  PetscFree(opts);
  par_free(&par);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  check(&(Case){.rec_loss = "gaussian", .options = "-strkm_features 5\n", .c_accu = 1, .lambda = 1, .step = 0});
  check(&(Case){.rec_loss = "mse", .options = "-strkm_features 5\n-strkm_lambda 0.3\n-strkm_c_accu 2\n", .c_accu = 2, .lambda = 0.3, .step = 4});
  check(&(Case){.rec_loss = "bernoulli", .options = "-strkm_features 5\n-strkm_variant noisy\n-strkm_noise 0.5\n", .c_accu = 1,
                .lambda = 1, .noise = 0.5, .step = 11});
  check(&(Case){.rec_loss = "gaussian", .options = "-strkm_features 5\n-strkm_variant noisy\n-strkm_noise 0.2\n-strkm_lambda 4\n",
                .c_accu = 1, .lambda = 4, .noise = 0.2, .step = 2});
  check(&(Case){.rec_loss = "gaussian", .options = "-strkm_features 5\n", .c_accu = 1, .lambda = 1, .step = 3, .chunk = 1});
  check(&(Case){.rec_loss = "mse", .options = "-strkm_features 5\n-strkm_variant noisy\n-strkm_noise 0.3\n", .c_accu = 1,
                .lambda = 1, .noise = 0.3, .step = 6, .chunk = 1});
  return test_mpi_finish();
}
