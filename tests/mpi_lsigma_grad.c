/* The L_Sigma and L1 regularisers (-lsigma_lambda, -l1_lambda on -lsigma_layers) on several
 * methods and layers: the gradient the method hands to Adam against central differences of an
 * independent double-precision evaluation of the whole objective over the WHOLE batch, on 1, 2
 * and 3 ranks (so the covariance over the global batch through the one statistics allreduce is
 * checked at the same time); and the regularisers' values against the reference.
 *
 * The reference: the hidden layers from a truncated copy of the net (ref_net_forward), the head
 * (sigmoid, identity, or gaussian with the head's noise), the decoder, the reconstruction, the
 * method's own term (beta-VAE's KL; NashAE with lambda 0 adds nothing), then for each named layer
 * lambda (1/p^2) sum_ij |C_ij| with C = 1/(N-1) sum (h - hbar)(h - hbar)^T, and lambda_1 mean |h|. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/lsigma.h"
#include "disentangle/method.h"
#include "disentangle/rng.h"
#include "testing.h"

#define B 7 /* uneven on 2 and 3 ranks */
#define L 12
#define M 3
#define FD_STEP 1e-6
#define BETA 2.0

typedef struct {
  const char *method, *head, *layers, *rec_loss;
  double lsigma, l1;
} Case;

typedef struct {
  const Case *c;
  Method *me;
  const double *x;
  double eps[B * M];
  double reg_values[2 * LSIGMA_MAX_LAYERS];
} Ref;

/* The output of layer `layer` of net (layers 0..layer) on n rows. */
static void ref_partial(const Net *net, const double *p, const double *in, int n, int layer, double *out) {
  Net head = *net;
  head.nlayers = layer + 1;
  ref_net_forward(&head, p, in, n, out);
}

static double ref_lsigma(const double *h, int n, int w) {
  double mean[64] = {0}, sum = 0;
  for (int r = 0; r < n; r++)
    for (int j = 0; j < w; j++) mean[j] += h[r * w + j] / n;
  for (int i = 0; i < w; i++)
    for (int j = 0; j < w; j++) {
      double c = 0;
      for (int r = 0; r < n; r++) c += (h[r * w + i] - mean[i]) * (h[r * w + j] - mean[j]);
      sum += fabs(c / (n - 1));
    }
  return sum / ((double)w * w);
}

static double ref_l1(const double *h, int n, int w) {
  double s = 0;
  for (int i = 0; i < n * w; i++) s += fabs(h[i]);
  return s / ((double)n * w);
}

static double reference_loss(Ref *ref, const double *p) {
  const Autoencoder *ae = &ref->me->ae;
  const Case *c = ref->c;
  const int gaussian = !strcmp(c->method, "betavae");
  const int cw = gaussian ? 2 * M : M;
  double code[B * 2 * M], z[B * M], xhat[B * L], kl = 0;
  ref_net_forward(&ae->enc, p, ref->x, B, code);
  for (int r = 0; r < B; r++)
    for (int j = 0; j < M; j++) {
      double v = code[r * cw + j];
      if (gaussian) {
        double lv = code[r * cw + M + j];
        z[r * M + j] = v + exp(0.5 * lv) * ref->eps[r * M + j];
        kl += 0.5 * (v * v + exp(lv) - lv - 1.0);
      } else z[r * M + j] = !strcmp(c->head, "identity") ? v : 1.0 / (1.0 + exp(-v));
    }
  ref_net_forward(&ae->dec, p + ae->enc.nparams, z, B, xhat);
  double rec = 0;
  for (int i = 0; i < B * L; i++) rec += 0.5 * (xhat[i] - ref->x[i]) * (xhat[i] - ref->x[i]);
  rec /= !strcmp(c->rec_loss, "mse") ? (double)B * L : (double)B;
  double loss = rec + (gaussian ? BETA * kl / B : 0.0);

  char list[64];
  snprintf(list, sizeof list, "%s", c->layers);
  int k = 0;
  for (char *save, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save), k++) {
    TermSite site;
    int layer, w;
    regularisers_find_layer(ref->me, name, &site, &layer, &w);
    double *h = malloc(sizeof(double) * B * w);
    if (site == SITE_LATENTS) memcpy(h, z, sizeof z);
    else if (site == SITE_CODE) memcpy(h, code, sizeof(double) * B * w);
    else if (site == SITE_ENCODER) ref_partial(&ae->enc, p, ref->x, B, layer, h);
    else ref_partial(&ae->dec, p + ae->enc.nparams, z, B, layer, h);
    ref->reg_values[2 * k] = ref_lsigma(h, B, w), ref->reg_values[2 * k + 1] = ref_l1(h, B, w);
    loss += c->lsigma * ref->reg_values[2 * k] + c->l1 * ref->reg_values[2 * k + 1];
    free(h);
  }
  return loss;
}

