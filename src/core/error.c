#include "disentangle/error.h"

#include <stdio.h>

/* Input and output errors are the user's to fix: one line, from rank 0 only (every rank
 * detects them identically), no traceback. Everything else gets PETSc's full traceback. */
static PetscErrorCode input_error_handler(MPI_Comm comm, int line, const char *func, const char *file,
                                          PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx) {
  if (n != DT_ERR_INPUT && n != PETSC_ERR_FILE_WRITE)
    return PetscTraceBackErrorHandler(comm, line, func, file, n, p, mess, ctx);
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
  if (ierr == DT_ERR_INPUT) return DT_EXIT_INPUT;
  return ierr == PETSC_ERR_FILE_WRITE ? DT_EXIT_OUTPUT : DT_EXIT_INTERNAL;
}
