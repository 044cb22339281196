#include "disentangle/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Input and output errors are the user's to fix: one line, from rank 0 only (every rank
 * detects them identically), no traceback. Everything else gets PETSc's full traceback. */
static PetscErrorCode input_error_handler(MPI_Comm comm, int line, const char *func, const char *file,
                                          PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx) {
  if (n != DT_ERR_INPUT && n != PETSC_ERR_FILE_WRITE && n != PETSC_ERR_FILE_READ && n != DT_ERR_STOPPED)
    return PetscTraceBackErrorHandler(comm, line, func, file, n, p, mess, ctx);
  if (p == PETSC_ERROR_INITIAL) {
    int rank = 0;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    if (rank == 0) {
      fprintf(stderr, "disentangle: %s%s\n", n == DT_ERR_STOPPED ? "" : "error: ", mess);
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
  if (ierr == DT_ERR_STOPPED) return DT_EXIT_STOPPED;
  /* a write that failed, or an input file that became unreadable during the run */
  return ierr == PETSC_ERR_FILE_WRITE || ierr == PETSC_ERR_FILE_READ ? DT_EXIT_OUTPUT : DT_EXIT_INTERNAL;
}

int dt_regular_file(const char *path, char *why, size_t len) {
  struct stat st;
  if (stat(path, &st) != 0) return snprintf(why, len, "%s", strerror(errno)), 0;
  if (S_ISREG(st.st_mode)) {
    if (access(path, R_OK) == 0) return 1;
    return snprintf(why, len, "%s", strerror(errno)), 0;
  }
  const char *kind = S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  snprintf(why, len, "%s%s", strncmp(kind, "not", 3) ? "is " : "", kind);
  return -1;
}
