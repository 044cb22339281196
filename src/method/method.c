#include "disentangle/method.h"

#include <string.h>

#include "disentangle/error.h"

static const MethodOps *const registry[] = {&method_ae, &method_nashae};
#define NMETHODS ((int)(sizeof registry / sizeof registry[0]))

const char *method_choices(void) { return "ae|nashae"; }

PetscErrorCode method_create(const Config *cfg, const Par *par, int features, Method **out) {
  PetscFunctionBeginUser;
  const MethodOps *ops = NULL;
  for (int i = 0; i < NMETHODS; i++)
    if (!strcmp(cfg->method, registry[i]->name)) ops = registry[i];
  DT_INPUT_CHECK(ops, par->world, "option -method: unknown method '%s'; allowed: %s", cfg->method, method_choices());
  Method *me;
  PetscCall(PetscCalloc1(1, &me));
  me->ops = ops, me->cfg = cfg, me->par = par, me->features = features, me->global_batch = (int)cfg->batch;
  PetscCall(autoencoder_create(&me->ae, cfg, features, me->global_batch, ops->latent_act));
  PetscCall(ops->create(me));
  *out = me;
  PetscFunctionReturn(0);
}

void method_destroy(Method **m) {
  if (!*m) return;
  (*m)->ops->destroy(*m);
  autoencoder_free(&(*m)->ae);
  PetscFree(*m);
  *m = NULL;
}

void method_encode(Method *m, const float *x, int n, float *z) {
  const float *code = net_forward(&m->ae.enc, x, n);
  memcpy(z, code, (size_t)n * m->ae.latents * sizeof *z);
}
