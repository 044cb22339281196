#include "disentangle/paramset.h"

#include <stdio.h>
#include <string.h>

#include "disentangle/phases.h"
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

/* ---- the bucketed gradient allreduce -------------------------------------------------------- */

PetscErrorCode paramset_sync_create(const ParamSet *ps, int group, MPI_Comm comm, size_t bucket_floats, int overlap,
                                    GradSync *gs) {
  PetscFunctionBeginUser;
  memset(gs, 0, sizeof *gs);
  const ParamGroup *G = &ps->groups[group];
  int size = 1;
  if (comm != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_size(comm, &size));
  gs->comm = size > 1 ? comm : MPI_COMM_NULL;
  gs->grads = G->grads, gs->n = G->n, gs->overlap = overlap, gs->group = group;
  if (gs->comm == MPI_COMM_NULL || !G->n) PetscFunctionReturn(0);
  /* the group's tensors by descending offset; a bucket ends on a tensor boundary */
  size_t *starts;
  int nt = 0;
  PetscCall(PetscMalloc1(ps->ntensors + 1, &starts));
  for (int i = 0; i < ps->ntensors; i++)
    if (ps->tensors[i].group == group) starts[nt++] = ps->tensors[i].offset;
  for (int i = 1; i < nt; i++) /* registered in ascending order already; insertion sort keeps it cheap if not */
    for (int j = i; j > 0 && starts[j - 1] < starts[j]; j--) {
      size_t t = starts[j];
      starts[j] = starts[j - 1], starts[j - 1] = t;
    }
  PetscCall(PetscCalloc1(nt + 1, &gs->buckets));
  PetscCall(PetscMalloc1(nt + 1, &gs->reqs));
  size_t hi = G->n;
  for (int i = 0; i < nt; i++) {
    size_t lo = starts[i];
    if (i == nt - 1) lo = 0;
    if (i == nt - 1 || (bucket_floats > 0 && hi - lo >= bucket_floats)) {
      PetscCheck(hi - lo <= (size_t)INT32_MAX, comm, PETSC_ERR_SUP, "gradient bucket of %zu floats exceeds one MPI count",
                 hi - lo);
      gs->reqs[gs->nbuckets] = MPI_REQUEST_NULL;
      gs->buckets[gs->nbuckets++] = (GradBucket){.lo = lo, .hi = hi};
      hi = lo;
    }
  }
  PetscCall(PetscFree(starts));
  PetscFunctionReturn(0);
}

PetscErrorCode paramset_sync_node(GradSync *gs, ParamSet *ps, int ranks_per_node, int *used) {
  PetscFunctionBeginUser;
  *used = 0;
  if (gs->comm == MPI_COMM_NULL) PetscFunctionReturn(0); /* one rank */
  int rank, nrank, nsize;
  MPI_Comm node;
  PetscCallMPI(MPI_Comm_rank(gs->comm, &rank));
  if (ranks_per_node > 0) PetscCallMPI(MPI_Comm_split(gs->comm, rank / ranks_per_node, rank, &node));
  else PetscCallMPI(MPI_Comm_split_type(gs->comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_rank(node, &nrank));
  PetscCallMPI(MPI_Comm_size(node, &nsize));
  int range[2] = {-nsize, nsize}; /* segments line up across nodes only if every node has as many ranks */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT, MPI_MAX, gs->comm));
  if (-range[0] != range[1]) {
    PetscCallMPI(MPI_Comm_free(&node));
    PetscFunctionReturn(0);
  }
  NodeReduce *nr;
  PetscCall(PetscCalloc1(1, &nr));
  nr->node = node, nr->nrank = nrank, nr->nsize = nsize;
  PetscCallMPI(MPI_Comm_split(gs->comm, nrank, rank, &nr->cross));
  const size_t line = 16; /* floats per 64-byte cache line: no two ranks write one line */
  nr->stride = (gs->n + line - 1) / line * line;
  nr->seg = ((gs->n + nsize - 1) / nsize + line - 1) / line * line;
  PetscCheck(nr->seg <= (size_t)INT32_MAX, gs->comm, PETSC_ERR_SUP, "gradient segment of %zu floats exceeds one MPI count",
             nr->seg);
  float *mine;
  const MPI_Aint bytes = nrank == 0 ? (MPI_Aint)((nsize + 1) * nr->stride * sizeof(float)) : 0;
  PetscCallMPI(MPI_Win_allocate_shared(bytes, sizeof(float), MPI_INFO_NULL, node, &mine, &nr->win));
  MPI_Aint got;
  int unit;
  PetscCallMPI(MPI_Win_shared_query(nr->win, 0, &got, &unit, &nr->slices));
  nr->sums = nr->slices + nsize * nr->stride;
  PetscCallMPI(MPI_Win_lock_all(MPI_MODE_NOCHECK, nr->win)); /* load/store access, synchronised by Win_sync + Barrier */
  /* the group's gradient block moves into this rank's slice: backward writes it there, and
   * there is nothing to copy in (the slice is read by the others only between the two fences
   * of a reduction, while this rank is inside it too) */
  ParamGroup *G = &ps->groups[gs->group];
  float *slice = nr->slices + nrank * nr->stride;
  memcpy(slice, G->grads, gs->n * sizeof *slice);
  nr->home = &G->grads, nr->own = G->grads;
  G->grads = gs->grads = slice;
  gs->node = nr;
  *used = 1;
  PetscFunctionReturn(0);
}

