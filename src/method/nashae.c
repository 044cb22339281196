/* NashAE (Yeats et al., ECCV 2022): sigmoid latents z, an ensemble of m regressors where
 * regressor i predicts z_i from z with element i zeroed. Per step:
 *   1. encode this rank's slice once; gather the global batch of latents on every rank;
 *   2. K regressor updates on the (constant) latents, regressor i by rank group i mod G,
 *      then the trained weights are shared back to every rank;
 *   3. one autoencoder update on (1 - lambda) MSE/2 + lambda sum_i cov(z_i, zhat_i), z_i held
 *      constant inside the covariance so the gradient reaches the encoder only through the
 *      regressors' inputs. The batch statistics of the covariance take ONE allreduce. */
#include <stddef.h>
#include <string.h>

#include "disentangle/ensemble.h"
#include "disentangle/error.h"
#include "disentangle/layers.h"
#include "disentangle/method.h"
#include "disentangle/options.h"
#include "disentangle/phase.h"
#include "disentangle/phases.h"
#include "disentangle/tensor.h"

#define MAX_REG_HIDDEN 8

typedef struct {
  PetscReal lambda;
  PetscInt reg_iters;
  char reg_hidden[64];
  PetscReal reg_lr;
} NashOptions;

#define NOPT(field) offsetof(NashOptions, field), sizeof(((NashOptions *)0)->field)

static const OptSpec nashae_options[] = {
  {"-nashae_lambda", OPT_REAL, NOPT(lambda), "0.2", 0, 1, NULL, "adversarial weight: (1-lambda) rec + lambda sum_i cov(z_i, zhat_i)", "-lambda"},
  {"-nashae_reg_iters", OPT_INT, NOPT(reg_iters), "5", 1, 1000, NULL, "regressor updates per step (K)", "-reg_iters"},
  {"-nashae_reg_hidden", OPT_STRING, NOPT(reg_hidden), "40,40", 0, 0, NULL, "regressor hidden widths (SELU)", "-reg_hidden"},
  {"-nashae_reg_lr", OPT_REAL, NOPT(reg_lr), "1e-2", 1e-12, 10, NULL, "Adam learning rate of the regressors", "-reg_lr"},
};

typedef struct {
  int m, iters;
  Net *reg;             /* m regressors, optimizer group "regressors": names, tensors, init */
  Ensemble ens;         /* ... and how they are computed, all at once */
  int *all, *owned, nowned; /* regressor indices: 0..m-1; those this rank's group trains */
  int group;
  size_t per;           /* parameters per regressor */
  float *params, *grads, *share; /* the group's blocks; a scratch block as large */
  float *zall;          /* [B][m] latents of the global batch */
  float *dout;          /* [B][m] gradient w.r.t. the regressors' outputs */
  float *zhat;          /* [B][m] predictions for this rank's slice */
  double *zmean;        /* [m] */
  double pred_sq;       /* regressors' squared error in their last update, this rank's part */
  /* -reproducible (docs/reproducible.md): this rank's latents [B][m], exact sums of the
   * regressors' gradients and of their squared error; pred_sq is then the global one */
  float *zlocal;
  ExactFloats exact_grads;
  ExactSum exact_sq;
} Nash;

static const TermOps term_nash;

static int owns(const Method *me, int i) { return i % me->par->ngroups == me->par->group_id; }

/* m regressors [m, -nashae_reg_hidden..., 1] and their buffers: the nets' and the ensemble's
 * activations, the latents of the global batch, output gradients and predictions (3 B m), a
 * sharing block as large as the group, and the ensemble's packed first layer (2 m h1 m). */
