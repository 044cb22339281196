/* beta-TCVAE (Chen, Li, Grosse, Duvenaud, "Isolating Sources of Disentanglement in Variational
 * Autoencoders", NeurIPS 2018): a Gaussian head, the reconstruction likelihood, and the KL split
 *   KL = E log q(z|x) - E log p(z) = MI + TC + DWKL,
 *   MI   = E[log q(z|x) - log q(z)]                 (index-code mutual information),
 *   TC   = E[log q(z) - sum_l log q(z_l)]           (total correlation),
 *   DWKL = E[sum_l log q(z_l) - log p(z_l)]         (dimension-wise KL),
 * with beta on TC. The objective implemented is disentanglement_lib's (the large study's,
 * Locatello et al. 2019, vae.py BetaTCVAE):
 *   rec + KL + (beta - 1) TC,
 * KL in closed form. It equals the paper's rec + MI + beta TC + DWKL (alpha = gamma = 1) up to
 * replacing the paper's one-sample estimate of MI + TC + DWKL (= E[log q(z|x) - log p(z)] at the
 * sampled z: the estimated log q(z) cancels) by the exact KL, which has the same expectation and
 * less variance; and it is the study's, whose numbers the comparison is held against.
 *
 * Estimators of log q(z_i) (z_i the sample of row i of the global batch of B, N the data set's
 * size), with l_ijk = log N(z_ik; mu_jk, exp(logvar_jk)):
 *   log q(z_i)   ~ logsumexp_j (log w_ij + sum_k l_ijk),
 *   log q(z_ik)  ~ logsumexp_j (log w_ij + l_ijk),
 *   MWS (minibatch-weighted sampling, the paper's section 4): w_ij = 1/(N B) (disentanglement_lib's
 *        total_correlation drops the constant, which moves TC by (m-1) log(N B) and not its
 *        gradient; we keep it so that tc, mi and dwkl are the estimates themselves);
 *   MSS (minibatch-stratified sampling, the paper's appendix): w_ii = 1/N, w_ij = (N-B+1) /
 *        (N (B-1)) for ONE other row j = (i+1) mod B, 1/(B-1) for the B-2 others (they sum to 1).
 *        The authors' code (rtqichen/beta-tcvae, _log_importance_weight_matrix) strides its
 *        matrix by B instead of B+1 and so sets columns, not the diagonal (its pull request #1);
 *        we use the weights as the paper means them.
 * N is Method.dataset_size (the archive's sample count, set by the run layer); when unknown (0,
 * e.g. in the gradient tests) it is B, and it is never taken below B (a batch is drawn from the
 * N samples).
 *
 * The whole global batch is needed: every rank packs its rows' (mu, logvar, z) and one allgather
 * gives each rank all B x 3m values. Rank r then takes its own rows i as the QUERY rows: it
 * computes l_ijk for its rows i against every j (B_r x B x m log-densities, so B^2 m over all
 * ranks, not per rank), the sums of tc, mi and dwkl over its rows (they ride the step's one
 * statistics allreduce), the gradient w.r.t. its own z_i (only query rows see z) and its
 * query rows' contribution to the gradient w.r.t. EVERY row's (mu_j, logvar_j) [B][2m] in double;
 * one MPI_Reduce_scatter hands each rank the sum for its own rows. Cost per step: B_r B m
 * log-densities and about 2 B_r B m exps per rank, an allgather of B x 3m floats and a
 * reduce-scatter of B x 2m doubles. The gradient is exact (log-sum-exp in double); only the order
 * of the float/double sums depends on the rank count.
 *
 * -reproducible (docs/reproducible.md): the latents come from micro-chunk forwards, the rows'
 * tc, mi and dwkl are kept row by row so the terms sum them chunk by chunk, and the query rows'
 * contributions to the (mu, logvar) gradient are summed in double within a chunk, then exactly
 * over chunks and ranks (one exact allreduce of the whole [B][2m] in place of the reduce-scatter). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/exactsum.h"
#include "disentangle/method.h"
#include "disentangle/tensor.h"

typedef struct {
  PetscReal beta;
  char estimator[8];
} TcOptions;

#define TOPT(field) offsetof(TcOptions, field), sizeof(((TcOptions *)0)->field)

/* Defaults: beta 6, a value of the large study's grid (Locatello et al. 2019, disentanglement_lib
 * config/unsupervised_study_v1/sweep.py: beta_tc_vae.beta in 1, 2, 4, 6, 8, 10), which fixes no
 * single value; MWS, the only estimator of disentanglement_lib (its total_correlation). */
