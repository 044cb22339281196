/* St-RKM, the Stiefel restricted kernel machine (Pandey, Schreurs & Suykens, "Generative
 * restricted kernel machines: a framework for multi-view generation and disentangled feature
 * learning", Neural Networks 2021; arXiv 2006.07046), as the authors' code
 * (stiefel_rkm_model.py, RKM_Stiefel.forward; train script) computes it:
 *   phi  = encoder(x) in R^l, centred over the GLOBAL batch: phic = phi - mean_batch(phi);
 *   h    = U^T phic in R^m, U [l][m] with orthonormal columns (the Stiefel manifold);
 *   xhat = decoder(U h)           (deterministic)
 *        = decoder(U (h + s eps)) (-strkm_variant noisy, the paper's noisyU; eps ~ N(0, I));
 *   loss = lambda pca + c_accu rec,  pca = trace(C - U U^T C) / B, C = phic^T phic
 *        = mean over the batch of ||phic||^2 - ||U^T phic||^2,
 *   rec  = -rec_loss (the authors' 1/2 sum of squares / B is -rec_loss gaussian).
 * U is trained by Cayley Adam (src/optim/cayley_adam.c, lr 1e-4, beta1 0.9, beta2 0.99), the
 * nets by Adam, both from the gradient of one backward pass, Adam first (the authors'
 * optimizer2.step(); optimizer1.step()). The third published loss ("splitloss", two decoder
 * passes) is not offered.
 *
 * The engine's pieces: the head maps the encoder's output phi to h (and its noise), and lifts
 * the latents back, U h, as the decoder's input; U is a tensor of its own optimizer group
 * "stiefel" ("stiefel/U", Cayley Adam, checkpointed with its "m" and "v" by name). A sample's
 * latents outside training (eval, traversals) are U^T (phi - mean) with the running mean of
 * the training batches' means ("stiefel_stats/feature_mean", no optimizer; an average with
 * weight 0.01 per step), where the authors recompute the mean and U from the whole data set
 * after training.
 *
 * Data-parallel: the batch mean is a sum over ranks (one allreduce of l + 1 doubles in the
 * forward pass), and so is the gradient of the centring (one of l doubles in backward): every
 * rank's rows see the same global mean. The PCA term's gradient at phic sums to zero over the
 * batch ((I - U U^T) sum phic = 0), so it needs no centring correction.
 *
 * -reproducible (docs/reproducible.md): the head cannot sum over the batch inside a micro-chunk's
 * pass, so the step makes those sums in passes of its own, exactly (exactsum.h), before the
 * chunks need them: the feature mean from an encoder pass over the chunks; the terms'
 * statistics; the centring's gradient sum from a backward pass whose parameter gradients are
 * dropped; then the gradient pass proper, the autoencoder's and U's gradients summed exactly
 * over chunks and ranks. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/method.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"

#define MEAN_WEIGHT 0.01

typedef struct {
  PetscInt features;
  char variant[16];
  PetscReal noise, c_accu, lambda, lr_stiefel, beta1, beta2;
} StrkmOptions;

#define SOPT(field) offsetof(StrkmOptions, field), sizeof(((StrkmOptions *)0)->field)

/* Defaults: the authors' train script (h_dim 10 is -latents; x_fdim2 50, c_accu 1, noise_level
 * 1e-3, loss deterministic, lrg 1e-4; AdamG momentum 0.9, beta2 0.99 by its default). */
static const OptSpec strkm_options[] = {
  {"-strkm_features", OPT_INT, SOPT(features), "50", 1, 100000, NULL,
   "l, the width of the encoder's features phi(x) that U projects to the latents (the authors' x_fdim2)", NULL},
  {"-strkm_variant", OPT_STRING, SOPT(variant), "deterministic", 0, 0, "deterministic|noisy",
   "deterministic: decode U h; noisy: decode U (h + s eps) (the paper's noisyU), s = -strkm_noise", NULL},
  {"-strkm_noise", OPT_REAL, SOPT(noise), "1e-3", 0, 1e3, NULL, "s, the noise level of -strkm_variant noisy", NULL},
  {"-strkm_c_accu", OPT_REAL, SOPT(c_accu), "1", 0, 1e6, NULL, "weight of the reconstruction error (the authors' c_accu)", NULL},
  {"-strkm_lambda", OPT_REAL, SOPT(lambda), "1", 0, 1e6, NULL, "weight of the PCA error of phi(x) in U", NULL},
  {"-strkm_lr_stiefel", OPT_REAL, SOPT(lr_stiefel), "1e-4", 1e-12, 10, NULL, "Cayley Adam's learning rate for U (the authors' lrg)", NULL},
  {"-strkm_beta1", OPT_REAL, SOPT(beta1), "0.9", 0, 0.999999, NULL, "Cayley Adam's momentum", NULL},
  {"-strkm_beta2", OPT_REAL, SOPT(beta2), "0.99", 0, 0.999999, NULL, "Cayley Adam's second-moment decay", NULL},
};