static void nashae_cost(const Config *cfg, const void *opts, double *params, double *buffers, const char **shrink) {
  const NashOptions *opt = opts;
  const int m = (int)cfg->latents;
  int w[MAX_REG_HIDDEN + 2], nh = net_parse_widths(opt->reg_hidden, w + 1, MAX_REG_HIDDEN);
  double p = 0, a = 0;
  if (nh > 0) {
    w[0] = m, w[nh + 1] = 1;
    net_mlp_cost(w, nh + 2, (double)cfg->batch, &p, &a);
  }
  *params = p * m;
  *buffers = 2 * a * m + 3.0 * (double)cfg->batch * m + p * m;
  if (nh > 0) *buffers += 2.0 * m * w[1] * m; /* the ensemble's packed first-layer weights and their gradient */
  *shrink = "fewer -latents or a smaller -nashae_reg_hidden";
}

static PetscErrorCode nashae_create(Method *me) {
  PetscFunctionBeginUser;
  const Config *cfg = me->cfg;
  const NashOptions *opt = me->opts;
  Nash *s;
  PetscCall(PetscCalloc1(1, &s));
  me->state = s;
  s->m = (int)cfg->latents, s->iters = (int)opt->reg_iters;
  int hidden[MAX_REG_HIDDEN], nh, w[MAX_REG_HIDDEN + 2];
  PetscCall(options_parse_widths("-nashae_reg_hidden", opt->reg_hidden, hidden, MAX_REG_HIDDEN, &nh));
  w[0] = s->m, w[nh + 1] = 1;
  for (int i = 0; i < nh; i++) w[1 + i] = hidden[i];
  PetscCall(PetscCalloc1(s->m, &s->reg));
  for (int i = 0; i < s->m; i++) {
    char name[NET_NAME_LEN];
    snprintf(name, sizeof name, "regressor%d", i);
    PetscCall(net_init_mlp(&s->reg[i], name, w, nh + 2, &layer_selu, NULL));
  }
  s->per = s->reg[0].nparams;
  int B = me->global_batch;
  /* registered one after the other: regressor i is the i-th slice of `per` floats of the block */
  PetscCall(paramset_group(&me->params, "regressors", &s->group));
  for (int i = 0; i < s->m; i++) PetscCall(net_register(&s->reg[i], &me->params, s->group));
  PetscCall(paramset_allocate(&me->params));
  s->params = me->params.groups[s->group].params, s->grads = me->params.groups[s->group].grads;
  PetscCall(tensor_alloc(s->per * s->m, &s->share));
  for (int i = 0; i < s->m; i++) {
    PetscCall(net_bind(&s->reg[i], &me->params, B));
    net_init_params(&s->reg[i], (uint64_t)cfg->seed, 2 + i);
  }
  PetscCall(method_set_optimizer(me, s->group, &optim_adam, opt->reg_lr));
  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0 - opt->lambda, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_nash, opt->lambda, SITE_LATENTS, 0, s));
  PetscCall(ensemble_create(&s->ens, &s->reg[0], s->m, B));
  PetscCall(PetscMalloc2(s->m, &s->all, s->m, &s->owned));
  for (int i = 0; i < s->m; i++) {
    s->all[i] = i;
    if (owns(me, i)) s->owned[s->nowned++] = i;
  }
  PetscCall(tensor_alloc((size_t)B * s->m, &s->zall));
  PetscCall(tensor_alloc((size_t)B * s->m, &s->zhat));
  PetscCall(tensor_alloc((size_t)B * s->m, &s->dout));
  PetscCall(tensor_alloc_double((size_t)s->m, &s->zmean));
  if (me->chunk) {
    PetscCall(tensor_alloc((size_t)B * s->m, &s->zlocal));
    PetscCall(method_exact_floats(me, s->group, &s->exact_grads));
    PetscCall(exactsum_create(&s->exact_sq, 1));
  }
  PetscFunctionReturn(0);
}

static void nashae_destroy(Method *me) {
  Nash *s = me->state;
  if (!s) return;
  for (int i = 0; i < s->m; i++) net_free(&s->reg[i]);
  PetscFree(s->reg);
  ensemble_free(&s->ens);
  PetscFree2(s->all, s->owned);
  tensor_free(&s->share);
  tensor_free(&s->zall), tensor_free(&s->zhat);
  tensor_free(&s->dout);
  tensor_free_double(&s->zmean);
  tensor_free(&s->zlocal);
  exactfloats_free(&s->exact_grads);
  exactsum_free(&s->exact_sq);
  PetscFree(me->state);
}

