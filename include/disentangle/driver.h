/* The subcommands of the `disentangle` program: thin layers over src/run/. */
#ifndef DISENTANGLE_DRIVER_H
#define DISENTANGLE_DRIVER_H

#include "disentangle/run.h"

/* Commands: each sets *code to the process exit code when it returns without error. */
PetscErrorCode train_main(int help, int *code);
PetscErrorCode bench_main(int help, int *code);
PetscErrorCode inspect_main(int help, int *code, const char *path);
PetscErrorCode eval_command(int help, int *code, int nargs, char **args);
PetscErrorCode report_command(int help, int *code, int nargs, char **args);
PetscErrorCode aggregate_main(int help, int *code, int nargs, char **args);

#endif
