/* `disentangle train`: options -> data -> method -> steps (src/run/) -> model, history, summary. */
#include <stdio.h>
#include <string.h>

#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/latents.h"
#include "disentangle/log.h"
#include "disentangle/tensor.h"

PetscErrorCode train_main(int help, int *code) {
  PetscFunctionBeginUser;
  int nspec;
  const OptSpec *spec = train_options(&nspec);
  *code = DT_EXIT_OK;
  if (help) {
    options_print_help(stdout, "usage: mpiexec -n P disentangle train [options]\n\n"
                               "Train a model on HDF5 archives; writes RUN_DIR/history.csv, summary.json, model.h5.\n"
                               "A run directory holds one run (named in RUN_DIR/run.json, locked while it runs): a new\n"
                               "run is refused where another run's files are; go on with it with -restart auto, or\n"
                               "start afresh with another -run_dir. Nothing of another run is overwritten or deleted.\n"
                               "SIGTERM, SIGINT, SIGUSR1 or a file RUN_DIR/STOP: finish the step, write a checkpoint, exit 75;\n"
                               "during set-up: end at once, nothing written, exit 75; during the final evaluation:\n"
                               "model.h5 is written, summary.json not (finish with -restart auto), exit 75.\n"
                               "A non-finite loss or parameter (NaN, Inf) stops the run, exit 4 (see -on_nan).",
                       spec, nspec);
    method_options_help(stdout);
    PetscFunctionReturn(0);
  }
  Run run;
  run_init(&run);
  stop_install_handlers();
  PetscLogStage stage_setup, stage_train, stage_eval;
  PetscCall(PetscLogStageRegister("Setup", &stage_setup));
  PetscCall(PetscLogStageRegister("Train", &stage_train));
  PetscCall(PetscLogStageRegister("Evaluate+Write", &stage_eval));

  PetscCall(PetscLogStagePush(stage_setup));
  PetscCall(run_setup(PETSC_COMM_WORLD, &run));
  PetscCall(run_restart(&run));
  PetscCall(stop_during_setup(run.par.world, run.cfg.run_dir)); /* the last point where nothing is written yet */
  PetscCall(run_make_dir(run.par.world, run.cfg.run_dir));
  PetscCall(run_claim_dir(&run)); /* this run's alone from here: locked, and no other run's files */
  const Config *cfg = &run.cfg;
  log_info(run.par.world, "%s on %lld samples x %lld values, %d ranks, %d regressor groups, batch %ld, steps %ld..%ld",
           cfg->method, (long long)archive_samples(run.archive), (long long)archive_features(run.archive), run.par.size, run.par.ngroups,
           (long)cfg->batch, run.step + 1, (long)cfg->steps);
  log_info(run.par.world, "BLAS: %s", tensor_blas_description());
  PetscCall(PetscLogStagePop());

  StepLosses last = {0};
  if (run.history_rows) { /* a run restarted at its end still reports its last losses */
    const double *r = run.history + (run.history_rows - 1) * run.history_cols;
    last.n = run.history_cols - 2;
    for (int k = 0; k < last.n; k++) last.value[k] = r[1 + k];
  }
  double seconds = 0.0, ms_per_step;
  long done_steps = 0;
  int stopped;
  PetscCall(PetscLogStagePush(stage_train));
  PetscCall(run_train_steps(&run, &last, &seconds, &done_steps, &stopped));
  ms_per_step = done_steps ? 1e3 * seconds / done_steps : 0.0;
  PetscCall(PetscLogStagePop());
  if (stopped) {
    if (stopped == RUN_STOP_REQUESTED) stop_clear(&run);
    run_free(&run);
    *code = stopped == RUN_STOP_NONFINITE ? DT_EXIT_NONFINITE : DT_EXIT_STOPPED;
    PetscFunctionReturn(0);
  }

  PetscCall(PetscLogStagePush(stage_eval));
  int m = (int)cfg->latents;
  double *zmin, *zmax, rec;
  char path[CONFIG_PATH_LEN + 64];
  PetscCall(PetscMalloc2(m, &zmin, m, &zmax));
  /* the model first: a stop request during the survey then loses nothing (-restart auto takes
   * model.h5 and writes the summary) */
  snprintf(path, sizeof path, "%s/model.h5", cfg->run_dir);
  PetscCall(run_checkpoint(&run, path));
  int stop_now;
  char why[64];
  PetscCall(latents_survey(run.method, run.archive, zmin, zmax, &rec, &stop_now));
  if (stop_now) {
    PetscCall(stop_check(run.par.world, NULL, &stop_now, why, sizeof why));
    log_info(run.par.world, "stopped %s during the final evaluation: %s (step %ld) is written, summary.json is not; "
             "finish with -restart auto", why, path, run.step);
    stop_clear(&run);
    PetscCall(PetscFree2(zmin, zmax));
    PetscCall(PetscLogStagePop());
    run_free(&run);
    *code = DT_EXIT_STOPPED;
    PetscFunctionReturn(0);
  }
  PetscCall(run_write_summary(&run, zmin, zmax, rec, &last, seconds, ms_per_step));
  log_info(run.par.world, "done: %d of %d latents active (range > %g), reconstruction MSE/2 %.5f, %.2f ms/step",
           latents_active(zmin, zmax, m, cfg->active_threshold), m, (double)cfg->active_threshold, rec,
           ms_per_step);
  if (run.skipped) log_info(run.par.world, "%ld batch(es) skipped on non-finite values (-on_nan skip_batch)", run.skipped);
  log_info(run.par.world, "results in %s/: history.csv, summary.json, model.h5", cfg->run_dir);
  stop_clear(&run); /* a stop request that came with the last step is void */
  PetscCall(PetscFree2(zmin, zmax));
  PetscCall(PetscLogStagePop());
  run_free(&run);
  PetscFunctionReturn(0);
}
