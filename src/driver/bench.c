/* `disentangle bench`: how close a training step comes to the GEMM floor of this machine.
 * One step is recorded to learn which sgemm shapes it runs (the ledger in tensor.c); each
 * shape is then timed alone in a loop, and the sum over the step's calls is the floor: the
 * time the step would take if it did nothing but its matrix products at OpenBLAS's speed. */
#include <stdio.h>
#include <string.h>

#include "disentangle/driver.h"
#include "disentangle/log.h"
#include "disentangle/tensor.h"

/* Seconds per call of one sgemm shape, timed for at least min_seconds. */
static PetscErrorCode time_shape(const GemmShape *s, double min_seconds, double *per_call) {
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
  double t0 = log_seconds(), t;
  do {
    for (int r = 0; r < 16; r++) tensor_sgemm(s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 1.0f, c, s->n);
    reps += 16;
    t = log_seconds() - t0;
  } while (t < min_seconds);
  *per_call = t / reps;
  tensor_free(&a), tensor_free(&b), tensor_free(&c);
  PetscFunctionReturn(0);
}

static PetscErrorCode measure_steps(Run *run, int warmup, int steps, double *ms) {
  PetscFunctionBeginUser;
  const Config *cfg = &run->cfg;
  int off, cnt;
  par_slice((int)cfg->batch, run->par.rank, run->par.size, &off, &cnt);
  Batch batch;
  PetscCall(batch_create(run->archive, off, cnt, &batch));
  Sampler cur;
  sampler_init(&cur, SAMPLER_IID, (uint64_t)cfg->seed, 0, (int)cfg->batch, archive_samples(run->archive));
  StepLosses l;
  for (int s = 0; s < warmup; s++) { /* page in buffers, settle the clocks */
    PetscCall(archive_next_batch(run->archive, &cur, &batch));
    PetscCall(run->method->ops->step(run->method, &batch, &l));
  }
  PetscCallMPI(MPI_Barrier(run->par.world));
  double t0 = log_seconds();
  for (int s = 0; s < steps; s++) {
    PetscCall(archive_next_batch(run->archive, &cur, &batch));
    PetscCall(run->method->ops->step(run->method, &batch, &l));
  }
  *ms = 1e3 * (log_seconds() - t0) / steps;
  batch_free(&batch);
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

  GemmLedger ledger;
  double ms;
  tensor_ledger_start(&ledger);
  PetscCall(measure_steps(&run, 0, 1, &ms));
  tensor_ledger_stop();
  PetscCall(measure_steps(&run, 20, (int)cfg->steps, &ms));

  double floor_s = 0.0, flops = 0.0;
  PetscPrintf(run.par.world, "\nsgemm shapes of one %s step (-arch %s, batch %ld, %ld latents, %d rank(s)):\n",
              cfg->method, cfg->arch, (long)cfg->batch, (long)cfg->latents, run.par.size);
  PetscPrintf(run.par.world, "  %-4s %-4s %6s %6s %6s %7s %10s %10s\n", "opA", "opB", "M", "N", "K", "calls", "us/call",
              "GFLOP/s");
  for (int i = 0; i < ledger.nshapes; i++) {
    GemmShape *s = &ledger.shapes[i];
    double calls = (double)s->calls, per = 0.0;
    PetscCall(time_shape(s, 0.05, &per));
    double f = 2.0 * s->m * s->n * s->k;
    floor_s += calls * per, flops += calls * f;
    PetscPrintf(run.par.world, "  %-4s %-4s %6d %6d %6d %7.1f %10.2f %10.1f\n", s->trans_a ? "T" : "N",
                s->trans_b ? "T" : "N", s->m, s->n, s->k, calls, 1e6 * per, f / per * 1e-9);
  }
  PetscPrintf(run.par.world, "\nmeasured step        %8.3f ms  (%ld steps after 20 warm-up; %.0f samples/s)\n", ms,
              (long)cfg->steps, cfg->batch / ms * 1e3);
  PetscPrintf(run.par.world, "GEMM floor           %8.3f ms  (%.1f MFLOP per step in sgemm, at the rates above)\n",
              1e3 * floor_s, flops * 1e-6);
  if (ledger.dropped)
    PetscPrintf(run.par.world, "warning: %ld sgemm calls of shapes beyond the ledger's %d are not in the floor\n",
                ledger.dropped, GEMM_LEDGER_MAX);
  PetscPrintf(run.par.world, "step / floor         %8.2f x  (targets: <= 1.3 for the beam MLP, <= 1.5 for the dSprites conv net)\n",
              ms / (1e3 * floor_s));
  PetscPrintf(run.par.world, "achieved             %8.1f GFLOP/s in the step's sgemm work\n", flops / (ms * 1e-3) * 1e-9);
  run_free(&run);
  PetscFunctionReturn(0);
}
