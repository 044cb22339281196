#include "disentangle/method.h"

#include <stdio.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/log.h"
#include "disentangle/lsigma.h"
#include "disentangle/phase.h"
#include "disentangle/phases.h"
#include "disentangle/tensor.h"

/* The registry: a new method is one file and one line here (and its name in the extern line). */
extern const MethodOps method_ae, method_nashae, method_betavae, method_annealedvae, method_dipvae, method_betatcvae,
  method_factorvae;
extern const MethodOps method_strkm;
extern const MethodOps method_mlvae;
static const MethodOps *const registry[] = {
  &method_ae,
  &method_nashae,
  &method_betavae,
  &method_annealedvae,
  &method_dipvae,
  &method_betatcvae,
  &method_factorvae,
  &method_strkm,
  &method_mlvae,
};
#define NMETHODS ((int)(sizeof registry / sizeof registry[0]))

const char *method_choices(void) {
  static char choices[256];
  if (!choices[0])
    for (int i = 0, at = 0; i < NMETHODS; i++)
      at += snprintf(choices + at, sizeof choices - at, "%s%s", i ? "|" : "", registry[i]->name);
  return choices;
}

PetscErrorCode method_find(MPI_Comm comm, const char *name, const MethodOps **ops) {
  PetscFunctionBeginUser;
  *ops = NULL;
  for (int i = 0; i < NMETHODS; i++)
    if (!strcmp(name, registry[i]->name)) *ops = registry[i];
  DT_INPUT_CHECK(*ops, comm, "option -method: unknown method '%s'; allowed: %s", name, method_choices());
  PetscFunctionReturn(0);
}

/* An option of another method given to this one is ignored with a note naming the method it
 * belongs to: `-options_file nashae.opts -method ae` is how a baseline is run with the same
 * settings, so it is not an error (and a typo is still caught: it belongs to no method). */
