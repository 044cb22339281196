/* Gradient checks of the methods on a Gaussian head (the VAE family), shared by their tests:
 * the gradient a method hands to its optimizer against central differences of an independent
 * double-precision evaluation of the same objective over the WHOLE batch, on however many
 * ranks the test runs (each rank its slice, as in training).
 *
 * The reference: code = enc(x) in double (ref_net_forward), mu | log sigma^2, the noise eps
 * drawn as the head draws it (seed, RNG_STREAM_NOISE, step, global row * m + latent), z = mu +
 * exp(log sigma^2 / 2) eps, xhat = dec(z), the reconstruction term, plus the method's own
 * regulariser, a function of (mu, log sigma^2, z) of the whole batch. */
#ifndef DISENTANGLE_VAE_CHECK_H
#define DISENTANGLE_VAE_CHECK_H

#include <stdint.h>

#include "disentangle/method.h"

#define VAE_B 7 /* uneven on 2 and 3 ranks */
#define VAE_L 12
#define VAE_M 3

/* The method's regulariser, with its weights, over the whole batch: mu, logvar, z [B][m]. */
typedef double (*VaeRegulariser)(const double *mu, const double *logvar, const double *z, int B, int m, void *ctx);

typedef struct {
  const char *method;
  const char *options;  /* the method's options, "-name value" lines */
  const char *rec_loss; /* gaussian | bernoulli | mse */
  int64_t step;         /* of the batch (keys the noise; annealing schedules read it) */
  VaeRegulariser reg;
  void *ctx;
  /* Called with the method once created (e.g. to point ctx at its extra nets); may be NULL. */
  void (*prepare)(Method *me, void *ctx);
  double tolerance;     /* max relative gradient error; 0: 1e-3 */
} VaeCheck;

/* Runs the check, prints one line on rank 0, counts failures (testing.h). */
void vae_check_gradient(const VaeCheck *c);

#endif
