/* xor_lsigma: experiment 2 of the L_Sigma paper ("Disentangled activations in deep networks",
 * issue 10): XOR by a net of two hidden layers of 4 logistic units and one logistic output,
 * trained on the four points with and without L_Sigma on both hidden layers; the paper reports
 * that with lambda = 0.2 two units of layer 1 and one of layer 2 stay active.
 *
 * A tool-local trainer, not a supervised mode of `disentangle train`: the engine's methods are
 * autoencoders on archives (encoder, head, decoder, reconstruction), and XOR needs none of that
 * (4 samples, no ranks, no checkpoints). It uses the same pieces as the engine: the Net and its
 * layers (src/nn), Adam (src/optim), gradients injected at hidden layers (net->inject) and the
 * L_Sigma arithmetic of the loss term (lsigma_local_sums / lsigma_from_sums /
 * lsigma_add_gradient), so it exercises what `-lsigma_layers enc1` runs.
 *
 * Loss: binary cross-entropy of the output, mean over the 4 points, + lambda L_Sigma(h1) +
 * lambda L_Sigma(h2), C over the 4 points (full batch). Per seed it prints the accuracy, per
 * layer the active units (variance over the 4 points above -active_rel times the layer's
 * largest) and the dimensions in use (eigenvalues of C above -active_rel times the largest), and
 * writes, with -json, the covariances and their eigenvalues. Relative, because L_Sigma shrinks
 * every variance (the diagonal is in the penalty): the surviving units of a lambda = 0.2 net vary
 * by ~1e-2 over the 4 points, the switched-off ones by ~1e-8 and less. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/lsigma.h"
#include "disentangle/net.h"
#include "disentangle/optim.h"
#include "disentangle/spectrum.h"

#define N 4
#define UNITS 4

static const float X[N * 2] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[N] = {0, 1, 1, 0};

typedef struct {
  double lambda, lr, active_rel;
  long steps, seeds, seed0;
  const char *json;
} Opts;

typedef struct {
  double loss, acc, cov[2][UNITS * UNITS], eig[2][UNITS];
  int active[2], dims[2];
} Result;

static int train(const Opts *o, long seed, Result *res) {
  Net net;
  ParamSet ps;
  Optim opt;
  int group, widths[4] = {2, UNITS, UNITS, 1}, hid[2];
  paramset_init(&ps);
  if (net_init_mlp(&net, "xor", widths, 4, &layer_sigmoid, &layer_sigmoid) || paramset_group(&ps, "net", &group) ||
      net_register(&net, &ps, group) || paramset_allocate(&ps) || net_bind(&net, &ps, N) ||
      optim_create(&opt, &optim_adam, ps.groups[group].n, o->lr))
    return 1;
  net_init_params(&net, (uint64_t)seed, 0);
  /* the hidden layers: the sigmoid after dense 0 and after dense 1 */
  hid[0] = net_find_layer(&net, "sigmoid0"), hid[1] = net_find_layer(&net, "sigmoid1");
  float inject[2][N * UNITS], dout[N], work[N * UNITS + UNITS * UNITS];
  double stats[UNITS + UNITS * (UNITS + 1) / 2], dwork[N * UNITS], mean[UNITS];
  for (int k = 0; k < 2; k++) net.inject[hid[k]] = inject[k];
  for (long step = 0; step <= o->steps; step++) {
    const float *out = net_forward(&net, X, N);
    double loss = 0;
    int right = 0;
    for (int r = 0; r < N; r++) {
      double p = fmin(fmax(out[r], 1e-7), 1 - 1e-7);
      loss -= (Y[r] * log(p) + (1 - Y[r]) * log(1 - p)) / N;
      dout[r] = (float)((p - Y[r]) / (p * (1 - p)) / N); /* d/d(out): the sigmoid layer multiplies by p(1-p) */
      right += (out[r] > 0.5f) == (Y[r] > 0.5f);
    }
    for (int k = 0; k < 2; k++) {
      const float *h = net.acts[hid[k]];
      lsigma_local_sums(h, N, UNITS, stats, dwork);
      double v = lsigma_from_sums(stats, UNITS, N, mean, res->cov[k]);
      loss += o->lambda * v;
      memset(inject[k], 0, sizeof inject[k]);
      lsigma_add_gradient(h, N, UNITS, N, mean, res->cov[k], o->lambda, inject[k], work);
    }
    res->loss = loss, res->acc = right / (double)N;
    if (step == o->steps) break;
    memset(ps.groups[group].grads, 0, ps.groups[group].n * sizeof(float));
    net_backward(&net, X, dout, N, 1, NULL);
    optim_tick(&opt);
    optim_update(&opt, ps.groups[group].params, ps.groups[group].grads, 0, ps.groups[group].n);
  }
  for (int k = 0; k < 2; k++) {
    double top = 0;
    for (int i = 0; i < UNITS; i++) top = fmax(top, res->cov[k][i * UNITS + i]);
    res->active[k] = res->dims[k] = 0;
    for (int i = 0; i < UNITS; i++) res->active[k] += res->cov[k][i * UNITS + i] > o->active_rel * top;
    spectrum_eigenvalues_local(res->cov[k], UNITS, res->eig[k]);
    for (int i = 0; i < UNITS; i++) res->dims[k] += res->eig[k][i] > o->active_rel * res->eig[k][0];
  }
  for (int k = 0; k < 2; k++) net.inject[hid[k]] = NULL;
  optim_free(&opt);
  net_free(&net);
  paramset_free(&ps);
  return 0;
}