typedef struct {
  const Par *par;
  int l, m, noisy;
  double noise;
  int group, stats_group, iU, imean;
  enum { SUM_OVER_RANKS, MEAN_GIVEN, GSUM_COLLECT, GSUM_GIVEN } mode; /* how the head gets its batch sums */
  ExactSum exact_mean, exact_gsum;                                       /* -reproducible: the sums, exactly */
  ExactFloats exact_U;                                                   /* -reproducible: U's gradient */
  double count;       /* rows of the global batch of the last forward */
  double *mu;         /* [l + 1] its feature mean (then the row count, while summed) */
  double *gsum;       /* [l] the centring's gradient sum */
  float *phic;        /* [max_batch][l] centred features of the last forward */
  float *h;           /* [max_batch][m] their latents before noise */
  float *scratch;     /* [max_batch][l] */
} Strkm;

static const float *U_of(const Method *me, const Strkm *s) { return paramset_data(&me->params, s->iU); }

/* ---- the head: phi -> h = U^T (phi - mean) (+ noise), and the lift h -> U h ----------------- */

/* The head reaches the method through ctx: the Method, whose state is the Strkm. */
static Strkm *state_of(const Head *hd, Method **me) {
  *me = hd->ctx;
  return (*me)->state;
}

static void strkm_head_forward(Head *hd, const float *code, int n, float *z) {
  Method *me;
  Strkm *s = state_of(hd, &me);
  const int l = s->l, m = s->m;
  if (s->mode == SUM_OVER_RANKS) { /* else the step's own pass gave mu and count */
    for (int k = 0; k <= l; k++) s->mu[k] = 0.0;
    for (int r = 0; r < n; r++)
      for (int k = 0; k < l; k++) s->mu[k] += code[(size_t)r * l + k];
    s->mu[l] = n;
    MPI_Allreduce(MPI_IN_PLACE, s->mu, l + 1, MPI_DOUBLE, MPI_SUM, s->par->world);
    s->count = s->mu[l];
    for (int k = 0; k < l; k++) s->mu[k] /= s->count;
  }
  for (int r = 0; r < n; r++)
    for (int k = 0; k < l; k++) s->phic[(size_t)r * l + k] = (float)(code[(size_t)r * l + k] - s->mu[k]);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, l, 1.0f, s->phic, l, U_of(me, s), m, 0.0f, s->h, m);
  memcpy(z, s->h, (size_t)n * m * sizeof *z);
  if (s->noisy)
    for (int r = 0; r < n; r++)
      for (int j = 0; j < m; j++)
        z[(size_t)r * m + j] += (float)(s->noise * rng_normal(hd->seed, RNG_STREAM_NOISE, (uint64_t)hd->step,
                                                              (uint64_t)(hd->row0 + r) * (uint64_t)m + (uint64_t)j));
}