static const OptSpec betatcvae_options[] = {
  {"-betatcvae_beta", OPT_REAL, TOPT(beta), "6", 0, 1e6, NULL,
   "weight of the total correlation: rec + KL + (beta - 1) TC (the large study's grid: 1, 2, 4, 6, 8, 10)", NULL},
  {"-betatcvae_estimator", OPT_STRING, TOPT(estimator), "mws", 0, 0, "mws|mss",
   "estimator of log q(z) over the global batch: minibatch-weighted (mws) or minibatch-stratified (mss) sampling", NULL},
};

typedef struct {
  int mss, m, B;
  double scale;        /* (beta - 1) / B: d(weight * TC) / d(per-row TC) */
  float *own, *all;    /* [B][3m]: mu | logvar | z of this rank's rows, of the global batch */
  double *ivar;        /* [B][m] exp(-logvar) of every row */
  double *ell;         /* [B][m] l_ijk of one query row i */
  double *a;           /* [B] log w_ij + sum_k l_ijk */
  double *lqk;         /* [m] log q(z_ik) */
  double *gkey, *gmine; /* [B][2m] d/d(mu_j | logvar_j) from this rank's queries; this rank's rows' sum */
  float *dz, *dcode;   /* this rank's rows: (beta - 1) dTC/dz, dTC/d(mu | logvar) */
  int *counts;         /* reduce-scatter: doubles per rank */
  double lw_mws, lw_self, lw_next, lw_other; /* the estimator's log w_ij (N >= B) */
  double *rows;        /* [B][3] tc, mi, dwkl of this rank's rows (the terms sum those they are called on) */
  ExactSum exact;      /* -reproducible: gkey summed exactly over chunks and ranks */
} Tc;

static const TermOps term_tc_latents, term_tc_code;

static PetscErrorCode betatcvae_create(Method *me) {
  PetscFunctionBeginUser;
  const TcOptions *opt = me->opts;
  const int B = me->global_batch, m = me->ae.latents;
  Tc *s;
  PetscCall(PetscCalloc1(1, &s));
  me->state = s;
  s->mss = !strcmp(opt->estimator, "mss"), s->m = m, s->B = B;
  s->scale = (opt->beta - 1.0) / B;
  DT_INPUT_CHECK(!s->mss || B >= 2, me->par->world,
                 "option -betatcvae_estimator mss: needs a global batch of at least 2 (-batch %d)", B);
  PetscCall(tensor_alloc((size_t)B * 3 * m, &s->own));
  PetscCall(tensor_alloc((size_t)B * 3 * m, &s->all));
  PetscCall(tensor_alloc((size_t)B * m, &s->dz));
  PetscCall(tensor_alloc((size_t)B * 2 * m, &s->dcode));
  PetscCall(tensor_alloc_double((size_t)B * m, &s->ivar));
  PetscCall(tensor_alloc_double((size_t)B * m, &s->ell));
  PetscCall(tensor_alloc_double((size_t)B, &s->a));
  PetscCall(tensor_alloc_double((size_t)m, &s->lqk));
  PetscCall(tensor_alloc_double((size_t)B * 2 * m, &s->gkey));
  PetscCall(tensor_alloc_double((size_t)B * 2 * m, &s->gmine));
  PetscCall(tensor_alloc_double((size_t)B * 3, &s->rows));
  if (me->chunk) PetscCall(exactsum_create(&s->exact, (size_t)B * 2 * m));
  const int size = me->par->size;
  PetscCall(PetscMalloc1(size, &s->counts));
  for (int p = 0, o; p < size; p++) { /* rows are sliced in rank order: the blocks are contiguous */
    par_batch_slice(B, me->chunk, p, size, &o, &s->counts[p]);
    s->counts[p] *= 2 * m;
  }
  const TermOps *rec;
  PetscCall(terms_reconstruction(me->par->world, me->cfg, &rec));
  PetscCall(method_add_term(me, rec, 1.0, SITE_OUTPUT, 0, NULL));
  PetscCall(method_add_term(me, &term_kl, 1.0, SITE_CODE, 0, NULL));
  PetscCall(method_add_term(me, &term_tc_latents, opt->beta - 1.0, SITE_LATENTS, 0, s));
  /* weight 0: mi and dwkl are reported, not optimised (their sum with tc estimates the KL) */
  PetscCall(method_add_term(me, &term_tc_code, 0.0, SITE_CODE, 0, s));
  PetscFunctionReturn(0);
}

