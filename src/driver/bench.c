/* `disentangle bench`: how close a training step comes to the GEMM floor of this machine.
 * One step is recorded to learn which sgemm shapes it runs (the ledger in tensor.c); each
 * shape is then timed alone in a loop, and the sum over the step's calls is the floor: the
 * time the step would take if it did nothing but its matrix products at OpenBLAS's speed.
 * The steps timed are train's own loop (run_train_steps, writing history.csv to a scratch
 * directory), so bench and train's ms/step measure the same work; bench leaves out only what
 * train does once: set-up, the final model.h5 and the latent survey. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/log.h"
#include "disentangle/phase.h"
#include "disentangle/tensor.h"

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Seconds per call of one sgemm shape, timed for at least min_seconds: wall clock, and this
 * process's CPU time (the steadier one when other work shares the cores). */
static PetscErrorCode time_shape(const GemmShape *s, double min_seconds, double *per_call, double *cpu_per_call) {
  PetscFunctionBeginUser;
  float *a, *b, *c;
  PetscCall(tensor_alloc((size_t)s->m * s->k, &a));
  PetscCall(tensor_alloc((size_t)s->k * s->n, &b));
  PetscCall(tensor_alloc((size_t)s->m * s->n, &c));
  for (size_t i = 0; i < (size_t)s->m * s->k; i++) a[i] = (float)((i % 13) - 6) * 0.01f;
  for (size_t i = 0; i < (size_t)s->k * s->n; i++) b[i] = (float)((i % 7) - 3) * 0.01f;
  int lda = s->trans_a ? s->m : s->k, ldb = s->trans_b ? s->k : s->n;
  for (int w = 0; w < 3; w++) tensor_sgemm(s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 1.0f, c, s->n);
  long reps = 0;
  double t0 = log_seconds(), c0 = cpu_seconds(), t;
  do {
    for (int r = 0; r < 16; r++) tensor_sgemm(s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 1.0f, c, s->n);
    reps += 16;
    t = log_seconds() - t0;
  } while (t < min_seconds);
  *per_call = t / reps, *cpu_per_call = (cpu_seconds() - c0) / reps;
  tensor_free(&a), tensor_free(&b), tensor_free(&c);
  PetscFunctionReturn(0);
}

/* A scratch run directory for the steps' history.csv (rank 0 makes it, everyone learns it). */
static PetscErrorCode scratch_dir(MPI_Comm comm, char *dir, size_t len) {
  PetscFunctionBeginUser;
  int rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  char buf[CONFIG_PATH_LEN] = "";
  if (rank == 0) {
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/disentangle-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(buf)) buf[0] = 0;
  }
  PetscCallMPI(MPI_Bcast(buf, sizeof buf, MPI_CHAR, 0, comm));
  PetscCheck(buf[0], comm, PETSC_ERR_FILE_WRITE, "bench: cannot create a scratch run directory under $TMPDIR or /tmp");
  snprintf(dir, len, "%s", buf);
  PetscFunctionReturn(0);
}

static void remove_scratch(const Run *run) {
  if (run->par.rank != 0) return;
  const char *names[] = {"history.csv", "STOP"};
  char path[CONFIG_PATH_LEN + 32];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(path, sizeof path, "%s/%s", run->cfg.run_dir, names[i]);
    unlink(path);
  }
  rmdir(run->cfg.run_dir);
}

/* Steps up to `until` through run_train_steps, the loop `train` runs: data, the step, the
 * finite checks, history.csv, the stop polls. */
static PetscErrorCode steps_until(Run *run, long until, double *seconds, long *done) {
  PetscFunctionBeginUser;
  StepLosses l;
  int stopped;
  run->cfg.steps = until;
  PetscCall(run_train_steps(run, &l, seconds, done, &stopped));
  PetscCheck(!stopped, run->par.world, PETSC_ERR_USER, "bench: the run stopped at step %ld (non-finite values or a stop request)",
             run->step);
  PetscFunctionReturn(0);
}

