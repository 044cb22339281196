/* Symmetric eigenvalues: LAPACK dsyevd on one rank, ScaLAPACK pdsyev over a BLACS grid.
 *
 * Which ScaLAPACK driver: pdsyevd (divide and conquer) accepts only jobz = 'V' -- it always
 * computes the eigenvectors, i.e. an n x n distributed Z, the D&C merge with vectors and the
 * pdormtr back-transformation: work and n^2 memory we do not need. pdsyev with jobz = 'N'
 * does just the distributed reduction to tridiagonal form (pdsytrd, the O(n^3) part) and then
 * the O(n^2) implicit QL/QR iteration on the tridiagonal matrix, redundantly on every process;
 * it also checks that all processes found the same eigenvalues. That is the same mathematics as
 * LAPACK's dsyevd with jobz = 'N' (dsytrd + dsterf), so the two paths differ only in the
 * rounding of the reduction. pdsyevr with 'N' (MRRR) would also do, but buys nothing when all
 * eigenvalues and no vectors are wanted. Measured, n = 1000 on 2 ranks (1 x 2 grid, block 64):
 * pdsyev 'N' 0.064 s, pdsyevd 'V' 0.099 s, pdsyevr 'N' 0.154 s; pdsyev with blocks of 32 and
 * 128: 0.060 s and 0.072 s (32 within the noise of 64).
 *
 * Fortran character arguments are followed by their hidden lengths (size_t, gfortran >= 8 ABI);
 * passing them keeps the calls well defined whatever the callee does with them. */
#include "disentangle/spectrum.h"

#include <math.h>
#include <stddef.h>

/* LAPACK (liblapack / OpenBLAS) */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
                    const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

/* C BLACS, as exported by Debian's libscalapack-openmpi (no header is installed). */
extern void Cblacs_pinfo(int *mypnum, int *nprocs);
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int context);

/* ScaLAPACK tools and driver */
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
                      const int *icsrc, const int *ictxt, const int *lld, int *info);
extern void pdsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
                    const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz,
                    double *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

#define DESC_LEN 9

typedef struct {
  int system_handle; /* BLACS' name for the MPI communicator */
  int context;       /* the process grid */
  int nprow, npcol, myrow, mycol;
} BlacsGrid;

int spectrum_uses_scalapack(MPI_Comm comm, int n, int distributed_min) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  return size > 1 && n >= distributed_min;
}

/* NaN or Inf would make the QR iteration fail to converge (or worse, return garbage quietly). */
static PetscErrorCode check_finite(const double *a, int n) {
  PetscFunctionBeginUser;
  for (size_t i = 0; i < (size_t)n * n; i++)
    PetscCheck(isfinite(a[i]), PETSC_COMM_SELF, PETSC_ERR_FP, "spectrum: entry (%zu, %zu) of the %d x %d matrix is %g",
               i / n, i % n, n, n, a[i]);
  PetscFunctionReturn(0);
}

static void reverse(double *w, int n) {
  for (int i = 0, j = n - 1; i < j; i++, j--) {
    double t = w[i];
    w[i] = w[j], w[j] = t;
  }
}

/* dsyevd('N', 'L') on a copy of a: ascending eigenvalues into w, LAPACK's info into *info.
 * Row-major a read as column-major with uplo 'L' is the row-major upper triangle. */
static PetscErrorCode lapack_ascending(const double *a, int n, double *w, int *info) {
  double *copy, work_query;
  int *iwork, lwork = -1, liwork = -1, iwork_query, lda = PetscMax(1, n);
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)n * n, &copy));
  PetscCall(PetscArraycpy(copy, a, (size_t)n * n));
  dsyevd_("N", "L", &n, copy, &lda, w, &work_query, &lwork, &iwork_query, &liwork, info, 1, 1);
  if (*info == 0) {
    double *work;
    lwork = (int)ceil(work_query), liwork = iwork_query;
    PetscCall(PetscMalloc2(lwork, &work, liwork, &iwork));
    dsyevd_("N", "L", &n, copy, &lda, w, work, &lwork, iwork, &liwork, info, 1, 1);
    PetscCall(PetscFree2(work, iwork));
  }
  PetscCall(PetscFree(copy));
  PetscFunctionReturn(0);
}

PetscErrorCode spectrum_eigenvalues_local(const double *a, int n, double *w) {
  int info = 0;
  PetscFunctionBeginUser;
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "spectrum: matrix order %d < 0", n);
  if (n == 0) PetscFunctionReturn(0);
  PetscCall(check_finite(a, n));
  PetscCall(lapack_ascending(a, n, w, &info));
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "spectrum: LAPACK dsyevd failed on a %d x %d matrix, info %d", n,
             n, info);
  reverse(w, n);
  PetscFunctionReturn(0);
}

/* Grid as square as the rank count allows: nprow the largest divisor <= sqrt(size), so every
 * rank gets a place (2 -> 1 x 2, 3 -> 1 x 3, 4 -> 2 x 2, 6 -> 2 x 3). */
static void grid_shape(int size, int *nprow, int *npcol) {
  int rows = 1;
  for (int r = 1; r * r <= size; r++)
    if (size % r == 0) rows = r;
  *nprow = rows, *npcol = size / rows;
}

