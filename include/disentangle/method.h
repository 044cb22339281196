/* A method = a loss on top of the autoencoder engine. Each method file supplies a MethodOps;
 * the driver only ever talks to this interface. */
#ifndef DISENTANGLE_METHOD_H
#define DISENTANGLE_METHOD_H

#include "disentangle/autoencoder.h"
#include "disentangle/comm.h"
#include "disentangle/config.h"

/* Losses of one step, global over the batch (every rank holds the same values). */
typedef struct {
  double loss; /* what the autoencoder minimised */
  double rec;  /* MSE/2 of the reconstruction */
  double adv;  /* adversarial / regularisation term (NashAE: sum_i cov(z_i, zhat_i)) */
  double pred; /* adversary's own loss (NashAE: regressor MSE/2), 0 when none */
} StepLosses;

typedef struct Method Method;

typedef struct {
  const char *name;
  const char *summary;
  LayerKind latent_act;
  PetscErrorCode (*create)(Method *m);
  /* One training step on this rank's slice x[count][features] of the global batch. */
  PetscErrorCode (*step)(Method *m, const float *x, int count, StepLosses *out);
  /* The autoencoder's loss and its gradient (summed over ranks) in ae.grads, with any adversary
   * held as it is; no update. encoded: x was already forwarded by the caller. For the tests. */
  PetscErrorCode (*loss_gradient)(Method *m, const float *x, int count, int encoded, StepLosses *out);
  void (*destroy)(Method *m);
  /* The nets whose weights make up the trained model, in a fixed order. */
  int (*nets)(Method *m, Net **nets, int max);
} MethodOps;

struct Method {
  const MethodOps *ops;
  const Config *cfg;
  const Par *par;
  int features, global_batch;
  Autoencoder ae;
  void *state; /* the method's own */
};

/* "ae|nashae": the names -method accepts (for option validation and -help). */
const char *method_choices(void);
PetscErrorCode method_create(const Config *cfg, const Par *par, int features, Method **out);
void method_destroy(Method **m);
/* Latents of n rows (no training state touched): z[n][latents]. */
void method_encode(Method *m, const float *x, int n, float *z);

extern const MethodOps method_ae;
extern const MethodOps method_nashae;

#endif