static PetscErrorCode note_foreign(MPI_Comm comm, const MethodOps *ops) {
  PetscFunctionBeginUser;
  for (int i = 0; i < NMETHODS; i++) {
    const MethodOps *other = registry[i];
    if (other == ops) continue;
    for (int k = 0; k < other->noptions; k++) {
      const char *names[2] = {other->options[k].name, other->options[k].alias};
      for (int a = 0; a < 2; a++) {
        PetscBool given = PETSC_FALSE;
        int shared = 0; /* an alias that this method also accepts is not foreign */
        for (int j = 0; names[a] && j < ops->noptions; j++)
          shared |= !strcmp(names[a], ops->options[j].name) || (ops->options[j].alias && !strcmp(names[a], ops->options[j].alias));
        if (names[a] && !shared) PetscCall(PetscOptionsHasName(NULL, NULL, names[a], &given)); /* marks it used */
        if (given) log_info(comm, "note: %s is an option of method %s; ignored for -method %s", names[a], other->name, ops->name);
      }
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode method_options_read(MPI_Comm comm, const MethodOps *ops, void **opts) {
  PetscFunctionBeginUser;
  PetscCall(note_foreign(comm, ops));
  PetscCall(PetscCalloc(ops->options_size ? ops->options_size : 1, opts));
  PetscCall(options_read(comm, ops->options, ops->noptions, *opts));
  PetscFunctionReturn(0);
}

PetscErrorCode method_options_from_text(MPI_Comm comm, const MethodOps *ops, const char *text, void **opts) {
  PetscFunctionBeginUser;
  PetscCall(PetscCalloc(ops->options_size ? ops->options_size : 1, opts));
  PetscCall(options_defaults(comm, ops->options, ops->noptions, *opts));
  PetscCall(options_apply_text(comm, ops->options, ops->noptions, text, *opts));
  PetscFunctionReturn(0);
}

void method_options_help(FILE *fp) {
  for (int i = 0; i < NMETHODS; i++) {
    if (!registry[i]->noptions) continue;
    fprintf(fp, "\nOptions of -method %s (%s):\n", registry[i]->name, registry[i]->summary);
    options_print_table(fp, registry[i]->options, registry[i]->noptions);
  }
}

PetscErrorCode method_create(const Config *cfg, const void *opts, const Par *par, int features, Method **out) {
  PetscFunctionBeginUser;
  PetscCall(method_create_shaped(cfg, opts, par, shape_vector(features), out));
  PetscFunctionReturn(0);
}

/* -head: a deterministic method's latents may be sigmoid or identity (a linear autoencoder). A
 * stochastic head is what its method's terms are written for, and a method's own head (St-RKM's
 * Stiefel projection) is part of its model, so those are not swapped. */
static PetscErrorCode method_head(MPI_Comm comm, const Config *cfg, const MethodOps *ops, const HeadOps **head) {
  PetscFunctionBeginUser;
  *head = ops->head;
  if (!cfg->head[0]) PetscFunctionReturn(0);
  const HeadOps *h = head_find(cfg->head);
  DT_INPUT_CHECK(h && (!h->stochastic || h == ops->head), comm, "option -head: '%s' is not a deterministic head; allowed: sigmoid, identity",
                 cfg->head);
  int swappable = ops->head == &head_sigmoid || ops->head == &head_identity;
  DT_INPUT_CHECK(swappable || h == ops->head, comm, "option -head: method %s has its own %s head; -head %s is for ae and nashae",
                 ops->name, ops->head->name, cfg->head);
  *head = h;
  PetscFunctionReturn(0);
}

PetscErrorCode method_create_shaped(const Config *cfg, const void *opts, const Par *par, Shape sample, Method **out) {
  PetscFunctionBeginUser;
  const MethodOps *ops;
  PetscCall(method_find(par->world, cfg->method, &ops));
  Method *me;
  PetscCall(PetscCalloc1(1, &me));
  me->ops = ops, me->cfg = cfg, me->opts = opts, me->par = par, me->sample = sample;
  me->features = (int)shape_size(&sample);
  me->global_batch = (int)cfg->batch;
  paramset_init(&me->params);
  const HeadOps *head;
  PetscCall(method_head(par->world, cfg, ops, &head));
  PetscCall(autoencoder_create(&me->ae, &me->params, cfg, sample, me->global_batch, head,
                               ops->width ? ops->width(cfg, opts) : 0));
  PetscCall(method_set_optimizer(me, me->ae.group, &optim_adam, cfg->lr));
  me->chunk = cfg->reproducible ? (int)cfg->reproducible_chunk : 0; /* before create: methods size their parts by it */
  PetscCall(ops->create(me));
  PetscCall(phases_register());
  PetscCall(paramset_sync_create(&me->params, me->ae.group, par->world, (size_t)cfg->grad_bucket_kb * 1024 / sizeof(float),
                                 cfg->grad_overlap, &me->sync));
  if (!strcmp(cfg->grad_reduce, "node")) {
    int used;
    PetscCall(paramset_sync_node(&me->sync, &me->params, 0, &used));
    if (used) autoencoder_rebind_grads(&me->ae, &me->params);
    else if (par->size > 1)
      log_info(par->world, "-grad_reduce node: the nodes hold different numbers of ranks; the gradients are summed "
                           "with MPI_Iallreduce per bucket instead");
  }
  me->ae.enc.sync = me->ae.dec.sync = &me->sync;
  int nvalues = 1;
  for (int t = 0; t < me->nterms; t++) nvalues += me->terms[t].ops->nvalues;
  PetscCheck(!me->nterms || nvalues == ops->nlosses, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "method %s: its terms report %d losses, its loss_names %d", ops->name, nvalues, ops->nlosses);
  me->nlosses = ops->nlosses;
  for (int k = 0; k < ops->nlosses; k++) me->loss_names[k] = ops->loss_names[k];
  PetscCall(regularisers_attach(me));
  if (me->chunk) {
    PetscCall(exactsum_create(&me->exact_stats, (size_t)me->nstats));
    PetscCall(method_exact_floats(me, me->ae.group, &me->exact_grads));
    PetscCall(tensor_alloc_double((size_t)me->nstats + 1, &me->global_stats));
    PetscCall(tensor_alloc_double((size_t)me->nstats + 1, &me->scratch_stats));
  }
  *out = me;
  PetscFunctionReturn(0);
}

void method_destroy(Method **m) {
  if (!*m) return;
  (*m)->ops->destroy(*m);
  regularisers_free(*m);
  autoencoder_free(&(*m)->ae);
  for (int g = 0; g < PARAM_MAX_GROUPS; g++) optim_free(&(*m)->optim[g]);
  for (int s = 0; s < 2; s++)
    for (int l = 0; l < NET_MAX_LAYERS; l++) tensor_free(&(*m)->site_grad[s][l]);
  tensor_free_double(&(*m)->stats);
  tensor_free_double(&(*m)->global_stats);
  tensor_free_double(&(*m)->scratch_stats);
  exactsum_free(&(*m)->exact_stats);
  exactfloats_free(&(*m)->exact_grads);
  paramset_sync_free(&(*m)->sync);
  paramset_free(&(*m)->params);
  PetscFree(*m);
  *m = NULL;
}

void method_encode(Method *m, const float *x, int n, float *z) {
  const float *code = net_forward(&m->ae.enc, x, n);
  m->ae.head.ops->encode(&m->ae.head, code, n, z);
}

PetscErrorCode method_add_term(Method *m, const TermOps *ops, double weight, TermSite site, int layer, void *state) {
  PetscFunctionBeginUser;
  PetscCheck(m->nterms < METHOD_MAX_TERMS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "more than %d loss terms",
             METHOD_MAX_TERMS);
  Term *t = &m->terms[m->nterms++];
  *t = (Term){.ops = ops, .weight = weight, .site = site, .layer = layer, .state = state, .offset = m->nstats};
  t->nstats = ops->nstats(t, m);
  m->nstats += t->nstats;
  tensor_free_double(&m->stats);
  PetscCall(tensor_alloc_double((size_t)m->nstats + 1, &m->stats));
  if (site == SITE_ENCODER || site == SITE_DECODER) {
    const Net *net = site == SITE_ENCODER ? &m->ae.enc : &m->ae.dec;
    PetscCheck(layer >= 0 && layer < net->nlayers, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "term %s: no layer %d in %s",
               ops->name, layer, net->name);
    float **g = &m->site_grad[site == SITE_DECODER][layer];
    if (!*g) PetscCall(tensor_alloc((size_t)m->global_batch * shape_size(&net->layers[layer].out), g));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode method_set_optimizer(Method *m, int group, const OptimOps *ops, double lr) {
  PetscFunctionBeginUser;
  optim_free(&m->optim[group]);
  PetscCall(optim_create(&m->optim[group], ops, m->params.groups[group].n, lr));
  PetscFunctionReturn(0);
}

PetscErrorCode method_check_reproducible(MPI_Comm comm, const Config *cfg, const MethodOps *ops, int ranks) {
  PetscFunctionBeginUser;
  if (!cfg->reproducible) PetscFunctionReturn(0);
  const int B = (int)cfg->batch, c = (int)cfg->reproducible_chunk;
  DT_INPUT_CHECK(ops->reproducible, comm, "option -reproducible: method %s is not yet reproducible across rank counts; "
                 "run it without -reproducible (methods that are: see docs/reproducible.md)", ops->name);
  DT_INPUT_CHECK(B % c == 0, comm, "option -reproducible_chunk: -batch %d is not a multiple of -reproducible_chunk %d; give "
                 "a -batch that is, or a -reproducible_chunk that divides it", B, c);
  DT_INPUT_CHECK(B / c >= ranks, comm, "option -reproducible_chunk: -batch %d makes %d chunks of -reproducible_chunk %d, "
                 "fewer than the %d ranks; every rank needs a whole chunk (give a smaller -reproducible_chunk)", B, B / c, c, ranks);
  PetscFunctionReturn(0);
}

PetscErrorCode method_exact_floats(const Method *m, int group, ExactFloats *s) {
  PetscFunctionBeginUser;
  const ParamSet *ps = &m->params;
  size_t *start;
  int n = 0;
  PetscCall(PetscMalloc1(ps->ntensors + 1, &start));
  for (int i = 0; i < ps->ntensors; i++) /* registered in block order */
    if (ps->tensors[i].group == group) start[n++] = ps->tensors[i].offset;
  PetscCall(exactfloats_create(s, ps->groups[group].n, n, start));
  PetscCall(PetscFree(start));
  PetscFunctionReturn(0);
}

void method_forward_chunk(Method *m, const Batch *b, int k) {
  const int c = m->chunk;
  head_set_rows(&m->ae.head, b->step, b->offset + k * c);
  autoencoder_forward(&m->ae, b->x + (size_t)k * c * m->ae.features, c, NULL, NULL);
}

PetscErrorCode method_step_autoencoder(Method *m, const Batch *b, StepLosses *out) {
  PetscFunctionBeginUser;
  PetscCall(m->ops->loss_gradient(m, b, 0, out));
  method_update(m, m->ae.group);
  PetscFunctionReturn(0);
}

int method_nets_autoencoder(Method *m, Net **nets, int max) {
  int n = 0;
  if (n < max) nets[n++] = &m->ae.enc;
  if (n < max) nets[n++] = &m->ae.dec;
  return n;
}

void method_update(Method *m, int group) {
  ParamGroup *G = &m->params.groups[group];
  Phase was = phase_switch(PHASE_ADAM);
  (void)PetscLogEventBegin(dt_events.optimizer, 0, 0, 0, 0);
  optim_tick(&m->optim[group]);
  optim_update(&m->optim[group], G->params, G->grads, 0, G->n);
  paramset_zero_grads(&m->params, group);
  (void)PetscLogEventEnd(dt_events.optimizer, 0, 0, 0, 0);
  phase_switch(was);
}

/* A ParamSet name "NET/TENSOR" as the checkpoint's group "params/NET" and name "TENSOR". */
static void split_name(const char *full, const char *root, char *group, char *name) {
  const char *slash = strchr(full, '/');
  int netlen = slash ? (int)(slash - full) : 0;
  snprintf(group, CKPT_NAME_LEN, "%s/%.*s", root, netlen, full);
  snprintf(name, CKPT_NAME_LEN, "%s", slash ? slash + 1 : full);
}

static void add_tensor(CkptState *st, const char *group, const char *name, float *data, const ParamTensor *t) {
  CkptTensor *c = &st->tensors[st->ntensors++];
  snprintf(c->group, sizeof c->group, "%s", group);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->data = data;
  c->ndim = t->ndim;
  for (int d = 0; d < t->ndim; d++) c->dims[d] = t->dims[d];
}

PetscErrorCode method_state(Method *m, CkptState *st) {
  PetscFunctionBeginUser;
  const ParamSet *ps = &m->params;
  memset(st, 0, sizeof *st);
  PetscCall(PetscCalloc1((size_t)ps->ntensors * (1 + OPTIM_MAX_STATE), &st->tensors));
  PetscCall(PetscCalloc1(ps->ntensors, &st->counts));
  for (int i = 0; i < ps->ntensors; i++) {
    const ParamTensor *t = &ps->tensors[i];
    const Optim *o = &m->optim[t->group];
    char group[CKPT_NAME_LEN], name[CKPT_NAME_LEN], oname[CKPT_NAME_LEN + 8];
    split_name(t->name, "params", group, name);
    add_tensor(st, group, name, paramset_data(ps, i), t);
    split_name(t->name, "optim", group, name);
    for (int s = 0; o->ops && s < o->ops->nstate; s++) {
      snprintf(oname, sizeof oname, "%s.%s", name, o->ops->state_names[s]);
      add_tensor(st, group, oname, o->state[s] + t->offset, t);
    }
    /* the step count, once per net, as attribute "t" of /optim/NET */
    int seen = 0;
    for (int c = 0; c < st->ncounts; c++) seen |= !strcmp(st->counts[c].group, group);
    if (o->ops && !seen) {
      CkptCount *c = &st->counts[st->ncounts++];
      snprintf(c->group, sizeof c->group, "%s", group);
      snprintf(c->name, sizeof c->name, "t");
      c->value = (long long *)&o->t;
    }
  }
  PetscFunctionReturn(0);
}

void method_state_free(CkptState *st) {
  PetscFree(st->tensors);
  PetscFree(st->counts);
  st->ntensors = st->ncounts = 0;
}
