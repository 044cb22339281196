#include "disentangle/method.h"

#include <stdio.h>
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

#define MAX_NETS 4096
#define MAX_OPTIMS 8

static void add_tensor(CkptState *st, const char *group, const char *name, float *data, int rows, int cols) {
  CkptTensor *t = &st->tensors[st->ntensors++];
  snprintf(t->group, sizeof t->group, "%s", group);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->data = data, t->rows = rows, t->cols = cols;
}

static const OptimBinding *binding_of(const Net *net, const OptimBinding *b, int nb) {
  for (int i = 0; i < nb; i++)
    if (net->params >= b[i].base && net->params < b[i].base + b[i].n) return &b[i];
  return NULL;
}

/* A net's tensors and, when an optimizer holds it, their Adam moments and the step count. */
static void add_net(CkptState *st, Net *net, const OptimBinding *b) {
  char pgroup[CKPT_NAME_LEN], ogroup[CKPT_NAME_LEN], name[CKPT_NAME_LEN];
  snprintf(pgroup, sizeof pgroup, "params/%s", net->name);
  snprintf(ogroup, sizeof ogroup, "optim/%s", net->name);
  size_t off = b ? (size_t)(net->params - b->base) : 0;
  for (int l = 0; l < net->nlayers; l++) {
    const Layer *L = &net->layers[l];
    if (L->kind != LAYER_DENSE) continue;
    for (int bias = 0; bias < 2; bias++) {
      size_t at = bias ? L->b_off : L->w_off;
      int cols = bias ? 0 : L->in;
      net_tensor_name(net, l, bias, name, sizeof name);
      add_tensor(st, pgroup, name, net->params + at, L->out, cols);
      if (!b) continue;
      char mname[CKPT_NAME_LEN + 4];
      snprintf(mname, sizeof mname, "%s.m", name);
      add_tensor(st, ogroup, mname, b->adam->m + off + at, L->out, cols);
      snprintf(mname, sizeof mname, "%s.v", name);
      add_tensor(st, ogroup, mname, b->adam->v + off + at, L->out, cols);
    }
  }
  if (b) {
    CkptCount *c = &st->counts[st->ncounts++];
    snprintf(c->group, sizeof c->group, "%s", ogroup);
    snprintf(c->name, sizeof c->name, "t");
    c->value = &b->adam->t;
  }
}

PetscErrorCode method_state(Method *m, CkptState *st) {
  PetscFunctionBeginUser;
  Net **nets;
  OptimBinding optims[MAX_OPTIMS];
  PetscCall(PetscMalloc1(MAX_NETS, &nets));
  int nn = m->ops->nets(m, nets, MAX_NETS), no = 0, tensors = 0;
  optims[no++] = (OptimBinding){&m->ae.adam, m->ae.params, m->ae.nparams};
  if (m->ops->optims) no += m->ops->optims(m, optims + no, MAX_OPTIMS - no);
  for (int i = 0; i < nn; i++)
    for (int l = 0; l < nets[i]->nlayers; l++) tensors += 6 * (nets[i]->layers[l].kind == LAYER_DENSE);
  memset(st, 0, sizeof *st);
  PetscCall(PetscCalloc1(tensors, &st->tensors));
  PetscCall(PetscCalloc1(nn, &st->counts));
  for (int i = 0; i < nn; i++) add_net(st, nets[i], binding_of(nets[i], optims, no));
  PetscCall(PetscFree(nets));
  PetscFunctionReturn(0);
}

void method_state_free(CkptState *st) {
  PetscFree(st->tensors);
  PetscFree(st->counts);
  st->ntensors = st->ncounts = 0;
}
