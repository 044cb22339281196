/* The parallel shape: the world communicator for data parallelism, rank groups for the
 * adversary regressors, and the batch split. */
#ifndef DISENTANGLE_COMM_H
#define DISENTANGLE_COMM_H

#include <mpi.h>
#include <petscsys.h>

typedef struct {
  MPI_Comm world;
  int rank, size;
  MPI_Comm group;     /* ranks that train the same regressors */
  int ngroups, group_id, group_rank, group_size;
} Par;

/* Split world into ngroups rank groups: rank r joins group r mod ngroups. */
PetscErrorCode par_create(MPI_Comm world, int ngroups, Par *par);
void par_free(Par *par);

/* Rows [*offset, *offset + *count) of a batch of B rows owned by part p of nparts.
 * Uneven splits: the first B mod nparts parts get one row more. */
void par_slice(int B, int p, int nparts, int *offset, int *count);

/* Rows [*offset, *offset + *count) of n rows for part p of nparts, in whole chunks of `chunk`
 * rows (the last may be short): a row is then always processed in the same chunk, with the same
 * GEMM shapes, whatever the number of parts, so results are bit-identical on any rank count. */
void par_slice_chunks(long n, int chunk, int p, int nparts, int *offset, int *count);

/* This part's rows of a global batch of B rows: par_slice, or with chunk > 0 (-reproducible)
 * whole chunks of `chunk` rows (par_slice_chunks). */
void par_batch_slice(int B, int chunk, int p, int nparts, int *offset, int *count);

/* Sum n doubles over comm in place: the ONE reduction of the batch statistics. */
PetscErrorCode par_allreduce_stats(double *buf, int n, MPI_Comm comm);
/* Sum a flat float gradient block over comm in place. */
PetscErrorCode par_allreduce_grads(float *g, size_t n, MPI_Comm comm);
/* Gather every rank's slice of a [B][width] batch (sliced as par_slice) into full[B][width]. */
PetscErrorCode par_allgather_rows(const float *local, float *full, int B, int width, MPI_Comm comm);
/* The same for a batch sliced as par_batch_slice(B, chunk, ...). */
PetscErrorCode par_allgather_batch_rows(const float *local, float *full, int B, int chunk, int width, MPI_Comm comm);

#endif