static void check_case(const Case *c) {
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  snprintf(cfg.method, sizeof cfg.method, "%s", c->method);
  snprintf(cfg.head, sizeof cfg.head, "%s", c->head);
  snprintf(cfg.lsigma_layers, sizeof cfg.lsigma_layers, "%s", c->layers);
  snprintf(cfg.rec_loss, sizeof cfg.rec_loss, "%s", c->rec_loss);
  strcpy(cfg.hidden, "6,5"), strcpy(cfg.activation, "selu");
  cfg.seed = 3, cfg.batch = B, cfg.latents = M, cfg.lr = 1e-3;
  cfg.lsigma_lambda = c->lsigma, cfg.l1_lambda = c->l1;
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, c->method, &ops);
  char text[128];
  snprintf(text, sizeof text, "-nashae_lambda 0\n-nashae_reg_hidden 4\n-betavae_beta %g\n", BETA);
  method_options_from_text(PETSC_COMM_WORLD, ops, text, &opts);
  Par par;
  par_create(PETSC_COMM_WORLD, 1, &par);
  Ref ref = {.c = c};
  method_create(&cfg, opts, &par, L, &ref.me);
  Autoencoder *ae = &ref.me->ae;

  float xf[B * L];
  double x[B * L];
  for (int i = 0; i < B * L; i++) xf[i] = (float)rng_normal(5, 1, 0, i), x[i] = xf[i];
  for (int i = 0; i < B * M; i++) ref.eps[i] = (float)rng_normal((uint64_t)cfg.seed, RNG_STREAM_NOISE, 0, (uint64_t)i);
  ref.x = x;
  double *p = malloc(sizeof(double) * ae->nparams), *fd = malloc(sizeof(double) * ae->nparams);
  for (size_t k = 0; k < ae->nparams; k++) p[k] = ae->params[k];

  int off, cnt;
  par_slice(B, rank, size, &off, &cnt);
  Batch batch = {.step = 0, .offset = off, .count = cnt, .x = xf + off * L};
  StepLosses losses;
  ref.me->ops->loss_gradient(ref.me, &batch, 0, &losses);

  double l0 = reference_loss(&ref, p);
  CHECK(fabs(losses.value[0] - l0) < 1e-5 * (1e-3 + fabs(l0)), "%s %s: loss %.9g vs reference %.9g", c->method, c->layers,
        losses.value[0], l0);
  /* the reported values, by name: lsigma_LAYER and l1_LAYER */
  int nlayers = 0, named = 0;
  for (const char *s = c->layers; s; s = strchr(s, ','), s = s ? s + 1 : NULL) nlayers++;
  for (int k = 0; k < ref.me->nlosses; k++) {
    const char *n = ref.me->loss_names[k];
    int is_ls = !strncmp(n, "lsigma_", 7), is_l1 = !strncmp(n, "l1_", 3);
    if (!is_ls && !is_l1) continue;
    const char *layer = n + (is_ls ? 7 : 3);
    int at = 0;
    for (const char *s = c->layers; s; s = strchr(s, ','), s = s ? s + 1 : NULL, at++)
      if (!strncmp(s, layer, strlen(layer)) && (s[strlen(layer)] == ',' || !s[strlen(layer)])) break;
    double want = ref.reg_values[2 * at + is_l1];
    CHECK(at < nlayers && fabs(losses.value[k] - want) < 1e-5 * (1e-6 + fabs(want)), "%s: %s = %.9g, reference %.9g",
          c->method, n, losses.value[k], want);
    named++;
  }
  CHECK(named == nlayers * ((c->lsigma != 0) + (c->l1 != 0)), "%s %s: %d regulariser values reported", c->method, c->layers, named);

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
  long where;
  double err = rel_error(ae->grads, fd, (long)ae->nparams, 1e-3 * scale, &where);
  CHECK(err < 1e-3, "%s %s: gradient off by %.3g (relative) at parameter %ld: %g vs %g", c->method, c->layers, err, where,
        ae->grads[where], fd[where]);
  if (rank == 0)
    printf("%-8s head %-8s lsigma %.2f l1 %.2f on %-14s %d rank(s): loss %.6f (ref %.6f), max rel gradient error %.2e\n",
           c->method, c->head[0] ? c->head : "(own)", c->lsigma, c->l1, c->layers, size, losses.value[0], l0, err);
  free(p), free(fd);
  method_destroy(&ref.me);
  PetscFree(opts);
  par_free(&par);
}

/* Without the options, no term is attached and the method reports its own losses only. */
static void check_off(void) {
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  strcpy(cfg.method, "ae"), strcpy(cfg.hidden, "6"), strcpy(cfg.activation, "selu"), strcpy(cfg.lsigma_layers, "latents");
  cfg.seed = 1, cfg.batch = B, cfg.latents = M, cfg.lr = 1e-3;
  const MethodOps *ops;
  void *opts;
  method_find(PETSC_COMM_WORLD, "ae", &ops);
  method_options_from_text(PETSC_COMM_WORLD, ops, "", &opts);
  Par par;
  par_create(PETSC_COMM_WORLD, 1, &par);
  Method *me = NULL;
  method_create(&cfg, opts, &par, L, &me);
  CHECK(me && me->nterms == 1 && me->nlosses == 2, "ae without -lsigma_lambda: %d terms, %d losses", me ? me->nterms : -1,
        me ? me->nlosses : -1);
  method_destroy(&me);
  PetscFree(opts);
  par_free(&par);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  const Case cases[] = {
    {"ae", "", "latents", "mse", 0.7, 0.0},
    {"ae", "", "latents,enc2", "mse", 0.5, 0.3},
    {"ae", "identity", "code,dec1", "mse", 0.4, 0.2},
    {"ae", "identity", "enc1", "mse", 0.0, 0.6},
    {"nashae", "", "latents,enc1", "mse", 0.8, 0.0},
    {"betavae", "", "latents,enc2", "gaussian", 0.9, 0.1},
    {"betavae", "", "dec2", "gaussian", 0.6, 0.0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i]);
  check_off();
  return test_mpi_finish();
}
