/* ML-VAE, the multi-level VAE (Bouchacourt, Tomioka & Nowozin, "Multi-Level Variational
 * Autoencoder: Learning Disentangled Representations from Grouped Observations", AAAI 2018).
 *
 * The m latents are split: 0..C-1 are CONTENT, shared by the samples of a group; C..m-1 are
 * STYLE, one per sample (C = -mlvae_content). The encoder gives every sample a Gaussian
 * [mu | log sigma^2] over all m latents, as the Gaussian head's code. Per batch group g and
 * content latent k, the group's content posterior is the product of its samples' Gaussians
 * (the paper's accumulation of evidence):
 *   P_gk = sum_{i in g} exp(-logvar_ik)                 (precision),
 *   M_gk = sum_{i in g} exp(-logvar_ik) mu_ik / P_gk    (precision-weighted mean),
 * and ONE reparameterised sample c_gk = M_gk + P_gk^(-1/2) eps_gk is what every sample of the
 * group decodes with; its style is sampled per row as the Gaussian head does. The objective is
 * the negative ELBO averaged over the global batch of B rows (G = B / S groups of S):
 *   ( sum_rows rec + w_s sum_rows KL(q(s_i|x_i) || N(0,I)) + w_c sum_groups KL(q(c_g) || N(0,I)) ) / B,
 * reported as "loss", "rec", "kl_style" (sum_rows KL / B) and "kl_content" (sum_groups KL / B);
 * w_s = -mlvae_style_weight, w_c = -mlvae_content_weight (1 and 1: the paper's ELBO).
 *
 * Groups: the batch is G whole groups in group-major order (global row j is in group j / S;
 * config.h -group_size, the grouped sampler's contract), and the rows are split over ranks
 * without regard to groups, so A GROUP MAY SPAN RANKS. Its evidence is therefore allreduced
 * forward (every rank's rows' (p, p mu), one allreduce of B x 2C doubles, gives every rank every
 * group's posterior) and its gradient backward (the rows' dL/dc, B x C doubles, summed per
 * group). A rank puts zeros in the rows it does not hold, so the groups' sums are taken after
 * the allreduce, in row order, whatever the number of ranks: the group product adds no
 * rank-count dependence of its own (the nets' sums may still round differently). Both
 * allreduces ride a duplicate of the world communicator, so they cannot interleave with the
 * gradient buckets in flight on the world's. Under -reproducible (docs/reproducible.md) the
 * batch goes through in micro-chunks that are whole groups (-reproducible_chunk a multiple of
 * -group_size), so a chunk's groups are summed from its own rows, in the same row order, with
 * no allreduce: the same bits on any rank count. The content noise eps_gk is drawn from (seed,
 * RNG_STREAM_GROUP_NOISE, step, g * C + k), the style noise from the Gaussian head's (seed,
 * RNG_STREAM_NOISE, step, global row * m + latent): 1 and P ranks draw the same.
 *
 * The gradient is exact. With D_gk the group's summed dL/dc (reconstruction, and any term at
 * the latents), and the content KL's own d/dM = w_c M / B, d/dP = w_c (1/P - 1/P^2) / (2B):
 *   dL/dM = D + w_c M / B,   dL/dP = -D eps P^(-3/2) / 2 + w_c (1/P - 1/P^2) / (2B),
 *   dL/dmu_i     = dL/dM p_i / P,
 *   dL/dlogvar_i = -p_i ( dL/dM (mu_i - M) / P + dL/dP ),       p_i = exp(-logvar_i).
 * The head (below) carries D back; the content-KL term adds its part at the code.
 *
 * Outside training (method_encode, eval) the head gives every sample its mean mu: a single
 * sample is a group of one, whose content posterior is its own q(c|x). The trained state is
 * the engine's (encoder, decoder, Adam): nothing of the method's is checkpointed.
 *
 * A third-party PyTorch reimplementation (github.com/ananyahjha93/multi-level-vae, training.py)
 * differs from the paper: it stops the gradient at the accumulation (class_mu.data), counts the
 * content KL once per SAMPLE, and divides the KLs by the pixel count; we follow the paper's ELBO
 * (one content KL per group, gradients through the accumulation). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/method.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"

typedef struct {
  PetscInt content;
  PetscReal style_weight, content_weight;
} MlOptions;

#define MOPT(field) offsetof(MlOptions, field), sizeof(((MlOptions *)0)->field)

static const OptSpec mlvae_options[] = {
  {"-mlvae_content", OPT_INT, MOPT(content), "2", 1, 4096, NULL,
   "C, the content latents shared by a group (latents 0..C-1); the other -latents - C are per-sample style (1 <= C < -latents)", NULL},
  {"-mlvae_style_weight", OPT_REAL, MOPT(style_weight), "1", 0, 1e6, NULL,
   "weight of the style KL, summed over samples (1: the paper's ELBO)", NULL},
  {"-mlvae_content_weight", OPT_REAL, MOPT(content_weight), "1", 0, 1e6, NULL,
   "weight of the content KL, summed over groups (1: the paper's ELBO)", NULL},
};

typedef struct {
  int m, C, S, G, B;
  MPI_Comm comm;       /* a duplicate of the world's, for the group allreduces */
  int size;
  int chunk;           /* -reproducible: the rows come in micro-chunks of whole groups */
  double *rows;        /* [B][2C] every row's (p, p mu), or [B][C] its dL/dc, over the whole batch */
  double *ev;          /* [G][2C]: P | sum p mu, then P | M after the forward */
  double *dsum;        /* [G][C] sum over the group's rows of dL/dc */
  int mpi_err;         /* of the head's allreduces (heads return nothing) */
} Ml;

