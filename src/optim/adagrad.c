/* Adagrad as torch.optim.Adagrad computes it (lr_decay 0, initial accumulator 0):
 *   s += g^2,  p -= lr * g / (sqrt(s) + eps). */
#include <math.h>

#include "disentangle/optim.h"
#include "disentangle/tensor.h"

PetscErrorCode adagrad_create(Adagrad *opt, size_t n, double lr, double eps) {
  PetscFunctionBeginUser;
  *opt = (Adagrad){.lr = lr, .eps = eps, .t = 0, .n = n};
  PetscCall(tensor_alloc(n, &opt->sum));
  PetscFunctionReturn(0);
}

void adagrad_update(Adagrad *opt, float *p, const float *g, size_t offset, size_t count) {
  const float lr = (float)opt->lr, eps = (float)opt->eps;
  float *s = opt->sum + offset;
  p += offset, g += offset;
  for (size_t i = 0; i < count; i++) {
    s[i] += g[i] * g[i];
    p[i] -= lr * g[i] / (sqrtf(s[i]) + eps);
  }
}

void adagrad_free(Adagrad *opt) { tensor_free(&opt->sum); }
