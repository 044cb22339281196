/* RUN_DIR/latents.h5 from a trained model (see encoded.h): the latents eval encoded, their
 * ranges, the data's factors and shape, and the latent traversals decoded here, so that
 * `report` draws the run from files alone. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "disentangle/encoded.h"
#include "disentangle/grouped.h"
#include "disentangle/run.h"
#include "disentangle/log.h"
#include "disentangle/layers.h"
#include "disentangle/rng.h"

#define TRAVERSAL_STEPS 7
#define GENERATED 8 /* latent vectors drawn for the report's generated samples */
#define SWAPPED 6   /* samples of distinct groups in the content/style swap grid */

/* The decoder's output in data units for `rows` latent vectors codes[rows][latents]: the
 * probabilities of a Bernoulli decoder (its output is logits), mean + std * output otherwise. */
static void decode_rows(Run *run, const float *codes, int rows, float *out) {
  Autoencoder *ae = &run->method->ae;
  const int m = ae->latents, L = ae->features, logits = !strcmp(run->cfg.rec_loss, "bernoulli");
  double mean, std;
  archive_normalisation(run->archive, &mean, &std);
  for (int start = 0; start < rows; start += ae->max_batch) {
    const int n = PetscMin(ae->max_batch, rows - start);
    const float *x = autoencoder_decode(ae, codes + (size_t)start * m, n);
    float *o = out + (size_t)start * L;
    if (logits) sigmoid_forward(o, x, (long)n * L);
    else
      for (long i = 0; i < (long)n * L; i++) o[i] = (float)(x[i] * std + mean);
  }
}

/* Decoded outputs while latent j sweeps [zmin, zmax] in TRAVERSAL_STEPS steps, in data units. */
static PetscErrorCode traversals(Run *run, const double *z, int base, const double *zmin, const double *zmax, float *out) {
  PetscFunctionBeginUser;
  Autoencoder *ae = &run->method->ae;
  const int m = ae->latents, rows = m * TRAVERSAL_STEPS;
  float *codes;
  PetscCall(PetscMalloc1((size_t)rows * m, &codes));
  for (int j = 0; j < m; j++)
    for (int s = 0; s < TRAVERSAL_STEPS; s++) {
      float *c = codes + (size_t)(j * TRAVERSAL_STEPS + s) * m;
      for (int i = 0; i < m; i++) c[i] = (float)z[(size_t)base * m + i];
      c[j] = (float)(zmin[j] + (zmax[j] - zmin[j]) * s / (TRAVERSAL_STEPS - 1));
    }
  decode_rows(run, codes, rows, out);
  PetscCall(PetscFree(codes));
  PetscFunctionReturn(0);
}

/* Generation by sampling the latent space: GENERATED latent vectors h = mean + C eps, C the
 * Cholesky factor of the covariance of the encoded latents z (a small ridge keeps it positive
 * definite when a latent is constant), eps ~ N(0, I) from (seed, RNG_STREAM_GENERATE), decoded
 * in data units. The Gaussian fit of the aggregate posterior is what St-RKM samples for
 * generation (its latents are uncorrelated by construction); for a VAE it is close to its
 * prior. The same on every rank (z is). */
static PetscErrorCode generated(Run *run, const double *z, int n, float *out) {
  PetscFunctionBeginUser;
  const int m = run->method->ae.latents;
  double *mean, *C;
  float *codes;
  PetscCall(PetscCalloc2(m, &mean, (size_t)m * m, &C));
  PetscCall(PetscMalloc1((size_t)GENERATED * m, &codes));
  for (int r = 0; r < n; r++)
    for (int j = 0; j < m; j++) mean[j] += z[(size_t)r * m + j] / n;
  for (int r = 0; r < n; r++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j <= i; j++) C[i * m + j] += (z[(size_t)r * m + i] - mean[i]) * (z[(size_t)r * m + j] - mean[j]) / (n - 1);
  double trace = 0;
  for (int i = 0; i < m; i++) trace += C[i * m + i];
  for (int i = 0; i < m; i++) C[i * m + i] += 1e-9 * (trace > 0 ? trace / m : 1.0);
  for (int j = 0; j < m; j++) { /* Cholesky, lower triangle in place */
    for (int k = 0; k < j; k++) C[j * m + j] -= C[j * m + k] * C[j * m + k];
    C[j * m + j] = sqrt(fmax(C[j * m + j], 0.0));
    for (int i = j + 1; i < m; i++) {
      for (int k = 0; k < j; k++) C[i * m + j] -= C[i * m + k] * C[j * m + k];
      C[i * m + j] = C[j * m + j] > 0 ? C[i * m + j] / C[j * m + j] : 0.0;
    }
  }
  for (int g = 0; g < GENERATED; g++)
    for (int i = 0; i < m; i++) {
      double h = mean[i];
      for (int k = 0; k <= i; k++)
        h += C[i * m + k] * rng_normal((uint64_t)run->cfg.seed, RNG_STREAM_GENERATE, 0, (uint64_t)(g * m + k));
      codes[(size_t)g * m + i] = (float)h;
    }
  decode_rows(run, codes, GENERATED, out);
  PetscCall(PetscFree2(mean, C));
  PetscCall(PetscFree(codes));
  PetscFunctionReturn(0);
}

