/* Optimizers over flat parameter blocks (the PyTorch update rules, so published
 * hyper-parameters mean the same thing here). */
#ifndef DISENTANGLE_OPTIM_H
#define DISENTANGLE_OPTIM_H

#include <petscsys.h>
#include <stddef.h>

typedef struct {
  double lr, beta1, beta2, eps;
  long long t;  /* steps taken */
  size_t n;
  float *m, *v; /* first and second moments */
} Adam;

PetscErrorCode adam_create(Adam *opt, size_t n, double lr, double beta1, double beta2, double eps);
/* One step on p[offset .. offset+count) with gradient g (same indexing); the caller advances
 * the step count once per step with adam_tick, so several slices can share one count. */
void adam_tick(Adam *opt);
void adam_update(Adam *opt, float *p, const float *g, size_t offset, size_t count);
void adam_free(Adam *opt);

typedef struct {
  double lr, eps;
  long long t;
  size_t n;
  float *sum; /* running sum of squared gradients */
} Adagrad;

PetscErrorCode adagrad_create(Adagrad *opt, size_t n, double lr, double eps);
void adagrad_update(Adagrad *opt, float *p, const float *g, size_t offset, size_t count);
void adagrad_free(Adagrad *opt);

#endif
