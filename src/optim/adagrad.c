/* Adagrad as torch.optim.Adagrad computes it (lr_decay 0, initial accumulator 0):
 *   s += g^2,  p -= lr * g / (sqrt(s) + eps). */
#include <math.h>

#include "disentangle/optim.h"

static void adagrad_update(Optim *opt, float *p, const float *g, size_t offset, size_t count) {
  const float lr = (float)opt->lr, eps = (float)opt->eps;
  float *s = opt->state[0] + offset;
  p += offset, g += offset;
  for (size_t i = 0; i < count; i++) {
    s[i] += g[i] * g[i];
    p[i] -= lr * g[i] / (sqrtf(s[i]) + eps);
  }
}

const OptimOps optim_adagrad = {.name = "adagrad", .nstate = 1, .state_names = {"sum"}, .update = adagrad_update};
