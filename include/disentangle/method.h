/* A method = a loss on top of the autoencoder engine. Each method file supplies a MethodOps;
 * the driver only ever talks to this interface. */
#ifndef DISENTANGLE_METHOD_H
#define DISENTANGLE_METHOD_H

#include "disentangle/archive.h"
#include "disentangle/autoencoder.h"
#include "disentangle/ckpt.h"
#include "disentangle/comm.h"
#include "disentangle/config.h"
#include "disentangle/exactsum.h"
#include "disentangle/options.h"
#include "disentangle/terms.h"

#define METHOD_MAX_LOSSES 16

/* Losses of one step, global over the batch (every rank holds the same values), in the order
 * of the method's loss_names; value[0] is always "loss", what the method's main net minimised. */
typedef struct StepLosses {
  int n;
  double value[METHOD_MAX_LOSSES];
} StepLosses;

#define METHOD_MAX_TERMS 16

#define METHOD_MAX_STRUCTURAL 4

typedef struct {
  const char *name;
  const char *summary;
  /* The method's own options, named with the method as prefix (-nashae_lambda), read into a
   * struct of options_size bytes which the method finds at m->opts. */
  const OptSpec *options;
  int noptions;
  size_t options_size;
  /* Those of its options that fix the shape of the trained state (a checkpoint must agree). */
  const char *structural[METHOD_MAX_STRUCTURAL];
  const HeadOps *head; /* between encoder and decoder */
  /* Names of the losses a step reports (history.csv columns, /history, the report). */
  int nlosses;
  const char *loss_names[METHOD_MAX_LOSSES];
  /* Before create: floats of the method's own nets beyond the autoencoder for a global batch of
   * cfg->batch rows (parameters; activations and other buffers) and the option that shrinks
   * them, so that a model the node cannot hold is refused before it is built. NULL: none. */
  void (*cost)(const Config *cfg, const void *opts, double *params, double *buffers, const char **shrink);
  /* The encoder's output width when the method fixes it rather than its head (St-RKM's
   * feature width l); NULL: the head's. */
  int (*width)(const Config *cfg, const void *opts);
  /* Latents 0 .. C-1 shared by the samples of a group (content; ML-VAE), the rest per sample
   * (style): eval's swap figure and content/style scores use it. NULL: none (C = 0). */
  int (*content_latents)(const void *opts);
  /* Register and allocate the method's own nets and optimizers (the autoencoder exists). */
  PetscErrorCode (*create)(Method *m);
  /* One training step on this rank's rows of the global batch. */
  PetscErrorCode (*step)(Method *m, const Batch *b, StepLosses *out);
  /* The autoencoder's loss and its gradient (summed over ranks) in ae.grads, with any adversary
   * held as it is; no update. encoded: b->x was already forwarded by the caller. For the tests. */
  PetscErrorCode (*loss_gradient)(Method *m, const Batch *b, int encoded, StepLosses *out);
  void (*destroy)(Method *m);
  /* The nets of the model, in a fixed order (encoder and decoder first). */
  int (*nets)(Method *m, Net **nets, int max);
  /* Make every rank hold the whole optimizer state before a checkpoint (NULL: it does). */
  PetscErrorCode (*sync_state)(Method *m);
  /* Its step gives the same bits on any rank count under -reproducible (docs/reproducible.md);
   * 0: -reproducible is refused for it. */
  int reproducible;
} MethodOps;

