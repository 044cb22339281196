/* The step's objective as a sum of loss terms over one statistics allreduce (terms.h). */
#include "disentangle/terms.h"

#include <math.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/layers.h"
#include "disentangle/method.h"
#include "disentangle/phases.h"

/* ---- reconstruction: squared error, as MSE/2 or as the Gaussian likelihood ------------------- */

static int mse_nstats(const Term *t, const Method *m) {
  (void)t, (void)m;
  return 1;
}

/* The squared-error terms differ only in what the sum is averaged over: MSE/2 over every value
 * of the global batch, the Gaussian likelihood over its samples (summed over their values). */
static double squared_error_per(const Term *t, const Method *m) {
  return t->ops == &term_mse ? (double)m->global_batch * m->ae.features : (double)m->global_batch;
}

/* The gradient needs no global statistic, so it is written here with the sum (one pass over
 * the output); backward only reads the value. */
static void squared_error_local(Term *t, Method *m, const float *x, int count, double *stats) {
  Autoencoder *ae = &m->ae;
  float scale = (float)(t->weight / squared_error_per(t, m));
  stats[0] = mse_forward_backward(ae->dxhat, ae->dec.acts[ae->dec.nlayers - 1], x, (long)count * ae->features, scale);
}

static void squared_error_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values,
                                   float *grad) {
  (void)x, (void)count, (void)grad;
  values[0] = 0.5 * stats[0] / squared_error_per(t, m);
}

const TermOps term_mse = {.name = "mse", .nvalues = 1, .value_names = {"rec"}, .sets_output_gradient = 1,
                          .nstats = mse_nstats, .local = squared_error_local, .backward = squared_error_backward};

const TermOps term_gaussian = {.name = "gaussian", .nvalues = 1, .value_names = {"rec"}, .sets_output_gradient = 1,
                               .nstats = mse_nstats, .local = squared_error_local, .backward = squared_error_backward};

/* ---- reconstruction: Bernoulli cross-entropy on the decoder's logits ------------------------- */

/* Summed over the features, averaged over the global batch (the disentanglement literature's
 * convention for binary images); like MSE it needs no global statistic, so the gradient
 * weight * (sigmoid(l) - x) / B is written here. */
static void bernoulli_local(Term *t, Method *m, const float *x, int count, double *stats) {
  Autoencoder *ae = &m->ae;
  float scale = (float)(t->weight / (double)m->global_batch);
  stats[0] = bernoulli_forward_backward(ae->dxhat, ae->dec.acts[ae->dec.nlayers - 1], x, (long)count * ae->features, scale);
}

static void bernoulli_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values,
                               float *grad) {
  (void)t, (void)x, (void)count, (void)grad;
  values[0] = stats[0] / m->global_batch;
}

const TermOps term_bernoulli = {.name = "bernoulli", .nvalues = 1, .value_names = {"rec"}, .sets_output_gradient = 1,
                                .nstats = mse_nstats, .local = bernoulli_local, .backward = bernoulli_backward};

PetscErrorCode terms_reconstruction(MPI_Comm comm, const Config *cfg, const TermOps **ops) {
  PetscFunctionBeginUser;
  const char *rec_loss = cfg->rec_loss;
  if (!rec_loss[0] || !strcmp(rec_loss, "mse")) *ops = &term_mse;
  else if (!strcmp(rec_loss, "gaussian")) *ops = &term_gaussian;
  else if (!strcmp(rec_loss, "bernoulli")) *ops = &term_bernoulli;
  else DT_INPUT_ERROR(comm, "option -rec_loss: unknown reconstruction loss '%s'; allowed: mse, gaussian, bernoulli", rec_loss);
  /* cross-entropy against normalised values (outside [0,1]) is not a likelihood, and its minimum
   * is not at xhat = x: refuse rather than train on it */
  DT_INPUT_CHECK(*ops != &term_bernoulli || (cfg->data_mean == 0 && cfg->data_std == 1), comm,
                 "option -rec_loss bernoulli: needs the data unnormalised, in [0,1]; give -data_mean 0 -data_std 1 (got %g, %g)",
                 (double)cfg->data_mean, (double)cfg->data_std);
  PetscFunctionReturn(0);
}

