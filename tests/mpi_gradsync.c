/* The bucketed gradient allreduce (paramset_sync_*) on 1, 2 and 3 ranks: whatever the bucket
 * size, and with overlap on or off, the summed block is bit for bit the one a single
 * MPI_Allreduce over the whole block gives; buckets tile the block on tensor boundaries, from
 * its end; with overlap, buckets are on their way before backward has finished. The bit
 * identity across bucket sizes needs an MPI that sums each element in an order independent of
 * the message length (Open MPI's default iallreduce does; forcing its ring algorithm fails
 * this test on 3 ranks, as it should: see docs/scaling.md).
 *
 * The node-aware reduction (paramset_sync_node) on one node of 1, 2 or 3 ranks, and on
 * "nodes" of 1 rank (summed across by MPI_Allreduce) and, on 4 ranks, of 2 ranks each: its
 * sum does not depend on bucket size or overlap; on one node it is each element summed in rank
 * order, which the test forms itself; across nodes it is within rounding of the serial sum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/paramset.h"
#include "disentangle/comm.h"
#include "disentangle/phases.h"
#include "disentangle/rng.h"
#include "testing.h"

#define NT 9

/* Rank's gradient i of tensor t; magnitudes spread over six decades so that a different
 * summation order would show in the bits. */
static float grad_value(int rank, int t, size_t i) {
  return (float)(rng_normal(7, (uint64_t)rank, (uint64_t)t, i) * pow(10.0, (double)(i % 6) - 3.0));
}

