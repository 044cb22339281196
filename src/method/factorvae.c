/* FactorVAE (Kim & Mnih, ICML 2018, "Disentangling by Factorising"): a Gaussian head, the
 * reconstruction likelihood, KL(q(z|x) || N(0, I)) and gamma TC, the total correlation of q(z)
 * estimated by a discriminator D that tells z from z with each latent's column permuted over
 * the batch: TC ~ mean over the batch of (logit_0 - logit_1) of D(z).
 *
 * As disentanglement_lib (methods/unsupervised/vae.py, FactorVAE.model_fn) does it, per step
 * and from ONE batch:
 *   1. encode this rank's rows once (z sampled); gather the global batch of z on every rank
 *      and permute each latent's column over it (the permutations keyed by (seed, step,
 *      latent), so they do not depend on the rank count);
 *   2. D's gradient of its cross-entropy, z class 0 and permuted z class 1, each weighted 1/2
 *      (disentanglement_lib's discriminator_loss), data-parallel: each rank its rows of both,
 *      the gradient summed over ranks;
 *   3. the autoencoder's gradient of rec + KL + gamma TC with D as it was before this step
 *      (the TC term's gradient reaches the encoder through z only);
 *   4. both updates: the autoencoder's Adam, then D's own Adam (its own optimizer group).
 * Both gradients are taken at the parameters the step started from, as disentanglement_lib's
 * tf.group of the two minimize ops does, so the order of the two updates does not matter.
 * Every rank holds D's whole parameters and Adam state and applies the same summed gradient,
 * so no state needs sharing before a checkpoint.
 *
 * -reproducible (docs/reproducible.md): z comes from micro-chunk forwards; D's gradient and
 * cross-entropy are taken chunk by chunk (c rows of z and their c permuted rows, 2c rows per
 * forward whatever the rank count) and summed exactly over chunks and ranks; the TC term runs
 * D on each chunk in the chunked terms pass. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "disentangle/exactsum.h"
#include "disentangle/factorvae.h"
#include "disentangle/layers.h"
#include "disentangle/phases.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"

#define MAX_DISC_HIDDEN 16

typedef struct {
  PetscReal gamma;
  char disc_hidden[96];
  PetscReal disc_lr;
} FactorOptions;

#define FOPT(field) offsetof(FactorOptions, field), sizeof(((FactorOptions *)0)->field)

/* Defaults: gamma from the large study's grid (Locatello et al. 2019, disentanglement_lib
 * config/unsupervised_study_v1/sweep.py: 10, 20, 30, 40, 50, 100; its smallest, also what
 * disentanglement_lib's own FactorVAE test trains with). D: fc_discriminator of
 * methods/shared/architectures.py, "based on Appendix A page 11" of the paper: six dense layers
 * of 1000 with tf.nn.leaky_relu (slope 0.2), then 2 logits. D's Adam: model_configs/shared.gin,
 * discriminator/AdamOptimizer learning_rate 1e-4, beta1 0.5, beta2 0.9, epsilon 1e-8. */
static const OptSpec factorvae_options[] = {
  {"-factorvae_gamma", OPT_REAL, FOPT(gamma), "10", 0, 1e6, NULL,
   "weight of the discriminator's total-correlation estimate (the large study's grid: 10, 20, 30, 40, 50, 100)", NULL},
  {"-factorvae_disc_hidden", OPT_STRING, FOPT(disc_hidden), "1000,1000,1000,1000,1000,1000", 0, 0, NULL,
   "discriminator hidden widths (LeakyReLU 0.2; the published: six of 1000)", NULL},
  {"-factorvae_disc_lr", OPT_REAL, FOPT(disc_lr), "1e-4", 1e-12, 10, NULL,
   "Adam learning rate of the discriminator (betas 0.5, 0.9 as published)", NULL},
};

typedef struct {
  int m, B;
  Net disc;     /* latents -> hidden... -> 2 logits, optimizer group "discriminator" */
  int group;
  float *zall;  /* [B][m] the global batch of z */
  float *din;   /* [2B][m] D's training input: this rank's rows of z, then of permuted z */
  float *dout;  /* [2B][2] gradient w.r.t. D's logits */
  float *ddz;   /* [B][m] the TC term's gradient w.r.t. D's input */
  int *perm;    /* [B] */
  double ce;    /* D's cross-entropy in this step, this rank's part */
  int fresh;    /* D's activations of its training forward are those of D(z) for this step's rows */
  float *zlocal; /* -reproducible: [B][m] this rank's z, chunk by chunk; D's gradient and ce summed exactly */
  ExactFloats exact_grads;
  ExactSum exact_ce;
} Factor;

