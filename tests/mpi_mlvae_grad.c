/* Gradient checks of ML-VAE (src/method/mlvae.c) on 1, 2 and 3 ranks, against central
 * differences of an independent double-precision evaluation of the paper's objective over the
 * WHOLE batch: code = enc(x), each group's content posterior as the product of its samples'
 * Gaussians (precision sum, precision-weighted mean), one content sample per group from
 * (seed, RNG_STREAM_GROUP_NOISE, step, group * C + latent), style per row from the Gaussian
 * head's noise, xhat = dec(content | style), rec + w_s sum_rows KL(style) + w_c sum_groups
 * KL(content), over B.
 * The batches are chosen so that groups span ranks: B 12 with S 4 on 2 ranks (rows 0-5 | 6-11:
 * group 1 spans both), S 3 on 3 ranks (rows 0-3 | 4-7 | 8-11: groups 1 and 2 span two), one
 * group of 8 over every rank, S 5 of B 10 (groups across the uneven 3-rank split), and S 1 (the
 * plain VAE), and once with L_Sigma on the latents (a term at z whose gradient goes back
 * through the group product), and once under -reproducible (micro-chunks of 4 rows, groups of 2:
 * each chunk's groups summed from its own rows, no allreduce). Besides the gradient: the method's four losses against the reference, against the
 * same method run on this rank alone over the whole batch (1 rank vs P ranks), and the content
 * latents of a group's rows identical; under -reproducible, the losses and the gradient of P
 * ranks and of one are the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/method.h"
#include "disentangle/rng.h"
#include "testing.h"

#define FD_STEP 1e-6
#define L 10
#define M 4
#define MAXB 12

typedef struct {
  const char *name, *options, *rec_loss;
  int B, S, C;
  double ws, wc;
  int64_t step;
  double lsigma; /* -lsigma_lambda on the latents (0: none): a term at z, carried back through the group product */
  int chunk;     /* -reproducible_chunk (0: the default mode) */
} Case;

typedef struct {
  const Case *c;
  const Autoencoder *ae;
  const double *x;
  double eps_style[MAXB * M], eps_content[MAXB * M];
  double values[5]; /* loss, rec, kl_style, kl_content (, lsigma_latents) of the last evaluation */
} Ref;

static double reference_loss(Ref *ref, const double *p) {
  const Case *c = ref->c;
  const int B = c->B, S = c->S, C = c->C, G = B / S;
  double code[MAXB * 2 * M], z[MAXB * M], xhat[MAXB * L], P[MAXB * M], Mg[MAXB * M];
  ref_net_forward(&ref->ae->enc, p, ref->x, B, code);
  for (int g = 0; g < G; g++)
    for (int k = 0; k < C; k++) {
      double prec = 0, wmean = 0;
      for (int i = g * S; i < (g + 1) * S; i++) {
        double pi = exp(-code[i * 2 * M + M + k]);
        prec += pi, wmean += pi * code[i * 2 * M + k];
      }
      P[g * C + k] = prec, Mg[g * C + k] = wmean / prec;
    }
  double klc = 0, kls = 0, rec = 0;
  for (int g = 0; g < G; g++)
    for (int k = 0; k < C; k++) {
      double var = 1 / P[g * C + k], mean = Mg[g * C + k];
      klc += 0.5 * (mean * mean + var - log(var) - 1);
    }
  for (int i = 0; i < B; i++) {
    const int g = i / S;
    for (int k = 0; k < C; k++) z[i * M + k] = Mg[g * C + k] + sqrt(1 / P[g * C + k]) * ref->eps_content[g * C + k];
    for (int j = C; j < M; j++) {
      double mu = code[i * 2 * M + j], lv = code[i * 2 * M + M + j];
      z[i * M + j] = mu + exp(0.5 * lv) * ref->eps_style[i * M + j];
      kls += 0.5 * (mu * mu + exp(lv) - lv - 1);
    }
  }
  ref_net_forward(&ref->ae->dec, p + ref->ae->enc.nparams, z, B, xhat);
  const int bernoulli = !strcmp(c->rec_loss, "bernoulli");
  for (int i = 0; i < B * L; i++) {
    if (bernoulli) {
      double s = 1.0 / (1.0 + exp(-xhat[i]));
      rec -= ref->x[i] * log(s) + (1.0 - ref->x[i]) * log(1.0 - s);
    } else {
      rec += 0.5 * (xhat[i] - ref->x[i]) * (xhat[i] - ref->x[i]);
    }
  }
  rec /= !strcmp(c->rec_loss, "mse") ? (double)B * L : (double)B;
  ref->values[1] = rec, ref->values[2] = kls / B, ref->values[3] = klc / B;
  ref->values[0] = rec + c->ws * kls / B + c->wc * klc / B;
  if (c->lsigma) { /* L_Sigma: (1/m^2) sum_ij |cov_ij| of z over the batch */
    double mean[M] = {0}, sum = 0;
    for (int i = 0; i < B; i++)
      for (int j = 0; j < M; j++) mean[j] += z[i * M + j] / B;
    for (int a = 0; a < M; a++)
      for (int b = 0; b < M; b++) {
        double cov = 0;
        for (int i = 0; i < B; i++) cov += (z[i * M + a] - mean[a]) * (z[i * M + b] - mean[b]);
        sum += fabs(cov / (B - 1));
      }
    ref->values[4] = sum / (M * M);
    ref->values[0] += c->lsigma * ref->values[4];
  }
  return ref->values[0];
}

