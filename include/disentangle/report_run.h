/* The report of a run directory, drawn from its files alone (no model, no archive):
 * DIR/history.csv (the loss history, columns by name; optional), DIR/latents.h5 (encoded.h,
 * written by `eval`; required) and DIR/metrics.json (optional). */
#ifndef DISENTANGLE_REPORT_RUN_H
#define DISENTANGLE_REPORT_RUN_H

#include <mpi.h>
#include <petscsys.h>

/* Write DIR/report.html. Collective: every rank reads the files (so every rank finds the same
 * problem: one input error naming the file), rank 0 writes the page. A missing latents.h5 is
 * an input error that says to run `disentangle eval` first. */
PetscErrorCode report_run_write(MPI_Comm comm, const char *run_dir);

#endif