static const TermOps term_factor_tc;

/* D [m, -factorvae_disc_hidden..., 2] bound for 2B rows (z and permuted z), and its buffers. */
static void factorvae_cost(const Config *cfg, const void *opts, double *params, double *buffers, const char **shrink) {
  const FactorOptions *opt = opts;
  const int m = (int)cfg->latents;
  int w[MAX_DISC_HIDDEN + 2], nh = net_parse_widths(opt->disc_hidden, w + 1, MAX_DISC_HIDDEN);
  double p = 0, a = 0;
  if (nh > 0) {
    w[0] = m, w[nh + 1] = 2;
    net_mlp_cost(w, nh + 2, 2.0 * (double)cfg->batch, &p, &a);
  }
  *params = p;
  *buffers = a + 8.0 * (double)cfg->batch * m;
  *shrink = "a smaller -factorvae_disc_hidden";
}

static PetscErrorCode factorvae_create(Method *me) {
  PetscFunctionBeginUser;
  const FactorOptions *opt = me->opts;
  Factor *s;
  PetscCall(PetscCalloc1(1, &s));
  me->state = s;
  s->m = (int)me->cfg->latents, s->B = me->global_batch;
  int hidden[MAX_DISC_HIDDEN], nh, w[MAX_DISC_HIDDEN + 2];
  PetscCall(options_parse_widths("-factorvae_disc_hidden", opt->disc_hidden, hidden, MAX_DISC_HIDDEN, &nh));
  w[0] = s->m, w[nh + 1] = 2;
  for (int i = 0; i < nh; i++) w[1 + i] = hidden[i];
  PetscCall(net_init_mlp(&s->disc, "discriminator", w, nh + 2, &layer_leaky_relu, NULL));
  PetscCall(paramset_group(&me->params, "discriminator", &s->group));
  PetscCall(net_register(&s->disc, &me->params, s->group));
  PetscCall(paramset_allocate(&me->params));
  PetscCall(net_bind(&s->disc, &me->params, 2 * s->B));
  net_init_params(&s->disc, (uint64_t)me->cfg->seed, 2);
  PetscCall(method_set_optimizer(me, s->group, &optim_adam, opt->disc_lr));
  me->optim[s->group].beta1 = 0.5, me->optim[s->group].beta2 = 0.9;

  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_kl, 1.0, SITE_CODE, 0, NULL));
  PetscCall(method_add_term(me, &term_factor_tc, opt->gamma, SITE_LATENTS, 0, s));
  PetscCall(tensor_alloc((size_t)s->B * s->m, &s->zall));
  PetscCall(tensor_alloc((size_t)2 * s->B * s->m, &s->din));
  PetscCall(tensor_alloc((size_t)2 * s->B * 2, &s->dout));
  PetscCall(tensor_alloc((size_t)s->B * s->m, &s->ddz));
  PetscCall(PetscMalloc1(s->B, &s->perm));
  if (me->chunk) {
    PetscCall(tensor_alloc((size_t)s->B * s->m, &s->zlocal));
    PetscCall(method_exact_floats(me, s->group, &s->exact_grads));
    PetscCall(exactsum_create(&s->exact_ce, 1));
  }
  PetscFunctionReturn(0);
}

static void factorvae_destroy(Method *me) {
  Factor *s = me->state;
  if (!s) return;
  net_free(&s->disc);
  tensor_free(&s->zall), tensor_free(&s->din), tensor_free(&s->dout), tensor_free(&s->ddz);
  PetscFree(s->perm);
  tensor_free(&s->zlocal);
  exactfloats_free(&s->exact_grads), exactsum_free(&s->exact_ce);
  PetscFree(me->state);
}

void factorvae_permutation(uint64_t seed, int64_t step, int B, int j, int *perm) {
  for (int r = 0; r < B; r++) perm[r] = r;
  for (int i = B - 1; i > 0; i--) {
    int k = (int)rng_below(seed, RNG_STREAM_FACTORVAE_PERMUTE, (uint64_t)step, (uint64_t)j * B + i, (uint64_t)i + 1);
    int t = perm[i];
    perm[i] = perm[k], perm[k] = t;
  }
}

/* log softmax of two logits, class c: -log(1 + e^d), d = l_other - l_c, without overflow. */
static double log_softmax2(const float *l, int c) {
  double d = (double)l[1 - c] - l[c];
  return d > 0 ? -(d + log1p(exp(-d))) : -log1p(exp(d));
}

