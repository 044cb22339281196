/* NashAE's regressor ensemble (src/nn/ensemble.c) against the lone nets it replaces: member i
 * a net [m, hidden..., 1] run by net_forward / net_backward on z with element i zeroed. The
 * predictions, every member's parameter gradients and the summed input gradients must agree
 * (to float rounding: OpenBLAS may sum a batched product in another order; with few latents
 * they are bit-identical, and the test says which it saw). */
#include <math.h>
#include <string.h>

#include "disentangle/ensemble.h"
#include "disentangle/layers.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"
#include "testing.h"

static double worst(const float *a, const float *b, long n, int *exact) {
  double scale = 1e-6, err = 0;
  for (long i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (long i = 0; i < n; i++) {
    err = fmax(err, fabs((double)a[i] - b[i]) / scale);
    if (a[i] != b[i]) *exact = 0;
  }
  return err;
}

static void check(int m, const char *hidden, int rows, const int *sel, int nsel) {
  int w[ENSEMBLE_MAX_DENSE + 1], nh = net_parse_widths(hidden, w + 1, ENSEMBLE_MAX_DENSE - 1);
  w[0] = m, w[nh + 1] = 1;
  ParamSet ps;
  paramset_init(&ps);
  int group;
  paramset_group(&ps, "regressors", &group);
  Net reg[32];
  for (int i = 0; i < m; i++) {
    char name[16];
    snprintf(name, sizeof name, "regressor%d", i);
    net_init_mlp(&reg[i], name, w, nh + 2, &layer_selu, NULL);
    net_register(&reg[i], &ps, group);
  }
  paramset_allocate(&ps);
  for (int i = 0; i < m; i++) {
    net_bind(&reg[i], &ps, rows);
    net_init_params(&reg[i], 11, 2 + i);
  }
  const size_t per = reg[0].nparams, nall = per * m;
  float *params = ps.groups[group].params, *grads = ps.groups[group].grads;
  float *z, *zin, *dzin, *dout, *pred, *dz, *dz_ref, *grads_ref;
  tensor_alloc((size_t)rows * m, &z), tensor_alloc((size_t)rows * m, &zin), tensor_alloc((size_t)rows * m, &dzin);
  tensor_alloc((size_t)rows * m, &dout), tensor_alloc((size_t)rows * m, &pred);
  tensor_alloc((size_t)rows * m, &dz), tensor_alloc((size_t)rows * m, &dz_ref), tensor_alloc(nall, &grads_ref);
  for (int i = 0; i < rows * m; i++) z[i] = (float)rng_uniform(7, 1, 0, i), dz[i] = dz_ref[i] = (float)rng_normal(7, 2, 0, i);
  for (int i = 0; i < rows * nsel; i++) dout[i] = (float)rng_normal(7, 3, 0, i);
  /* nonzero starting gradients: backward accumulates */
  for (size_t i = 0; i < nall; i++) grads[i] = (float)(0.1 * rng_normal(7, 4, 0, i));
  float *grads0;
  tensor_alloc(nall, &grads0);
  memcpy(grads0, grads, nall * sizeof *grads);

  /* the lone nets */
  for (int k = 0; k < nsel; k++) {
    int i = sel[k];
    memcpy(zin, z, (size_t)rows * m * sizeof *z);
    for (int r = 0; r < rows; r++) zin[r * m + i] = 0.0f;
    const float *y = net_forward(&reg[i], zin, rows);
    float col[4096];
    for (int r = 0; r < rows; r++) pred[r * nsel + k] = y[r], col[r] = dout[r * nsel + k];
    net_backward(&reg[i], zin, col, rows, 1, dzin);
    for (int r = 0; r < rows; r++)
      for (int j = 0; j < m; j++)
        if (j != i) dz_ref[r * m + j] += dzin[r * m + j];
  }
  memcpy(grads_ref, grads, nall * sizeof *grads);
  memcpy(grads, grads0, nall * sizeof *grads);

  Ensemble e;
  CHECK(ensemble_create(&e, &reg[0], m, rows) == 0, "ensemble_create m=%d hidden %s", m, hidden);
  const float *got = ensemble_forward(&e, params, z, rows, sel, nsel);
  int exact = 1;
  double ep = worst(got, pred, (long)rows * nsel, &exact);
  ensemble_backward(&e, params, grads, z, dout, rows, dz);
  double eg = worst(grads, grads_ref, (long)nall, &exact);
  double ez = worst(dz, dz_ref, (long)rows * m, &exact);
  CHECK(ep < 1e-5 && eg < 1e-5 && ez < 1e-5, "m=%d hidden %s rows %d: predictions %.2e, gradients %.2e, dz %.2e",
        m, hidden, rows, ep, eg, ez);
  /* members not selected keep their gradients */
  int untouched = 1;
  for (int i = 0; i < m; i++) {
    int in = 0;
    for (int k = 0; k < nsel; k++) in |= sel[k] == i;
    if (!in) untouched &= !memcmp(grads + i * per, grads0 + i * per, per * sizeof *grads);
  }
  CHECK(untouched, "m=%d: a member outside the selection had its gradients changed", m);
  printf("ensemble m=%-2d hidden %-9s rows %3d, %2d of %2d members: max rel diff %.1e %.1e %.1e%s\n", m, hidden, rows, nsel,
         m, ep, eg, ez, exact ? " (bit-identical)" : "");
  ensemble_free(&e);
  for (int i = 0; i < m; i++) net_free(&reg[i]);
  paramset_free(&ps);
  tensor_free(&z), tensor_free(&zin), tensor_free(&dzin), tensor_free(&dout), tensor_free(&pred);
  tensor_free(&dz), tensor_free(&dz_ref), tensor_free(&grads_ref), tensor_free(&grads0);
}

int main(void) {
  int all[32];
  for (int i = 0; i < 32; i++) all[i] = i;
  const int odd[2] = {1, 3}, some[3] = {0, 4, 9};
  check(4, "40,40", 100, all, 4);
  check(5, "7", 37, odd, 2);
  check(10, "40,30,20", 64, all, 10);
  check(10, "16,16", 50, some, 3);
  check(32, "40,40", 33, all, 32);
  printf(test_failures ? "FAILED\n" : "PASS\n");
  return test_failures ? 1 : 0;
}
