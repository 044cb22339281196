/* disentangle: learn disentangled latent representations of scientific data, in parallel.
 *   disentangle train [options]    train a model (see -help)
 *   disentangle bench [options]    time a training step against the GEMM floor
 *   disentangle inspect FILE       what a checkpoint holds
 * Exit codes: 0 done, 1 internal error, 2 bad input, 3 cannot write output (disk full...),
 * 4 training reached a non-finite loss or parameter (nothing written from that state),
 * 75 stopped early (go on with -restart auto). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/cmdline.h"
#include "disentangle/driver.h"
#include "disentangle/error.h"

static const char usage[] =
  "usage: mpiexec -n P disentangle <command> [options]\n"
  "\n"
  "commands:\n"
  "  train   train a model on HDF5 archives (NashAE by default)\n"
  "  bench   time a training step and compare with the sgemm floor of this machine\n"
  "  inspect FILE   what a checkpoint or model file holds; exit 2 when it is invalid\n"
  "  eval    the disentanglement metrics of a trained model on an archive -> RUN_DIR/metrics.json\n"
  "  report  RUN_DIR/report.html: loss curves, latent traversals, latents vs factors, metrics\n"
  "  aggregate RUN_DIR...   median, quartiles, min, max of the metrics over runs (seeds)\n"
  "\n"
  "`disentangle <command> -help` lists the command's options with their defaults.\n"
  "exit codes: 0 done, 1 internal error, 2 bad input, 3 output cannot be written,\n"
  "  4 training reached a non-finite loss or parameter, 75 stopped early (go on with -restart auto)\n";

/* A command gets -help, a place for its exit code, and the words between it and the options. */
typedef PetscErrorCode (*CommandMain)(int help, int *code, int nargs, char **args);

static PetscErrorCode train_command(int help, int *code, int nargs, char **args) {
  (void)args;
  DT_INPUT_CHECK(nargs == 0, PETSC_COMM_WORLD, "train takes options only ('%s' is not one); see train -help", args[0]);
  return train_main(help, code);
}

static PetscErrorCode bench_command(int help, int *code, int nargs, char **args) {
  DT_INPUT_CHECK(nargs == 0, PETSC_COMM_WORLD, "bench takes options only ('%s' is not one); see bench -help", args[0]);
  return bench_main(help, code);
}

static PetscErrorCode inspect_command(int help, int *code, int nargs, char **args) {
  DT_INPUT_CHECK(nargs <= 1, PETSC_COMM_WORLD, "inspect takes one file; got %d", nargs);
  return inspect_main(help, code, nargs ? args[0] : NULL);
}

static CommandMain find_command(const char *name) {
  if (!strcmp(name, "train")) return train_command;
  if (!strcmp(name, "bench")) return bench_command;
  if (!strcmp(name, "inspect")) return inspect_command;
  if (!strcmp(name, "eval")) return eval_command;
  if (!strcmp(name, "report")) return report_command;
  if (!strcmp(name, "aggregate")) return aggregate_main;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? DT_EXIT_INPUT : DT_EXIT_OK;
  }
  CommandMain command = find_command(argv[1]);
  if (!command) {
    fprintf(stderr, "disentangle: error: unknown command '%s'; allowed: train, bench, inspect, eval, report, aggregate\n",
            argv[1]);
    return DT_EXIT_INPUT;
  }
  /* PETSc sees the command's options only; -help is ours (PETSc's own list would bury it). */
  /* words before the first option (inspect FILE, aggregate DIR...) go to the command */
  int nwords = 0;
  while (2 + nwords < argc && argv[2 + nwords][0] != '-') nwords++;
  char **words = malloc(sizeof *words * (nwords + 1));
  for (int i = 0; i < nwords; i++) words[i] = argv[2 + i];
  int help = 0, n = 1;
  char **args = argv + 1;
  args[0] = argv[0];
  for (int i = 2 + nwords; i < argc; i++) {
    if (!strcmp(argv[i], "-help") || !strcmp(argv[i], "--help")) help = 1;
    else args[n++] = argv[i];
  }
  args[n] = NULL;
  CmdLine cl; /* options files are ours to read: one line per problem, not a traceback */
  cmdline_split(&n, args, &cl);
  PetscErrorCode ierr = PetscInitialize(&n, &args, NULL, NULL);
  if (ierr) return DT_EXIT_INTERNAL;
  ierr = dt_error_setup();
  if (!ierr) ierr = cmdline_load(PETSC_COMM_WORLD, &cl);
  int code = DT_EXIT_OK;
  if (!ierr) ierr = command(help, &code, nwords, words);
  if (ierr) code = dt_exit_code(ierr);
  if (code == DT_EXIT_INTERNAL) MPI_Abort(PETSC_COMM_WORLD, code); /* a rank may be stuck in a collective */
  /* a refused run has no timings to show, and its -log_view file may be what was refused */
  if (code == DT_EXIT_INPUT || code == DT_EXIT_OUTPUT) PetscOptionsClearValue(NULL, "-log_view");
  PetscFinalize();
  cmdline_free(&cl);
  free(words);
  return code;
}
