#include "disentangle/ensemble.h"

#include <string.h>

#include "disentangle/layers.h"
#include "disentangle/tensor.h"
#include "disentangle/vmath.h"

PetscErrorCode ensemble_create(Ensemble *e, const Net *member, int m, int max_rows) {
  PetscFunctionBeginUser;
  memset(e, 0, sizeof *e);
  e->m = m, e->max_rows = max_rows, e->per = member->nparams, e->w[0] = m;
  int widest = 1;
  for (int l = 0; l < member->nlayers; l++) {
    const Layer *L = &member->layers[l];
    int dense = L->ops == &layer_dense, hidden_act = l % 2 == 1;
    PetscCheck(hidden_act ? L->ops == &layer_selu : dense, PETSC_COMM_SELF, PETSC_ERR_SUP,
               "net %s: an ensemble member must be dense layers with SELU between them", member->name);
    if (!dense) continue;
    PetscCheck(e->ndense < ENSEMBLE_MAX_DENSE, PETSC_COMM_SELF, PETSC_ERR_SUP, "net %s: more than %d dense layers",
               member->name, ENSEMBLE_MAX_DENSE);
    e->woff[e->ndense] = L->w_off, e->boff[e->ndense] = L->b_off;
    e->w[++e->ndense] = L->arg[0];
    widest = PetscMax(widest, L->arg[0]);
  }
  PetscCheck(net_in(member) == m && e->ndense >= 1 && e->w[e->ndense] == 1 && member->layers[member->nlayers - 1].ops == &layer_dense,
             PETSC_COMM_SELF, PETSC_ERR_SUP, "net %s: an ensemble member maps %d inputs to one output", member->name, m);
  PetscCall(PetscMalloc1(m, &e->sel));
  PetscCall(PetscMalloc1(m, &e->wout));
  PetscCall(tensor_alloc((size_t)m * e->w[1] * m, &e->w1));
  PetscCall(tensor_alloc((size_t)m * e->w[1] * m, &e->dw1));
  PetscCall(tensor_alloc((size_t)m * widest, &e->bias));
  PetscCall(tensor_alloc((size_t)m * widest, &e->dbias));
  for (int l = 0; l < e->ndense; l++) PetscCall(tensor_alloc((size_t)max_rows * m * e->w[l + 1], &e->act[l]));
  for (int s = 0; s < 2; s++) PetscCall(tensor_alloc((size_t)max_rows * m * widest, &e->g[s]));
  PetscFunctionReturn(0);
}

void ensemble_free(Ensemble *e) {
  PetscFree(e->sel);
  PetscFree(e->wout);
  tensor_free(&e->w1), tensor_free(&e->dw1), tensor_free(&e->bias), tensor_free(&e->dbias);
  for (int l = 0; l < e->ndense; l++) tensor_free(&e->act[l]);
  for (int s = 0; s < 2; s++) tensor_free(&e->g[s]);
}

/* The biases of dense layer l of the selected members, side by side as their columns are. */
static void pack_bias(Ensemble *e, const float *params, int l, float *dst) {
  const int w = e->w[l + 1];
  for (int k = 0; k < e->nsel; k++) memcpy(dst + (size_t)k * w, params + e->sel[k] * e->per + e->boff[l], (size_t)w * sizeof *dst);
}

static void unpack_bias(Ensemble *e, float *params, int l, const float *src) {
  const int w = e->w[l + 1];
  for (int k = 0; k < e->nsel; k++) memcpy(params + e->sel[k] * e->per + e->boff[l], src + (size_t)k * w, (size_t)w * sizeof *src);
}

const float *ensemble_forward(Ensemble *e, const float *params, const float *z, int rows, const int *sel, int nsel) {
  const int m = e->m, n = nsel, L = e->ndense, h1 = e->w[1];
  e->nsel = nsel;
  memcpy(e->sel, sel, (size_t)nsel * sizeof *sel);
  /* A zero weight on input i does what a zero in member i's input did: the same sums. */
  for (int k = 0; k < n; k++) {
    float *w = e->w1 + (size_t)k * h1 * m;
    memcpy(w, params + sel[k] * e->per + e->woff[0], (size_t)h1 * m * sizeof *w);
    for (int o = 0; o < h1; o++) w[(size_t)o * m + sel[k]] = 0.0f;
  }
  if (L == 1) { /* no hidden layer: the packed product is the prediction */
    pack_bias(e, params, 0, e->bias);
    for (int r = 0; r < rows; r++) memcpy(e->act[0] + (size_t)r * n, e->bias, (size_t)n * sizeof *e->bias);
    tensor_sgemm(0, 1, rows, n, m, 1.0f, z, m, e->w1, m, 1.0f, e->act[0], n);
    return e->act[0];
  }
  tensor_sgemm(0, 1, rows, n * h1, m, 1.0f, z, m, e->w1, m, 0.0f, e->act[0], n * h1);
  pack_bias(e, params, 0, e->bias);
  selu_bias_forward(e->act[0], e->bias, rows, n * h1);
  for (int l = 1; l < L; l++) {
    const int in = e->w[l], out = e->w[l + 1], last = l == L - 1;
    float *y = e->act[l];
    pack_bias(e, params, l, e->bias);
    if (last) /* the prediction starts from the bias, as dense_forward's does */
      for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * n * out, e->bias, (size_t)n * out * sizeof *y);
    for (int k = 0; k < n; k++)
      tensor_sgemm(0, 1, rows, out, in, 1.0f, e->act[l - 1] + (size_t)k * in, n * in,
                   params + sel[k] * e->per + e->woff[l], in, last ? 1.0f : 0.0f, y + (size_t)k * out, n * out);
    if (!last) selu_bias_forward(y, e->bias, rows, n * out);
  }
  return e->act[L - 1];
}

