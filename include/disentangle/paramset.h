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

#include <mpi.h>
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

/* The gradient allreduce of one group, in buckets that backward can hand over as it goes.
 *
 * Bucket boundaries are fixed when the sync is built: whole tensors, walking from the END of
 * the block (backward finishes the last layers first, and nets lie in the block in forward
 * order), a bucket closed once it holds at least `bucket_floats`. The buckets are always
 * summed by the same MPI_Iallreduce calls in the same order, whether started during backward
 * (overlap) or all after it, so overlap on and off give the same bits; bucket_floats 0 is one
 * bucket, the unbucketed sum. Other bucket sizes give its bits too as long as MPI sums each
 * element in an order independent of the message length: Open MPI 4.1's default in-place
 * iallreduce (binomial) does, its ring and Rabenseifner do not (docs/scaling.md). Backward calls paramset_sync_ready with the first float whose
 * gradient is final; every bucket above it is started, and the started ones are tested, which
 * is what moves Open MPI's non-blocking collectives on (it has no progress thread).
 * paramset_sync_finish starts the rest and waits for all: before the optimizer step. */
typedef struct {
  size_t lo, hi; /* floats [lo, hi) of the group's blocks */
} GradBucket;

/* Node-aware reduction (-grad_reduce node): the ranks that share a node's memory sum through
 * one shared window instead of through MPI messages. Each rank's gradient block IS its slice of
 * the window (backward writes it there, nothing is copied in). At the end each node rank sums
 * its segment of the block over the node's slices, in node-rank order, and, when there are
 * several nodes, allreduces that segment with the same segment of the other nodes (one
 * MPI_Allreduce per node rank, so every link of the node is busy); then every rank copies the
 * whole sum into its slice.
 * Each element is summed by the same rank in the same order whatever the buckets: bucket size
 * and overlap never change the bits. */
typedef struct {
  MPI_Comm node, cross; /* the ranks of this node; the same node rank on every node */
  int nrank, nsize;
  MPI_Win win;
  float *slices;        /* nsize slices of stride floats, slice r written by node rank r */
  float *sums;          /* stride floats: the block's sum, segment by segment */
  size_t stride, seg;   /* floats per slice (padded to cache lines); per segment */
  float **home, *own;   /* the group's gradient pointer, and the block it had before */
} NodeReduce;

typedef struct {
  MPI_Comm comm; /* MPI_COMM_NULL: one rank, nothing to sum */
  float *grads;
  size_t n;
  int overlap;
  int nbuckets, started;   /* buckets 0..started-1 are on their way */
  GradBucket *buckets;     /* bucket 0 covers the end of the block */
  MPI_Request *reqs;       /* one per bucket */
  int armed;               /* between begin and finish */
  PetscErrorCode err;      /* of a start inside backward (which cannot return one) */
  NodeReduce *node;        /* -grad_reduce node; NULL: the buckets' MPI_Iallreduce */
  int group;               /* of the ParamSet */
} GradSync;

PetscErrorCode paramset_sync_create(const ParamSet *ps, int group, MPI_Comm comm, size_t bucket_floats, int overlap,
                                    GradSync *gs);
/* Sum through shared memory inside each node from now on (NodeReduce). The group's gradient
 * block moves into the shared window (its contents with it) until paramset_sync_free: whoever
 * kept a pointer to it must take it again (ps->groups[group].grads). ranks_per_node 0: the
 * nodes as MPI sees them (MPI_COMM_TYPE_SHARED); k > 0: consecutive blocks of k ranks, which is
 * how a test makes several "nodes" of one machine. Every node must have as many ranks; if not,
 * the sync stays with MPI and *used says so (0). */
PetscErrorCode paramset_sync_node(GradSync *gs, ParamSet *ps, int ranks_per_node, int *used);
void paramset_sync_free(GradSync *gs);
/* A backward pass that will hand over its gradients begins (they are zero or accumulating). */
void paramset_sync_begin(GradSync *gs);
/* Gradients from `from` (a pointer into the group's gradient block) to its end are final. */
void paramset_sync_ready(GradSync *gs, const float *from);
/* Start what is left, wait for every bucket: the block holds the sum over comm. */
PetscErrorCode paramset_sync_finish(GradSync *gs);

#endif