static inline double *group_prec(const Ml *s, int g) { return s->ev + (size_t)g * 2 * s->C; }
static inline double *group_mean(const Ml *s, int g) { return s->ev + (size_t)g * 2 * s->C + s->C; }

/* The sums of groups [g0, g1) of the batch's rows [B][w] in row order: into ev (w = 2C) or dsum
 * (w = C). Each rank fills its own rows of the buffer and zeros elsewhere, so the allreduce adds
 * only zeros to each value and every rank count sums the rows in the same order. */
static void accumulate(const Ml *s, int w, int g0, int g1, double *out) {
  for (int g = g0; g < g1; g++) {
    double *o = out + (size_t)g * w;
    for (int k = 0; k < w; k++) o[k] = 0.0;
    for (int i = g * s->S; i < (g + 1) * s->S; i++)
      for (int k = 0; k < w; k++) o[k] += s->rows[(size_t)i * w + k];
  }
}

/* dmu, dlogvar of a row's content latent from the gradient at its group's (M, P). */
static inline void chain(double p, double P, double M, double mu, double gM, double gP, double *dmu, double *dlv) {
  *dmu = gM * p / P;
  *dlv = -p * (gM * (mu - M) / P + gP);
}

/* ---- the head: code [mu | log sigma^2] -> (group content sample | row style sample) -------- */

/* The groups [*g0, *g1) that rows [row0, row0 + n) see: the chunk's own under -reproducible (a
 * chunk is whole groups), else every group of the batch. */
static void groups_of(const Ml *s, int64_t row0, int n, int *g0, int *g1) {
  *g0 = s->chunk ? (int)(row0 / s->S) : 0;
  *g1 = s->chunk ? (int)((row0 + n) / s->S) : s->G;
}

/* Rows [row0, row0 + n) are the rank's; the sums of the groups they see are taken into out (over
 * ranks first, unless the rows are a chunk of whole groups). */
static void sum_groups(Ml *s, int w, int64_t row0, int n, double *out) {
  int g0, g1;
  groups_of(s, row0, n, &g0, &g1);
  if (!s->chunk && s->size > 1 && !s->mpi_err)
    s->mpi_err = MPI_Allreduce(MPI_IN_PLACE, s->rows, s->B * w, MPI_DOUBLE, MPI_SUM, s->comm);
  accumulate(s, w, g0, g1, out);
}

