/* Statistics of the latent code: pure functions of arrays. */
#ifndef DISENTANGLE_LATENTS_H
#define DISENTANGLE_LATENTS_H

/* (latents_survey, which runs a model, is in run.h.) */
/* NashAE's count of learned features: latents whose range exceeds threshold. */
int latents_active(const double *zmin, const double *zmax, int m, double threshold);

#endif