/* dcode = dz U^T, centred over the global batch; dU += phic^T dz. */
static void strkm_head_backward(Head *hd, const float *code, const float *z, const float *dz, int n, float *dcode) {
  (void)code, (void)z;
  Method *me;
  Strkm *s = state_of(hd, &me);
  const int l = s->l, m = s->m;
  const float *U = U_of(me, s);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, l, m, 1.0f, dz, m, U, m, 0.0f, dcode, l);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, m, n, 1.0f, s->phic, l, dz, m, 1.0f,
              paramset_grad(&me->params, s->iU), m);
  if (s->mode != GSUM_GIVEN) { /* else the step's own pass gave gsum */
    for (int k = 0; k < l; k++) s->gsum[k] = 0.0;
    for (int r = 0; r < n; r++)
      for (int k = 0; k < l; k++) s->gsum[k] += dcode[(size_t)r * l + k];
  }
  if (s->mode == GSUM_COLLECT) { /* a chunk's part of the sum; its gradients are dropped */
    exactsum_add_doubles(&s->exact_gsum, s->gsum);
    return;
  }
  if (s->mode == SUM_OVER_RANKS) MPI_Allreduce(MPI_IN_PLACE, s->gsum, l, MPI_DOUBLE, MPI_SUM, s->par->world);
  for (int r = 0; r < n; r++)
    for (int k = 0; k < l; k++) dcode[(size_t)r * l + k] -= (float)(s->gsum[k] / s->count);
}

static void strkm_head_encode(const Head *hd, const float *code, int n, float *z) {
  Method *me = hd->ctx;
  Strkm *s = me->state;
  const int l = s->l, m = s->m;
  const float *mean = paramset_data(&me->params, s->imean);
  for (int r = 0; r < n; r++)
    for (int k = 0; k < l; k++) s->scratch[(size_t)r * l + k] = code[(size_t)r * l + k] - mean[k];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, l, 1.0f, s->scratch, l, U_of(me, s), m, 0.0f, z, m);
}

static void strkm_lift(const Head *hd, const float *z, int n, float *y) {
  Method *me = hd->ctx;
  Strkm *s = me->state;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, s->l, s->m, 1.0f, z, s->m, U_of(me, s), s->m, 0.0f, y, s->l);
}

/* y = z U^T: dz = dy U, dU += dy^T z. */
static void strkm_lift_backward(Head *hd, const float *z, const float *dy, int n, float *dz) {
  Method *me;
  Strkm *s = state_of(hd, &me);
  const int l = s->l, m = s->m;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, l, 1.0f, dy, l, U_of(me, s), m, 0.0f, dz, m);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, m, n, 1.0f, dy, l, z, m, 1.0f, paramset_grad(&me->params, s->iU), m);
}

static const HeadOps head_strkm = {.name = "stiefel", .code_per_latent = 1, .forward = strkm_head_forward,
                                   .backward = strkm_head_backward, .encode = strkm_head_encode,
                                   .lift = strkm_lift, .lift_backward = strkm_lift_backward};

/* ---- the PCA term: mean ||phic||^2 - ||U^T phic||^2, at the code --------------------------- */

static int pca_nstats(const Term *t, const Method *me) {
  (void)t, (void)me;
  return 1;
}

static void pca_local(Term *t, Method *me, const float *x, int count, double *stats) {
  (void)x;
  Strkm *s = t->state;
  double e = 0.0;
  for (long i = 0; i < (long)count * s->l; i++) e += (double)s->phic[i] * s->phic[i];
  for (long i = 0; i < (long)count * s->m; i++) e -= (double)s->h[i] * s->h[i];
  (void)me;
  stats[0] = e;
}

/* d/dphic = 2 w (phic - U h) / B (summing to 0 over the batch: no centring term);
 * d/dU = -2 w phic^T h / B. Also reports ||U^T U - I||_F ("ortho"). */
static void pca_backward(Term *t, Method *me, const float *x, int count, const double *st, double *values, float *grad) {
  (void)x;
  Strkm *s = t->state;
  const int l = s->l, m = s->m;
  const float *U = U_of(me, s);
  const float w = (float)(2.0 * t->weight / s->count);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, count, l, m, 1.0f, s->h, m, U, m, 0.0f, s->scratch, l);
  for (long i = 0; i < (long)count * l; i++) grad[i] += w * (s->phic[i] - s->scratch[i]);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, m, count, -w, s->phic, l, s->h, m, 1.0f,
              paramset_grad(&me->params, s->iU), m);
  values[0] = st[0] / s->count;
  values[1] = stiefel_drift(U, l, m);
}

static const TermOps term_pca = {.name = "pca",
                                 .nvalues = 2,
                                 .value_names = {"pca", "ortho"},
                                 .nstats = pca_nstats,
                                 .local = pca_local,
                                 .backward = pca_backward};

/* ---- the method -------------------------------------------------------------------------- */