/* Give every rank the owners' copy of a per-regressor block (weights or Adam moments). Exactly
 * one rank (its group's first) contributes each regressor and the others add zeros, so the sum
 * reproduces the owner's values bit for bit. */
static PetscErrorCode share_from_owners(Method *me, float *block) {
  PetscFunctionBeginUser;
  Nash *s = me->state;
  Phase was = phase_switch(PHASE_ALLREDUCE);
  for (int i = 0; i < s->m; i++) {
    float *dst = s->share + i * s->per;
    if (owns(me, i) && me->par->group_rank == 0) memcpy(dst, block + i * s->per, s->per * sizeof *dst);
    else memset(dst, 0, s->per * sizeof *dst);
  }
  PetscCallMPI(MPI_Allreduce(s->share, block, (int)(s->per * s->m), MPI_FLOAT, MPI_SUM, me->par->world));
  phase_switch(was);
  PetscFunctionReturn(0);
}

/* One update's gradients of regressors sel[0..n) (owned by this rank's group), on rows
 * [off, off + cnt) of the global batch; returns their squared error (summed regressor by
 * regressor). */
static double regressors_gradient(Nash *s, const int *sel, int n, int off, int cnt, int B) {
  const float scale = 1.0f / ((float)B * s->m); /* d(MSE/2) over B x m predictions */
  const float *z = s->zall + (size_t)off * s->m;
  if (!n) return 0.0;
  const float *pred = ensemble_forward(&s->ens, s->params, z, cnt, sel, n);
  double sq = 0.0;
  for (int k = 0; k < n; k++) {
    const int i = sel[k];
    double sqi = 0.0;
    for (int r = 0; r < cnt; r++) {
      float e = pred[(size_t)r * n + k] - z[(size_t)r * s->m + i];
      sqi += (double)e * e;
      s->dout[(size_t)r * n + k] = scale * e;
    }
    sq += sqi;
  }
  ensemble_backward(&s->ens, s->params, s->grads, z, s->dout, cnt, NULL);
  return sq;
}

/* One optimizer step on this group's regressors from s->grads (complete over the group). */
static void update_owned(Method *me, Nash *s) {
  Optim *opt = &me->optim[s->group];
  phase_switch(PHASE_ADAM);
  optim_tick(opt);
  for (int j = 0; j < s->nowned; j++) optim_update(opt, s->params, s->grads, s->owned[j] * s->per, s->per);
  phase_switch(PHASE_REGRESSORS);
}

/* K updates of the regressors this rank's group owns, then every rank gets every regressor. */
static PetscErrorCode train_regressors(Method *me, double *pred_sq) {
  PetscFunctionBeginUser;
  Nash *s = me->state;
  const Par *par = me->par;
  int B = me->global_batch, off, cnt;
  par_slice(B, par->group_rank, par->group_size, &off, &cnt);
  size_t nall = s->per * s->m;
  Phase was = phase_switch(PHASE_REGRESSORS);
  for (int k = 0; k < s->iters; k++) {
    memset(s->grads, 0, nall * sizeof *s->grads);
    double sq = regressors_gradient(s, s->owned, s->nowned, off, cnt, B);
    if (par->group_size > 1) PetscCall(par_allreduce_grads(s->grads, nall, par->group));
    update_owned(me, s);
    *pred_sq = sq; /* the last update's error is the one reported */
  }
  phase_switch(was);
  if (par->size > 1) PetscCall(share_from_owners(me, s->params));
  PetscFunctionReturn(0);
}

/* -reproducible: K updates as train_regressors makes them, each regressor's gradient summed
 * exactly over micro-chunks of the global batch (one regressor per ensemble call, so the GEMM
 * shapes do not depend on how many regressors a group owns), over the group's ranks; the squared
 * error of the last update summed exactly over the world, so every rank holds the global one. */
