/* The heads between encoder and decoder (head.h). */
#include "disentangle/head.h"

#include <math.h>
#include <string.h>

#include "disentangle/layers.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"

/* ---- deterministic ----------------------------------------------------------------------- */

static void sigmoid_head_forward(Head *h, const float *code, int n, float *z) {
  sigmoid_forward(z, code, (long)n * h->latents);
}
static void sigmoid_head_backward(Head *h, const float *code, const float *z, const float *dz, int n, float *dcode) {
  (void)code;
  sigmoid_backward(dcode, dz, z, (long)n * h->latents);
}
static void sigmoid_head_encode(const Head *h, const float *code, int n, float *z) {
  sigmoid_forward(z, code, (long)n * h->latents);
}

const HeadOps head_sigmoid = {.name = "sigmoid", .code_per_latent = 1, .forward = sigmoid_head_forward,
                              .backward = sigmoid_head_backward, .encode = sigmoid_head_encode};

static void identity_head_encode(const Head *h, const float *code, int n, float *z) {
  memcpy(z, code, (size_t)n * h->latents * sizeof *z);
}
static void identity_head_forward(Head *h, const float *code, int n, float *z) { identity_head_encode(h, code, n, z); }
static void identity_head_backward(Head *h, const float *code, const float *z, const float *dz, int n, float *dcode) {
  (void)code, (void)z;
  memcpy(dcode, dz, (size_t)n * h->latents * sizeof *dcode);
}

const HeadOps head_identity = {.name = "identity", .code_per_latent = 1, .forward = identity_head_forward,
                               .backward = identity_head_backward, .encode = identity_head_encode};

/* ---- Gaussian: code row = [mu_0..mu_{m-1} | logvar_0..logvar_{m-1}] ----------------------- */

static void gaussian_forward(Head *h, const float *code, int n, float *z) {
  const int m = h->latents;
  for (int r = 0; r < n; r++) {
    const float *mu = code + (size_t)r * 2 * m, *logvar = mu + m;
    float *eps = h->eps + (size_t)r * m;
    uint64_t row = (uint64_t)(h->row0 + r);
    for (int j = 0; j < m; j++) {
      eps[j] = (float)rng_normal(h->seed, RNG_STREAM_NOISE, (uint64_t)h->step, row * (uint64_t)m + (uint64_t)j);
      z[(size_t)r * m + j] = mu[j] + expf(0.5f * logvar[j]) * eps[j];
    }
  }
}

/* dz/dmu = 1, dz/dlogvar = eps exp(logvar / 2) / 2 */
static void gaussian_backward(Head *h, const float *code, const float *z, const float *dz, int n, float *dcode) {
  (void)z;
  const int m = h->latents;
  for (int r = 0; r < n; r++) {
    const float *logvar = code + (size_t)r * 2 * m + m, *eps = h->eps + (size_t)r * m, *g = dz + (size_t)r * m;
    float *dmu = dcode + (size_t)r * 2 * m, *dlogvar = dmu + m;
    for (int j = 0; j < m; j++) {
      dmu[j] = g[j];
      dlogvar[j] = g[j] * eps[j] * 0.5f * expf(0.5f * logvar[j]);
    }
  }
}

static void gaussian_encode(const Head *h, const float *code, int n, float *z) {
  const int m = h->latents;
  for (int r = 0; r < n; r++) memcpy(z + (size_t)r * m, code + (size_t)r * 2 * m, (size_t)m * sizeof *z);
}

const HeadOps head_gaussian = {.name = "gaussian", .code_per_latent = 2, .stochastic = 1, .forward = gaussian_forward,
                               .backward = gaussian_backward, .encode = gaussian_encode};

const HeadOps *head_find(const char *name) {
  const HeadOps *all[] = {&head_sigmoid, &head_identity, &head_gaussian};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (!strcmp(all[i]->name, name)) return all[i];
  return NULL;
}

PetscErrorCode head_create(Head *h, const HeadOps *ops, int latents, int width, int max_batch, uint64_t seed) {
  PetscFunctionBeginUser;
  *h = (Head){.ops = ops, .latents = latents, .max_batch = max_batch, .seed = seed, .code_width = width};
  if (ops->stochastic) PetscCall(tensor_alloc((size_t)max_batch * latents, &h->eps));
  PetscFunctionReturn(0);
}

void head_free(Head *h) { tensor_free(&h->eps); }