/* ---- KL(N(mu, sigma^2) || N(0, 1)) of a Gaussian head, at the code [mu | log sigma^2] ------- */

void kl_per_latent(const float *code, int n, int m, double *kl) {
  for (int j = 0; j < m; j++) kl[j] = 0.0;
  for (int r = 0; r < n; r++) {
    const float *mu = code + (size_t)r * 2 * m, *logvar = mu + m;
    for (int j = 0; j < m; j++) kl[j] += 0.5 * ((double)mu[j] * mu[j] + exp((double)logvar[j]) - logvar[j] - 1.0);
  }
}

static int kl_nstats(const Term *t, const Method *m) {
  (void)t, (void)m;
  return 1;
}

static void kl_local(Term *t, Method *m, const float *x, int count, double *stats) {
  (void)t, (void)x;
  const int lat = m->ae.latents;
  double kl[lat];
  kl_per_latent(autoencoder_code(&m->ae), count, lat, kl);
  stats[0] = 0.0;
  for (int j = 0; j < lat; j++) stats[0] += kl[j];
}

/* grad += w/B (mu, (exp(log sigma^2) - 1)/2) for each row: d(w KL/B) */
static void kl_add_gradient(const Method *m, const float *code, int count, double w, float *grad) {
  const int lat = m->ae.latents;
  const float s = (float)(w / m->global_batch);
  for (int r = 0; r < count; r++) {
    const float *mu = code + (size_t)r * 2 * lat, *logvar = mu + lat;
    float *gmu = grad + (size_t)r * 2 * lat, *glogvar = gmu + lat;
    for (int j = 0; j < lat; j++) {
      gmu[j] += s * mu[j];
      glogvar[j] += s * 0.5f * (expf(logvar[j]) - 1.0f);
    }
  }
}

static void kl_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values, float *grad) {
  (void)x;
  kl_add_gradient(m, autoencoder_code(&m->ae), count, t->weight, grad);
  values[0] = stats[0] / m->global_batch;
}

const TermOps term_kl = {.name = "kl", .nvalues = 1, .value_names = {"kl"}, .nstats = kl_nstats, .local = kl_local, .backward = kl_backward};

/* |KL - C|: its gradient is sign(KL - C) times KL's, so it needs the GLOBAL KL first. */
static void kl_capacity_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values,
                                 float *grad) {
  (void)x;
  const KlCapacity *cap = t->state;
  double kl = stats[0] / m->global_batch;
  double c = cap->c_max * (cap->c_steps > 0 ? PetscMin(1.0, (double)m->step / (double)cap->c_steps) : 1.0);
  double sign = kl > c ? 1.0 : kl < c ? -1.0 : 0.0;
  kl_add_gradient(m, autoencoder_code(&m->ae), count, t->weight * sign, grad);
  values[0] = fabs(kl - c);
  values[1] = kl;
}

const TermOps term_kl_capacity = {.name = "kl_capacity", .nvalues = 2, .value_names = {"kl_gap", "kl"}, .nstats = kl_nstats,
                                  .local = kl_local, .backward = kl_capacity_backward};

/* ---- the pass over all terms ------------------------------------------------------------------ */

static float *site_gradient(Method *m, const Term *t) {
  switch (t->site) {
  case SITE_OUTPUT: return m->ae.dxhat;
  case SITE_LATENTS: return m->ae.dz;
  case SITE_CODE: return m->ae.dcode;
  case SITE_ENCODER: return m->site_grad[0][t->layer];
  case SITE_DECODER: return m->site_grad[1][t->layer];
  }
  return NULL;
}