static PetscErrorCode train_regressors_exact(Method *me, double *pred_sq) {
  PetscFunctionBeginUser;
  Nash *s = me->state;
  const Par *par = me->par;
  const int B = me->global_batch, c = me->chunk;
  int off, cnt;
  par_batch_slice(B, c, par->group_rank, par->group_size, &off, &cnt);
  size_t nall = s->per * s->m;
  Phase was = phase_switch(PHASE_REGRESSORS);
  for (int k = 0; k < s->iters; k++) {
    exactfloats_begin(&s->exact_grads);
    exactsum_zero(&s->exact_sq);
    for (int r = off; r < off + cnt; r += c) {
      memset(s->grads, 0, nall * sizeof *s->grads);
      for (int j = 0; j < s->nowned; j++) {
        double sq = regressors_gradient(s, &s->owned[j], 1, r, c, B);
        exactsum_add_doubles(&s->exact_sq, &sq);
      }
      PetscCall(exactfloats_add(&s->exact_grads, s->grads));
    }
    PetscCall(exactfloats_finish(&s->exact_grads, par->group_size > 1 ? par->group : MPI_COMM_NULL, B / c, s->grads));
    if (k == s->iters - 1) {
      PetscCall(exactsum_allreduce(&s->exact_sq, par->world));
      exactsum_doubles(&s->exact_sq, pred_sq);
    }
    update_owned(me, s);
  }
  phase_switch(was);
  if (par->size > 1) PetscCall(share_from_owners(me, s->params));
  PetscFunctionReturn(0);
}

/* Predictions zhat_i for this rank's slice, and the local sums the covariances need. */
static void adversary_statistics(Nash *s, const float *z, int count, double *stats) {
  int m = s->m;
  Phase was = phase_switch(PHASE_ADVERSARY);
  memset(stats, 0, (3 * (size_t)m) * sizeof *stats);
  const float *pred = ensemble_forward(&s->ens, s->params, z, count, s->all, m);
  for (int i = 0; i < m; i++)
    for (int r = 0; r < count; r++) {
      double zi = z[(size_t)r * m + i], zh = pred[(size_t)r * m + i];
      s->zhat[(size_t)r * m + i] = pred[(size_t)r * m + i];
      stats[i] += zi, stats[m + i] += zh, stats[2 * m + i] += zi * zh;
    }
  phase_switch(was);
}

/* d(lambda sum_i cov(z_i, zhat_i))/dz through the regressors' inputs, added to dz. */
static void adversary_backward(Nash *s, const float *z, int count, const double *zmean, double lambda, int B,
                               float *dz) {
  int m = s->m;
  Phase was = phase_switch(PHASE_ADVERSARY);
  for (int r = 0; r < count; r++)
    for (int i = 0; i < m; i++) s->dout[(size_t)r * m + i] = (float)(lambda * (z[(size_t)r * m + i] - zmean[i]) / B);
  /* the ensemble still holds the activations of its forward in adversary_statistics */
  ensemble_backward(&s->ens, s->params, NULL, z, s->dout, count, dz);
  phase_switch(was);
}

/* ---- the adversarial term: lambda sum_i cov(z_i, zhat_i), at the latents ------------------ */

/* Statistics: sum z_i, sum zhat_i, sum z_i zhat_i (m each), then the regressors' squared error
 * of their last update (reported as "pred"). */
static int nash_nstats(const Term *t, const Method *me) {
  (void)me;
  return 3 * ((const Nash *)t->state)->m + 1;
}

static void nash_local(Term *t, Method *me, const float *x, int count, double *stats) {
  (void)x;
  Nash *s = t->state;
  adversary_statistics(s, me->ae.z, count, stats);
  stats[3 * s->m] = me->chunk ? 0.0 : s->pred_sq; /* -reproducible: pred_sq is global already */
}

