/* L_Sigma and the L1 activity penalty on any layer of any method (lsigma.h). */
#include "disentangle/lsigma.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/method.h"
#include "disentangle/tensor.h"

/* ---- the arithmetic ------------------------------------------------------------------------- */

long lsigma_nstats(int p) { return p + (long)p * (p + 1) / 2; }

void lsigma_local_sums(const float *h, int count, int p, double *stats, double *work) {
  memset(stats, 0, (size_t)lsigma_nstats(p) * sizeof *stats);
  if (count <= 0) return;
  for (long i = 0; i < (long)count * p; i++) work[i] = h[i];
  for (int r = 0; r < count; r++)
    for (int j = 0; j < p; j++) stats[j] += work[(size_t)r * p + j];
  /* the upper triangle of H^T H in double, packed row by row behind the sums (the slot has no
   * room for the full p x p product, so it is formed row by row) */
  double *tri = stats + p;
  for (int i = 0; i < p; i++) {
    /* row i of the upper triangle: sum_r h_ri h_rj for j >= i */
    cblas_dgemv(CblasRowMajor, CblasTrans, count, p - i, 1.0, work + i, p, work + i, p, 0.0, tri, 1);
    tri += p - i;
  }
}

double lsigma_from_sums(const double *stats, int p, long N, double *mean, double *cov) {
  for (int i = 0; i < p; i++) mean[i] = stats[i] / (double)N;
  const double *tri = stats + p;
  double sum = 0.0;
  for (int i = 0; i < p; i++) {
    for (int j = i; j < p; j++) {
      double c = (tri[j - i] - (double)N * mean[i] * mean[j]) / (double)(N - 1);
      cov[(size_t)i * p + j] = cov[(size_t)j * p + i] = c;
      sum += (i == j ? 1.0 : 2.0) * fabs(c);
    }
    tri += p - i;
  }
  return sum / ((double)p * p);
}

void lsigma_add_gradient(const float *h, int count, int p, long N, const double *mean, const double *cov, double weight,
                         float *grad, float *work) {
  if (count <= 0 || weight == 0.0) return;
  float *centred = work, *sign = work + (size_t)count * p;
  for (int r = 0; r < count; r++)
    for (int j = 0; j < p; j++) centred[(size_t)r * p + j] = (float)((double)h[(size_t)r * p + j] - mean[j]);
  for (long k = 0; k < (long)p * p; k++) sign[k] = cov[k] > 0 ? 1.0f : cov[k] < 0 ? -1.0f : 0.0f;
  float scale = (float)(weight * 2.0 / ((double)p * p * (double)(N - 1)));
  /* sign(C) is symmetric: (h - mean) sign(C) row by row is one product */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, count, p, p, scale, centred, p, sign, p, 1.0f, grad, p);
}

/* ---- the terms -------------------------------------------------------------------------------- */

typedef struct {
  char name[32]; /* the layer, as -lsigma_layers names it */
  int width;
  double *mean, *cov, *work; /* [p], [p][p], [max rows][p] */
  float *fwork;              /* [max rows][p] + [p][p] */
} RegLayer;

typedef struct {
  int nlayers;
  RegLayer layer[LSIGMA_MAX_LAYERS];
} Regularisers;

/* The activations of the term's layer as the last forward left them: [count][width]. */
static const float *site_activations(const Method *m, const Term *t) {
  switch (t->site) {
  case SITE_LATENTS: return m->ae.z;
  case SITE_CODE: return autoencoder_code(&m->ae);
  case SITE_ENCODER: return m->ae.enc.acts[t->layer];
  case SITE_DECODER: return m->ae.dec.acts[t->layer];
  case SITE_OUTPUT: return m->ae.dec.acts[m->ae.dec.nlayers - 1];
  }
  return NULL;
}

static int lsigma_term_nstats(const Term *t, const Method *m) {
  (void)m;
  return (int)lsigma_nstats(((const RegLayer *)t->state)->width);
}

static void lsigma_term_local(Term *t, Method *m, const float *x, int count, double *stats) {
  (void)x;
  RegLayer *L = t->state;
  lsigma_local_sums(site_activations(m, t), count, L->width, stats, L->work);
}