/* D's cross-entropy gradient on this rank's rows [off, off + cnt) of z (class 0) and of the
 * permuted global batch (class 1), added to D's gradient block; returns this rank's part of
 * -1/2 mean log p(0 | z) - 1/2 mean log p(1 | permuted z). z: this rank's rows of z. */
/* D's cross-entropy gradient on cnt rows of z (global rows off..off+cnt; z: them) and the same
 * rows of the permuted global batch s->zall, added to D's gradient block; returns w times the
 * sum of their -log p. */
static double discriminator_rows(Method *me, int64_t step, const float *z, int off, int cnt) {
  Factor *s = me->state;
  const int m = s->m, B = s->B;
  memcpy(s->din, z, (size_t)cnt * m * sizeof *s->din);
  float *zp = s->din + (size_t)cnt * m;
  for (int j = 0; j < m; j++) {
    factorvae_permutation((uint64_t)me->cfg->seed, step, B, j, s->perm);
    for (int r = 0; r < cnt; r++) zp[(size_t)r * m + j] = s->zall[(size_t)s->perm[off + r] * m + j];
  }
  const float *logits = net_forward(&s->disc, s->din, 2 * cnt);
  const double w = 0.5 / B;
  double sum = 0.0;
  for (int r = 0; r < 2 * cnt; r++) {
    const int c = r >= cnt; /* the class of the row */
    const float *l = logits + 2 * r;
    double p1 = 1.0 / (1.0 + exp((double)l[0] - l[1])); /* softmax's class-1 probability */
    sum -= log_softmax2(l, c);
    s->dout[2 * r] = (float)(w * ((1.0 - p1) - (c == 0)));
    s->dout[2 * r + 1] = (float)(w * (p1 - (c == 1)));
  }
  net_backward(&s->disc, s->din, s->dout, 2 * cnt, 1, NULL);
  return w * sum;
}

static PetscErrorCode discriminator_local(Method *me, const Batch *b, const float *z, double *ce) {
  PetscFunctionBeginUser;
  Factor *s = me->state;
  PetscCall(par_allgather_rows(z, s->zall, s->B, s->m, me->par->world));
  *ce = discriminator_rows(me, b->step, z, b->offset, b->count);
  PetscFunctionReturn(0);
}

/* -reproducible: z chunk by chunk, gathered; D's gradient (complete, summed over ranks) and
 * its cross-entropy (global) from exact sums over the chunks. */
static PetscErrorCode discriminator_exact(Method *me, const Batch *b) {
  PetscFunctionBeginUser;
  Factor *s = me->state;
  const int c = me->chunk, m = s->m;
  ParamGroup *G = &me->params.groups[s->group];
  for (int k = 0; k < b->count / c; k++) {
    method_forward_chunk(me, b, k);
    memcpy(s->zlocal + (size_t)k * c * m, me->ae.z, (size_t)c * m * sizeof *s->zlocal);
  }
  PetscCall(par_allgather_batch_rows(s->zlocal, s->zall, s->B, c, m, me->par->world));
  exactfloats_begin(&s->exact_grads), exactsum_zero(&s->exact_ce);
  for (int k = 0; k < b->count / c; k++) {
    memset(G->grads, 0, G->n * sizeof *G->grads);
    double ce = discriminator_rows(me, b->step, s->zlocal + (size_t)k * c * m, b->offset + k * c, c);
    PetscCall(exactfloats_add(&s->exact_grads, G->grads));
    exactsum_add_doubles(&s->exact_ce, &ce);
  }
  PetscCall(exactfloats_finish(&s->exact_grads, me->par->world, s->B / c, G->grads));
  PetscCall(exactsum_allreduce(&s->exact_ce, me->par->world));
  exactsum_doubles(&s->exact_ce, &s->ce);
  PetscFunctionReturn(0);
}

/* The sum of the ranks' D gradients: every rank then applies the same update to its copy. */
static PetscErrorCode discriminator_reduce(Method *me) {
  PetscFunctionBeginUser;
  Factor *s = me->state;
  ParamGroup *G = &me->params.groups[s->group];
  if (me->par->size > 1) PetscCall(par_allreduce_grads(G->grads, G->n, me->par->world));
  PetscFunctionReturn(0);
}

PetscErrorCode factorvae_discriminator_gradient(Method *me, const Batch *b, double *ce) {
  PetscFunctionBeginUser;
  const float *z;
  head_set_rows(&me->ae.head, b->step, b->offset);
  autoencoder_forward(&me->ae, b->x, b->count, &z, NULL);
  Factor *s = me->state;
  PetscCall(discriminator_local(me, b, z, &s->ce));
  PetscCall(discriminator_reduce(me));
  PetscCallMPI(MPI_Allreduce(&s->ce, ce, 1, MPI_DOUBLE, MPI_SUM, me->par->world));
  PetscFunctionReturn(0);
}