static void nash_backward(Term *t, Method *me, const float *x, int count, const double *st, double *values, float *dz) {
  (void)x;
  Nash *s = t->state;
  const int B = me->global_batch, m = s->m;
  double *zmean = s->zmean, adv = 0.0;
  for (int i = 0; i < m; i++) {
    zmean[i] = st[i] / B;
    adv += st[2 * m + i] / B - zmean[i] * (st[m + i] / B);
  }
  adversary_backward(s, me->ae.z, count, zmean, t->weight, B, dz);
  values[0] = adv;
  values[1] = 0.5 * (me->chunk ? s->pred_sq : st[3 * m]) / ((double)B * m);
}

static const TermOps term_nash = {.name = "nash_adversary",
                                  .nvalues = 2,
                                  .value_names = {"adv", "pred"},
                                  .nstats = nash_nstats,
                                  .local = nash_local,
                                  .backward = nash_backward};

static PetscErrorCode nashae_step(Method *me, const Batch *b, StepLosses *out) {
  PetscFunctionBeginUser;
  const float *x = b->x;
  const int count = b->count;
  Nash *s = me->state;
  const float *z;
  if (me->chunk) { /* -reproducible: the latents chunk by chunk, as terms_loss_gradient forms them */
    for (int k = 0; k < count / me->chunk; k++) {
      method_forward_chunk(me, b, k);
      memcpy(s->zlocal + (size_t)k * me->chunk * s->m, me->ae.z, (size_t)me->chunk * s->m * sizeof *s->zlocal);
    }
    PetscCall(par_allgather_batch_rows(s->zlocal, s->zall, me->global_batch, me->chunk, s->m, me->par->world));
  } else {
    head_set_rows(&me->ae.head, b->step, b->offset);
    autoencoder_forward(&me->ae, x, count, &z, NULL);
    PetscCall(par_allgather_rows(z, s->zall, me->global_batch, s->m, me->par->world));
  }
  PetscCall(PetscLogEventBegin(dt_events.adversary, 0, 0, 0, 0));
  if (me->chunk) PetscCall(train_regressors_exact(me, &s->pred_sq));
  else PetscCall(train_regressors(me, &s->pred_sq));
  PetscCall(PetscLogEventEnd(dt_events.adversary, 0, 0, 0, 0));
  PetscCall(terms_loss_gradient(me, b, 1, out));
  method_update(me, me->ae.group);
  PetscFunctionReturn(0);
}

/* Only the owners of a regressor update its Adam moments; a checkpoint needs them on every rank. */
static PetscErrorCode nashae_sync_state(Method *me) {
  PetscFunctionBeginUser;
  Nash *s = me->state;
  if (me->par->size > 1) {
    const Optim *opt = &me->optim[s->group];
    for (int k = 0; k < opt->ops->nstate; k++) PetscCall(share_from_owners(me, opt->state[k]));
  }
  PetscFunctionReturn(0);
}

static int nashae_nets(Method *me, Net **nets, int max) {
  Nash *s = me->state;
  int n = method_nets_autoencoder(me, nets, max);
  for (int i = 0; i < s->m && n < max; i++) nets[n++] = &s->reg[i];
  return n;
}

const MethodOps method_nashae = {
  .name = "nashae",
  .summary = "NashAE: adversarial covariance minimisation between each latent and its regressor",
  .options = nashae_options,
  .noptions = sizeof nashae_options / sizeof *nashae_options,
  .options_size = sizeof(NashOptions),
  .structural = {"-nashae_reg_hidden"},
  .head = &head_sigmoid,
  .nlosses = 4,
  .loss_names = {"loss", "rec", "adv", "pred"},
  .cost = nashae_cost,
  .create = nashae_create,
  .step = nashae_step,
  .loss_gradient = terms_loss_gradient,
  .destroy = nashae_destroy,
  .nets = nashae_nets,
  .sync_state = nashae_sync_state,
  .reproducible = 1,
};