static void json_matrix(FILE *f, const double *a, int n, int m) {
  fputc('[', f);
  for (int i = 0; i < n; i++) {
    fputs(i ? ", [" : "[", f);
    for (int j = 0; j < m; j++) fprintf(f, "%s%.6g", j ? ", " : "", a[i * m + j]);
    fputc(']', f);
  }
  fputc(']', f);
}

int main(int argc, char **argv) {
  Opts o = {.lambda = 0.2, .lr = 0.01, .active_rel = 1e-2, .steps = 20000, .seeds = 10, .seed0 = 1, .json = NULL};
  MPI_Init(&argc, &argv);
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    char *end;
    double x = strtod(v, &end);
    int ok = end != v && !*end && x >= 0;
    if (!strcmp(k, "-json")) o.json = v, ok = 1;
    else if (!strcmp(k, "-lambda")) o.lambda = x;
    else if (!strcmp(k, "-lr")) o.lr = x, ok &= x > 0;
    else if (!strcmp(k, "-active_rel")) o.active_rel = x;
    else if (!strcmp(k, "-steps")) o.steps = (long)x, ok &= x >= 1;
    else if (!strcmp(k, "-seeds")) o.seeds = (long)x, ok &= x >= 1;
    else if (!strcmp(k, "-seed")) o.seed0 = (long)x;
    else ok = 0;
    if (!ok) {
      fprintf(stderr, "xor_lsigma: option %s '%s': expected -lambda L -lr R -steps S -seeds K -seed S0 -active_rel R -json FILE\n", k, v);
      MPI_Finalize();
      return 2;
    }
  }
  FILE *jf = o.json ? fopen(o.json, "w") : NULL;
  if (o.json && !jf) {
    fprintf(stderr, "xor_lsigma: cannot write '%s'\n", o.json);
    MPI_Finalize();
    return 3;
  }
  if (jf) fprintf(jf, "{\"lambda\": %g, \"steps\": %ld, \"lr\": %g, \"active_rel\": %g, \"runs\": [", o.lambda, o.steps, o.lr, o.active_rel);
  printf("lambda %g, %ld Adam steps (lr %g); active units / dims: unit variance / eigenvalue above %g of the layer's largest\n", o.lambda,
         o.steps, o.lr, o.active_rel);
  printf("%5s %9s %4s %6s %5s %6s %5s   %-34s %-34s\n", "seed", "loss", "acc", "units1", "dims1", "units2", "dims2",
         "eigenvalues layer 1", "eigenvalues layer 2");
  int rc = 0;
  for (long s = 0; s < o.seeds && !rc; s++) {
    Result r;
    long seed = o.seed0 + s;
    if ((rc = train(&o, seed, &r))) break;
    printf("%5ld %9.5f %4.2f %6d %5d %6d %5d   %-8.2g %-8.2g %-8.2g %-8.2g %-8.2g %-8.2g %-8.2g %-8.2g\n", seed, r.loss, r.acc,
           r.active[0], r.dims[0], r.active[1], r.dims[1], r.eig[0][0], r.eig[0][1], r.eig[0][2], r.eig[0][3], r.eig[1][0], r.eig[1][1],
           r.eig[1][2], r.eig[1][3]);
    if (jf) {
      fprintf(jf, "%s\n {\"seed\": %ld, \"loss\": %.6g, \"accuracy\": %g, \"active\": [%d, %d], \"dims\": [%d, %d], \"cov\": [", s ? "," : "",
              seed, r.loss, r.acc, r.active[0], r.active[1], r.dims[0], r.dims[1]);
      json_matrix(jf, r.cov[0], UNITS, UNITS), fputs(", ", jf), json_matrix(jf, r.cov[1], UNITS, UNITS);
      fputs("], \"eigenvalues\": ", jf);
      json_matrix(jf, &r.eig[0][0], 2, UNITS);
      fputc('}', jf);
    }
  }
  if (jf) fputs("\n]}\n", jf), fclose(jf);
  MPI_Finalize();
  return rc ? 3 : 0;
}
