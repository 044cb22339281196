/* The gradient each method hands to Adam, checked against central differences of an
 * independent double-precision evaluation of its loss over the WHOLE batch, on 1, 2 and 3
 * ranks: so the parallel gradient (slices, one statistics allreduce, one gradient allreduce)
 * is checked against a serial one at the same time.
 *
 * NashAE's autoencoder loss is (1 - lambda) MSE/2 + lambda sum_i cov(z_i, zhat_i) with z_i held
 * constant inside the covariance: the reference does exactly that, freezing z_i at the
 * unperturbed parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/method.h"
#include "disentangle/rng.h"
#include "testing.h"

#define B 7 /* uneven on 2 and 3 ranks */
#define L 12
#define M 3
#define FD_STEP 1e-6

/* A test term on an INNER layer, to check that a term's gradient injected at a hidden layer of
 * the encoder reaches the parameters through the engine's one statistics allreduce:
 * weight * sum_rows |h_r|^2 / B, h the output of encoder layer HIDDEN_LAYER ("selu0"). */
#define HIDDEN_LAYER 1
static int energy_nstats(const Term *t, const Method *m) {
  (void)t, (void)m;
  return 1;
}
static void energy_local(Term *t, Method *m, const float *x, int count, double *stats) {
  (void)t, (void)x;
  const float *h = m->ae.enc.acts[HIDDEN_LAYER];
  long n = (long)count * shape_size(&m->ae.enc.layers[HIDDEN_LAYER].out);
  stats[0] = 0;
  for (long i = 0; i < n; i++) stats[0] += (double)h[i] * h[i];
}
static void energy_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values,
                            float *grad) {
  (void)x;
  const float *h = m->ae.enc.acts[HIDDEN_LAYER];
  long n = (long)count * shape_size(&m->ae.enc.layers[HIDDEN_LAYER].out);
  for (long i = 0; i < n; i++) grad[i] += (float)(t->weight * 2.0 * h[i] / m->global_batch);
  values[0] = stats[0] / m->global_batch;
}
static const TermOps term_energy = {.name = "energy", .nvalues = 1, .value_names = {"energy"},
                                    .nstats = energy_nstats, .local = energy_local, .backward = energy_backward};
#define ENERGY_WEIGHT 0.3

typedef struct {
  Method *me;
  int energy;     /* the test term is attached */
  int bernoulli;  /* -rec_loss bernoulli: the decoder gives logits, x is in [0,1] */
  double *x;      /* [B][L] */
  double *zfixed; /* [B][M] latents at the unperturbed parameters */
  Net *regs[M];
  double *regp[M];
} Ref;

/* The latents: the encoder's code through the sigmoid head. */
static void ref_encode(const Autoencoder *ae, const double *p, const double *x, int n, double *z) {
  ref_net_forward(&ae->enc, p, x, n, z);
  for (int i = 0; i < n * M; i++) z[i] = 1.0 / (1.0 + exp(-z[i]));
}

static double reference_loss(Ref *ref, const double *p, int nashae, double lambda) {
  Autoencoder *ae = &ref->me->ae;
  double z[B * M], xhat[B * L], rec = 0.0, adv = 0.0;
  ref_encode(ae, p, ref->x, B, z);
  ref_net_forward(&ae->dec, p + ae->enc.nparams, z, B, xhat);
  if (ref->bernoulli) { /* -x log s - (1 - x) log(1 - s), s = sigmoid(logit), summed over features, mean over rows */
    for (int i = 0; i < B * L; i++) {
      double s = 1.0 / (1.0 + exp(-xhat[i]));
      rec -= ref->x[i] * log(s) + (1.0 - ref->x[i]) * log(1.0 - s);
    }
    rec /= B;
  } else {
    for (int i = 0; i < B * L; i++) rec += (xhat[i] - ref->x[i]) * (xhat[i] - ref->x[i]);
    rec = 0.5 * rec / (B * L);
  }
  double energy = 0.0;
  if (ref->energy) {
    Net head = ae->enc;
    head.nlayers = HIDDEN_LAYER + 1;
    long w = shape_size(&ae->enc.layers[HIDDEN_LAYER].out);
    double *h = malloc(sizeof(double) * B * w), e = 0.0;
    ref_net_forward(&head, p, ref->x, B, h);
    for (long i = 0; i < B * w; i++) e += h[i] * h[i];
    free(h);
    energy = ENERGY_WEIGHT * e / B;
  }
  if (!nashae) return rec + energy;
  for (int i = 0; i < M; i++) {
    double in[B * M], zh[B], sz = 0, szh = 0, szzh = 0;
    memcpy(in, z, sizeof in);
    for (int r = 0; r < B; r++) in[r * M + i] = 0.0;
    ref_net_forward(ref->regs[i], ref->regp[i], in, B, zh);
    for (int r = 0; r < B; r++) {
      double zi = ref->zfixed[r * M + i];
      sz += zi, szh += zh[r], szzh += zi * zh[r];
    }
    adv += szzh / B - (sz / B) * (szh / B);
  }
  return (1 - lambda) * rec + lambda * adv + energy;
}