static void lsigma_term_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values,
                                 float *grad) {
  (void)x;
  RegLayer *L = t->state;
  values[0] = lsigma_from_sums(stats, L->width, m->global_batch, L->mean, L->cov);
  lsigma_add_gradient(site_activations(m, t), count, L->width, m->global_batch, L->mean, L->cov, t->weight, grad, L->fwork);
}

static const TermOps term_lsigma = {.name = "lsigma", .nvalues = 1, .value_names = {"lsigma"}, .nstats = lsigma_term_nstats,
                                    .local = lsigma_term_local, .backward = lsigma_term_backward};

static int l1_term_nstats(const Term *t, const Method *m) {
  (void)t, (void)m;
  return 1;
}

static void l1_term_local(Term *t, Method *m, const float *x, int count, double *stats) {
  (void)x;
  const RegLayer *L = t->state;
  const float *h = site_activations(m, t);
  double s = 0.0;
  for (long i = 0; i < (long)count * L->width; i++) s += fabs((double)h[i]);
  stats[0] = s;
}

static void l1_term_backward(Term *t, Method *m, const float *x, int count, const double *stats, double *values,
                             float *grad) {
  (void)x;
  const RegLayer *L = t->state;
  const float *h = site_activations(m, t);
  const double per = (double)m->global_batch * L->width;
  const float s = (float)(t->weight / per);
  for (long i = 0; i < (long)count * L->width; i++) grad[i] += h[i] > 0 ? s : h[i] < 0 ? -s : 0.0f;
  values[0] = stats[0] / per;
}

static const TermOps term_l1 = {.name = "l1", .nvalues = 1, .value_names = {"l1"}, .nstats = l1_term_nstats,
                                .local = l1_term_local, .backward = l1_term_backward};

/* ---- layers by name ------------------------------------------------------------------------- */

/* The output layer of hidden layer k (0-based) of a net: the k-th parametrised layer followed by
 * its element-wise activations; -1 when the net has no such hidden layer (its last parametrised
 * layer is its output, not hidden). */
static int hidden_layer(const Net *net, int k, int *nhidden) {
  int found = -1, seen = 0, nparam = 0;
  for (int l = 0; l < net->nlayers; l++) nparam += net->layers[l].ntensors > 0;
  *nhidden = nparam > 0 ? nparam - 1 : 0;
  if (k < 0 || k >= *nhidden) return -1;
  for (int l = 0; l < net->nlayers; l++) {
    if (net->layers[l].ntensors == 0) continue;
    if (seen++ != k) continue;
    found = l;
    while (found + 1 < net->nlayers && net->layers[found + 1].ops->in_place && net->layers[found + 1].ops != &layer_reshape)
      found++;
    break;
  }
  return found;
}

PetscErrorCode regularisers_find_layer(Method *m, const char *name, TermSite *site, int *layer, int *width) {
  PetscFunctionBeginUser;
  const Autoencoder *ae = &m->ae;
  int ne = 0, nd = 0, k = 0;
  char tail;
  hidden_layer(&ae->enc, 0, &ne);
  hidden_layer(&ae->dec, 0, &nd);
  *layer = 0;
  if (!strcmp(name, "latents")) *site = SITE_LATENTS, *width = ae->latents;
  else if (!strcmp(name, "code")) *site = SITE_CODE, *width = head_code_width(&ae->head);
  else if ((sscanf(name, "enc%d%c", &k, &tail) == 1 || sscanf(name, "dec%d%c", &k, &tail) == 1) && k >= 1) {
    int enc = name[0] == 'e', n;
    const Net *net = enc ? &ae->enc : &ae->dec;
    *layer = hidden_layer(net, k - 1, &n);
    DT_INPUT_CHECK(*layer >= 0, m->par->world,
                   "option -lsigma_layers: no layer '%s': the %s has %d hidden layer(s) (%s1..%s%d); layers: latents, code, enc1..enc%d, dec1..dec%d",
                   name, net->name, n, enc ? "enc" : "dec", enc ? "enc" : "dec", n, ne, nd);
    *site = enc ? SITE_ENCODER : SITE_DECODER;
    *width = (int)shape_size(&net->layers[*layer].out);
  } else
    DT_INPUT_ERROR(m->par->world, "option -lsigma_layers: unknown layer '%s'; allowed: latents, code, enc1..enc%d, dec1..dec%d",
                   name, ne, nd);
  DT_INPUT_CHECK(*width <= LSIGMA_MAX_UNITS, m->par->world,
                 "option -lsigma_layers: layer '%s' has %d units; the regularisers take at most %d (L_Sigma keeps p^2/2 sums a step)",
                 name, *width, LSIGMA_MAX_UNITS);
  PetscFunctionReturn(0);
}

