/* `disentangle report -run_dir DIR`: DIR/report.html, self-contained (inline SVG): loss curves,
 * latent traversals (decoded while each latent sweeps its range, the others held at a base
 * sample's code), each latent against each ground-truth factor, the latent correlation heat map,
 * and the metrics of DIR/metrics.json when `eval` has written it. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/covstats.h"
#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/jsonio.h"
#include "disentangle/latents.h"
#include "disentangle/log.h"
#include "disentangle/report.h"

#define TRAVERSAL_STEPS 7
#define MAX_METRICS 256

typedef struct {
  char run_dir[CONFIG_PATH_LEN], model[CONFIG_PATH_LEN], data[CONFIG_PATH_LEN];
  PetscInt base;
} ReportConfig;

#define RCFG(field) offsetof(ReportConfig, field), sizeof(((ReportConfig *)0)->field)
static const OptSpec report_spec[] = {
  {"-run_dir", OPT_STRING, RCFG(run_dir), "runs/default", 0, 0, NULL, "the run; report.html is written there"},
  {"-model", OPT_STRING, RCFG(model), "", 0, 0, NULL, "model or checkpoint file (default RUN_DIR/model.h5)"},
  {"-data", OPT_STRING, RCFG(data), "", 0, 0, NULL, "archive(s) to show (default: the run's training data)"},
  {"-base", OPT_INT, RCFG(base), "0", 0, 2147483647, NULL, "sample whose code the traversals start from"},
};
#define NSPEC ((int)(sizeof report_spec / sizeof report_spec[0]))

/* Decoded outputs while latent j sweeps [zmin, zmax] in TRAVERSAL_STEPS steps, in data units. */
static PetscErrorCode traversals(Run *run, const double *z, int base, const double *zmin, const double *zmax, float *out) {
  PetscFunctionBeginUser;
  Autoencoder *ae = &run->method->ae;
  const int m = ae->latents, L = ae->features, rows = m * TRAVERSAL_STEPS;
  float *codes;
  PetscCall(PetscMalloc1((size_t)rows * m, &codes));
  for (int j = 0; j < m; j++)
    for (int s = 0; s < TRAVERSAL_STEPS; s++) {
      float *c = codes + (size_t)(j * TRAVERSAL_STEPS + s) * m;
      for (int i = 0; i < m; i++) c[i] = (float)z[(size_t)base * m + i];
      c[j] = (float)(zmin[j] + (zmax[j] - zmin[j]) * s / (TRAVERSAL_STEPS - 1));
    }
  double mean, std;
  archive_normalisation(run->archive, &mean, &std);
  for (int start = 0; start < rows; start += ae->max_batch) {
    int n = PetscMin(ae->max_batch, rows - start);
    const float *x = net_forward(&ae->dec, codes + (size_t)start * m, n);
    for (long i = 0; i < (long)n * L; i++) out[(size_t)start * L + i] = (float)(x[i] * std + mean);
  }
  PetscCall(PetscFree(codes));
  PetscFunctionReturn(0);
}

/* The metrics of DIR/metrics.json (names point into *doc, which the caller releases); *n = 0
 * when eval has not written it yet. The first MAX_METRICS are shown; null reads as NaN (n/a). */
static PetscErrorCode read_metrics(MPI_Comm comm, const char *dir, json_t **doc, const char **names, double *values,
                                   int *n) {
  PetscFunctionBeginUser;
  char path[CONFIG_PATH_LEN + 32];
  const char *key;
  json_t *value;
  snprintf(path, sizeof path, "%s/metrics.json", dir);
  *n = 0;
  PetscCall(jsonio_read(comm, path, doc));
  if (!*doc) PetscFunctionReturn(0);
  json_object_foreach(*doc, key, value) {
    if (!strcmp(key, "method") || *n == MAX_METRICS) continue;
    PetscCall(jsonio_to_number(comm, path, key, value, &values[*n]));
    names[(*n)++] = key;
  }
  PetscFunctionReturn(0);
}

/* Pearson correlations from the covariance; a latent that never varies correlates with nothing. */
static PetscErrorCode correlation(const double *z, int n, int m, double *corr) {
  PetscFunctionBeginUser;
  double *mean;
  PetscCall(PetscMalloc1(m, &mean));
  PetscCall(covstats_covariance(PETSC_COMM_SELF, z, n, m, mean, corr));
  double *var = mean; /* the means are no longer needed */
  for (int j = 0; j < m; j++) var[j] = corr[j * m + j];
  for (int a = 0; a < m; a++)
    for (int b = 0; b < m; b++)
      corr[a * m + b] = var[a] > 0 && var[b] > 0 ? corr[a * m + b] / sqrt(var[a] * var[b]) : (a == b ? 1.0 : 0.0);
  PetscCall(PetscFree(mean));
  PetscFunctionReturn(0);
}

