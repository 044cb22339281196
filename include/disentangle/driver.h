/* The subcommands of the `disentangle` program. */
#ifndef DISENTANGLE_DRIVER_H
#define DISENTANGLE_DRIVER_H

#include "disentangle/archive.h"
#include "disentangle/comm.h"
#include "disentangle/config.h"
#include "disentangle/method.h"
#include "disentangle/options.h"

/* The option table of `train` (bench reads the same options). */
const OptSpec *train_options(int *n);

/* Everything a run is made of, set up from a Config: the data, the ranks, the method. */
typedef struct {
  Config cfg;
  Archive *archive;
  Par par;
  Method *method;
} Run;

/* Read and validate the options, open the data, create the method. */
PetscErrorCode run_setup(MPI_Comm comm, Run *run);
void run_free(Run *run);

PetscErrorCode train_main(int help);
PetscErrorCode bench_main(int help);

#endif
