/* The run log: ONE line saying what ran, so a result can be traced to the program, the build
 * and the libraries that made it. Printed when a run starts, stored in every checkpoint (root
 * attribute `run_log`) and in summary.json (`run_log`), shown by `inspect`:
 *   disentangle 0.1.0 (git 66b8213ab01f) train on 2 ranks; Open MPI v4.1.4, HDF5 1.10.8,
 *   PETSc 3.18.5, OpenBLAS 0.3.21 (core Haswell); options: -method nashae -data ... */
#ifndef DISENTANGLE_RUNLOG_H
#define DISENTANGLE_RUNLOG_H

#include <mpi.h>
#include <petscsys.h>
#include <stddef.h>

/* The git revision the program was built from ("66b8213ab01f", "-dirty" when the tree had
 * changes; from the tarball's REVISION file when built without .git; "unknown" otherwise). */
const char *runlog_revision(void);
/* "Open MPI v4.1.4, HDF5 1.10.8, PETSc 3.18.5, OpenBLAS 0.3.21 (core Haswell)" */
void runlog_libraries(char *buf, size_t len);
/* The line for `command` run on comm's ranks with `options` ("-name value" lines, as a
 * checkpoint records them; written space-separated), PetscMalloc'd. */
PetscErrorCode runlog_line(MPI_Comm comm, const char *command, const char *options, char **line);

#endif