static long site_width(const Method *m, const Term *t) {
  switch (t->site) {
  case SITE_OUTPUT: return m->ae.features;
  case SITE_LATENTS: return m->ae.latents;
  case SITE_CODE: return head_code_width(&m->ae.head);
  case SITE_ENCODER: return shape_size(&m->ae.enc.layers[t->layer].out);
  case SITE_DECODER: return shape_size(&m->ae.dec.layers[t->layer].out);
  }
  return 0;
}

/* Add the gradients of the terms at `site` (and clear nothing else). */
static void site_backward(Method *m, TermSite site, const float *x, int count, double *values) {
  (void)PetscLogEventBegin(dt_events.terms, 0, 0, 0, 0);
  for (int k = 0, v = 1; k < m->nterms; v += m->terms[k].ops->nvalues, k++) {
    Term *t = &m->terms[k];
    if (t->site != site) continue;
    t->ops->backward(t, m, x, count, m->stats + t->offset, values + v, site_gradient(m, t));
  }
  (void)PetscLogEventEnd(dt_events.terms, 0, 0, 0, 0);
}

/* Point the nets at the gradients of terms on inner layers, cleared for this step. */
static void inject_sites(Method *m, int count, int on) {
  for (int k = 0; k < m->nterms; k++) {
    const Term *t = &m->terms[k];
    if (t->site != SITE_ENCODER && t->site != SITE_DECODER) continue;
    Net *net = t->site == SITE_ENCODER ? &m->ae.enc : &m->ae.dec;
    float *g = site_gradient(m, t);
    if (on && !net->inject[t->layer]) memset(g, 0, (size_t)count * site_width(m, t) * sizeof *g);
    net->inject[t->layer] = on ? g : NULL;
  }
}

static void terms_local(Method *m, const float *x, int count, double *stats) {
  (void)PetscLogEventBegin(dt_events.terms, 0, 0, 0, 0);
  for (int k = 0; k < m->nterms; k++) m->terms[k].ops->local(&m->terms[k], m, x, count, stats + m->terms[k].offset);
  (void)PetscLogEventEnd(dt_events.terms, 0, 0, 0, 0);
}

void terms_finish(const Method *m, double *values, StepLosses *out) {
  out->n = 1;
  for (int k = 0; k < m->nterms; k++) {
    values[0] += m->terms[k].weight * values[out->n];
    out->n += m->terms[k].ops->nvalues;
  }
  memcpy(out->value, values, sizeof out->value);
}

/* Backward from the terms' sites through decoder, head and encoder for count rows (the nets
 * hold their forward; m->stats the global statistics). */
static void terms_backward(Method *m, const float *x, int count, double *values) {
  Autoencoder *ae = &m->ae;
  inject_sites(m, count, 1);
  site_backward(m, SITE_OUTPUT, x, count, values);
  site_backward(m, SITE_DECODER, x, count, values);
  autoencoder_backward_decoder(ae, count); /* dz = d/dz of everything downstream */
  site_backward(m, SITE_LATENTS, x, count, values);
  autoencoder_backward_head(ae, count);
  site_backward(m, SITE_CODE, x, count, values);
  site_backward(m, SITE_ENCODER, x, count, values);
  autoencoder_backward_encoder(ae, x, count);
  inject_sites(m, count, 0);
}

/* -reproducible (docs/reproducible.md): the rank's rows in micro-chunks of m->chunk rows, so
 * every GEMM has the same shape on any rank count, and every sum across chunks exact.
 *   1. each chunk forward, its terms' local sums added to an exact accumulator; one exact
 *      allreduce gives the global statistics, the same bits on every rank count;
 *   2. each chunk, last first, forward again (the last one still is) with its local sums
 *      redone into a scratch slot (they also set what backward reads: the output gradient, an
 *      adversary's activations), backward into a zeroed gradient block, which is added to an
 *      exact accumulator; one exact allreduce, rounded to float, is the batch's gradient.
 * It costs one more forward of all but one chunk, the smaller GEMMs, and the digits. */