static void make_config(const Case *c, Config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->method, sizeof cfg->method, "mlvae");
  strcpy(cfg->hidden, "6,5"), strcpy(cfg->activation, "selu"), strcpy(cfg->sampler, "grouped");
  snprintf(cfg->rec_loss, sizeof cfg->rec_loss, "%s", c->rec_loss);
  if (!strcmp(c->rec_loss, "bernoulli")) cfg->data_mean = 0, cfg->data_std = 1;
  cfg->seed = 3, cfg->batch = c->B, cfg->latents = M, cfg->lr = 1e-3, cfg->group_size = c->S;
  cfg->lsigma_lambda = c->lsigma, strcpy(cfg->lsigma_layers, "latents");
  cfg->reproducible = c->chunk ? PETSC_TRUE : PETSC_FALSE, cfg->reproducible_chunk = c->chunk ? c->chunk : 10;
}

static void check(const Case *c) {
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  const int B = c->B, S = c->S, C = c->C;
  Config cfg;
  make_config(c, &cfg);
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, "mlvae", &ops);
  method_options_from_text(PETSC_COMM_WORLD, ops, c->options, &opts);
  Par par, self;
  par_create(PETSC_COMM_WORLD, 1, &par);
  par_create(PETSC_COMM_SELF, 1, &self);
  Method *me, *alone;
  method_create(&cfg, opts, &par, L, &me);
  method_create(&cfg, opts, &self, L, &alone);
  Autoencoder *ae = &me->ae;

  const int bernoulli = !strcmp(c->rec_loss, "bernoulli");
  float xf[MAXB * L];
  double x[MAXB * L];
  for (int i = 0; i < B * L; i++)
    xf[i] = (float)(bernoulli ? (i % 2 ? rng_uniform(5, 1, 0, i) > 0.5 : rng_uniform(5, 1, 0, i)) : rng_normal(5, 1, 0, i)), x[i] = xf[i];
  Ref ref = {.c = c, .ae = ae, .x = x};
  for (int i = 0; i < B * M; i++)
    ref.eps_style[i] = (float)rng_normal((uint64_t)cfg.seed, RNG_STREAM_NOISE, (uint64_t)c->step, (uint64_t)i);
  for (int i = 0; i < (B / S) * C; i++)
    ref.eps_content[i] = (float)rng_normal((uint64_t)cfg.seed, RNG_STREAM_GROUP_NOISE, (uint64_t)c->step, (uint64_t)i);
  double *p = malloc(sizeof(double) * ae->nparams), *fd = malloc(sizeof(double) * ae->nparams);
  for (size_t k = 0; k < ae->nparams; k++) p[k] = ae->params[k];

  int off, cnt;
  if (c->chunk) par_slice_chunks(B, c->chunk, rank, size, &off, &cnt); /* a rank holds whole chunks */
  else par_slice(B, rank, size, &off, &cnt);
  Batch batch = {.step = c->step, .offset = off, .count = cnt, .x = xf + off * L};
  Batch whole = {.step = c->step, .offset = 0, .count = B, .x = xf};
  StepLosses losses, one;
  CHECK(!me->ops->loss_gradient(me, &batch, 0, &losses), "%s: loss_gradient failed", c->name);
  for (int r = 0; r < cnt; r++) /* a group's rows decode with one content sample */
    for (int k = 0; k < C; k++) {
      int first = (off + r) / S * S - off;
      if (first >= 0) CHECK(ae->z[r * M + k] == ae->z[first * M + k], "%s: row %d content %d differs from its group's first row", c->name, off + r, k);
    }
  CHECK(!alone->ops->loss_gradient(alone, &whole, 0, &one), "%s: loss_gradient on one rank failed", c->name);

  reference_loss(&ref, p);
  static const char *names[5] = {"loss", "rec", "kl_style", "kl_content", "lsigma_latents"};
  const int nv = c->lsigma ? 5 : 4;
  CHECK(losses.n == nv && one.n == nv, "%s: %d and %d losses, not %d", c->name, losses.n, one.n, nv);
  for (int v = 0; v < nv; v++) {
    CHECK(fabs(losses.value[v] - ref.values[v]) < 1e-5 * (1e-3 + fabs(ref.values[v])), "%s: %s %.9g vs reference %.9g", c->name,
          names[v], losses.value[v], ref.values[v]);
    CHECK(fabs(losses.value[v] - one.value[v]) < 1e-6 * (1e-3 + fabs(one.value[v])), "%s: %s %.9g on %d ranks vs %.9g on one", c->name,
          names[v], losses.value[v], size, one.value[v]);
  }
  CHECK(ref.values[3] > 1e-3 && ref.values[2] > 1e-3, "%s: a KL too small (%g, %g) for the check to mean anything", c->name,
        ref.values[2], ref.values[3]);
  for (size_t k = 0; k < ae->nparams; k++) {
    double keep = p[k];
    p[k] = keep + FD_STEP;
    double lp = reference_loss(&ref, p);
    p[k] = keep - FD_STEP;
    double lm = reference_loss(&ref, p);
    p[k] = keep;
    fd[k] = (lp - lm) / (2 * FD_STEP);
  }
  double scale = 0;
  for (size_t k = 0; k < ae->nparams; k++) scale = fmax(scale, fabs(fd[k]));
  long where, where1;
  double err = rel_error(ae->grads, fd, (long)ae->nparams, 1e-3 * scale, &where);
  CHECK(err < 1e-3, "%s: gradient off by %.3g (relative) at parameter %ld: %g vs %g", c->name, err, where, ae->grads[where], fd[where]);
  /* the encoder's first parameters: reached only through the group product for the content */
  double gmax = 0;
  for (size_t k = 0; k < ae->enc.nparams; k++) gmax = fmax(gmax, fabs(fd[k]));
  CHECK(gmax > 1e-6, "%s: the encoder's gradient is %g", c->name, gmax);
  double *g1 = malloc(sizeof(double) * ae->nparams);
  for (size_t k = 0; k < ae->nparams; k++) g1[k] = alone->ae.grads[k];
  double err1 = rel_error(ae->grads, g1, (long)ae->nparams, 1e-3 * scale, &where1);
  CHECK(err1 < 1e-4, "%s: gradient on %d ranks vs one off by %.3g at parameter %ld", c->name, size, err1, where1);
  if (c->chunk) {
    int same = memcmp(ae->grads, alone->ae.grads, ae->nparams * sizeof *ae->grads) == 0;
    for (int v = 0; v < nv; v++) same &= losses.value[v] == one.value[v];
    CHECK(same, "%s: -reproducible, yet the losses or the gradient on %d ranks differ from one rank's in the bits", c->name,
          size);
  }
  if (rank == 0)
    printf("%-26s %-9s B %2d S %d C %d, %d rank(s): loss %.6f (ref %.6f, 1 rank %.6f), kl_content %.5f, %zu parameters, "
           "max rel gradient error %.2e (vs 1 rank %.2e)\n",
           c->name, c->rec_loss, B, S, C, size, losses.value[0], ref.values[0], one.value[0], losses.value[3], ae->nparams, err, err1);
  free(p), free(fd), free(g1);
  method_destroy(&me);
  method_destroy(&alone);
  PetscFree(opts);
  par_free(&par);
  par_free(&self);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  const Case cases[] = {
    {"groups of 4", "-mlvae_content 2\n", "gaussian", 12, 4, 2, 1, 1, 0},
    {"groups of 3, weights", "-mlvae_content 1\n-mlvae_style_weight 0.7\n-mlvae_content_weight 2.5\n", "gaussian", 12, 3, 1, 0.7, 2.5, 17},
    {"one group of 8", "-mlvae_content 3\n", "bernoulli", 8, 8, 3, 1, 1, 5},
    {"groups of 5", "-mlvae_content 2\n-mlvae_content_weight 0.5\n", "mse", 10, 5, 2, 1, 0.5, 2},
    {"groups of 1 (a VAE)", "-mlvae_content 2\n", "gaussian", 6, 1, 2, 1, 1, 3},
    {"groups of 4, L_Sigma on z", "-mlvae_content 2\n", "gaussian", 12, 4, 2, 1, 1, 9, 5.0},
    {"groups of 2, chunks of 4", "-mlvae_content 2\n", "gaussian", 12, 2, 2, 1, 1, 4, 0, 4},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check(&cases[i]);
  return test_mpi_finish();
}
