/* Activity regularisers on any layer of any method (issue 10; DESIGN.md "Loss terms"):
 *   L_Sigma ("Disentangled activations in deep networks", Kagebaeck & Mogren 2018):
 *       lambda (1/p^2) sum_ij |C_ij|, C = 1/(N-1) (H - 1 hbar)^T (H - 1 hbar), the sample
 *       covariance of the layer's activations H [N][p] over the GLOBAL batch (N = -batch);
 *   L1 activity penalty (the paper's comparison): lambda_1 (1/(N p)) sum_ni |H_ni|, the mean
 *       absolute activation.
 * Both are loss terms (terms.h): their sums go through the step's one statistics allreduce in
 * double, and their exact gradient is injected at the layer.
 *
 * Layers (-lsigma_layers, a comma-separated list):
 *   latents  the head's output z, what the decoder reads (a Gaussian head's SAMPLE in training);
 *   code     the encoder's output, the head's input (a Gaussian head's [mu | log sigma^2]);
 *   encK     the K-th hidden layer of the encoder (K = 1 nearest the input), after its activation;
 *   decK     the K-th hidden layer of the decoder (K = 1 nearest the latents), after its activation.
 * A hidden layer is the output of each parametrised layer (dense, conv) but the net's last,
 * together with the element-wise layers that follow it: -hidden 200,80,40 gives enc1..enc3 of
 * widths 200, 80, 40 and dec1..dec3 of widths 40, 80, 200. */
#ifndef DISENTANGLE_LSIGMA_H
#define DISENTANGLE_LSIGMA_H

#include <petscsys.h>

#include "disentangle/terms.h"

/* Widest layer the regularisers accept: L_Sigma keeps p^2 / 2 sums per step. */
#define LSIGMA_MAX_UNITS 4096
#define LSIGMA_MAX_LAYERS 4

/* ---- the arithmetic, on plain arrays (also used by tools/xor_lsigma.c) --------------------- */

/* Doubles of L_Sigma's statistics for p units: sum h (p), then the upper triangle of sum h h^T
 * (row by row, p (p + 1) / 2). */
long lsigma_nstats(int p);
/* This rank's sums over its rows h[count][p] (work: count * p doubles). */
void lsigma_local_sums(const float *h, int count, int p, double *stats, double *work);
/* From the GLOBAL sums over N rows: mean[p], the covariance cov[p][p] (full, symmetric), and
 * the value (1/p^2) sum_ij |C_ij|. */
double lsigma_from_sums(const double *stats, int p, long N, double *mean, double *cov);
/* grad[count][p] += weight d((1/p^2) sum_ij |C_ij|)/dh = weight (2 / (p^2 (N-1))) (h - mean) sign(C)
 * for this rank's rows (work: count * p + p * p floats). */
void lsigma_add_gradient(const float *h, int count, int p, long N, const double *mean, const double *cov, double weight,
                         float *grad, float *work);

/* ---- the terms -------------------------------------------------------------------------------- */

/* Attach the regularisers the configuration asks for (cfg->lsigma_lambda, cfg->l1_lambda on the
 * layers cfg->lsigma_layers) to a created method; the loss names gain "lsigma_LAYER" and
 * "l1_LAYER". A layer name that does not exist, or is too wide, is an input error. */
PetscErrorCode regularisers_attach(Method *m);
void regularisers_free(Method *m);

/* Where layer `name` of the method's autoencoder is: its site, layer index and width (units).
 * An input error naming option -lsigma_layers and the names that exist, when it is none. */
PetscErrorCode regularisers_find_layer(Method *m, const char *name, TermSite *site, int *layer, int *width);

#endif