static void mlvae_head_forward(Head *h, const float *code, int n, float *z) {
  Ml *s = h->ctx;
  const int m = s->m, C = s->C;
  double *rows = s->rows;
  memset(rows, 0, (size_t)s->B * 2 * C * sizeof *rows);
  for (int r = 0; r < n; r++) {
    const float *mu = code + (size_t)r * 2 * m, *lv = mu + m;
    double *e = rows + (size_t)(h->row0 + r) * 2 * C;
    for (int k = 0; k < C; k++) {
      e[k] = exp(-(double)lv[k]);
      e[C + k] = e[k] * mu[k];
    }
  }
  int g0, g1;
  groups_of(s, h->row0, n, &g0, &g1);
  sum_groups(s, 2 * C, h->row0, n, s->ev);
  for (int g = g0; g < g1; g++) {
    double *P = group_prec(s, g), *Q = group_mean(s, g);
    for (int k = 0; k < C; k++) Q[k] = P[k] > 0 ? Q[k] / P[k] : 0.0;
  }
  for (int r = 0; r < n; r++) {
    const uint64_t row = (uint64_t)(h->row0 + r);
    const int g = (int)(row / (uint64_t)s->S);
    const float *mu = code + (size_t)r * 2 * m, *lv = mu + m;
    float *eps = h->eps + (size_t)r * m, *zr = z + (size_t)r * m;
    const double *P = group_prec(s, g), *M = group_mean(s, g);
    for (int k = 0; k < C; k++) {
      eps[k] = (float)rng_normal(h->seed, RNG_STREAM_GROUP_NOISE, (uint64_t)h->step, (uint64_t)g * C + k);
      zr[k] = (float)(M[k] + eps[k] / sqrt(P[k]));
    }
    for (int j = C; j < m; j++) {
      eps[j] = (float)rng_normal(h->seed, RNG_STREAM_NOISE, (uint64_t)h->step, row * (uint64_t)m + (uint64_t)j);
      zr[j] = mu[j] + expf(0.5f * lv[j]) * eps[j];
    }
  }
}

static void mlvae_head_backward(Head *h, const float *code, const float *z, const float *dz, int n, float *dcode) {
  (void)z;
  Ml *s = h->ctx;
  const int m = s->m, C = s->C;
  double *rows = s->rows;
  memset(rows, 0, (size_t)s->B * C * sizeof *rows);
  for (int r = 0; r < n; r++)
    for (int k = 0; k < C; k++) rows[(size_t)(h->row0 + r) * C + k] = dz[(size_t)r * m + k];
  sum_groups(s, C, h->row0, n, s->dsum);
  for (int r = 0; r < n; r++) {
    const int g = (int)((h->row0 + r) / s->S);
    const float *mu = code + (size_t)r * 2 * m, *lv = mu + m, *eps = h->eps + (size_t)r * m, *gz = dz + (size_t)r * m;
    float *dmu = dcode + (size_t)r * 2 * m, *dlv = dmu + m;
    const double *P = group_prec(s, g), *M = group_mean(s, g), *D = s->dsum + (size_t)g * C;
    for (int k = 0; k < C; k++) {
      double a, b;
      chain(exp(-(double)lv[k]), P[k], M[k], mu[k], D[k], -0.5 * D[k] * eps[k] * pow(P[k], -1.5), &a, &b);
      dmu[k] = (float)a, dlv[k] = (float)b;
    }
    for (int j = C; j < m; j++) {
      dmu[j] = gz[j];
      dlv[j] = gz[j] * eps[j] * 0.5f * expf(0.5f * lv[j]);
    }
  }
}

static void mlvae_head_encode(const Head *h, const float *code, int n, float *z) {
  const int m = h->latents;
  for (int r = 0; r < n; r++) memcpy(z + (size_t)r * m, code + (size_t)r * 2 * m, (size_t)m * sizeof *z);
}

static const HeadOps head_mlvae = {.name = "mlvae", .code_per_latent = 2, .stochastic = 1, .forward = mlvae_head_forward,
                                   .backward = mlvae_head_backward, .encode = mlvae_head_encode};