/* ---- the TC term: mean over the batch of logit_0 - logit_1 of D(z), at the latents ------- */

/* Statistics: sum over rows of logit_0 - logit_1, then D's cross-entropy on the last batch its
 * gradient was taken on (reported as "disc": in a step, this step's batch). */
static int tc_nstats(const Term *t, const Method *me) {
  (void)t, (void)me;
  return 2;
}

static void tc_local(Term *t, Method *me, const float *x, int count, double *stats) {
  (void)x;
  Factor *s = t->state;
  /* In a step D's training forward already ran this rank's rows of z first, at the same
   * parameters: its first `count` rows of activations are D(z), and backward only reads them. */
  const float *l = s->fresh ? s->disc.acts[s->disc.nlayers - 1] : net_forward(&s->disc, me->ae.z, count);
  s->fresh = 0;
  double d = 0.0;
  for (int r = 0; r < count; r++) d += (double)l[2 * r] - l[2 * r + 1];
  stats[0] = d, stats[1] = me->chunk ? 0.0 : s->ce; /* -reproducible: s->ce is the global one */
}

static void tc_backward(Term *t, Method *me, const float *x, int count, const double *st, double *values, float *dz) {
  (void)x;
  Factor *s = t->state;
  const int m = s->m;
  const float g = (float)(t->weight / me->global_batch);
  for (int r = 0; r < count; r++) s->dout[2 * r] = g, s->dout[2 * r + 1] = -g;
  /* D still holds the activations of D(z) (see tc_local); its parameters get nothing */
  net_backward(&s->disc, me->ae.z, s->dout, count, 0, s->ddz);
  for (long i = 0; i < (long)count * m; i++) dz[i] += s->ddz[i];
  values[0] = st[0] / me->global_batch;
  values[1] = me->chunk ? s->ce : st[1];
}

static const TermOps term_factor_tc = {.name = "factor_tc",
                                       .nvalues = 2,
                                       .value_names = {"tc", "disc"},
                                       .nstats = tc_nstats,
                                       .local = tc_local,
                                       .backward = tc_backward};

static PetscErrorCode factorvae_step(Method *me, const Batch *b, StepLosses *out) {
  PetscFunctionBeginUser;
  Factor *s = me->state;
  if (me->chunk) {
    PetscCall(PetscLogEventBegin(dt_events.adversary, 0, 0, 0, 0));
    PetscCall(discriminator_exact(me, b));
    PetscCall(PetscLogEventEnd(dt_events.adversary, 0, 0, 0, 0));
    s->fresh = 0; /* the terms pass runs D on each chunk itself */
    PetscCall(terms_loss_gradient(me, b, 1, out));
    method_update(me, me->ae.group);
    method_update(me, s->group);
    PetscFunctionReturn(0);
  }
  const float *z;
  head_set_rows(&me->ae.head, b->step, b->offset);
  autoencoder_forward(&me->ae, b->x, b->count, &z, NULL);
  PetscCall(PetscLogEventBegin(dt_events.adversary, 0, 0, 0, 0));
  PetscCall(discriminator_local(me, b, z, &s->ce));
  PetscCall(PetscLogEventEnd(dt_events.adversary, 0, 0, 0, 0));
  s->fresh = 1;
  PetscCall(terms_loss_gradient(me, b, 1, out));
  PetscCall(discriminator_reduce(me));
  method_update(me, me->ae.group);
  method_update(me, s->group);
  PetscFunctionReturn(0);
}

static int factorvae_nets(Method *me, Net **nets, int max) {
  Factor *s = me->state;
  int n = method_nets_autoencoder(me, nets, max);
  if (n < max) nets[n++] = &s->disc;
  return n;
}

const MethodOps method_factorvae = {
  .name = "factorvae",
  .summary = "FactorVAE: Gaussian latents, reconstruction + KL + gamma TC by a discriminator against permuted latents",
  .options = factorvae_options,
  .noptions = sizeof factorvae_options / sizeof *factorvae_options,
  .options_size = sizeof(FactorOptions),
  .structural = {"-factorvae_disc_hidden"},
  .head = &head_gaussian,
  .nlosses = 5,
  .loss_names = {"loss", "rec", "kl", "tc", "disc"},
  .cost = factorvae_cost,
  .create = factorvae_create,
  .step = factorvae_step,
  .loss_gradient = terms_loss_gradient,
  .destroy = factorvae_destroy,
  .nets = factorvae_nets,
  .reproducible = 1,
};
