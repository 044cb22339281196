/* RUN_DIR/latents.h5 from a trained model (see encoded.h): the latents eval encoded, their
 * ranges, the data's factors and shape, and the latent traversals decoded here, so that
 * `report` draws the run from files alone. */
#include <math.h>
#include <stdio.h>

#include "disentangle/encoded.h"
#include "disentangle/run.h"
#include "disentangle/log.h"

#define TRAVERSAL_STEPS 7

/* Decoded outputs while latent j sweeps [zmin, zmax] in TRAVERSAL_STEPS steps, in data units. */
static PetscErrorCode traversals(Run *run, const double *z, int base, const double *zmin, const double *zmax, float *out) {
  PetscFunctionBeginUser;
  Autoencoder *ae = &run->method->ae;
  const int m = ae->latents, L = ae->features, rows = m * TRAVERSAL_STEPS;
  float *codes;
  PetscCall(PetscMalloc1((size_t)rows * m, &codes));
  for (int j = 0; j < m; j++)
    for (int s = 0; s < TRAVERSAL_STEPS; s++) {
      float *c = codes + (size_t)(j * TRAVERSAL_STEPS + s) * m;
      for (int i = 0; i < m; i++) c[i] = (float)z[(size_t)base * m + i];
      c[j] = (float)(zmin[j] + (zmax[j] - zmin[j]) * s / (TRAVERSAL_STEPS - 1));
    }
  double mean, std;
  archive_normalisation(run->archive, &mean, &std);
  for (int start = 0; start < rows; start += ae->max_batch) {
    int n = PetscMin(ae->max_batch, rows - start);
    const float *x = autoencoder_decode(ae, codes + (size_t)start * m, n);
    for (long i = 0; i < (long)n * L; i++) out[(size_t)start * L + i] = (float)(x[i] * std + mean);
  }
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
  char path[CONFIG_PATH_LEN + 32];
  snprintf(path, sizeof path, "%s/latents.h5", run_dir);
  PetscCall(encoded_write(run->par.world, path, &e));
  log_info(run->par.world, "wrote %s", path);
  PetscCall(PetscFree3(e.zmin, e.zmax, e.traversals));
  PetscFunctionReturn(0);
}
