/* The run log line: see runlog.h. */
#include "disentangle/runlog.h"

#include <cblas.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "revision.h" /* generated at build time (Makefile.am): DT_REVISION */

const char *runlog_revision(void) { return DT_REVISION; }

void runlog_libraries(char *buf, size_t len) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "MPI", petsc[128] = "PETSc", blas[160] = "BLAS";
  int n = 0;
  MPI_Get_library_version(mpi, &n);
  mpi[strcspn(mpi, ",\n")] = 0; /* "Open MPI v4.1.4, package: Debian OpenMPI, ident: ..." */
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  PetscGetVersion(petsc, sizeof petsc);
  petsc[strcspn(petsc, ",")] = 0; /* "Petsc Release Version 3.18.5, Mar 03, 2023" */
  char *v = strrchr(petsc, ' ');
  char pv[64];
  snprintf(pv, sizeof pv, "%s", v ? v + 1 : petsc);
#ifdef HAVE_OPENBLAS_GET_CONFIG
  /* "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64": the first two words */
  const char *config = openblas_get_config();
  int words = 0;
  size_t at = 0;
  for (; config && config[at] && at + 1 < sizeof blas; at++) {
    if (config[at] == ' ' && ++words == 2) break;
    blas[at] = config[at];
  }
  blas[at] = 0;
#endif
  char core[80] = "";
#ifdef HAVE_OPENBLAS_GET_CORENAME
  const char *c = openblas_get_corename();
  snprintf(core, sizeof core, " (core %s)", c && *c ? c : "unknown");
#endif
  snprintf(buf, len, "%s, HDF5 %u.%u.%u, PETSc %s, %s%s", mpi, maj, min, rel, pv, blas, core);
}

PetscErrorCode runlog_line(MPI_Comm comm, const char *command, const char *options, char **line) {
  PetscFunctionBeginUser;
  int size;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  char libs[512];
  runlog_libraries(libs, sizeof libs);
  size_t n = strlen(libs) + strlen(command) + (options ? strlen(options) : 0) + 256;
  PetscCall(PetscMalloc1(n, line));
  int at = snprintf(*line, n, "disentangle %s (git %s) %s on %d rank%s; %s; options: ", PACKAGE_VERSION, DT_REVISION,
                    command, size, size == 1 ? "" : "s", libs);
  for (const char *p = options; p && *p && at < (int)n - 1; p++) /* one line: the options' newlines become spaces */
    (*line)[at++] = *p == '\n' ? ' ' : *p;
  (*line)[at] = 0;
  while (at > 0 && (*line)[at - 1] == ' ') (*line)[--at] = 0;
  PetscFunctionReturn(0);
}
