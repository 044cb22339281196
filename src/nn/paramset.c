#include "disentangle/paramset.h"

#include <stdio.h>
#include <string.h>

#include "disentangle/tensor.h"

void paramset_init(ParamSet *ps) { memset(ps, 0, sizeof *ps); }

PetscErrorCode paramset_group(ParamSet *ps, const char *name, int *group) {
  PetscFunctionBeginUser;
  for (int g = 0; g < ps->ngroups; g++)
    if (!strcmp(ps->groups[g].name, name)) {
      *group = g;
      PetscFunctionReturn(0);
    }
  PetscCheck(ps->ngroups < PARAM_MAX_GROUPS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "more than %d optimizer groups", PARAM_MAX_GROUPS);
  snprintf(ps->groups[ps->ngroups].name, PARAM_NAME_LEN, "%s", name);
  *group = ps->ngroups++;
  PetscFunctionReturn(0);
}

PetscErrorCode paramset_add(ParamSet *ps, int group, const char *name, int ndim, const int *dims, int *index) {
  PetscFunctionBeginUser;
  PetscCheck(group >= 0 && group < ps->ngroups && ndim >= 1 && ndim <= PARAM_MAX_DIMS, PETSC_COMM_SELF,
             PETSC_ERR_ARG_OUTOFRANGE, "tensor '%s': bad group or rank", name);
  PetscCheck(!ps->groups[group].allocated, PETSC_COMM_SELF, PETSC_ERR_ORDER, "tensor '%s' added after its group was allocated",
             name);
  PetscCheck(strlen(name) < PARAM_NAME_LEN, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "tensor name '%s' too long", name);
  PetscCheck(paramset_find(ps, name) < 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "tensor '%s' registered twice", name);
  if (ps->ntensors == ps->cap) {
    int cap = ps->cap ? 2 * ps->cap : 64;
    ParamTensor *grown;
    PetscCall(PetscCalloc1(cap, &grown));
    if (ps->ntensors) PetscCall(PetscArraycpy(grown, ps->tensors, ps->ntensors));
    PetscCall(PetscFree(ps->tensors));
    ps->tensors = grown, ps->cap = cap;
  }
  ParamTensor *t = &ps->tensors[ps->ntensors];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->group = group, t->ndim = ndim, t->size = 1;
  for (int d = 0; d < ndim; d++) {
    PetscCheck(dims[d] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "tensor '%s': dimension %d is %d", name, d, dims[d]);
    t->dims[d] = dims[d], t->size *= (size_t)dims[d];
  }
  t->offset = ps->groups[group].n;
  ps->groups[group].n += t->size;
  *index = ps->ntensors++;
  PetscFunctionReturn(0);
}

PetscErrorCode paramset_allocate(ParamSet *ps) {
  PetscFunctionBeginUser;
  for (int g = 0; g < ps->ngroups; g++) {
    ParamGroup *G = &ps->groups[g];
    if (G->allocated) continue;
    PetscCall(tensor_alloc(G->n ? G->n : 1, &G->params));
    PetscCall(tensor_alloc(G->n ? G->n : 1, &G->grads));
    G->allocated = 1;
  }
  PetscFunctionReturn(0);
}

void paramset_free(ParamSet *ps) {
  for (int g = 0; g < ps->ngroups; g++) {
    tensor_free(&ps->groups[g].params);
    tensor_free(&ps->groups[g].grads);
  }
  PetscFree(ps->tensors);
  paramset_init(ps);
}

float *paramset_data(const ParamSet *ps, int index) {
  const ParamTensor *t = &ps->tensors[index];
  return ps->groups[t->group].params + t->offset;
}

float *paramset_grad(const ParamSet *ps, int index) {
  const ParamTensor *t = &ps->tensors[index];
  return ps->groups[t->group].grads + t->offset;
}

int paramset_find(const ParamSet *ps, const char *name) {
  for (int i = 0; i < ps->ntensors; i++)
    if (!strcmp(ps->tensors[i].name, name)) return i;
  return -1;
}

void paramset_zero_grads(ParamSet *ps, int group) {
  memset(ps->groups[group].grads, 0, ps->groups[group].n * sizeof(float));
}

size_t paramset_count(const ParamSet *ps) {
  size_t n = 0;
  for (int g = 0; g < ps->ngroups; g++) n += ps->groups[g].n;
  return n;
}