static PetscErrorCode write_report(Run *run, const ReportConfig *rc, const double *z, int nmetrics,
                                   const char *const *names, const double *values) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  const int m = run->method->ae.latents, n = (int)archive_samples(a);
  double *zmin, *zmax, *corr;
  int *active;
  char path[CONFIG_PATH_LEN + 32], title[256], subtitle[2 * CONFIG_PATH_LEN + 32];
  float *trav;
  PetscCall(PetscMalloc4(m, &zmin, m, &zmax, (size_t)m * m, &corr, m, &active));
  PetscCall(PetscMalloc1((size_t)m * TRAVERSAL_STEPS * archive_features(a), &trav));
  for (int j = 0; j < m; j++) {
    zmin[j] = INFINITY, zmax[j] = -INFINITY;
    for (int r = 0; r < n; r++) zmin[j] = fmin(zmin[j], z[(size_t)r * m + j]), zmax[j] = fmax(zmax[j], z[(size_t)r * m + j]);
    active[j] = zmax[j] - zmin[j] > run->cfg.active_threshold;
  }
  PetscCall(correlation(z, n, m, corr));
  int base = (int)PetscMin(rc->base, archive_samples(a) - 1);
  PetscCall(traversals(run, z, base, zmin, zmax, trav));
  snprintf(title, sizeof title, "%s, %d latents, seed %ld, step %ld", run->cfg.method, m, (long)run->cfg.seed, run->step);
  snprintf(subtitle, sizeof subtitle, "run %s, data %s", rc->run_dir, run->cfg.data);
  ReportData d = {.title = title, .subtitle = subtitle, .history = run->history, .history_rows = run->history_rows,
                  .n = n, .m = m, .z = z, .zmin = zmin, .zmax = zmax, .active = active,
                  .active_threshold = run->cfg.active_threshold, .k = archive_nfactors(a), .factors = archive_factors(a),
                  .factor_names = archive_factor_names(a), .steps = TRAVERSAL_STEPS, .length = (int)archive_features(a),
                  .traversals = trav, .base_index = base, .corr = corr, .nmetrics = nmetrics,
                  .metric_names = names, .metric_values = values};
  snprintf(path, sizeof path, "%s/report.html", rc->run_dir);
  int failed = run->par.rank == 0 ? report_write_html(path, &d) : 0;
  PetscCallMPI(MPI_Bcast(&failed, 1, MPI_INT, 0, run->par.world));
  PetscCheck(!failed, run->par.world, PETSC_ERR_FILE_WRITE, "cannot write '%s'", path);
  log_info(run->par.world, "wrote %s (%d of %d latents active%s)", path, latents_active(zmin, zmax, m, run->cfg.active_threshold),
           m, nmetrics ? "" : "; run `disentangle eval` first to include the metrics");
  PetscCall(PetscFree(trav));
  PetscCall(PetscFree4(zmin, zmax, corr, active));
  PetscFunctionReturn(0);
}

PetscErrorCode report_command(int help, int *code, int nargs, char **args) {
  PetscFunctionBeginUser;
  *code = DT_EXIT_OK;
  if (help) {
    options_print_help(stdout, "usage: mpiexec -n P disentangle report -run_dir DIR [options]\n\n"
                               "Write DIR/report.html: loss curves, latent traversals, latents against factors,\n"
                               "the latent correlation heat map and the metrics (run `eval` first for them).",
                       report_spec, NSPEC);
    PetscFunctionReturn(0);
  }
  DT_INPUT_CHECK(nargs == 0, PETSC_COMM_WORLD, "report takes options only ('%s' is not one)", nargs ? args[0] : "");
  ReportConfig rc;
  Run run;
  double *z, values[MAX_METRICS];
  const char *names[MAX_METRICS];
  int nmetrics;
  json_t *metrics;
  run_init(&run);
  PetscCall(options_read(PETSC_COMM_WORLD, report_spec, NSPEC, &rc));
  PetscCall(options_reject_unknown(PETSC_COMM_WORLD, report_spec, NSPEC));
  /* before the model is loaded and the data encoded: a bad metrics.json is refused at once */
  PetscCall(read_metrics(PETSC_COMM_WORLD, rc.run_dir, &metrics, names, values, &nmetrics));
  PetscCall(run_load_encoded(PETSC_COMM_WORLD, rc.run_dir, rc.model, sizeof rc.model, rc.data, &run, &z));
  PetscCall(write_report(&run, &rc, z, nmetrics, names, values));
  json_decref(metrics);
  PetscCall(PetscFree(z));
  run_free(&run);
  PetscFunctionReturn(0);
}