static int strkm_width(const Config *cfg, const void *opts) {
  (void)cfg;
  return (int)((const StrkmOptions *)opts)->features;
}

static PetscErrorCode strkm_create(Method *me) {
  PetscFunctionBeginUser;
  const StrkmOptions *opt = me->opts;
  Strkm *s;
  PetscCall(PetscCalloc1(1, &s));
  me->state = s;
  s->par = me->par, s->l = (int)opt->features, s->m = me->ae.latents;
  s->noisy = !strcmp(opt->variant, "noisy"), s->noise = opt->noise;
  DT_INPUT_CHECK(s->m <= s->l, me->par->world,
                 "option -strkm_features: U [l][m] needs l >= m orthonormal columns; got l = %d for -latents %d", s->l, s->m);
  const int B = me->global_batch, l = s->l, m = s->m;
  const int dims[2] = {l, m};
  PetscCall(paramset_group(&me->params, "stiefel", &s->group));
  PetscCall(paramset_add(&me->params, s->group, "stiefel/U", 2, dims, &s->iU));
  PetscCall(paramset_group(&me->params, "stiefel_stats", &s->stats_group));
  PetscCall(paramset_add(&me->params, s->stats_group, "stiefel_stats/feature_mean", 1, &l, &s->imean));
  PetscCall(paramset_allocate(&me->params));
  /* orthogonal initialisation (the authors' nn.init.orthogonal_), the same on every rank */
  float *U = paramset_data(&me->params, s->iU);
  for (int i = 0; i < l * m; i++) U[i] = (float)rng_normal((uint64_t)me->cfg->seed, RNG_STREAM_INIT + 3, 0, (uint64_t)i);
  stiefel_orthonormalise(U, l, m);
  PetscCall(method_set_optimizer(me, s->group, &optim_cayley_adam, opt->lr_stiefel));
  Optim *o = &me->optim[s->group];
  o->beta1 = opt->beta1, o->beta2 = opt->beta2, o->cols = m;

  PetscCall(PetscMalloc2(l + 1, &s->mu, l, &s->gsum));
  if (me->chunk) {
    PetscCall(exactsum_create(&s->exact_mean, (size_t)l));
    PetscCall(exactsum_create(&s->exact_gsum, (size_t)l));
    PetscCall(method_exact_floats(me, s->group, &s->exact_U));
  }
  PetscCall(tensor_alloc((size_t)B * l, &s->phic));
  PetscCall(tensor_alloc((size_t)B * m, &s->h));
  PetscCall(tensor_alloc((size_t)B * l, &s->scratch));
  me->ae.head.ctx = me;

  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, opt->c_accu, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_pca, opt->lambda, SITE_CODE, 0, s));
  PetscFunctionReturn(0);
}

static void strkm_destroy(Method *me) {
  Strkm *s = me->state;
  if (!s) return;
  PetscFree2(s->mu, s->gsum);
  exactsum_free(&s->exact_mean), exactsum_free(&s->exact_gsum), exactfloats_free(&s->exact_U);
  tensor_free(&s->phic), tensor_free(&s->h), tensor_free(&s->scratch);
  PetscFree(me->state);
}

/* -reproducible: the step in micro-chunks, the head's two batch sums made in passes of their own
 * (the top of the file). Every chunk's sums are in row order, and the sums over chunks and ranks
 * exact, so every pass gives the same bits on any rank count. */