/* ---- the KL terms, at the code ------------------------------------------------------------- */

static int one_stat(const Term *t, const Method *me) {
  (void)t, (void)me;
  return 1;
}

/* sum over this rank's rows and the style latents of KL(N(mu, sigma^2) || N(0, 1)) */
static void kl_style_local(Term *t, Method *me, const float *x, int count, double *stats) {
  (void)x;
  const Ml *s = t->state;
  const int m = s->m;
  double kl[m];
  kl_per_latent(autoencoder_code(&me->ae), count, m, kl);
  stats[0] = 0.0;
  for (int j = s->C; j < m; j++) stats[0] += kl[j];
}

static void kl_style_backward(Term *t, Method *me, const float *x, int count, const double *stats, double *values,
                              float *grad) {
  (void)x;
  const Ml *s = t->state;
  const int m = s->m;
  const float w = (float)(t->weight / me->global_batch);
  const float *code = autoencoder_code(&me->ae);
  for (int r = 0; r < count; r++) {
    const float *mu = code + (size_t)r * 2 * m, *lv = mu + m;
    float *gmu = grad + (size_t)r * 2 * m, *glv = gmu + m;
    for (int j = s->C; j < m; j++) {
      gmu[j] += w * mu[j];
      glv[j] += w * 0.5f * (expf(lv[j]) - 1.0f);
    }
  }
  values[0] = stats[0] / me->global_batch;
}

static const TermOps term_kl_style = {.name = "kl_style", .nvalues = 1, .value_names = {"kl_style"}, .nstats = one_stat,
                                      .local = kl_style_local, .backward = kl_style_backward};

/* The groups' KLs, each counted by the rank that holds its first row (every rank knows every
 * group's posterior after the forward's allreduce). */
static void kl_content_local(Term *t, Method *me, const float *x, int count, double *stats) {
  (void)x;
  const Ml *s = t->state;
  const int64_t row0 = me->ae.head.row0;
  stats[0] = 0.0;
  for (int g = (int)((row0 + s->S - 1) / s->S); (int64_t)g * s->S < row0 + count && g < s->G; g++) {
    const double *P = group_prec(s, g), *M = group_mean(s, g);
    for (int k = 0; k < s->C; k++) stats[0] += 0.5 * (M[k] * M[k] + 1.0 / P[k] + log(P[k]) - 1.0);
  }
}

static void kl_content_backward(Term *t, Method *me, const float *x, int count, const double *stats, double *values,
                                float *grad) {
  (void)x;
  const Ml *s = t->state;
  const int m = s->m;
  const double w = t->weight / me->global_batch;
  const float *code = autoencoder_code(&me->ae);
  for (int r = 0; r < count; r++) {
    const int g = (int)((me->ae.head.row0 + r) / s->S);
    const float *mu = code + (size_t)r * 2 * m, *lv = mu + m;
    float *gmu = grad + (size_t)r * 2 * m, *glv = gmu + m;
    const double *P = group_prec(s, g), *M = group_mean(s, g);
    for (int k = 0; k < s->C; k++) {
      double a, b;
      chain(exp(-(double)lv[k]), P[k], M[k], mu[k], w * M[k], w * 0.5 * (1.0 / P[k] - 1.0 / (P[k] * P[k])), &a, &b);
      gmu[k] += (float)a, glv[k] += (float)b;
    }
  }
  values[0] = stats[0] / me->global_batch;
}

static const TermOps term_kl_content = {.name = "kl_content", .nvalues = 1, .value_names = {"kl_content"},
                                        .nstats = one_stat, .local = kl_content_local, .backward = kl_content_backward};

/* ---- the method ------------------------------------------------------------------------------ */