static PetscErrorCode add_loss_name(Method *m, const char *prefix, const char *layer) {
  PetscFunctionBeginUser;
  DT_INPUT_CHECK(m->nlosses < METHOD_MAX_LOSSES, m->par->world,
                 "options -lsigma_layers/-lsigma_lambda/-l1_lambda: method %s reports at most %d losses; %s on '%s' would be one more (name fewer layers)",
                 m->ops->name, METHOD_MAX_LOSSES, prefix, layer);
  char *buf = m->loss_name_buf[m->nlosses];
  snprintf(buf, sizeof m->loss_name_buf[0], "%s_%s", prefix, layer);
  m->loss_names[m->nlosses++] = buf;
  PetscFunctionReturn(0);
}

PetscErrorCode regularisers_attach(Method *m) {
  PetscFunctionBeginUser;
  const Config *cfg = m->cfg;
  if (cfg->lsigma_lambda == 0 && cfg->l1_lambda == 0) PetscFunctionReturn(0);
  DT_INPUT_CHECK(!cfg->lsigma_lambda || m->global_batch >= 2, m->par->world,
                 "option -lsigma_lambda: the covariance of a batch needs -batch of at least 2 (got %d)", m->global_batch);
  Regularisers *R;
  PetscCall(PetscCalloc1(1, &R));
  m->regularisers = R;
  char list[CONFIG_WORD_LEN];
  snprintf(list, sizeof list, "%s", cfg->lsigma_layers);
  char *save = NULL;
  for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    DT_INPUT_CHECK(R->nlayers < LSIGMA_MAX_LAYERS, m->par->world, "option -lsigma_layers: at most %d layers (got '%s')",
                   LSIGMA_MAX_LAYERS, cfg->lsigma_layers);
    for (int k = 0; k < R->nlayers; k++)
      DT_INPUT_CHECK(strcmp(R->layer[k].name, name), m->par->world, "option -lsigma_layers: layer '%s' named twice", name);
    RegLayer *L = &R->layer[R->nlayers++];
    TermSite site;
    int layer;
    snprintf(L->name, sizeof L->name, "%s", name);
    PetscCall(regularisers_find_layer(m, name, &site, &layer, &L->width));
    const int p = L->width, rows = m->global_batch;
    if (cfg->lsigma_lambda) {
      PetscCall(tensor_alloc_double((size_t)p, &L->mean));
      PetscCall(tensor_alloc_double((size_t)p * p, &L->cov));
      PetscCall(tensor_alloc_double((size_t)rows * p, &L->work));
      PetscCall(tensor_alloc((size_t)rows * p + (size_t)p * p, &L->fwork));
      PetscCall(method_add_term(m, &term_lsigma, (double)cfg->lsigma_lambda, site, layer, L));
      PetscCall(add_loss_name(m, "lsigma", name));
    }
    if (cfg->l1_lambda) {
      PetscCall(method_add_term(m, &term_l1, (double)cfg->l1_lambda, site, layer, L));
      PetscCall(add_loss_name(m, "l1", name));
    }
  }
  DT_INPUT_CHECK(R->nlayers > 0, m->par->world, "option -lsigma_layers: no layer named (e.g. latents, enc1)");
  PetscFunctionReturn(0);
}

void regularisers_free(Method *m) {
  Regularisers *R = m->regularisers;
  if (!R) return;
  for (int k = 0; k < R->nlayers; k++) {
    tensor_free_double(&R->layer[k].mean);
    tensor_free_double(&R->layer[k].cov);
    tensor_free_double(&R->layer[k].work);
    tensor_free(&R->layer[k].fwork);
  }
  PetscFree(R);
  m->regularisers = NULL;
}
