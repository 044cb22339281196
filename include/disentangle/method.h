/* A method = a loss on top of the autoencoder engine. Each method file supplies a MethodOps;
 * the driver only ever talks to this interface. */
#ifndef DISENTANGLE_METHOD_H
#define DISENTANGLE_METHOD_H

#include "disentangle/autoencoder.h"
#include "disentangle/ckpt.h"
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

/* An optimizer and the parameter block it updates: tells the checkpoint where each net's
 * moments live (at the same offset in adam->m, adam->v as its parameters in base). */
typedef struct {
  Adam *adam;
  const float *base;
  size_t n;
} OptimBinding;

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
  /* Optimizers besides the autoencoder's (NULL: none). */
  int (*optims)(Method *m, OptimBinding *out, int max);
  /* Make every rank hold the whole optimizer state before a checkpoint (NULL: it does). */
  PetscErrorCode (*sync_state)(Method *m);
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
/* The whole training state, for checkpoints: every parameter tensor, the Adam moments of each,
 * and the Adam step counts. Tensors point into the live buffers (read fills them). */
PetscErrorCode method_state(Method *m, CkptState *state);
void method_state_free(CkptState *state);

/* Latents of n rows (no training state touched): z[n][latents]. */
void method_encode(Method *m, const float *x, int n, float *z);

extern const MethodOps method_ae;
extern const MethodOps method_nashae;

#endif
