#include "disentangle/error.h"

#include <stdio.h>

/* Input errors are the user's to fix: one line, from rank 0 only (every rank detects them
 * identically), no traceback. Everything else gets PETSc's full traceback. */
static PetscErrorCode input_error_handler(MPI_Comm comm, int line, const char *func, const char *file,
                                          PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx) {
  if (n != DT_ERR_INPUT) return PetscTraceBackErrorHandler(comm, line, func, file, n, p, mess, ctx);
  if (p == PETSC_ERROR_INITIAL) {
    int rank = 0;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    if (rank == 0) {
      fprintf(stderr, "disentangle: error: %s\n", mess);
      fflush(stderr);
    }
  }
  return n;
}

PetscErrorCode dt_error_setup(void) {
  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(input_error_handler, NULL));
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscFunctionReturn(0);
}

int dt_exit_code(PetscErrorCode ierr) {
  if (ierr == 0) return DT_EXIT_OK;
  return ierr == DT_ERR_INPUT ? DT_EXIT_INPUT : DT_EXIT_INTERNAL;
}
