/* Statistics of the latent code over a whole archive. */
#ifndef DISENTANGLE_LATENTS_H
#define DISENTANGLE_LATENTS_H

#include "disentangle/archive.h"
#include "disentangle/method.h"

/* Encode and decode every sample (each rank a block of the archive); reduce per-latent min and
 * max, and the reconstruction MSE/2 over the whole archive into *rec (when not NULL). */
PetscErrorCode latents_survey(Method *m, const Archive *a, double *zmin, double *zmax, double *rec);
/* NashAE's count of learned features: latents whose range exceeds threshold. */
int latents_active(const double *zmin, const double *zmax, int m, double threshold);

#endif