static int sets_output_gradient(const Method *m) {
  int set = 0;
  for (int k = 0; k < m->nterms; k++) set |= m->terms[k].ops->sets_output_gradient;
  return set;
}

void terms_chunk_forward(Method *m, const Batch *b, int k, double *stats) {
  const int c = m->chunk;
  method_forward_chunk(m, b, k);
  if (!sets_output_gradient(m)) memset(m->ae.dxhat, 0, (size_t)c * m->ae.features * sizeof *m->ae.dxhat);
  m->row = k * c;
  terms_local(m, b->x + (size_t)k * c * m->ae.features, c, stats);
}

void terms_chunk_backward(Method *m, const Batch *b, int k, double *values) {
  const int c = m->chunk;
  m->row = k * c;
  memcpy(m->stats, m->global_stats, (size_t)m->nstats * sizeof *m->stats);
  memset(m->ae.grads, 0, m->ae.nparams * sizeof *m->ae.grads);
  terms_backward(m, b->x + (size_t)k * c * m->ae.features, c, values);
}

PetscErrorCode terms_chunk_statistics(Method *m, const Batch *b) {
  PetscFunctionBeginUser;
  PetscCheck(b->count % m->chunk == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "%d rows are not whole chunks of %d", b->count,
             m->chunk);
  exactsum_zero(&m->exact_stats);
  for (int k = 0; k < b->count / m->chunk; k++) {
    terms_chunk_forward(m, b, k, m->stats);
    exactsum_add_doubles(&m->exact_stats, m->stats);
  }
  PetscCall(exactsum_allreduce(&m->exact_stats, m->par->world));
  exactsum_doubles(&m->exact_stats, m->global_stats);
  PetscFunctionReturn(0);
}

static PetscErrorCode terms_loss_gradient_chunked(Method *m, const Batch *b, StepLosses *out) {
  PetscFunctionBeginUser;
  const int nchunks = b->count / m->chunk;
  double values[METHOD_MAX_LOSSES] = {0};
  PetscCall(terms_chunk_statistics(m, b));
  exactfloats_begin(&m->exact_grads);
  for (int k = nchunks - 1; k >= 0; k--) {
    if (k < nchunks - 1) terms_chunk_forward(m, b, k, m->scratch_stats); /* the last chunk still is */
    terms_chunk_backward(m, b, k, values);
    PetscCall(exactfloats_add(&m->exact_grads, m->ae.grads));
  }
  PetscCall(exactfloats_finish(&m->exact_grads, m->par->world, m->global_batch / m->chunk, m->ae.grads));
  m->row = 0;
  terms_finish(m, values, out);
  PetscFunctionReturn(0);
}

PetscErrorCode terms_loss_gradient(Method *m, const Batch *b, int encoded, StepLosses *out) {
  PetscFunctionBeginUser;
  m->step = b->step;
  if (m->chunk) { /* every chunk forwarded here, whatever the caller did */
    PetscCall(terms_loss_gradient_chunked(m, b, out));
    PetscFunctionReturn(0);
  }
  Autoencoder *ae = &m->ae;
  const float *x = b->x;
  const int count = b->count;
  double values[METHOD_MAX_LOSSES] = {0};
  if (!encoded) {
    head_set_rows(&ae->head, b->step, b->offset);
    autoencoder_forward(ae, x, count, NULL, NULL);
  }
  int set = 0;
  for (int k = 0; k < m->nterms; k++) set |= m->terms[k].ops->sets_output_gradient;
  if (!set) memset(ae->dxhat, 0, (size_t)count * ae->features * sizeof *ae->dxhat);
  terms_local(m, x, count, m->stats);
  PetscCall(par_allreduce_stats(m->stats, m->nstats, m->par->world));

  paramset_sync_begin(&m->sync); /* backward hands each finished layer's gradients to the allreduce */
  terms_backward(m, x, count, values);
  PetscCall(paramset_sync_finish(&m->sync));
  terms_finish(m, values, out);
  PetscFunctionReturn(0);
}