static void betatcvae_destroy(Method *me) {
  Tc *s = me->state;
  if (!s) return;
  tensor_free(&s->own), tensor_free(&s->all), tensor_free(&s->dz), tensor_free(&s->dcode);
  tensor_free_double(&s->ivar), tensor_free_double(&s->ell), tensor_free_double(&s->a), tensor_free_double(&s->lqk);
  tensor_free_double(&s->gkey), tensor_free_double(&s->gmine), tensor_free_double(&s->rows);
  exactsum_free(&s->exact);
  (void)PetscFree(s->counts);
  (void)PetscFree(me->state);
}

#define LOG_2PI 1.8378770664093454836

static void set_weights(Tc *s, double N) {
  const double B = s->B;
  s->lw_mws = -log(N * B);
  s->lw_self = -log(N);
  s->lw_next = B > 1 ? log((N - B + 1) / (N * (B - 1))) : 0.0;
  s->lw_other = B > 1 ? -log(B - 1) : 0.0;
}

static inline double log_weight(const Tc *s, int i, int j) {
  if (!s->mss) return s->lw_mws;
  return j == i ? s->lw_self : j == (i + 1) % s->B ? s->lw_next : s->lw_other;
}

/* One query row i (global index): its tc, mi and dwkl, the gradient w.r.t. its z (dz [m], scaled)
 * and its contributions to gkey. */
static void query_row(Tc *s, int i, double *tc, double *mi, double *dwkl, float *dz) {
  const int B = s->B, m = s->m;
  const float *zi = s->all + (size_t)i * 3 * m + 2 * m;
  double *ell = s->ell, *a = s->a, *lqk = s->lqk;
  double amax = -INFINITY;
  for (int j = 0; j < B; j++) {
    const float *muj = s->all + (size_t)j * 3 * m, *lvj = muj + m;
    const double *iv = s->ivar + (size_t)j * m;
    double sum = 0.0;
    for (int k = 0; k < m; k++) {
      double d = (double)zi[k] - muj[k];
      ell[(size_t)j * m + k] = -0.5 * (LOG_2PI + lvj[k] + d * d * iv[k]);
      sum += ell[(size_t)j * m + k];
    }
    a[j] = log_weight(s, i, j) + sum;
    amax = fmax(amax, a[j]);
  }
  double se = 0.0;
  for (int j = 0; j < B; j++) se += exp(a[j] - amax);
  const double lq = amax + log(se); /* log q(z_i) */
  double sumk = 0.0, prior = 0.0, self = 0.0;
  for (int k = 0; k < m; k++) {
    double bmax = -INFINITY;
    for (int j = 0; j < B; j++) bmax = fmax(bmax, log_weight(s, i, j) + ell[(size_t)j * m + k]);
    double sek = 0.0;
    for (int j = 0; j < B; j++) sek += exp(log_weight(s, i, j) + ell[(size_t)j * m + k] - bmax);
    lqk[k] = bmax + log(sek);
    sumk += lqk[k];
    prior += -0.5 * (LOG_2PI + (double)zi[k] * zi[k]);
    self += ell[(size_t)i * m + k];
  }
  *tc = lq - sumk, *mi = self - lq, *dwkl = sumk - prior;
  /* d tc_i / d l_ijk = p_ij - r_ijk: softmax over j of a_ij, and of log w_ij + l_ijk per k */
  double gz[m];
  for (int k = 0; k < m; k++) gz[k] = 0.0;
  for (int j = 0; j < B; j++) {
    const float *muj = s->all + (size_t)j * 3 * m;
    const double *iv = s->ivar + (size_t)j * m;
    const double lw = log_weight(s, i, j), p = exp(a[j] - lq);
    double *gmu = s->gkey + (size_t)j * 2 * m, *glv = gmu + m;
    for (int k = 0; k < m; k++) {
      double g = s->scale * (p - exp(lw + ell[(size_t)j * m + k] - lqk[k]));
      double u = ((double)zi[k] - muj[k]) * iv[k]; /* d l / d mu_jk = -d l / d z_ik */
      gz[k] -= g * u;
      gmu[k] += g * u;
      glv[k] += g * 0.5 * (u * ((double)zi[k] - muj[k]) - 1.0);
    }
  }
  for (int k = 0; k < m; k++) dz[k] = (float)gz[k];
}

