/* Stopping a run cleanly. A signal only sets a flag (nothing else is async-signal-safe); the
 * ranks agree on it once a step with one small allreduce, so all of them stop after the same
 * step, write one checkpoint together and exit. A second signal during the write only sets the
 * flag again. Under SLURM the batch script may also create RUN_DIR/STOP: rank 0 looks for it
 * at most once a second (cheap even on a parallel file system).
 * Before the first step (set-up) and after the last (the final evaluation) the ranks look at
 * the same flag at a few safe points, so a stop request is never ignored for long there. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "disentangle/run.h"
#include "disentangle/error.h"
#include "disentangle/log.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signo) { stop_requested = signo; }

void stop_install_handlers(void) {
  /* After PetscInitialize: PETSc's own handler would abort on these signals. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
}

int stop_signal(void) { return stop_requested; }

static const char *signal_name(int signo) {
  return signo == SIGTERM ? "SIGTERM" : signo == SIGINT ? "SIGINT" : signo == SIGUSR1 ? "SIGUSR1" : "a signal";
}

static void stop_file_path(const char *dir, char *buf, size_t len) { snprintf(buf, len, "%s/STOP", dir); }

PetscErrorCode stop_check(MPI_Comm comm, const char *dir, int *stop, char *why, size_t len) {
  PetscFunctionBeginUser;
  static double last_file_check = -1e30;
  int rank, flags[2] = {stop_requested, 0};
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && dir && log_seconds() - last_file_check >= 1.0) {
    char path[CONFIG_PATH_LEN + 8];
    stop_file_path(dir, path, sizeof path);
    last_file_check = log_seconds();
    flags[1] = access(path, F_OK) == 0;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, flags, 2, MPI_INT, MPI_MAX, comm));
  *stop = flags[0] || flags[1];
  if (flags[0]) snprintf(why, len, "by %s", signal_name(flags[0]));
  else snprintf(why, len, "by the file %s/STOP", dir ? dir : ".");
  PetscFunctionReturn(0);
}

PetscErrorCode stop_during_setup(MPI_Comm comm, const char *dir) {
  PetscFunctionBeginUser;
  int stop, rank;
  char why[64];
  PetscCall(stop_check(comm, dir, &stop, why, sizeof why));
  if (!stop) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && dir) { /* the request is answered: a later start must not stop on it again */
    char path[CONFIG_PATH_LEN + 8];
    stop_file_path(dir, path, sizeof path);
    unlink(path);
  }
  SETERRQ(comm, DT_ERR_STOPPED, "stopped %s during set-up, before the first step; nothing written (exit %d)", why,
          DT_EXIT_STOPPED);
}

PetscErrorCode stop_poll(const Run *run, int *stop, int *checkpoint_due) {
  PetscFunctionBeginUser;
  static double last_file_check = -1e30, last_checkpoint = -1e30; /* MPI_Wtime may start near 0 */
  double now = log_seconds();
  if (last_checkpoint == -1e30) last_checkpoint = now;
  int flags[2] = {stop_requested != 0, 0};
  if (run->par.rank == 0) {
    if (now - last_file_check >= 1.0) {
      char path[CONFIG_PATH_LEN + 8];
      stop_file_path(run->cfg.run_dir, path, sizeof path);
      last_file_check = now;
      if (access(path, F_OK) == 0) flags[0] = 1;
    }
    if (run->cfg.checkpoint_minutes > 0 && now - last_checkpoint >= 60.0 * run->cfg.checkpoint_minutes) {
      flags[1] = 1;
      last_checkpoint = now;
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, flags, 2, MPI_INT, MPI_MAX, run->par.world));
  *stop = flags[0], *checkpoint_due = flags[1];
  PetscFunctionReturn(0);
}

void stop_clear(const Run *run) {
  if (run->par.rank != 0) return;
  char path[CONFIG_PATH_LEN + 8];
  stop_file_path(run->cfg.run_dir, path, sizeof path);
  unlink(path);
}
