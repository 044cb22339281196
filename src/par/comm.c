#include "disentangle/comm.h"

#include <stdlib.h>

#include "disentangle/phase.h"
#include "disentangle/phases.h"

PetscErrorCode par_create(MPI_Comm world, int ngroups, Par *par) {
  PetscFunctionBeginUser;
  par->world = world;
  PetscCallMPI(MPI_Comm_rank(world, &par->rank));
  PetscCallMPI(MPI_Comm_size(world, &par->size));
  PetscCheck(ngroups >= 1 && ngroups <= par->size, world, PETSC_ERR_ARG_OUTOFRANGE,
             "rank groups %d outside [1, %d]", ngroups, par->size);
  par->ngroups = ngroups;
  par->group_id = par->rank % ngroups;
  PetscCallMPI(MPI_Comm_split(world, par->group_id, par->rank, &par->group));
  PetscCallMPI(MPI_Comm_rank(par->group, &par->group_rank));
  PetscCallMPI(MPI_Comm_size(par->group, &par->group_size));
  PetscFunctionReturn(0);
}

void par_free(Par *par) {
  if (par->group != MPI_COMM_NULL) MPI_Comm_free(&par->group);
  par->group = MPI_COMM_NULL;
}

void par_slice(int B, int p, int nparts, int *offset, int *count) {
  int base = B / nparts, extra = B % nparts;
  *count = base + (p < extra);
  *offset = p * base + (p < extra ? p : extra);
}

void par_slice_chunks(long n, int chunk, int p, int nparts, int *offset, int *count) {
  int chunks = (int)((n + chunk - 1) / chunk), first, many;
  par_slice(chunks, p, nparts, &first, &many);
  long start = (long)first * chunk, end = PetscMin((long)(first + many) * chunk, n);
  *offset = (int)start;
  *count = (int)PetscMax(end - start, 0);
}

void par_batch_slice(int B, int chunk, int p, int nparts, int *offset, int *count) {
  if (chunk > 0) par_slice_chunks(B, chunk, p, nparts, offset, count);
  else par_slice(B, p, nparts, offset, count);
}

PetscErrorCode par_allreduce_stats(double *buf, int n, MPI_Comm comm) {
  PetscFunctionBeginUser;
  Phase was = phase_switch(PHASE_ALLREDUCE);
  PetscCall(PetscLogEventBegin(dt_events.stats, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(PetscLogEventEnd(dt_events.stats, 0, 0, 0, 0));
  phase_switch(was);
  PetscFunctionReturn(0);
}

PetscErrorCode par_allreduce_grads(float *g, size_t n, MPI_Comm comm) {
  PetscFunctionBeginUser;
  PetscCheck(n <= (size_t)INT32_MAX, comm, PETSC_ERR_SUP, "gradient block of %zu floats exceeds one MPI count", n);
  Phase was = phase_switch(PHASE_ALLREDUCE);
  PetscCall(PetscLogEventBegin(dt_events.grad_reduce, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, comm));
  PetscCall(PetscLogEventEnd(dt_events.grad_reduce, 0, 0, 0, 0));
  phase_switch(was);
  PetscFunctionReturn(0);
}

PetscErrorCode par_allgather_rows(const float *local, float *full, int B, int width, MPI_Comm comm) {
  PetscFunctionBeginUser;
  PetscCall(par_allgather_batch_rows(local, full, B, 0, width, comm));
  PetscFunctionReturn(0);
}

PetscErrorCode par_allgather_batch_rows(const float *local, float *full, int B, int chunk, int width, MPI_Comm comm) {
  PetscFunctionBeginUser;
  int size, rank;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  int *counts = malloc(2 * sizeof(int) * size), *displs = counts + size;
  PetscCheck(counts, comm, PETSC_ERR_MEM, "out of memory");
  for (int p = 0; p < size; p++) {
    par_batch_slice(B, chunk, p, size, &displs[p], &counts[p]);
    counts[p] *= width, displs[p] *= width;
  }
  Phase was = phase_switch(PHASE_ALLREDUCE);
  PetscCall(PetscLogEventBegin(dt_events.gather, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allgatherv(local, counts[rank], MPI_FLOAT, full, counts, displs, MPI_FLOAT, comm));
  PetscCall(PetscLogEventEnd(dt_events.gather, 0, 0, 0, 0));
  phase_switch(was);
  free(counts);
  PetscFunctionReturn(0);
}