static void check_method(const char *name, double lambda, int energy, const char *rec_loss) {
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  strcpy(cfg.method, name), strcpy(cfg.hidden, "6,5"), strcpy(cfg.activation, "selu"), strcpy(cfg.rec_loss, rec_loss);
  int bernoulli = !strcmp(rec_loss, "bernoulli");
  if (bernoulli) cfg.data_mean = 0, cfg.data_std = 1; /* what the option requires */
  cfg.seed = 3, cfg.batch = B, cfg.latents = M, cfg.lr = 1e-3;
  char text[256];
  snprintf(text, sizeof text, "-nashae_lambda %.17g\n-nashae_reg_hidden 4\n-nashae_reg_lr 1e-2\n-nashae_reg_iters 1\n", lambda);
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, name, &ops);
  method_options_from_text(PETSC_COMM_WORLD, ops, text, &opts);
  Par par;
  par_create(PETSC_COMM_WORLD, size < M ? size : M, &par);
  Ref ref;
  memset(&ref, 0, sizeof ref);
  method_create(&cfg, opts, &par, L, &ref.me);
  ref.energy = energy, ref.bernoulli = bernoulli;
  if (energy) method_add_term(ref.me, &term_energy, ENERGY_WEIGHT, SITE_ENCODER, HIDDEN_LAYER, NULL);
  Autoencoder *ae = &ref.me->ae;
  int nashae = !strcmp(name, "nashae");

  float xf[B * L];
  double x[B * L];
  for (int i = 0; i < B * L; i++) /* Bernoulli: pixel-like targets, half binary, half grey */
    xf[i] = (float)(bernoulli ? (i % 2 ? rng_uniform(5, 1, 0, i) > 0.5 : rng_uniform(5, 1, 0, i)) : rng_normal(5, 1, 0, i)), x[i] = xf[i];
  ref.x = x;
  double *p = malloc(sizeof(double) * ae->nparams), zfixed[B * M];
  for (size_t k = 0; k < ae->nparams; k++) p[k] = ae->params[k];
  ref_encode(ae, p, x, B, zfixed);
  ref.zfixed = zfixed;
  if (nashae) {
    Net *nets[2 + M];
    ref.me->ops->nets(ref.me, nets, 2 + M);
    for (int i = 0; i < M; i++) {
      ref.regs[i] = nets[2 + i];
      ref.regp[i] = malloc(sizeof(double) * nets[2 + i]->nparams);
      for (size_t k = 0; k < nets[2 + i]->nparams; k++) ref.regp[i][k] = nets[2 + i]->params[k];
    }
  }

  int off, cnt;
  par_slice(B, rank, size, &off, &cnt);
  StepLosses losses;
  Batch batch = {.step = 0, .offset = off, .count = cnt, .x = xf + off * L};
  ref.me->ops->loss_gradient(ref.me, &batch, 0, &losses);

  double l0 = reference_loss(&ref, p, nashae, lambda);
  CHECK(fabs(losses.value[0] - l0) < 1e-5 * (1e-3 + fabs(l0)), "%s: loss %.9g vs reference %.9g", name, losses.value[0], l0);
  double *fd = malloc(sizeof(double) * ae->nparams);
  for (size_t k = 0; k < ae->nparams; k++) {
    double keep = p[k];
    p[k] = keep + FD_STEP;
    double lp = reference_loss(&ref, p, nashae, lambda);
    p[k] = keep - FD_STEP;
    double lm = reference_loss(&ref, p, nashae, lambda);
    p[k] = keep;
    fd[k] = (lp - lm) / (2 * FD_STEP);
  }
  long where;
  /* float32 gradients summed over ranks vs double differences: 1e-3 relative of the larger
   * gradients (floor 1e-3 of their scale) leaves room for round-off and catches any wrong term */
  double scale = 0;
  for (size_t k = 0; k < ae->nparams; k++) scale = fmax(scale, fabs(fd[k]));
  double err = rel_error(ae->grads, fd, (long)ae->nparams, 1e-3 * scale, &where);
  CHECK(err < 1e-3, "%s: gradient off by %.3g (relative) at parameter %ld: %g vs %g", name, err, where, ae->grads[where],
        fd[where]);
  if (rank == 0)
    printf("%-7s %-9s lambda %.2f%s: loss %.6f (ref %.6f), %zu parameters, max rel gradient error %.2e\n", name, rec_loss, lambda, energy ? " + term on encoder selu0" : "",
           losses.value[0], l0, ae->nparams, err);
  for (int i = 0; i < M; i++) free(ref.regp[i]);
  free(p), free(fd);
  method_destroy(&ref.me);
  PetscFree(opts);
  par_free(&par);
}