PetscErrorCode bench_main(int help, int *code) {
  PetscFunctionBeginUser;
  *code = 0;
  int nspec;
  const OptSpec *spec = train_options(&nspec);
  if (help) {
    options_print_help(stdout, "usage: disentangle bench [train options]\n\n"
                               "Time -steps training steps (default method nashae, batch 100, 4 latents) and compare\n"
                               "with the time OpenBLAS needs for the same matrix products. Any -arch: e.g.\n"
                               "  disentangle bench -data dsprites.h5 -arch dsprites_conv -latents 10 -batch 64",
                       spec, nspec);
    PetscFunctionReturn(0);
  }
  Run run;
  run_init(&run);
  PetscCall(run_setup(PETSC_COMM_WORLD, &run));
  const Config *cfg = &run.cfg;
  const long steps = (long)cfg->steps, warmup = 20;
  PetscCall(scratch_dir(run.par.world, run.cfg.run_dir, sizeof run.cfg.run_dir));
  run.cfg.progress_every = 0, run.cfg.checkpoint_every = 0, run.cfg.checkpoint_minutes = 0;

  GemmLedger ledger;
  double seconds, phase_s[PHASE_COUNT];
  long done;
  tensor_ledger_start(&ledger);
  PetscCall(steps_until(&run, 1, &seconds, &done));
  tensor_ledger_stop();
  PetscCall(steps_until(&run, 1 + warmup, &seconds, &done)); /* page in buffers, settle the clocks */
  phase_enable(1);
  double cpu0 = cpu_seconds(), wall0 = log_seconds();
  PetscCall(steps_until(&run, 1 + warmup + steps, &seconds, &done));
  double cpu_ms = 1e3 * (cpu_seconds() - cpu0) / done, ms = 1e3 * seconds / done;
  double wall1 = log_seconds();
  phase_totals(phase_s);
  /* the loop's own set-up and end (history.csv opened and closed) are no step's time: taken out
   * of "other", so that the phases add up to train's ms per step */
  phase_s[PHASE_OTHER] = PetscMax(0.0, phase_s[PHASE_OTHER] - (wall1 - wall0 - seconds));
  phase_enable(0);
  remove_scratch(&run);

  double floor_s = 0.0, cpu_floor_s = 0.0, flops = 0.0;
  PetscPrintf(run.par.world, "\nsgemm shapes of one %s step (-arch %s, batch %ld, %ld latents, %d rank(s)):\n",
              cfg->method, cfg->arch, (long)cfg->batch, (long)cfg->latents, run.par.size);
  PetscPrintf(run.par.world, "  %-4s %-4s %6s %6s %6s %7s %10s %10s\n", "opA", "opB", "M", "N", "K", "calls", "us/call",
              "GFLOP/s");
  for (int i = 0; i < ledger.nshapes; i++) {
    GemmShape *s = &ledger.shapes[i];
    double calls = (double)s->calls, per = 0.0, cpu_per = 0.0;
    PetscCall(time_shape(s, 0.05, &per, &cpu_per));
    cpu_floor_s += calls * cpu_per;
    double f = 2.0 * s->m * s->n * s->k;
    floor_s += calls * per, flops += calls * f;
    PetscPrintf(run.par.world, "  %-4s %-4s %6d %6d %6d %7.1f %10.2f %10.1f\n", s->trans_a ? "T" : "N",
                s->trans_b ? "T" : "N", s->m, s->n, s->k, calls, 1e6 * per, f / per * 1e-9);
  }
  PetscPrintf(run.par.world, "\nwhere a step's time goes (rank 0, %ld steps; exclusive wall-clock ms per step):\n", done);
  double phase_sum = 0;
  for (int p = 0; p < PHASE_COUNT; p++) phase_sum += phase_s[p];
  for (int p = 1; p <= PHASE_COUNT; p++) { /* "other" last */
    int q = p % PHASE_COUNT;
    PetscPrintf(run.par.world, "  %-12s %8.3f ms  %5.1f%%\n", phase_name((Phase)q), 1e3 * phase_s[q] / done,
                phase_sum > 0 ? 100 * phase_s[q] / phase_sum : 0.0);
  }
  PetscPrintf(run.par.world, "\nmeasured step        %8.3f ms  (%ld steps of train's loop after %ld warm-up; %.0f samples/s)\n", ms,
              done, warmup + 1, cfg->batch / ms * 1e3);
  PetscPrintf(run.par.world, "CPU time per step    %8.3f ms  (this process; near the step time unless the machine is busy)\n", cpu_ms);
  PetscPrintf(run.par.world, "GEMM floor           %8.3f ms  (%.1f MFLOP per step in sgemm, at the rates above)\n",
              1e3 * floor_s, flops * 1e-6);
  if (ledger.dropped)
    PetscPrintf(run.par.world, "warning: %ld sgemm calls of shapes beyond the ledger's %d are not in the floor\n",
                ledger.dropped, GEMM_LEDGER_MAX);
  PetscPrintf(run.par.world, "step / floor         %8.2f x  (targets: <= 1.15 beam MLP, <= 1.5 dSprites conv); in CPU time %.3f / %.3f ms = %.2f x\n",
              ms / (1e3 * floor_s), cpu_ms, 1e3 * cpu_floor_s, cpu_ms / (1e3 * cpu_floor_s));
  PetscPrintf(run.par.world, "achieved             %8.1f GFLOP/s in the step's sgemm work\n", flops / (ms * 1e-3) * 1e-9);
  PetscPrintf(run.par.world, "BLAS                 %s\n", tensor_blas_description());
  /* one line for scripts (tools/nashae-sweep.sh) */
  PetscPrintf(run.par.world, "bench: batch=%ld latents=%ld ranks=%d step_ms=%.4f cpu_ms=%.4f floor_ms=%.4f cpu_floor_ms=%.4f",
              (long)cfg->batch, (long)cfg->latents, run.par.size, ms, cpu_ms, 1e3 * floor_s, 1e3 * cpu_floor_s);
  for (int p = 0; p < PHASE_COUNT; p++) PetscPrintf(run.par.world, " %s_ms=%.4f", phase_name((Phase)p), 1e3 * phase_s[p] / done);
  PetscPrintf(run.par.world, " core=%s\n", tensor_blas_corename());
  run_free(&run);
  PetscFunctionReturn(0);
}