/* Rows [row0, row0 + n) of this rank's (mu, logvar, z), from the last forward, into s->own. */
static void pack_rows(Method *me, int row0, int n) {
  Tc *s = me->state;
  const int m = s->m;
  const float *code = autoencoder_code(&me->ae), *z = me->ae.z;
  for (int r = 0; r < n; r++) {
    memcpy(s->own + (size_t)(row0 + r) * 3 * m, code + (size_t)r * 2 * m, (size_t)2 * m * sizeof(float));
    memcpy(s->own + (size_t)(row0 + r) * 3 * m + 2 * m, z + (size_t)r * m, (size_t)m * sizeof(float));
  }
}

/* Query rows [r0, r1) of this rank's (global index off + r): their tc, mi, dwkl and dz, their
 * contributions added to gkey. */
static void query_rows(Tc *s, int off, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    double *v = s->rows + (size_t)r * 3;
    query_row(s, off + r, &v[0], &v[1], &v[2], s->dz + (size_t)r * s->m);
  }
}

/* Everything the two terms need, from this rank's packed rows: the gather, this rank's query
 * rows, the reduce-scatter of the (mu, logvar) gradient. */
static PetscErrorCode tc_prepare(Method *me, const Batch *b) {
  PetscFunctionBeginUser;
  Tc *s = me->state;
  const int B = s->B, m = s->m, count = b->count;
  int off, cnt;
  par_batch_slice(B, me->chunk, me->par->rank, me->par->size, &off, &cnt);
  PetscCheck(off == b->offset && cnt == count, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "betatcvae: batch rows [%d, +%d) are not this rank's slice [%d, +%d) of the global batch", b->offset, count, off, cnt);
  if (me->par->size > 1) PetscCall(par_allgather_batch_rows(s->own, s->all, B, me->chunk, 3 * m, me->par->world));
  else memcpy(s->all, s->own, (size_t)B * 3 * m * sizeof(float));
  for (int j = 0; j < B; j++)
    for (int k = 0; k < m; k++) s->ivar[(size_t)j * m + k] = exp(-(double)s->all[(size_t)j * 3 * m + m + k]);
  set_weights(s, PetscMax((double)me->dataset_size, (double)B));
  double *mine = s->gkey + (size_t)off * 2 * m;
  if (me->chunk) {
    const int c = me->chunk;
    exactsum_zero(&s->exact);
    for (int r = 0; r < count; r += c) {
      memset(s->gkey, 0, (size_t)B * 2 * m * sizeof *s->gkey);
      query_rows(s, off, r, r + c);
      exactsum_add_doubles(&s->exact, s->gkey);
    }
    PetscCall(exactsum_allreduce(&s->exact, me->par->world));
    exactsum_doubles(&s->exact, s->gkey);
  } else {
    memset(s->gkey, 0, (size_t)B * 2 * m * sizeof *s->gkey);
    query_rows(s, off, 0, count);
  }
  if (me->par->size > 1 && !me->chunk) {
    PetscCallMPI(MPI_Reduce_scatter(s->gkey, s->gmine, s->counts, MPI_DOUBLE, MPI_SUM, me->par->world));
    mine = s->gmine;
  }
  for (long q = 0; q < (long)count * 2 * m; q++) s->dcode[q] = (float)mine[q];
  PetscFunctionReturn(0);
}