/* The swap grid of a model with content latents 0..C-1 on a grouped archive (encoded.h /swap):
 * cell (i, j) decodes the content of sample rows[i] with the style of sample rows[j]. */
static PetscErrorCode swapped(Run *run, const double *z, Encoded *e) {
  PetscFunctionBeginUser;
  Autoencoder *ae = &run->method->ae;
  const Method *me = run->method;
  const int64_t *groups = archive_groups(run->archive);
  const int m = ae->latents, L = ae->features, C = me->ops->content_latents ? me->ops->content_latents(run->method_opts) : 0;
  if (!groups || C < 1 || C >= m) PetscFunctionReturn(0);
  int rows[SWAPPED];
  const int s = grouped_pick_rows(groups, e->n, SWAPPED, rows);
  if (s < 2) PetscFunctionReturn(0);
  float *codes;
  PetscCall(PetscMalloc1((size_t)s * s * m, &codes));
  PetscCall(PetscMalloc2(s, &e->swap_rows, (size_t)s * s * L, &e->swap));
  for (int i = 0; i < s; i++) {
    e->swap_rows[i] = rows[i];
    for (int j = 0; j < s; j++)
      for (int l = 0; l < m; l++) codes[((size_t)i * s + j) * m + l] = (float)z[(size_t)(l < C ? rows[i] : rows[j]) * m + l];
  }
  decode_rows(run, codes, s * s, e->swap);
  e->nswap = s, e->swap_content = C;
  PetscCall(PetscFree(codes));
  PetscFunctionReturn(0);
}

PetscErrorCode run_write_encoded(Run *run, const char *run_dir, int base, const double *z, const double *kl,
                                 double kl_threshold) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  const int m = run->method->ae.latents, n = (int)archive_samples(a), k = archive_nfactors(a);
  Encoded e = {.n = n, .m = m, .z = (double *)z, .active_threshold = run->cfg.active_threshold, .k = k,
               .factors = (double *)archive_factors(a), .steps = TRAVERSAL_STEPS, .features = archive_features(a),
               .base = PetscMin(base, n - 1), .step = run->step, .seed = run->cfg.seed,
               .kl = (double *)kl, .kl_threshold = kl_threshold};
  e.sample_ndims = archive_sample_dims(a, e.sample_dims);
  archive_normalisation(a, &e.data_mean, &e.data_std);
  const char *const *names = archive_factor_names(a);
  for (int f = 0; f < k && f < ENCODED_MAX_FACTORS; f++) e.factor_names[f] = names ? (char *)names[f] : NULL;
  snprintf(e.method, sizeof e.method, "%s", run->cfg.method);
  snprintf(e.title, sizeof e.title, "%s, %d latents, seed %ld, step %ld", run->cfg.method, m, (long)run->cfg.seed,
           run->step);
  snprintf(e.data, sizeof e.data, "%s", run->cfg.data);
  PetscCall(PetscMalloc3(m, &e.zmin, m, &e.zmax, (size_t)m * TRAVERSAL_STEPS * e.features, &e.traversals));
  for (int j = 0; j < m; j++) {
    e.zmin[j] = INFINITY, e.zmax[j] = -INFINITY;
    for (int r = 0; r < n; r++) e.zmin[j] = fmin(e.zmin[j], z[(size_t)r * m + j]), e.zmax[j] = fmax(e.zmax[j], z[(size_t)r * m + j]);
  }
  PetscCall(traversals(run, z, (int)e.base, e.zmin, e.zmax, e.traversals));
  e.ngenerated = GENERATED;
  PetscCall(PetscMalloc1((size_t)GENERATED * e.features, &e.generated));
  PetscCall(generated(run, z, n, e.generated));
  PetscCall(swapped(run, z, &e));
  char path[CONFIG_PATH_LEN + 32];
  snprintf(path, sizeof path, "%s/latents.h5", run_dir);
  PetscCall(encoded_write(run->par.world, path, &e));
  log_info(run->par.world, "wrote %s", path);
  PetscCall(PetscFree3(e.zmin, e.zmax, e.traversals));
  PetscCall(PetscFree(e.generated));
  if (e.nswap) PetscCall(PetscFree2(e.swap_rows, e.swap));
  PetscFunctionReturn(0);
}
