/* `disentangle report -run_dir DIR`: DIR/report.html, self-contained (inline SVG): loss curves,
 * latent traversals, each latent against each ground-truth factor, the latent correlation heat
 * map and the metrics. Drawn from DIR's files alone (report_run.h): `eval` writes latents.h5
 * and metrics.json, so the page can be redrawn without the model. */
#include <stddef.h>
#include <stdio.h>

#include "disentangle/config.h"
#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/report_run.h"

typedef struct {
  char run_dir[CONFIG_PATH_LEN];
} ReportConfig;

#define RCFG(field) offsetof(ReportConfig, field), sizeof(((ReportConfig *)0)->field)
static const OptSpec report_spec[] = {
  {"-run_dir", OPT_STRING, RCFG(run_dir), "runs/default", 0, 0, NULL,
   "the run: history.csv, latents.h5 and metrics.json are read there, report.html written"},
};
#define NSPEC ((int)(sizeof report_spec / sizeof report_spec[0]))

PetscErrorCode report_command(int help, int *code, int nargs, char **args) {
  PetscFunctionBeginUser;
  *code = DT_EXIT_OK;
  if (help) {
    options_print_help(stdout, "usage: mpiexec -n P disentangle report -run_dir DIR\n\n"
                               "Write DIR/report.html: loss curves, latent traversals, latents against factors,\n"
                               "the latent correlation heat map and the metrics, from DIR's files alone\n"
                               "(history.csv, and latents.h5 and metrics.json: run `eval` first).",
                       report_spec, NSPEC);
    PetscFunctionReturn(0);
  }
  DT_INPUT_CHECK(nargs == 0, PETSC_COMM_WORLD, "report takes options only ('%s' is not one)", nargs ? args[0] : "");
  ReportConfig rc;
  PetscCall(options_read(PETSC_COMM_WORLD, report_spec, NSPEC, &rc));
  PetscCall(options_reject_unknown(PETSC_COMM_WORLD, report_spec, NSPEC));
  PetscCall(report_run_write(PETSC_COMM_WORLD, rc.run_dir));
  PetscFunctionReturn(0);
}
