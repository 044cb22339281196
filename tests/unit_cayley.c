/* Cayley Adam (optim_cayley_adam) against its rule written out in double with plain loops (the
 * authors' AdamG, as src/optim/cayley_adam.c states it), and on a problem with a known answer:
 * maximising trace(X^T A X) over X [n][p] with orthonormal columns, whose maximum is the sum of
 * A's p largest eigenvalues. Over 10^4 steps the columns stay orthonormal to 1e-5
 * (||X^T X - I||_F after every step) and the optimum is reached. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/optim.h"
#include "disentangle/rng.h"
#include "testing.h"

#define N 12
#define P 3

/* One AdamG step in double: X, M [N][P], v, at step t. */
static void reference_step(double *X, double *M, double *v, const float *G, int t, double lr, double b1, double b2) {
  const double eps = 1e-8, c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t);
  double Xn[N * P], Mh[N * P], Wh[N * N], W[N * N], Y[N * P], g2 = 0;
  for (int i = 0; i < N * P; i++) M[i] = b1 * M[i] + (1 - b1) * G[i], g2 += (double)G[i] * G[i];
  *v = b2 * *v + (1 - b2) * g2;
  const double r = sqrt(*v / c2 + eps);
  for (int j = 0; j < P; j++) {
    double s = 0;
    for (int k = 0; k < N; k++) s += X[k * P + j] * X[k * P + j];
    for (int k = 0; k < N; k++) Xn[k * P + j] = X[k * P + j] / (sqrt(s) + 1e-8);
  }
  for (int i = 0; i < N * P; i++) Mh[i] = M[i] / c1;
  for (int a = 0; a < N; a++)
    for (int b = 0; b < N; b++) {
      double mx = 0, xxmx = 0;
      for (int j = 0; j < P; j++) mx += Mh[a * P + j] * Xn[b * P + j];
      for (int j = 0; j < P; j++)
        for (int c = 0; c < N; c++)
          for (int k = 0; k < P; k++) xxmx += Xn[a * P + j] * Xn[c * P + j] * Mh[c * P + k] * Xn[b * P + k];
      Wh[a * N + b] = mx - 0.5 * xxmx;
    }
  double norm1 = 0;
  for (int a = 0; a < N; a++)
    for (int b = 0; b < N; b++) W[a * N + b] = (Wh[a * N + b] - Wh[b * N + a]) / r;
  for (int b = 0; b < N; b++) {
    double s = 0;
    for (int a = 0; a < N; a++) s += fabs(W[a * N + b]);
    norm1 = fmax(norm1, s);
  }
  const double alpha = fmin(lr, 1 / (norm1 + 1e-8));
  for (int i = 0; i < N * P; i++) Y[i] = Xn[i] - alpha * M[i];
  for (int it = 0; it < 5; it++) {
    double Z[N * P];
    for (int a = 0; a < N; a++)
      for (int j = 0; j < P; j++) {
        double s = 0;
        for (int c = 0; c < N; c++) s += W[a * N + c] * 0.5 * (Xn[c * P + j] + Y[c * P + j]);
        Z[a * P + j] = Xn[a * P + j] - alpha * s;
      }
    memcpy(Y, Z, sizeof Y);
  }
  for (int a = 0; a < N; a++)
    for (int j = 0; j < P; j++) {
      double s = 0;
      for (int c = 0; c < N; c++) s += W[a * N + c] * Xn[c * P + j];
      M[a * P + j] = s * r * c1;
    }
  memcpy(X, Y, sizeof Y);
}

/* A = Q diag(lambda) Q^T with Q orthogonal (Gram-Schmidt of a random matrix). */
static void make_problem(double *A, double *top) {
  float Q[N * N];
  double lambda[N];
  for (int i = 0; i < N * N; i++) Q[i] = (float)rng_normal(9, 1, 0, i);
  stiefel_orthonormalise(Q, N, N);
  for (int i = 0; i < N; i++) lambda[i] = 1.0 + 0.5 * i; /* the top P: the last ones */
  *top = 0;
  for (int i = N - P; i < N; i++) *top += lambda[i];
  for (int a = 0; a < N; a++)
    for (int b = 0; b < N; b++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += Q[a * N + k] * lambda[k] * Q[b * N + k];
      A[a * N + b] = s;
    }
}