struct Method {
  const MethodOps *ops;
  const Config *cfg;
  const void *opts; /* the method's own options (MethodOps.options) */
  const Par *par;
  Shape sample;                  /* one input sample: [L] or [C,H,W] */
  int features, global_batch;    /* features: values per sample */
  ParamSet params;               /* every trainable tensor, one block per optimizer group */
  Optim optim[PARAM_MAX_GROUPS]; /* the optimizer of each group */
  GradSync sync;                 /* the autoencoder group's bucketed gradient allreduce over the world */
  Autoencoder ae;
  int nterms;                   /* the loss terms of the autoencoder's objective */
  Term terms[METHOD_MAX_TERMS];
  int nstats;                   /* their statistics buffer */
  double *stats;
  float *site_grad[2][NET_MAX_LAYERS]; /* gradients injected at encoder [0] / decoder [1] layers */
  int64_t step; /* the step of the batch now trained on (0 for the first) */
  int64_t dataset_size; /* samples the batches are drawn from (set by the run layer; 0: unknown) */
  void *state;  /* the method's own */
  /* The losses a step reports: the method's loss_names, then those of the regularisers any
   * method takes (-lsigma_lambda, -l1_lambda: "lsigma_LAYER", "l1_LAYER"; lsigma.h). */
  int nlosses;
  const char *loss_names[METHOD_MAX_LOSSES];
  char loss_name_buf[METHOD_MAX_LOSSES][48];
  void *regularisers; /* lsigma.c's */
  /* -reproducible (docs/reproducible.md): rows per micro-chunk (0: off); exact sums of the
   * chunks' statistics and autoencoder gradients; the global statistics; a scratch slot. */
  int chunk;
  int row; /* the first of this rank's rows the terms' local and backward are called on (the chunk's; else 0) */
  ExactSum exact_stats;
  ExactFloats exact_grads;
  double *global_stats, *scratch_stats;
};

/* The method called `name`; an input error naming option -method and the choices when none is. */
PetscErrorCode method_find(MPI_Comm comm, const char *name, const MethodOps **ops);
/* "ae|nashae|...": the names -method accepts. */
const char *method_choices(void);

/* The method's options from the command line and option files (PetscMalloc'd struct); options
 * that belong to ANOTHER method are ignored with a note naming it. */
PetscErrorCode method_options_read(MPI_Comm comm, const MethodOps *ops, void **opts);
/* The method's options from defaults and a text of "-name value" lines (a checkpoint's). */
PetscErrorCode method_options_from_text(MPI_Comm comm, const MethodOps *ops, const char *text, void **opts);
/* Every option of every method, one table per method, for -help. */
void method_options_help(FILE *fp);

/* The method on samples of that shape (method_create: on vectors of `features` values). */
PetscErrorCode method_create_shaped(const Config *cfg, const void *opts, const Par *par, Shape sample, Method **out);
PetscErrorCode method_create(const Config *cfg, const void *opts, const Par *par, int features, Method **out);
void method_destroy(Method **m);
/* Attach a loss term (state: the term's own, not owned); its statistics slot is allocated here. */
PetscErrorCode method_add_term(Method *m, const TermOps *ops, double weight, TermSite site, int layer, void *state);

/* -reproducible: refuse a method or batch it cannot give the same bits for (input errors naming
 * the options), on every rank; nothing to check when it is off. */
PetscErrorCode method_check_reproducible(MPI_Comm comm, const Config *cfg, const MethodOps *ops, int ranks);
/* An exact float sum (exactsum.h) over an optimizer group's gradient block, a block per tensor. */
PetscErrorCode method_exact_floats(const Method *m, int group, ExactFloats *s);
/* -reproducible: forward micro-chunk k of this rank's rows (c rows at b->x + k c features). */
void method_forward_chunk(Method *m, const Batch *b, int k);

/* The step of a method that trains the autoencoder alone: the terms' loss and gradient, then
 * one optimizer step on its group. */
PetscErrorCode method_step_autoencoder(Method *m, const Batch *b, StepLosses *out);
/* The nets of such a method: encoder and decoder. */
int method_nets_autoencoder(Method *m, Net **nets, int max);

/* The optimizer of a group (me->optim[group]). */
PetscErrorCode method_set_optimizer(Method *m, int group, const OptimOps *ops, double lr);
/* One optimizer step on a group whose gradients are complete (summed over ranks), then clear them. */
void method_update(Method *m, int group);

/* The whole training state, for checkpoints: every tensor of the ParamSet by name, the state
 * each optimizer declares for it, and the step counts. Tensors point into the live buffers
 * (read fills them). */
PetscErrorCode method_state(Method *m, CkptState *state);
void method_state_free(CkptState *state);

/* Latents of n rows (no training state touched; a stochastic head gives its mean): z[n][latents]. */
void method_encode(Method *m, const float *x, int n, float *z);

#endif