/* Every rank's stores to the window before it, seen by every rank's loads after it. */
static PetscErrorCode node_fence(NodeReduce *nr) {
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Win_sync(nr->win));
  PetscCallMPI(MPI_Barrier(nr->node));
  PetscCallMPI(MPI_Win_sync(nr->win));
  PetscFunctionReturn(0);
}

static PetscErrorCode node_reduce(GradSync *gs) {
  PetscFunctionBeginUser;
  NodeReduce *nr = gs->node;
  PetscCall(PetscLogEventBegin(dt_events.grad_wait, 0, 0, 0, 0));
  PetscCall(node_fence(nr));
  const size_t lo = PetscMin(gs->n, (size_t)nr->nrank * nr->seg), hi = PetscMin(gs->n, lo + nr->seg);
  float *restrict sum = nr->sums;
  const float *restrict first = nr->slices;
#pragma omp simd
  for (size_t i = lo; i < hi; i++) sum[i] = first[i];
  for (int r = 1; r < nr->nsize; r++) { /* in node-rank order: the same bits every time */
    const float *restrict slice = nr->slices + r * nr->stride;
#pragma omp simd
    for (size_t i = lo; i < hi; i++) sum[i] += slice[i];
  }
  int nodes;
  PetscCallMPI(MPI_Comm_size(nr->cross, &nodes));
  if (nodes > 1 && hi > lo) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM, nr->cross));
  PetscCall(node_fence(nr));
  memcpy(gs->grads, sum, gs->n * sizeof(float));
  PetscCall(PetscLogEventEnd(dt_events.grad_wait, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

void paramset_sync_free(GradSync *gs) {
  if (gs->node) { /* the gradient block goes home, with what it holds */
    memcpy(gs->node->own, gs->grads, gs->n * sizeof(float));
    *gs->node->home = gs->node->own;
    MPI_Win_unlock_all(gs->node->win);
    MPI_Win_free(&gs->node->win);
    MPI_Comm_free(&gs->node->node);
    MPI_Comm_free(&gs->node->cross);
    PetscFree(gs->node);
  }
  PetscFree(gs->buckets);
  PetscFree(gs->reqs);
  memset(gs, 0, sizeof *gs);
  gs->comm = MPI_COMM_NULL;
}

void paramset_sync_begin(GradSync *gs) {
  gs->started = 0, gs->err = 0;
  gs->armed = gs->comm != MPI_COMM_NULL;
}

static PetscErrorCode start_bucket(GradSync *gs) {
  PetscFunctionBeginUser;
  const GradBucket *b = &gs->buckets[gs->started];
  MPI_Request *req = &gs->reqs[gs->started++];
  PetscCall(PetscLogEventBegin(dt_events.grad_start, 0, 0, 0, 0));
  PetscCallMPI(MPI_Iallreduce(MPI_IN_PLACE, gs->grads + b->lo, (int)(b->hi - b->lo), MPI_FLOAT, MPI_SUM, gs->comm, req));
  PetscCall(PetscLogEventEnd(dt_events.grad_start, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

void paramset_sync_ready(GradSync *gs, const float *from) {
  if (!gs->armed || !gs->overlap || gs->err) return;
  if (gs->node) return; /* backward writes straight into this rank's slice of the window */
  size_t at = (size_t)(from - gs->grads);
  while (gs->started < gs->nbuckets && gs->buckets[gs->started].lo >= at && !gs->err) gs->err = start_bucket(gs);
  if (gs->started && !gs->err) { /* progress for the ones on their way */
    int done;
    (void)PetscLogEventBegin(dt_events.grad_start, 0, 0, 0, 0);
    if (MPI_Testall(gs->started, gs->reqs, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS) gs->err = PETSC_ERR_MPI;
    (void)PetscLogEventEnd(dt_events.grad_start, 0, 0, 0, 0);
  }
}

PetscErrorCode paramset_sync_finish(GradSync *gs) {
  PetscFunctionBeginUser;
  if (!gs->armed) PetscFunctionReturn(0);
  gs->armed = 0;
  if (gs->node) {
    PetscCall(node_reduce(gs));
    PetscFunctionReturn(0);
  }
  PetscCheck(!gs->err, gs->comm, gs->err, "a gradient bucket could not be started during backward");
  while (gs->started < gs->nbuckets) PetscCall(start_bucket(gs));
  PetscCall(PetscLogEventBegin(dt_events.grad_wait, 0, 0, 0, 0));
  PetscCallMPI(MPI_Waitall(gs->nbuckets, gs->reqs, MPI_STATUSES_IGNORE));
  PetscCall(PetscLogEventEnd(dt_events.grad_wait, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
