/* Errors: every fallible function returns PetscErrorCode and is called through PetscCall.
 *
 * Three kinds of error leave the program:
 *  - input errors (bad option, archive, checkpoint): detected identically on every rank,
 *    reported as ONE line by rank 0, exit code DT_EXIT_INPUT;
 *  - output errors (PETSC_ERR_FILE_WRITE: disk full, directory gone; PETSC_ERR_FILE_READ: an input
 *    file that became unreadable during the run), agreed on by all ranks:
 *    one line, exit code DT_EXIT_OUTPUT;
 *  - internal errors: PETSc's traceback, then MPI_Abort.
 * An input error is raised with DT_INPUT_ERROR(comm, fmt, ...). */
#ifndef DISENTANGLE_ERROR_H
#define DISENTANGLE_ERROR_H

#include <hdf5.h>
#include <petscsys.h>

#define DT_EXIT_OK 0
#define DT_EXIT_INTERNAL 1
#define DT_EXIT_INPUT 2
#define DT_EXIT_OUTPUT 3
/* Training reached a non-finite loss or parameter (NaN, Inf): nothing was written from that
 * state; the last checkpoint stays as it was. */
#define DT_EXIT_NONFINITE 4
/* A run that stopped early on request (signal or STOP file), after writing a checkpoint or
 * before writing anything: EX_TEMPFAIL of sysexits.h, "try again later", i.e. go on with
 * -restart auto. */
#define DT_EXIT_STOPPED 75

/* The PETSc error code that marks "the user's input is wrong". */
#define DT_ERR_INPUT PETSC_ERR_USER_INPUT
/* The error that ends a run stopped on request where no checkpoint is due (during set-up): one
 * line, no "error:", exit DT_EXIT_STOPPED. Beyond PETSc's own codes. */
#define DT_ERR_STOPPED 175

#define DT_INPUT_ERROR(comm, ...) SETERRQ((comm), DT_ERR_INPUT, __VA_ARGS__)
#define DT_INPUT_CHECK(cond, comm, ...) PetscCheck((cond), (comm), DT_ERR_INPUT, __VA_ARGS__)

/* HDF5 calls return negative on failure; wrap the ones whose failure is a bug or an I/O fault. */
#define DT_H5(call)                                                                                \
  do {                                                                                             \
    if ((call) < 0) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call failed: %s", #call);        \
  } while (0)

/* Whether path is a readable regular file: 1; 0 when it cannot be reached (why: strerror, "No
 * such file or directory"); -1 when it is something else (why: "is a FIFO (named pipe)", "is a
 * directory"...). Every input file is looked at this
 * way before HDF5 opens it: opening a FIFO blocks forever (and no signal ends the wait), a
 * device reads garbage. Does not open the file. */
int dt_regular_file(const char *path, char *why, size_t len);

/* Install the error handler above and silence HDF5's own error stack printing. */
PetscErrorCode dt_error_setup(void);

/* Map a PETSc error code returned to main onto the process exit code. */
int dt_exit_code(PetscErrorCode ierr);

#endif
