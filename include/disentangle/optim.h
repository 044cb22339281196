/* Optimizers over flat parameter blocks (the PyTorch update rules, so published
 * hyper-parameters mean the same thing here). An optimizer kind is a table (OptimOps) that
 * declares its state by name: float vectors the size of the block (Adam: m, v) and a step
 * count (t), so checkpoints store any optimizer's state without knowing which it is. */
#ifndef DISENTANGLE_OPTIM_H
#define DISENTANGLE_OPTIM_H

#include <petscsys.h>
#include <stddef.h>

#define OPTIM_MAX_STATE 2

typedef struct Optim Optim;

typedef struct {
  const char *name;                         /* adam, adagrad, sgd */
  int nstate;                               /* state vectors, each the size of the block */
  const char *state_names[OPTIM_MAX_STATE]; /* as stored in checkpoints */
  /* One step on p[offset .. offset+count) with gradient g (same indexing). */
  void (*update)(Optim *o, float *p, const float *g, size_t offset, size_t count);
  /* update sets Optim.nonfinite when a parameter it wrote is NaN or infinite, so the training
   * loop need not make a pass of its own over the parameters to find out */
  int flags_nonfinite;
} OptimOps;

struct Optim {
  const OptimOps *ops;
  double lr, beta1, beta2, eps; /* those the kind uses */
  long long t;                  /* steps taken, stored as the count "t" */
  int nonfinite;                /* flags_nonfinite kinds: a non-finite parameter written since
                                   optim_take_nonfinite last cleared it */
  size_t n;
  float *state[OPTIM_MAX_STATE];
  int cols; /* manifold optimizers: the block is a matrix of n / cols rows (set after create) */
  double ortho_drift; /* Cayley Adam: ||X^T X - I||_F after its last update */
  long long reorthonormalised; /* Cayley Adam: updates that ended in a re-orthonormalisation */
};

extern const OptimOps optim_adam, optim_adagrad, optim_sgd;
/* Cayley Adam (Li, Fuxin & Todorovic, ICLR 2020; src/optim/cayley_adam.c) for a block that is
 * ONE matrix X [n / cols][cols] with orthonormal columns (the Stiefel manifold): state "m" (the
 * momentum, X's shape) and "v" (its scalar second moment, stored in every element). lr, beta1,
 * beta2, eps as Adam's; the published defaults beta1 0.9, beta2 0.99. */
extern const OptimOps optim_cayley_adam;
/* ||X^T X - I||_F of a matrix X [rows][cols], in double. */
double stiefel_drift(const float *X, int rows, int cols);
/* Orthonormalise X's columns in place (Gram-Schmidt twice, in double). */
void stiefel_orthonormalise(float *X, int rows, int cols);

/* "adam|adagrad|sgd" by name. */
PetscErrorCode optim_from_name(const char *name, const OptimOps **ops);
/* An optimizer of n parameters with torch's defaults (Adam: betas 0.9, 0.999, eps 1e-8;
 * Adagrad: eps 1e-10); change lr, beta1... in the struct afterwards if needed. */
PetscErrorCode optim_create(Optim *o, const OptimOps *ops, size_t n, double lr);
/* Advance the step count once per step; several slices of the block may then be updated
 * with optim_update under the same count. */
void optim_tick(Optim *o);
void optim_update(Optim *o, float *p, const float *g, size_t offset, size_t count);
/* For a kind with flags_nonfinite: whether an update since the last call wrote a NaN or an
 * infinity (then cleared); -1 for other kinds, whose parameters must be checked by a pass. */
int optim_take_nonfinite(Optim *o);
void optim_free(Optim *o);

#endif