/* ---- the terms: they place what tc_prepare computed -------------------------------------- */

static int tc_latents_nstats(const Term *t, const Method *me) {
  (void)t, (void)me;
  return 1;
}

/* The sum of one of the rows' values over the rows [me->row, me->row + count) the terms are on. */
static double row_sum(const Tc *s, const Method *me, int count, int v) {
  double sum = 0.0;
  for (int r = me->row; r < me->row + count; r++) sum += s->rows[(size_t)r * 3 + v];
  return sum;
}

static void tc_latents_local(Term *t, Method *me, const float *x, int count, double *stats) {
  (void)x;
  stats[0] = row_sum(t->state, me, count, 0);
}

static void tc_latents_backward(Term *t, Method *me, const float *x, int count, const double *stats, double *values,
                                float *dz) {
  (void)x;
  const Tc *s = t->state;
  const float *mine = s->dz + (size_t)me->row * s->m;
  for (long q = 0; q < (long)count * s->m; q++) dz[q] += mine[q];
  values[0] = stats[0] / me->global_batch;
}

/* (beta - 1) TC's gradient at z, the head's output (weight beta - 1, already in it). */
static const TermOps term_tc_latents = {.name = "tc", .nvalues = 1, .value_names = {"tc"}, .nstats = tc_latents_nstats,
                                        .local = tc_latents_local, .backward = tc_latents_backward};

static int tc_code_nstats(const Term *t, const Method *me) {
  (void)t, (void)me;
  return 2;
}

static void tc_code_local(Term *t, Method *me, const float *x, int count, double *stats) {
  (void)x;
  stats[0] = row_sum(t->state, me, count, 1), stats[1] = row_sum(t->state, me, count, 2);
}

static void tc_code_backward(Term *t, Method *me, const float *x, int count, const double *stats, double *values,
                             float *dcode) {
  (void)x;
  const Tc *s = t->state;
  const float *mine = s->dcode + (size_t)me->row * 2 * s->m;
  for (long q = 0; q < (long)count * 2 * s->m; q++) dcode[q] += mine[q];
  values[0] = stats[0] / me->global_batch;
  values[1] = stats[1] / me->global_batch;
}

/* (beta - 1) TC's gradient at (mu, logvar) through the estimator's densities; reports mi and dwkl
 * (its own weight is 0: they are not optimised). */
static const TermOps term_tc_code = {.name = "tc_code", .nvalues = 2, .value_names = {"mi", "dwkl"}, .nstats = tc_code_nstats,
                                     .local = tc_code_local, .backward = tc_code_backward};

static PetscErrorCode betatcvae_loss_gradient(Method *me, const Batch *b, int encoded, StepLosses *out) {
  PetscFunctionBeginUser;
  if (me->chunk) /* -reproducible: the rows as the chunked terms pass forwards them */
    for (int k = 0; k < b->count / me->chunk; k++) {
      method_forward_chunk(me, b, k);
      pack_rows(me, k * me->chunk, me->chunk);
    }
  else {
    if (!encoded) {
      head_set_rows(&me->ae.head, b->step, b->offset);
      autoencoder_forward(&me->ae, b->x, b->count, NULL, NULL);
    }
    pack_rows(me, 0, b->count);
  }
  PetscCall(tc_prepare(me, b));
  PetscCall(terms_loss_gradient(me, b, 1, out));
  PetscFunctionReturn(0);
}

const MethodOps method_betatcvae = {
  .name = "betatcvae",
  .summary = "beta-TCVAE: Gaussian latents, reconstruction + KL + (beta - 1) total correlation (MWS or MSS estimator)",
  .options = betatcvae_options,
  .noptions = sizeof betatcvae_options / sizeof *betatcvae_options,
  .options_size = sizeof(TcOptions),
  .head = &head_gaussian,
  .nlosses = 6,
  .loss_names = {"loss", "rec", "kl", "tc", "mi", "dwkl"},
  .create = betatcvae_create,
  .step = method_step_autoencoder,
  .loss_gradient = betatcvae_loss_gradient,
  .destroy = betatcvae_destroy,
  .nets = method_nets_autoencoder,
  .reproducible = 1,
};