static PetscErrorCode strkm_loss_gradient_chunked(Method *me, const Batch *b, StepLosses *out) {
  PetscFunctionBeginUser;
  Strkm *s = me->state;
  Autoencoder *ae = &me->ae;
  const int c = me->chunk, nchunks = b->count / c, l = s->l;
  double values[METHOD_MAX_LOSSES] = {0};
  PetscCheck(b->count % c == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "%d rows are not whole chunks of %d", b->count, c);
  exactsum_zero(&s->exact_mean); /* 1. the feature mean: the encoder alone over every chunk */
  for (int k = 0; k < nchunks; k++) {
    const float *code = net_forward(&ae->enc, b->x + (size_t)k * c * ae->features, c);
    for (int j = 0; j < l; j++) s->mu[j] = 0.0;
    for (int r = 0; r < c; r++)
      for (int j = 0; j < l; j++) s->mu[j] += code[(size_t)r * l + j];
    exactsum_add_doubles(&s->exact_mean, s->mu);
  }
  PetscCall(exactsum_allreduce(&s->exact_mean, me->par->world));
  exactsum_doubles(&s->exact_mean, s->mu);
  s->count = me->global_batch;
  for (int j = 0; j < l; j++) s->mu[j] /= s->count;
  s->mode = MEAN_GIVEN; /* 2. the terms' statistics */
  PetscCall(terms_chunk_statistics(me, b));
  s->mode = GSUM_COLLECT; /* 3. the centring's gradient sum */
  exactsum_zero(&s->exact_gsum);
  for (int k = nchunks - 1; k >= 0; k--) {
    if (k < nchunks - 1) terms_chunk_forward(me, b, k, me->scratch_stats); /* the last chunk still is */
    terms_chunk_backward(me, b, k, values);
  }
  PetscCall(exactsum_allreduce(&s->exact_gsum, me->par->world));
  exactsum_doubles(&s->exact_gsum, s->gsum);
  s->mode = GSUM_GIVEN; /* 4. the gradients */
  ParamGroup *G = &me->params.groups[s->group];
  exactfloats_begin(&me->exact_grads), exactfloats_begin(&s->exact_U);
  for (int k = 0; k < nchunks; k++) {
    terms_chunk_forward(me, b, k, me->scratch_stats);
    memset(G->grads, 0, G->n * sizeof *G->grads);
    terms_chunk_backward(me, b, k, values);
    PetscCall(exactfloats_add(&me->exact_grads, ae->grads));
    PetscCall(exactfloats_add(&s->exact_U, G->grads));
  }
  PetscCall(exactfloats_finish(&me->exact_grads, me->par->world, me->global_batch / c, ae->grads));
  PetscCall(exactfloats_finish(&s->exact_U, me->par->world, me->global_batch / c, G->grads));
  s->mode = SUM_OVER_RANKS, me->row = 0;
  terms_finish(me, values, out);
  PetscFunctionReturn(0);
}

/* The terms' gradient (the autoencoder's summed by terms_loss_gradient), then U's summed. */
static PetscErrorCode strkm_loss_gradient(Method *me, const Batch *b, int encoded, StepLosses *out) {
  PetscFunctionBeginUser;
  Strkm *s = me->state;
  if (me->chunk) {
    me->step = b->step;
    PetscCall(strkm_loss_gradient_chunked(me, b, out));
    PetscFunctionReturn(0);
  }
  PetscCall(terms_loss_gradient(me, b, encoded, out));
  ParamGroup *G = &me->params.groups[s->group];
  if (me->par->size > 1) PetscCall(par_allreduce_grads(G->grads, G->n, me->par->world));
  PetscFunctionReturn(0);
}

static PetscErrorCode strkm_step(Method *me, const Batch *b, StepLosses *out) {
  PetscFunctionBeginUser;
  Strkm *s = me->state;
  PetscCall(strkm_loss_gradient(me, b, 0, out));
  float *mean = paramset_data(&me->params, s->imean);
  const double w = b->step == 0 ? 1.0 : MEAN_WEIGHT;
  for (int k = 0; k < s->l; k++) mean[k] = (float)((1.0 - w) * mean[k] + w * s->mu[k]);
  method_update(me, me->ae.group);
  method_update(me, s->group);
  PetscFunctionReturn(0);
}

const MethodOps method_strkm = {
  .name = "strkm",
  .summary = "St-RKM: latents U^T phi(x) with U on the Stiefel manifold (Cayley Adam), reconstruction + PCA error of phi in U",
  .options = strkm_options,
  .noptions = sizeof strkm_options / sizeof *strkm_options,
  .options_size = sizeof(StrkmOptions),
  .structural = {"-strkm_features"},
  .head = &head_strkm,
  .nlosses = 4,
  .loss_names = {"loss", "rec", "pca", "ortho"},
  .width = strkm_width,
  .reproducible = 1,
  .create = strkm_create,
  .step = strkm_step,
  .loss_gradient = strkm_loss_gradient,
  .destroy = strkm_destroy,
  .nets = method_nets_autoencoder,
};
