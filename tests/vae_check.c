#include "vae_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/rng.h"
#include "testing.h"

#define FD_STEP 1e-6

typedef struct {
  const VaeCheck *c;
  Method *me;
  const double *x;
  double *eps;
} Ref;

static double reference_loss(const Ref *ref, const double *p) {
  const Autoencoder *ae = &ref->me->ae;
  const int B = VAE_B, L = VAE_L, m = VAE_M;
  double code[VAE_B * 2 * VAE_M], mu[VAE_B * VAE_M], logvar[VAE_B * VAE_M], z[VAE_B * VAE_M], xhat[VAE_B * VAE_L];
  ref_net_forward(&ae->enc, p, ref->x, B, code);
  for (int r = 0; r < B; r++)
    for (int j = 0; j < m; j++) {
      mu[r * m + j] = code[r * 2 * m + j], logvar[r * m + j] = code[r * 2 * m + m + j];
      z[r * m + j] = mu[r * m + j] + exp(0.5 * logvar[r * m + j]) * ref->eps[r * m + j];
    }
  ref_net_forward(&ae->dec, p + ae->enc.nparams, z, B, xhat);
  double rec = 0.0;
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
  return rec + ref->c->reg(mu, logvar, z, B, m, ref->c->ctx);
}

void vae_check_gradient(const VaeCheck *c) {
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  const int B = VAE_B, L = VAE_L, m = VAE_M;
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  snprintf(cfg.method, sizeof cfg.method, "%s", c->method);
  strcpy(cfg.hidden, "6,5"), strcpy(cfg.activation, "selu");
  snprintf(cfg.rec_loss, sizeof cfg.rec_loss, "%s", c->rec_loss);
  int bernoulli = !strcmp(c->rec_loss, "bernoulli");
  if (bernoulli) cfg.data_mean = 0, cfg.data_std = 1;
  cfg.seed = 3, cfg.batch = B, cfg.latents = m, cfg.lr = 1e-3;
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, c->method, &ops);
  method_options_from_text(PETSC_COMM_WORLD, ops, c->options, &opts);
  Par par;
  par_create(PETSC_COMM_WORLD, 1, &par);
  Ref ref = {.c = c};
  method_create(&cfg, opts, &par, L, &ref.me);
  if (c->prepare) c->prepare(ref.me, c->ctx);
  Autoencoder *ae = &ref.me->ae;

  float xf[VAE_B * VAE_L];
  double x[VAE_B * VAE_L], eps[VAE_B * VAE_M];
  for (int i = 0; i < B * L; i++)
    xf[i] = (float)(bernoulli ? (i % 2 ? rng_uniform(5, 1, 0, i) > 0.5 : rng_uniform(5, 1, 0, i)) : rng_normal(5, 1, 0, i)), x[i] = xf[i];
  for (int r = 0; r < B; r++)
    for (int j = 0; j < m; j++) eps[r * m + j] = (float)rng_normal((uint64_t)cfg.seed, RNG_STREAM_NOISE, (uint64_t)c->step, (uint64_t)(r * m + j));
  ref.x = x, ref.eps = eps;
  double *p = malloc(sizeof(double) * ae->nparams), *fd = malloc(sizeof(double) * ae->nparams);
  for (size_t k = 0; k < ae->nparams; k++) p[k] = ae->params[k];

  int off, cnt;
  par_slice(B, rank, size, &off, &cnt);
  Batch batch = {.step = c->step, .offset = off, .count = cnt, .x = xf + off * L};
  StepLosses losses;
  ref.me->ops->loss_gradient(ref.me, &batch, 0, &losses);

  double l0 = reference_loss(&ref, p);
  CHECK(fabs(losses.value[0] - l0) < 1e-5 * (1e-3 + fabs(l0)), "%s: loss %.9g vs reference %.9g", c->method, losses.value[0], l0);
  for (size_t k = 0; k < ae->nparams; k++) {
    double keep = p[k];
    p[k] = keep + FD_STEP;
    double lp = reference_loss(&ref, p);
    p[k] = keep - FD_STEP;
    double lm = reference_loss(&ref, p);
    p[k] = keep;
    fd[k] = (lp - lm) / (2 * FD_STEP);
  }
  double scale = 0, tol = c->tolerance > 0 ? c->tolerance : 1e-3;
  for (size_t k = 0; k < ae->nparams; k++) scale = fmax(scale, fabs(fd[k]));
  long where;
  double err = rel_error(ae->grads, fd, (long)ae->nparams, 1e-3 * scale, &where);
  CHECK(err < tol, "%s: gradient off by %.3g (relative) at parameter %ld: %g vs %g", c->method, err, where, ae->grads[where], fd[where]);
  if (rank == 0)
    printf("%-12s %-9s step %-6lld %d rank(s): loss %.6f (ref %.6f), %zu parameters, max rel gradient error %.2e\n", c->method,
           c->rec_loss, (long long)c->step, size, losses.value[0], l0, ae->nparams, err);
  free(p), free(fd);
  method_destroy(&ref.me);
  PetscFree(opts);
  par_free(&par);
}