static PetscErrorCode mlvae_create(Method *me) {
  PetscFunctionBeginUser;
  const MlOptions *opt = me->opts;
  const Config *cfg = me->cfg;
  MPI_Comm world = me->par->world;
  const int B = me->global_batch, m = me->ae.latents;
  DT_INPUT_CHECK(opt->content >= 1 && opt->content < m, world,
                 "option -mlvae_content: needs 1 <= C < -latents (%d) content latents, leaving at least one style latent; got %d", m,
                 (int)opt->content);
  DT_INPUT_CHECK(!strcmp(cfg->sampler, "grouped"), world,
                 "option -sampler: -method mlvae needs -sampler grouped (batches of whole groups of the archive's /groups); got '%s'",
                 cfg->sampler);
  DT_INPUT_CHECK(cfg->group_size >= 1 && B % cfg->group_size == 0, world,
                 "options -batch and -group_size: -method mlvae needs -batch (%d) a multiple of -group_size (%d)", B,
                 (int)cfg->group_size);
  DT_INPUT_CHECK(!me->chunk || me->chunk % cfg->group_size == 0, world,
                 "options -reproducible_chunk and -group_size: -method mlvae -reproducible needs every group in one "
                 "micro-chunk, -reproducible_chunk (%d) a multiple of -group_size (%d)", me->chunk, (int)cfg->group_size);
  Ml *s;
  PetscCall(PetscCalloc1(1, &s));
  me->state = s;
  s->m = m, s->C = (int)opt->content, s->S = (int)cfg->group_size, s->B = B, s->G = B / s->S, s->chunk = me->chunk;
  s->comm = MPI_COMM_NULL;
  PetscCallMPI(MPI_Comm_size(world, &s->size));
  if (s->size > 1) PetscCallMPI(MPI_Comm_dup(world, &s->comm));
  PetscCall(tensor_alloc_double((size_t)B * 2 * s->C, &s->rows));
  PetscCall(tensor_alloc_double((size_t)s->G * 2 * s->C, &s->ev));
  PetscCall(tensor_alloc_double((size_t)s->G * s->C, &s->dsum));
  me->ae.head.ctx = s;
  const TermOps *rec;
  PetscCall(terms_reconstruction(world, cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_kl_style, opt->style_weight, SITE_CODE, 0, s));
  PetscCall(method_add_term(me, &term_kl_content, opt->content_weight, SITE_CODE, 0, s));
  PetscFunctionReturn(0);
}

static void mlvae_destroy(Method *me) {
  Ml *s = me->state;
  if (!s) return;
  tensor_free_double(&s->rows), tensor_free_double(&s->ev), tensor_free_double(&s->dsum);
  if (s->comm != MPI_COMM_NULL) (void)MPI_Comm_free(&s->comm);
  (void)PetscFree(me->state);
}

static PetscErrorCode mlvae_loss_gradient(Method *me, const Batch *b, int encoded, StepLosses *out) {
  PetscFunctionBeginUser;
  Ml *s = me->state;
  PetscCheck(b->offset >= 0 && b->offset + b->count <= s->B, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "mlvae: batch rows [%d, +%d) outside the global batch of %d", b->offset, b->count, s->B);
  PetscCall(terms_loss_gradient(me, b, encoded, out));
  PetscCallMPI(s->mpi_err);
  s->mpi_err = 0;
  PetscFunctionReturn(0);
}

static int mlvae_content_latents(const void *opts) { return (int)((const MlOptions *)opts)->content; }

const MethodOps method_mlvae = {
  .name = "mlvae",
  .summary = "ML-VAE: grouped samples (-sampler grouped); per-group content latents from the product of the samples' "
             "posteriors, per-sample style latents",
  .options = mlvae_options,
  .noptions = sizeof mlvae_options / sizeof *mlvae_options,
  .options_size = sizeof(MlOptions),
  .structural = {"-mlvae_content"},
  .content_latents = mlvae_content_latents,
  .reproducible = 1,
  .head = &head_mlvae,
  .nlosses = 4,
  .loss_names = {"loss", "rec", "kl_style", "kl_content"},
  .create = mlvae_create,
  .step = method_step_autoencoder,
  .loss_gradient = mlvae_loss_gradient,
  .destroy = mlvae_destroy,
  .nets = method_nets_autoencoder,
};
