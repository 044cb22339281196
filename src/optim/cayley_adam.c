/* Cayley Adam (Li, Fuxin & Todorovic, "Efficient Riemannian optimization on the Stiefel
 * manifold via the Cayley transform", ICLR 2020), as the authors' AdamG (stiefel_optimizer.py,
 * the optimizer St-RKM trains U with) computes it, for X [n][p] with orthonormal columns and its
 * Euclidean gradient G, at step t:
 *   M = b1 M + (1 - b1) G,  v = b2 v + (1 - b2) ||G||_F^2   (v: ONE number for the matrix)
 *   Mh = M / (1 - b1^t),  vh = v / (1 - b2^t),  Xn = X with unit columns
 *   W  = (Wh - Wh^T) / sqrt(vh + eps),  Wh = Mh Xn^T - 1/2 Xn (Xn^T Mh Xn^T)   (n x n, skew)
 *   a  = min(lr, 1 / (||W||_1 + 1e-8))              (||.||_1: the largest column sum of |W|)
 *   Y  = Xn - a M, then 5 times Y = Xn - a W (Xn + Y) / 2   (the Cayley transform's fixed point)
 *   X  = Y,  M = W Xn sqrt(vh + eps) (1 - b1^t)
 * In double, from and to the float block. The authors re-orthonormalise by QR at random (1 step
 * in 101); here it is deterministic, so every rank count takes the same path: when
 * ||X^T X - I||_F exceeds ORTHO_TOL after the update, the columns are re-orthonormalised
 * (Gram-Schmidt, twice). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/optim.h"

#define CAYLEY_ITERS 5
#define ORTHO_TOL 1e-6

double stiefel_drift(const float *X, int rows, int cols) {
  double s = 0.0;
  for (int i = 0; i < cols; i++)
    for (int j = 0; j < cols; j++) {
      double d = 0.0;
      for (int k = 0; k < rows; k++) d += (double)X[(size_t)k * cols + i] * X[(size_t)k * cols + j];
      d -= i == j;
      s += d * d;
    }
  return sqrt(s);
}

static void gram_schmidt(double *X, int n, int p) {
  for (int pass = 0; pass < 2; pass++)
    for (int j = 0; j < p; j++) {
      for (int i = 0; i < j; i++) {
        double d = 0.0;
        for (int k = 0; k < n; k++) d += X[k * p + i] * X[k * p + j];
        for (int k = 0; k < n; k++) X[k * p + j] -= d * X[k * p + i];
      }
      double s = 0.0;
      for (int k = 0; k < n; k++) s += X[k * p + j] * X[k * p + j];
      s = 1.0 / sqrt(s);
      for (int k = 0; k < n; k++) X[k * p + j] *= s;
    }
}

void stiefel_orthonormalise(float *X, int rows, int cols) {
  const size_t np = (size_t)rows * cols;
  double *Y = malloc(sizeof(double) * np);
  for (size_t i = 0; i < np; i++) Y[i] = X[i];
  gram_schmidt(Y, rows, cols);
  for (size_t i = 0; i < np; i++) X[i] = (float)Y[i];
  free(Y);
}

static void cayley_adam_update(Optim *o, float *pf, const float *gf, size_t offset, size_t count) {
  const int p = o->cols, n = p > 0 ? (int)(count / (size_t)p) : 0;
  if (n <= 0 || (size_t)n * p != count) return; /* not a matrix: the method set cols wrongly */
  const double b1 = o->beta1, b2 = o->beta2, eps = o->eps, t = (double)o->t;
  const double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
  float *X = pf + offset, *Ms = o->state[0] + offset, *Vs = o->state[1] + offset;
  const float *G = gf + offset;
  const size_t np = count, nn = (size_t)n * n;
  double *buf = malloc(sizeof(double) * (4 * np + 3 * nn + (size_t)p * n));
  double *Xn = buf, *M = Xn + np, *Y = M + np, *T = Y + np, *A = T + np, *Wh = A + nn, *W = Wh + nn, *XtA = W + nn;

  double g2 = 0.0;
  for (size_t i = 0; i < np; i++) {
    M[i] = b1 * Ms[i] + (1.0 - b1) * G[i];
    g2 += (double)G[i] * G[i];
  }
  const double v = b2 * Vs[0] + (1.0 - b2) * g2, r = sqrt(v / c2 + eps);
  for (int j = 0; j < p; j++) {
    double s = 0.0;
    for (int k = 0; k < n; k++) s += (double)X[k * p + j] * X[k * p + j];
    s = 1.0 / (sqrt(s) + 1e-8);
    for (int k = 0; k < n; k++) Xn[k * p + j] = X[k * p + j] * s;
  }
  /* A = Mh Xn^T; Wh = A - 1/2 Xn (Xn^T A) */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, p, 1.0 / c1, M, p, Xn, p, 0.0, A, n);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, n, n, 1.0, Xn, p, A, n, 0.0, XtA, n);
  memcpy(Wh, A, sizeof(double) * nn);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, p, -0.5, Xn, p, XtA, n, 1.0, Wh, n);
  double norm1 = 0.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) W[i * n + j] = (Wh[i * n + j] - Wh[j * n + i]) / r;
  for (int j = 0; j < n; j++) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += fabs(W[i * n + j]);
    norm1 = fmax(norm1, s);
  }
  const double a = fmin(o->lr, 1.0 / (norm1 + 1e-8));
  for (size_t i = 0; i < np; i++) Y[i] = Xn[i] - a * M[i];
  for (int it = 0; it < CAYLEY_ITERS; it++) {
    for (size_t i = 0; i < np; i++) T[i] = 0.5 * (Xn[i] + Y[i]);
    memcpy(Y, Xn, sizeof(double) * np);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, p, n, -a, W, n, T, p, 1.0, Y, p);
  }
  /* the new momentum: W Xn, rescaled to the unnormalised moment's scale */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, p, n, r * c1, W, n, Xn, p, 0.0, M, p);
  for (size_t i = 0; i < np; i++) X[i] = (float)Y[i], Ms[i] = (float)M[i], Vs[i] = (float)v;
  o->ortho_drift = stiefel_drift(X, n, p);
  if (o->ortho_drift > ORTHO_TOL) {
    stiefel_orthonormalise(X, n, p);
    o->reorthonormalised++;
    o->ortho_drift = stiefel_drift(X, n, p);
  }
  free(buf);
}

const OptimOps optim_cayley_adam = {.name = "cayley_adam", .nstate = 2, .state_names = {"m", "v"}, .update = cayley_adam_update};