/* This rank's gradients of tensor t, written as a layer's backward would. */
static void fill(const ParamSet *ps, int t, int rank) {
  float *g = paramset_grad(ps, t);
  for (size_t i = 0; i < ps->tensors[t].size; i++) g[i] = grad_value(rank, t, i);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(phases_register());
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  const int sizes[NT] = {5000, 37, 1200, 3, 70000, 11, 300000, 9, 4096};
  ParamSet ps;
  paramset_init(&ps);
  int other, group, idx[NT];
  PetscCall(paramset_group(&ps, "other", &other)); /* a group before: offsets are the group's own */
  PetscCall(paramset_add(&ps, other, "other/w", 1, (int[]){10}, &idx[0]));
  PetscCall(paramset_group(&ps, "net", &group));
  for (int t = 0; t < NT; t++) {
    char name[32];
    snprintf(name, sizeof name, "net/t%d", t);
    PetscCall(paramset_add(&ps, group, name, 1, &sizes[t], &idx[t]));
  }
  PetscCall(paramset_allocate(&ps));
  const ParamGroup *G = &ps.groups[group];
  float *want = malloc(G->n * sizeof *want);
  for (int t = 0; t < NT; t++) fill(&ps, idx[t], rank);
  PetscCall(par_allreduce_grads(G->grads, G->n, PETSC_COMM_WORLD));
  memcpy(want, G->grads, G->n * sizeof *want);

  const size_t buckets[] = {0, 1, 1000, 50000, 100000, 1u << 20};
  for (size_t k = 0; k < sizeof buckets / sizeof *buckets; k++)
    for (int overlap = 0; overlap <= 1; overlap++) {
      GradSync gs;
      PetscCall(paramset_sync_create(&ps, group, PETSC_COMM_WORLD, buckets[k], overlap, &gs));
      /* buckets: contiguous from the block's end down to 0, each on a tensor boundary, each
       * at least the size asked for but the last */
      size_t hi = G->n;
      for (int b = 0; b < gs.nbuckets; b++) {
        int boundary = 0;
        for (int t = 0; t < NT; t++) boundary |= ps.tensors[idx[t]].offset == gs.buckets[b].lo;
        CHECK(gs.buckets[b].hi == hi && gs.buckets[b].lo < hi && boundary, "bucket %d of size %zu: [%zu, %zu)", b,
              buckets[k], gs.buckets[b].lo, gs.buckets[b].hi);
        CHECK(b == gs.nbuckets - 1 || gs.buckets[b].hi - gs.buckets[b].lo >= buckets[k], "bucket %d smaller than %zu", b,
              buckets[k]);
        hi = gs.buckets[b].lo;
      }
      CHECK(size == 1 ? gs.nbuckets == 0 : hi == 0, "buckets of size %zu do not reach the block's start", buckets[k]);
      if (size > 1 && buckets[k] == 0) CHECK(gs.nbuckets == 1, "bucket size 0: %d buckets, want 1", gs.nbuckets);
      if (size > 1 && buckets[k] == 1) CHECK(gs.nbuckets == NT, "bucket size 1: %d buckets, want one per tensor", gs.nbuckets);

      memset(G->grads, 0, G->n * sizeof *G->grads);
      paramset_sync_begin(&gs);
      int early = 0;
      for (int t = NT - 1; t >= 0; t--) { /* backward: the last tensor first */
        fill(&ps, idx[t], rank);
        paramset_sync_ready(&gs, paramset_grad(&ps, idx[t]));
        if (t == 1) early = gs.started;
      }
      PetscCall(paramset_sync_finish(&gs));
      if (size > 1 && gs.nbuckets > 1)
        CHECK(overlap ? early >= 1 : early == 0, "bucket size %zu, overlap %d: %d bucket(s) started before backward ended",
              buckets[k], overlap, early);
      CHECK(!memcmp(G->grads, want, G->n * sizeof *want),
            "bucket size %zu, overlap %d: the sum differs in its bits from one allreduce over the block", buckets[k], overlap);
      paramset_sync_free(&gs);
    }
  /* node-aware: one node as MPI sees it; nodes of one rank; of two ranks when that makes several */
  float *ordered = malloc(G->n * sizeof *ordered), *node_first = malloc(G->n * sizeof *node_first);
  double *magnitude = malloc(G->n * sizeof *magnitude);
  for (int t = 0; t < NT; t++) { /* every rank's gradients summed in rank order, in float */
    const ParamTensor *T = &ps.tensors[idx[t]];
    for (size_t i = 0; i < T->size; i++) {
      float acc = 0;
      double mag = 0;
      for (int r = 0; r < size; r++) {
        const float v = grad_value(r, idx[t], i);
        acc = r ? acc + v : v, mag += fabs(v);
      }
      ordered[T->offset + i] = acc, magnitude[T->offset + i] = mag;
    }
  }
  const int per_node[] = {0, 1, 2};
  for (int p = 0; p < 3; p++) {
    if (per_node[p] == 2 && (size < 4 || size % 2)) continue; /* 2 ranks a node: a second node needs 4 */
    int first = 1;
    for (size_t k = 0; k < sizeof buckets / sizeof *buckets; k++)
      for (int overlap = 0; overlap <= 1; overlap++) {
        GradSync gs;
        int used;
        PetscCall(paramset_sync_create(&ps, group, PETSC_COMM_WORLD, buckets[k], overlap, &gs));
        PetscCall(paramset_sync_node(&gs, &ps, per_node[p], &used));
        CHECK(used == (size > 1), "ranks per node %d on %d ranks: node reduction used %d", per_node[p], size, used);
        for (int step = 0; step < 2; step++) { /* twice: the window is reused step after step */
          memset(G->grads, 0, G->n * sizeof *G->grads);
          paramset_sync_begin(&gs);
          for (int t = NT - 1; t >= 0; t--) {
            fill(&ps, idx[t], rank);
            paramset_sync_ready(&gs, paramset_grad(&ps, idx[t]));
          }
          PetscCall(paramset_sync_finish(&gs));
          if (first) memcpy(node_first, G->grads, G->n * sizeof *node_first), first = 0;
          CHECK(!memcmp(G->grads, node_first, G->n * sizeof *node_first),
                "node reduction, %d ranks per node, bucket size %zu, overlap %d, step %d: the bits differ from bucket size 0",
                per_node[p], buckets[k], overlap, step);
          if (per_node[p] == 0) /* this machine is one node */
            CHECK(!memcmp(G->grads, ordered, G->n * sizeof *ordered),
                  "node reduction on one node, bucket size %zu, overlap %d: not the rank-order sum", buckets[k], overlap);
        }
        paramset_sync_free(&gs);
      }
    double worst = 0;
    for (size_t i = 0; i < G->n; i++)
      worst = fmax(worst, fabs((double)node_first[i] - ordered[i]) / (magnitude[i] + 1e-30));
    CHECK(worst < 1e-5, "node reduction, %d ranks per node: off the rank-order sum by %g relative", per_node[p], worst);
  }
  free(ordered);
  free(node_first);
  free(magnitude);

  /* and the sum is the sum: against the serial one in double */
  double worst = 0;
  for (int t = 0; t < NT; t++) {
    const float *g = want + ps.tensors[idx[t]].offset;
    for (size_t i = 0; i < ps.tensors[idx[t]].size; i += 97) {
      double s = 0, mag = 0;
      for (int r = 0; r < size; r++) {
        double v = grad_value(r, idx[t], i);
        s += v, mag += fabs(v);
      }
      worst = fmax(worst, fabs(g[i] - s) / (mag + 1e-30));
    }
  }
  CHECK(worst < 1e-6, "the summed gradients are off the serial sum by %g relative", worst);
  free(want);
  paramset_free(&ps);
  return test_mpi_finish();
}
