#include <string.h>

#include "disentangle/error.h"
#include "disentangle/optim.h"
#include "disentangle/tensor.h"

static const OptimOps *const kinds[] = {&optim_adam, &optim_adagrad, &optim_sgd};

PetscErrorCode optim_from_name(const char *name, const OptimOps **ops) {
  PetscFunctionBeginUser;
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
    if (!strcmp(name, kinds[k]->name)) {
      *ops = kinds[k];
      PetscFunctionReturn(0);
    }
  DT_INPUT_ERROR(PETSC_COMM_WORLD, "unknown optimizer '%s'; allowed: adam, adagrad, sgd", name);
}

PetscErrorCode optim_create(Optim *o, const OptimOps *ops, size_t n, double lr) {
  PetscFunctionBeginUser;
  memset(o, 0, sizeof *o);
  o->ops = ops, o->n = n, o->lr = lr;
  o->beta1 = 0.9, o->beta2 = 0.999, o->eps = ops == &optim_adagrad ? 1e-10 : 1e-8;
  for (int s = 0; s < ops->nstate; s++) PetscCall(tensor_alloc(n ? n : 1, &o->state[s]));
  PetscFunctionReturn(0);
}

void optim_tick(Optim *o) { o->t++; }

void optim_update(Optim *o, float *p, const float *g, size_t offset, size_t count) {
  o->ops->update(o, p, g, offset, count);
}

int optim_take_nonfinite(Optim *o) {
  if (!o->ops || !o->ops->flags_nonfinite) return -1;
  int bad = o->nonfinite;
  o->nonfinite = 0;
  return bad;
}

void optim_free(Optim *o) {
  for (int s = 0; s < OPTIM_MAX_STATE; s++) tensor_free(&o->state[s]);
}

/* Plain SGD: p -= lr g. */
static void sgd_update(Optim *o, float *p, const float *g, size_t offset, size_t count) {
  const float lr = (float)o->lr;
  float *restrict pp = p + offset;
  const float *restrict gg = g + offset;
#pragma omp simd
  for (size_t i = 0; i < count; i++) pp[i] -= lr * gg[i];
}

const OptimOps optim_sgd = {.name = "sgd", .nstate = 0, .update = sgd_update};