static PetscErrorCode blacs_grid_open(MPI_Comm comm, BlacsGrid *g) {
  int size, pnum, nprocs;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  Cblacs_pinfo(&pnum, &nprocs); /* sets BLACS up on top of the running MPI */
  grid_shape(size, &g->nprow, &g->npcol);
  g->system_handle = Csys2blacs_handle(comm);
  g->context = g->system_handle;
  Cblacs_gridinit(&g->context, "Row", g->nprow, g->npcol);
  Cblacs_gridinfo(g->context, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
  PetscCheck(g->myrow >= 0 && g->mycol >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB,
             "spectrum: this rank is not in the %d x %d BLACS grid", g->nprow, g->npcol);
  PetscFunctionReturn(0);
}

static void blacs_grid_close(BlacsGrid *g) {
  Cblacs_gridexit(g->context);
  Cfree_blacs_system_handle(g->system_handle);
}

/* Global index of local index l in a block-cyclic dimension of block nb over nprocs, owned here
 * at coordinate me (source process 0). */
static int global_index(int l, int nb, int me, int nprocs) { return ((l / nb) * nprocs + me) * nb + l % nb; }

/* This rank's part of the block-cyclic copy of a (column-major local array, leading dimension
 * desc[8]); the same column-major reading of a as the LAPACK path. */
static PetscErrorCode fill_local_block(const double *a, int n, const BlacsGrid *g, double **local, int *desc) {
  const int nb = SPECTRUM_BLOCK, zero = 0;
  int info;
  PetscFunctionBeginUser;
  int np = numroc_(&n, &nb, &g->myrow, &zero, &g->nprow), nq = numroc_(&n, &nb, &g->mycol, &zero, &g->npcol);
  int lld = PetscMax(1, np);
  descinit_(desc, &n, &n, &nb, &nb, &zero, &zero, &g->context, &lld, &info);
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "spectrum: descinit failed, info %d", info);
  /* a rank may own nothing (n < block x grid side): keep one element so the pointer is valid */
  PetscCall(PetscMalloc1(PetscMax(1, (size_t)lld * nq), local));
  for (int lc = 0; lc < nq; lc++) {
    const double *column = a + (size_t)global_index(lc, nb, g->mycol, g->npcol) * n;
    for (int lr = 0; lr < np; lr++) (*local)[(size_t)lc * lld + lr] = column[global_index(lr, nb, g->myrow, g->nprow)];
  }
  PetscFunctionReturn(0);
}

/* pdsyev('N', 'L') over all ranks of comm: ascending eigenvalues into w on every rank,
 * ScaLAPACK's info into *info (0 on success; every rank sees a failure, see the caller). */
static PetscErrorCode scalapack_ascending(MPI_Comm comm, const double *a, int n, double *w, int *info) {
  BlacsGrid g;
  int desc[DESC_LEN], one = 1, lwork = -1;
  double *local, work_query, unused_z = 0;
  PetscFunctionBeginUser;
  PetscCall(blacs_grid_open(comm, &g));
  PetscCall(fill_local_block(a, n, &g, &local, desc));
  /* Z is not referenced with jobz 'N'; desc stands in for its descriptor */
  pdsyev_("N", "L", &n, local, &one, &one, desc, w, &unused_z, &one, &one, desc, &work_query, &lwork, info, 1, 1);
  if (*info == 0) {
    double *work;
    lwork = (int)ceil(work_query);
    PetscCall(PetscMalloc1(lwork, &work));
    pdsyev_("N", "L", &n, local, &one, &one, desc, w, &unused_z, &one, &one, desc, work, &lwork, info, 1, 1);
    PetscCall(PetscFree(work));
  }
  PetscCall(PetscFree(local));
  blacs_grid_close(&g);
  PetscFunctionReturn(0);
}

PetscErrorCode spectrum_eigenvalues(MPI_Comm comm, const double *a, int n, int distributed_min, double *w) {
  int rank, info = 0;
  const int distributed = spectrum_uses_scalapack(comm, n, distributed_min);
  PetscFunctionBeginUser;
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "spectrum: matrix order %d < 0", n);
  if (n == 0) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* every rank holds the same a, so every rank reaches the same verdict without a message */
  PetscCall(check_finite(a, n));
  if (distributed) PetscCall(scalapack_ascending(comm, a, n, w, &info));
  else if (rank == 0) PetscCall(lapack_ascending(a, n, w, &info)); /* once: the others would only repeat it */
  /* so that all ranks raise the error together: info > 0 is no convergence, info < 0 a bad
   * argument (a bug here) */
  int failure[2] = {PetscMax(info, 0), PetscMax(-info, 0)};
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, failure, 2, MPI_INT, MPI_MAX, comm));
  PetscCheck(failure[0] == 0 && failure[1] == 0, PETSC_COMM_SELF, PETSC_ERR_LIB,
             "spectrum: %s failed on a %d x %d matrix, info %d", distributed ? "ScaLAPACK pdsyev" : "LAPACK dsyevd", n, n,
             failure[0] ? failure[0] : -failure[1]);
  /* pdsyev's processes agree only up to its sampled check; rank 0's copy makes them identical */
  PetscCallMPI(MPI_Bcast(w, n, MPI_DOUBLE, 0, comm));
  reverse(w, n);
  PetscFunctionReturn(0);
}