/* -arch dsprites_conv built from the sample's shape [1,64,64] (method_create_shaped) and from
 * its feature count alone (method_create, a flat 4096) must be the same net: the same tensors,
 * the same initial values, the same loss and gradient. The gradient itself is checked by
 * tests/unit_layers.c on small conv nets (finite differences over this net's 2.3M parameters
 * would take hours). */
static void check_conv_shapes(void) {
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  strcpy(cfg.method, "ae"), strcpy(cfg.arch, "dsprites_conv"), strcpy(cfg.rec_loss, "bernoulli");
  cfg.seed = 4, cfg.batch = B, cfg.latents = M, cfg.lr = 1e-3, cfg.data_std = 1;
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, "ae", &ops);
  method_options_from_text(PETSC_COMM_WORLD, ops, "", &opts);
  Par par;
  par_create(PETSC_COMM_WORLD, 1, &par);
  Method *flat = NULL, *image = NULL;
  method_create(&cfg, opts, &par, 64 * 64, &flat);
  method_create_shaped(&cfg, opts, &par, (Shape){3, {1, 64, 64}}, &image);
  CHECK(flat && image && flat->ae.nparams == image->ae.nparams && flat->params.ntensors == image->params.ntensors,
        "dsprites_conv: the flat and the [1,64,64] sample give different nets");
  if (flat && image && flat->ae.nparams == image->ae.nparams) {
    CHECK(!memcmp(flat->ae.params, image->ae.params, flat->ae.nparams * sizeof(float)),
          "dsprites_conv: the flat and the [1,64,64] sample give different initial parameters");
    int off, cnt;
    par_slice(B, rank, size, &off, &cnt);
    float *x = malloc(sizeof(float) * B * 4096);
    for (int i = 0; i < B * 4096; i++) x[i] = rng_uniform(9, 1, 0, i) < 0.1 ? 1.0f : 0.0f;
    StepLosses a, b;
    Batch batch = {.offset = off, .count = cnt, .x = x + off * 4096};
    flat->ops->loss_gradient(flat, &batch, 0, &a);
    image->ops->loss_gradient(image, &batch, 0, &b);
    CHECK(a.value[0] == b.value[0] && !memcmp(flat->ae.grads, image->ae.grads, flat->ae.nparams * sizeof(float)),
          "dsprites_conv: loss or gradient depend on how the sample shape was given (%.9g vs %.9g)", a.value[0], b.value[0]);
    CHECK(isfinite(a.value[0]) && a.value[0] > 0, "dsprites_conv: Bernoulli loss %g", a.value[0]);
    if (rank == 0) printf("ae      dsprites_conv, bernoulli: %zu parameters, loss %.6f from [4096] and from [1,64,64]\n", flat->ae.nparams, a.value[0]);
    free(x);
  }
  method_destroy(&flat);
  method_destroy(&image);
  PetscFree(opts);
  par_free(&par);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  check_method("ae", 0.0, 0, "mse");
  check_method("nashae", 0.5, 0, "mse");
  check_method("nashae", 1.0, 0, "mse");
  check_method("ae", 0.0, 1, "mse");
  check_method("nashae", 0.5, 1, "mse");
  check_method("ae", 0.0, 0, "bernoulli");
  check_method("nashae", 0.5, 0, "bernoulli");
  check_conv_shapes();
  return test_mpi_finish();
}
