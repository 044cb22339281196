/* Adam as torch.optim.Adam computes it (no weight decay, no amsgrad):
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
#include <math.h>
#include <stdint.h>

#include "disentangle/optim.h"
#include "disentangle/vmath.h"

static VMATH_CLONES void adam_update(Optim *opt, float *p, const float *g, size_t offset, size_t count) {
  const float b1 = (float)opt->beta1, b2 = (float)opt->beta2, eps = (float)opt->eps;
  const float step = (float)(opt->lr / (1.0 - pow(opt->beta1, (double)opt->t)));
  const float root_c2 = (float)sqrt(1.0 - pow(opt->beta2, (double)opt->t));
  float *restrict m = opt->state[0] + offset, *restrict v = opt->state[1] + offset, *restrict pp = p + offset;
  const float *restrict gg = g + offset;
  uint32_t bad = 0; /* a new parameter that is NaN or infinite */
#pragma omp simd reduction(| : bad)
  for (size_t i = 0; i < count; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * gg[i];
    v[i] = b2 * v[i] + (1.0f - b2) * gg[i] * gg[i];
    pp[i] -= step * m[i] / (sqrtf(v[i]) / root_c2 + eps);
    bad |= vmath_nonfinite(pp[i]);
  }
  if (bad) opt->nonfinite = 1;
}

const OptimOps optim_adam = {.name = "adam", .nstate = 2, .state_names = {"m", "v"}, .update = adam_update,
                             .flags_nonfinite = 1};
