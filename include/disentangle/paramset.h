/* Every trainable tensor of a model, registered by name, N-D shape and optimizer group.
 * Each group is ONE contiguous parameter block and ONE gradient block (llm.c's single
 * allocation, generalised to several optimizers), so the gradient allreduce, the optimizer
 * step and the checkpoint each iterate the set and never special-case a method.
 *
 * Two phases per group: register its tensors (paramset_add), then allocate it; tensors of one
 * group lie in its block in the order they were registered. Groups are independent: a method
 * may allocate the autoencoder's group before it registers its adversary's. */
#ifndef DISENTANGLE_PARAMSET_H
#define DISENTANGLE_PARAMSET_H

#include <petscsys.h>
#include <stddef.h>

#define PARAM_NAME_LEN 96
#define PARAM_MAX_DIMS 4
#define PARAM_MAX_GROUPS 8

typedef struct {
  char name[PARAM_NAME_LEN]; /* "encoder/dense0.weight": net, then tensor */
  int group;
  int ndim;
  int dims[PARAM_MAX_DIMS];
  size_t offset, size; /* in floats, into the group's blocks */
} ParamTensor;

typedef struct {
  char name[PARAM_NAME_LEN]; /* "autoencoder", "regressors", ... */
  size_t n;
  float *params, *grads;
  int allocated;
} ParamGroup;

typedef struct {
  int ntensors, cap;
  ParamTensor *tensors;
  int ngroups;
  ParamGroup groups[PARAM_MAX_GROUPS];
} ParamSet;

void paramset_init(ParamSet *ps);
/* The group of that name, created when new. */
PetscErrorCode paramset_group(ParamSet *ps, const char *name, int *group);
/* Register a tensor; *index identifies it from now on. */
PetscErrorCode paramset_add(ParamSet *ps, int group, const char *name, int ndim, const int *dims, int *index);
/* One zeroed parameter block and one gradient block for every group not yet allocated. */
PetscErrorCode paramset_allocate(ParamSet *ps);
void paramset_free(ParamSet *ps);

float *paramset_data(const ParamSet *ps, int index);
float *paramset_grad(const ParamSet *ps, int index);
/* The tensor of that name, or -1. */
int paramset_find(const ParamSet *ps, const char *name);
void paramset_zero_grads(ParamSet *ps, int group);
size_t paramset_count(const ParamSet *ps); /* floats over all groups */

#endif
