/* Adam, Adagrad and SGD (through OptimOps) against the torch.optim update rules written out in double. */
#include <math.h>
#include <string.h>

#include "disentangle/optim.h"
#include "disentangle/rng.h"
#include "testing.h"

#define N 50
#define STEPS 20

static void check_adam(void) {
  Optim opt;
  optim_create(&opt, &optim_adam, N, 1e-2);
  float p[N], g[N];
  double pd[N], m[N] = {0}, v[N] = {0};
  for (int i = 0; i < N; i++) p[i] = (float)rng_normal(1, 1, 0, i), pd[i] = p[i];
  double worst = 0.0;
  for (int t = 1; t <= STEPS; t++) {
    for (int i = 0; i < N; i++) g[i] = (float)(rng_normal(1, 2, t, i) * (i % 5 == 0 ? 1e-6 : 1.0));
    optim_tick(&opt);
    optim_update(&opt, p, g, 0, N);
    for (int i = 0; i < N; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * (double)g[i] * g[i];
      double mhat = m[i] / (1 - pow(0.9, t)), vhat = v[i] / (1 - pow(0.999, t));
      pd[i] -= 1e-2 * mhat / (sqrt(vhat) + 1e-8);
      worst = fmax(worst, fabs(p[i] - pd[i]));
    }
  }
  /* 20 float32 updates of size ~1e-2 on values ~1: a few ulps of 1, not more */
  CHECK(worst < 2e-6, "adam: parameters differ from the reference by %.2e", worst);
  printf("adam: max |p - p_ref| after %d steps %.2e\n", STEPS, worst);

  /* Only the requested slice moves. */
  float q[N];
  memcpy(q, p, sizeof q);
  optim_tick(&opt);
  optim_update(&opt, p, g, 10, 5);
  int outside = 0, inside = 0;
  for (int i = 0; i < N; i++) {
    if (i >= 10 && i < 15) inside += p[i] != q[i];
    else outside += p[i] != q[i];
  }
  CHECK(outside == 0 && inside == 5, "adam: slice update touched %d outside, %d inside", outside, inside);
  optim_free(&opt);
}

static void check_adagrad(void) {
  Optim opt;
  optim_create(&opt, &optim_adagrad, N, 0.5);
  float p[N], g[N];
  double pd[N], s[N] = {0}, worst = 0.0;
  for (int i = 0; i < N; i++) p[i] = (float)rng_normal(2, 1, 0, i), pd[i] = p[i];
  for (int t = 1; t <= STEPS; t++) {
    for (int i = 0; i < N; i++) g[i] = (float)rng_normal(2, 2, t, i);
    optim_update(&opt, p, g, 0, N);
    for (int i = 0; i < N; i++) {
      s[i] += (double)g[i] * g[i];
      pd[i] -= 0.5 * g[i] / (sqrt(s[i]) + 1e-10);
      worst = fmax(worst, fabs(p[i] - pd[i]));
    }
  }
  CHECK(worst < 1e-5, "adagrad: parameters differ from the reference by %.2e", worst);
  printf("adagrad: max |p - p_ref| after %d steps %.2e\n", STEPS, worst);
  optim_free(&opt);
}

static void adam_minimises(void) {
  /* f(p) = sum (p_i - i)^2 / 2 from 0: Adam with lr 0.1 gets there */
  Optim opt;
  optim_create(&opt, &optim_adam, 8, 0.1);
  float p[8] = {0}, g[8];
  for (int t = 0; t < 2000; t++) {
    for (int i = 0; i < 8; i++) g[i] = p[i] - (float)i;
    optim_tick(&opt);
    optim_update(&opt, p, g, 0, 8);
  }
  double err = 0;
  for (int i = 0; i < 8; i++) err = fmax(err, fabs(p[i] - i));
  CHECK(err < 1e-2, "adam did not minimise a quadratic: max error %.3g", err);
  optim_free(&opt);
}

static void check_sgd(void) {
  Optim opt;
  optim_create(&opt, &optim_sgd, N, 0.25);
  float p[N], g[N];
  double worst = 0.0;
  for (int i = 0; i < N; i++) p[i] = (float)rng_normal(3, 1, 0, i), g[i] = (float)rng_normal(3, 2, 0, i);
  float p0[N];
  memcpy(p0, p, sizeof p);
  optim_tick(&opt);
  optim_update(&opt, p, g, 0, N);
  for (int i = 0; i < N; i++) worst = fmax(worst, fabs(p[i] - ((double)p0[i] - 0.25 * g[i])));
  CHECK(worst < 1e-6, "sgd: parameters differ from p - lr g by %.2e", worst);
  CHECK(opt.ops->nstate == 0 && optim_adam.nstate == 2 && !strcmp(optim_adam.state_names[1], "v"),
        "optimizer state declarations");
  optim_free(&opt);
}

/* Adam reports a non-finite parameter it wrote (the training loop's check relies on it instead
 * of a pass of its own): a NaN or infinite gradient anywhere in the block, at any lane of the
 * vector loop, is seen once and then cleared; finite updates report nothing; SGD has no flag. */
static void adam_flags_nonfinite(void) {
  Optim opt;
  optim_create(&opt, &optim_adam, N, 1e-2);
  float p[N], g[N];
  for (int i = 0; i < N; i++) p[i] = 1.0f, g[i] = 0.5f;
  optim_tick(&opt);
  optim_update(&opt, p, g, 0, N);
  CHECK(optim_take_nonfinite(&opt) == 0, "adam: finite update reported non-finite");
  const float bad[2] = {NAN, INFINITY};
  for (int b = 0; b < 2; b++)
    for (int at = 0; at < N; at += 7) {
      for (int i = 0; i < N; i++) p[i] = 1.0f, g[i] = i == at ? bad[b] : 0.5f;
      optim_tick(&opt);
      optim_update(&opt, p, g, 0, N);
      optim_update(&opt, p, g, 0, N); /* a later update does not clear it */
      CHECK(optim_take_nonfinite(&opt) == 1, "adam: %s gradient at %d not reported", b ? "inf" : "NaN", at);
      CHECK(optim_take_nonfinite(&opt) == 0, "adam: the report was not cleared when taken");
      memset(opt.state[0], 0, N * sizeof(float)), memset(opt.state[1], 0, N * sizeof(float));
    }
  optim_free(&opt);
  optim_create(&opt, &optim_sgd, N, 0.1);
  CHECK(optim_take_nonfinite(&opt) == -1, "sgd: claims to report non-finite parameters");
  optim_free(&opt);
}

int main(void) {
  adam_flags_nonfinite();
  check_adam();
  check_sgd();
  check_adagrad();
  adam_minimises();
  printf(test_failures ? "FAILED\n" : "PASS\n");
  return test_failures ? 1 : 0;
}
