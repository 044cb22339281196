/* Loss terms. A term has two halves, so that every term of a step shares ONE statistics
 * allreduce (DESIGN.md "Loss terms"):
 *   local:    after the forward pass, this rank's sums into the term's slot of the step's
 *             statistics buffer (doubles);
 *   backward: after the allreduce, its values (global) and the gradient of weight * value added
 *             at the place it is attached to: the decoder's output, the latents, or any layer
 *             of the encoder or decoder (the nets take gradients injected at inner layers).
 * A term reports one or two named values (history.csv columns); the first is what it adds,
 * times its weight, to the objective. */
#ifndef DISENTANGLE_TERMS_H
#define DISENTANGLE_TERMS_H

#include <petscsys.h>

#include "disentangle/archive.h"
#include "disentangle/config.h"

typedef struct Method Method;
typedef struct Term Term;

#define TERM_MAX_VALUES 2

typedef enum {
  SITE_OUTPUT,  /* the decoder's output (reconstruction terms) */
  SITE_LATENTS, /* the head's output, the latents z */
  SITE_CODE,    /* the encoder's output, the head's input (e.g. mu and log sigma^2) */
  SITE_ENCODER, /* the output of encoder layer `layer` */
  SITE_DECODER  /* the output of decoder layer `layer` */
} TermSite;

typedef struct {
  const char *name;
  int nvalues;
  const char *value_names[TERM_MAX_VALUES];
  /* Its local half OVERWRITES the whole output gradient (MSE does: it needs no global
   * statistic), so nothing has to clear it first. */
  int sets_output_gradient;
  /* Doubles of the term's slot in the statistics buffer. */
  int (*nstats)(const Term *t, const Method *m);
  /* This rank's part: x[count] is its slice of the global batch, forwarded already. */
  void (*local)(Term *t, Method *m, const float *x, int count, double *stats);
  /* Values from the global statistics; grad += d(weight * values[0]) / d(site output), grad
   * [count][width of the site]. */
  void (*backward)(Term *t, Method *m, const float *x, int count, const double *stats, double *values, float *grad);
} TermOps;

struct Term {
  const TermOps *ops;
  double weight;
  TermSite site;
  int layer;   /* SITE_ENCODER / SITE_DECODER: the layer index */
  void *state; /* the term's own (e.g. the method's adversary), not owned */
  int offset, nstats; /* its slot in the statistics buffer */
};

/* Reconstruction as MSE/2 over the global batch: sum (xhat - x)^2 / (2 B L), at SITE_OUTPUT. */
extern const TermOps term_mse;
/* Reconstruction as the negative log-likelihood of x under N(xhat, I) up to its constant: squared
 * error / 2 summed over a sample's values, averaged over the global batch (the VAE family's). */
extern const TermOps term_gaussian;
/* Reconstruction as Bernoulli cross-entropy of x in [0,1] under sigmoid(logits), the decoder's
 * output being the logits: summed over features, averaged over the global batch, at SITE_OUTPUT.
 * Reports "rec" too. The data must not be normalised (-data_mean 0 -data_std 1). */
extern const TermOps term_bernoulli;
/* KL(q(z|x) || N(0, I)) of a Gaussian head, summed over latents, averaged over the global batch,
 * at SITE_CODE (mu and log sigma^2). Reports "kl". */
extern const TermOps term_kl;
/* The capacity-controlled KL of AnnealedVAE (Burgess et al. 2018): |KL - C| with C raised
 * linearly from 0 to c_max over c_steps steps (state: a KlCapacity). Reports "kl_gap", "kl". */
typedef struct {
  double c_max;
  long c_steps;
} KlCapacity;
extern const TermOps term_kl_capacity;
/* The KL of each latent over n rows of code: kl[j] = sum_rows KL_j (not averaged). */
void kl_per_latent(const float *code, int n, int m, double *kl);

/* The reconstruction term option -rec_loss names (mse | gaussian | bernoulli); bernoulli needs the data
 * unnormalised (cfg->data_mean 0, data_std 1): an input error otherwise. */
PetscErrorCode terms_reconstruction(MPI_Comm comm, const Config *cfg, const TermOps **ops);

/* The objective of the method's terms and its gradient, summed over ranks, in every optimizer
 * group the encoder and decoder use: forward (unless encoded), every term's local sums, ONE
 * allreduce, the terms' gradients at their sites, backward through decoder and encoder, the
 * gradient allreduce. out: "loss" (sum of weight * first value) then every term's values. */
struct StepLosses;
PetscErrorCode terms_loss_gradient(Method *m, const Batch *b, int encoded, struct StepLosses *out);

/* The pieces of its -reproducible path (docs/reproducible.md), for a method that needs passes of
 * its own between them (strkm): terms_chunk_statistics forwards every micro-chunk of the rank's
 * rows and sums the terms' statistics exactly into m->global_stats; terms_chunk_forward forwards
 * chunk k and redoes its local sums into stats; terms_chunk_backward backs chunk k up from the
 * global statistics into a cleared m->ae.grads, its terms' values into values; terms_finish
 * turns the values into the step's losses. */
PetscErrorCode terms_chunk_statistics(Method *m, const Batch *b);
void terms_chunk_forward(Method *m, const Batch *b, int k, double *stats);
void terms_chunk_backward(Method *m, const Batch *b, int k, double *values);
void terms_finish(const Method *m, double *values, struct StepLosses *out);

#endif