/* d = dout[r][k] * w_k[o], the output layer's input gradient (an outer product: one product
 * per element, as the K = 1 sgemm makes it), then through SELU' of the last hidden layer;
 * db += its column sums. */
static VMATH_CLONES void output_backward(float *restrict g, float *restrict db, const float *restrict dout,
                                         const float *const *wout, const float *restrict y, int rows, int n, int h) {
  const float scale = (float)SELU_SCALE, sa = (float)(SELU_SCALE * SELU_ALPHA);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < n; k++) {
      const float d = dout[(size_t)r * n + k], *restrict w = wout[k];
      const size_t at = ((size_t)r * n + k) * h;
#pragma omp simd
      for (int o = 0; o < h; o++) {
        float dx = d * w[o];
        g[at + o] = dx * (y[at + o] > 0.0f ? scale : y[at + o] + sa);
        db[(size_t)k * h + o] += g[at + o];
      }
    }
}

void ensemble_backward(Ensemble *e, const float *params, float *grads, const float *z, const float *dout, int rows,
                       float *dz) {
  const int m = e->m, n = e->nsel, L = e->ndense;
  const int *sel = e->sel;
  if (L == 1) {
    if (grads) {
      for (int k = 0; k < n; k++) {
        float *gi = grads + sel[k] * e->per, *dw = e->dw1 + (size_t)k * m;
        memcpy(dw, gi + e->woff[0], (size_t)m * sizeof *dw);
        tensor_sgemm(1, 0, 1, m, rows, 1.0f, dout + k, n, z, m, 1.0f, dw, m);
        for (int j = 0; j < m; j++)
          if (j != sel[k]) gi[e->woff[0] + j] = dw[j];
        for (int r = 0; r < rows; r++) gi[e->boff[0]] += dout[(size_t)r * n + k];
      }
    }
    if (dz)
      for (int k = 0; k < n; k++) tensor_sgemm(0, 0, rows, m, 1, 1.0f, dout + k, n, e->w1 + (size_t)k * m, m, 1.0f, dz, m);
    return;
  }
  /* the output layer */
  const int h = e->w[L - 1];
  if (grads)
    for (int k = 0; k < n; k++) {
      float *gi = grads + sel[k] * e->per;
      tensor_sgemm(1, 0, 1, h, rows, 1.0f, dout + k, n, e->act[L - 2] + (size_t)k * h, n * h, 1.0f, gi + e->woff[L - 1], h);
      for (int r = 0; r < rows; r++) gi[e->boff[L - 1]] += dout[(size_t)r * n + k];
    }
  float *g = e->g[0], *gnext = e->g[1];
  for (int k = 0; k < n; k++) e->wout[k] = params + sel[k] * e->per + e->woff[L - 1];
  if (grads) pack_bias(e, grads, L - 2, e->dbias);
  else memset(e->dbias, 0, (size_t)n * h * sizeof *e->dbias);
  output_backward(g, e->dbias, dout, e->wout, e->act[L - 2], rows, n, h);
  if (grads) unpack_bias(e, grads, L - 2, e->dbias);
  /* g: gradient w.r.t. dense layer l's pre-activation, for l = L-2 down to 0 */
  for (int l = L - 2; l >= 1; l--) {
    const int in = e->w[l], out = e->w[l + 1];
    for (int k = 0; k < n; k++) {
      const float *gk = g + (size_t)k * out;
      if (grads)
        tensor_sgemm(1, 0, out, in, rows, 1.0f, gk, n * out, e->act[l - 1] + (size_t)k * in, n * in, 1.0f,
                     grads + sel[k] * e->per + e->woff[l], in);
      tensor_sgemm(0, 0, rows, in, out, 1.0f, gk, n * out, params + sel[k] * e->per + e->woff[l], in, 0.0f,
                   gnext + (size_t)k * in, n * in);
    }
    if (grads) pack_bias(e, grads, l - 1, e->dbias);
    selu_backward_bias(gnext, gnext, e->act[l - 1], grads ? e->dbias : NULL, rows, n * in);
    if (grads) unpack_bias(e, grads, l - 1, e->dbias);
    float *t = g;
    g = gnext, gnext = t;
  }
  /* the first layer: one product for all members' weight gradients; their own input's column
   * stays as it was (a zero input gave it nothing) */
  const int h1 = e->w[1];
  if (grads) {
    for (int k = 0; k < n; k++)
      memcpy(e->dw1 + (size_t)k * h1 * m, grads + sel[k] * e->per + e->woff[0], (size_t)h1 * m * sizeof *e->dw1);
    tensor_sgemm(1, 0, n * h1, m, rows, 1.0f, g, n * h1, z, m, 1.0f, e->dw1, m);
    for (int k = 0; k < n; k++) {
      float *gw = grads + sel[k] * e->per + e->woff[0];
      const float *dw = e->dw1 + (size_t)k * h1 * m;
      for (int o = 0; o < h1; o++)
        for (int j = 0; j < m; j++)
          if (j != sel[k]) gw[(size_t)o * m + j] = dw[(size_t)o * m + j];
    }
  }
  if (dz) /* member by member onto dz, in member order, as the lone nets' input gradients were added */
    for (int k = 0; k < n; k++)
      tensor_sgemm(0, 0, rows, m, h1, 1.0f, g + (size_t)k * h1, n * h1, e->w1 + (size_t)k * h1 * m, m, 1.0f, dz, m);
}