/* G = -A X (the gradient of -1/2 trace(X^T A X)); returns trace(X^T A X). */
static double gradient(const double *A, const float *X, float *G) {
  double tr = 0;
  for (int a = 0; a < N; a++)
    for (int j = 0; j < P; j++) {
      double s = 0;
      for (int c = 0; c < N; c++) s += A[a * N + c] * X[c * P + j];
      G[a * P + j] = (float)-s;
      tr += X[a * P + j] * s;
    }
  return tr;
}

static Optim make(double lr, float *X) {
  Optim o;
  optim_create(&o, &optim_cayley_adam, N * P, lr);
  o.beta2 = 0.99, o.cols = P;
  for (int i = 0; i < N * P; i++) X[i] = (float)rng_normal(7, 1, 0, i);
  stiefel_orthonormalise(X, N, P);
  CHECK(stiefel_drift(X, N, P) < 1e-6, "the initial X is %.3g off orthonormal", stiefel_drift(X, N, P));
  return o;
}

static void check_rule(void) {
  const double lr = 0.05;
  float X[N * P], G[N * P];
  Optim o = make(lr, X);
  double A[N * N], top, Xd[N * P], Md[N * P] = {0}, vd = 0, worst = 0;
  make_problem(A, &top);
  for (int i = 0; i < N * P; i++) Xd[i] = X[i];
  for (int t = 1; t <= 5; t++) {
    gradient(A, X, G);
    optim_tick(&o);
    optim_update(&o, X, G, 0, N * P);
    reference_step(Xd, Md, &vd, G, t, lr, 0.9, 0.99);
    for (int i = 0; i < N * P; i++) worst = fmax(worst, fabs(X[i] - Xd[i]) + fabs(o.state[0][i] - Md[i]) / (1e-3 + fabs(Md[i])));
    for (int i = 0; i < N * P; i++) Xd[i] = X[i]; /* go on from the float state, as the optimizer does */
    CHECK(fabs(o.state[1][0] - vd) < 1e-5 * vd && o.state[1][N * P - 1] == o.state[1][0], "v %g, want %g in every element",
          o.state[1][0], vd);
  }
  CHECK(worst < 1e-5, "Cayley Adam differs from its rule by %.3g", worst);
  printf("cayley_adam: 5 steps against the rule in double: max difference %.2e\n", worst);
  optim_free(&o);
}

static void check_long_run(void) {
  float X[N * P], G[N * P];
  Optim o = make(1e-2, X);
  double A[N * N], top, tr = 0, drift = 0;
  make_problem(A, &top);
  const double start = gradient(A, X, G);
  for (int t = 1; t <= 10000; t++) {
    tr = gradient(A, X, G);
    optim_tick(&o);
    optim_update(&o, X, G, 0, N * P);
    drift = fmax(drift, stiefel_drift(X, N, P));
  }
  tr = gradient(A, X, G);
  CHECK(drift < 1e-5, "||X^T X - I||_F reached %.3g within 10^4 steps", drift);
  CHECK(tr > top - 1e-3 * top, "trace(X^T A X) = %.6f after 10^4 steps, the maximum is %.6f (from %.6f)", tr, top, start);
  printf("cayley_adam: 10^4 steps: max ||X^T X - I||_F %.2e, %lld re-orthonormalisations, trace %.6f of max %.6f (start %.6f)\n",
         drift, o.reorthonormalised, tr, top, start);
  optim_free(&o);
}

int main(void) {
  check_rule();
  check_long_run();
  printf("%s\n", test_failures ? "FAILED" : "PASS");
  return test_failures ? 1 : 0;
}
