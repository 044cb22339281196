/* Adam as torch.optim.Adam computes it (no weight decay, no amsgrad):
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
#include <math.h>

#include "disentangle/optim.h"
#include "disentangle/tensor.h"
#include "disentangle/vmath.h"

PetscErrorCode adam_create(Adam *opt, size_t n, double lr, double beta1, double beta2, double eps) {
  PetscFunctionBeginUser;
  *opt = (Adam){.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps, .t = 0, .n = n};
  PetscCall(tensor_alloc(n, &opt->m));
  PetscCall(tensor_alloc(n, &opt->v));
  PetscFunctionReturn(0);
}

void adam_tick(Adam *opt) { opt->t++; }

VMATH_CLONES void adam_update(Adam *opt, float *p, const float *g, size_t offset, size_t count) {
  const float b1 = (float)opt->beta1, b2 = (float)opt->beta2, eps = (float)opt->eps;
  const float step = (float)(opt->lr / (1.0 - pow(opt->beta1, (double)opt->t)));
  const float root_c2 = (float)sqrt(1.0 - pow(opt->beta2, (double)opt->t));
  float *restrict m = opt->m + offset, *restrict v = opt->v + offset, *restrict pp = p + offset;
  const float *restrict gg = g + offset;
#pragma omp simd
  for (size_t i = 0; i < count; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * gg[i];
    v[i] = b2 * v[i] + (1.0f - b2) * gg[i] * gg[i];
    pp[i] -= step * m[i] / (sqrtf(v[i]) / root_c2 + eps);
  }
}

void adam_free(Adam *opt) {
  tensor_free(&opt->m);
  tensor_free(&opt->v);
}
