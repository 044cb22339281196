/* Eigenvalues of a dense symmetric matrix, on one rank with LAPACK or spread over a
 * communicator with ScaLAPACK.
 *
 * The caller holds the whole matrix on every rank (covariances of a layer: p x p with p at most
 * a few thousand, so a full copy per rank is cheap); what ScaLAPACK distributes is the O(n^3)
 * reduction to tridiagonal form, which is where the time goes. */
#ifndef DISENTANGLE_SPECTRUM_H
#define DISENTANGLE_SPECTRUM_H

#include <mpi.h>
#include <petscsys.h>

/* Default of the option -eig_distributed_min: the order from which ScaLAPACK is used. Below it
 * the messages of the distributed reduction cost more than the flops they save. Where that
 * happens depends on the machine: on a 2-core node (2 ranks) pdsyev only caught up with one-rank
 * dsyevd between n = 2000 and 3000; with more cores per job the crossover comes earlier. */
#define SPECTRUM_DISTRIBUTED_MIN_DEFAULT 512

/* ScaLAPACK block size of the block-cyclic layout. */
#define SPECTRUM_BLOCK 64

/* All n eigenvalues of the symmetric n x n matrix a, in DESCENDING order, into w[n] on every
 * rank of comm. Collective: every rank passes the same a (row-major or column-major: only the
 * upper triangle of the row-major view, a[i*n + j] with j >= i, is read, on both paths).
 * ScaLAPACK (pdsyev over all ranks) when n >= distributed_min and comm has more than one rank;
 * otherwise LAPACK (dsyevd) on rank 0. Either way every rank ends with bitwise the same w, so
 * decisions taken on w (UD90, ...) agree across ranks. A non-finite entry in a or a solver
 * failure is an error (PETSC_ERR_FP / PETSC_ERR_LIB) raised on every rank. */
PetscErrorCode spectrum_eigenvalues(MPI_Comm comm, const double *a, int n, int distributed_min, double *w);

/* The LAPACK path alone, on this rank's copy: dsyevd with jobz = 'N'. Not collective. */
PetscErrorCode spectrum_eigenvalues_local(const double *a, int n, double *w);

/* Whether spectrum_eigenvalues(comm, ., n, distributed_min, .) takes the ScaLAPACK path. */
int spectrum_uses_scalapack(MPI_Comm comm, int n, int distributed_min);

#endif
