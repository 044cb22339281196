/* The report of a run directory from its files (see report_run.h). */
#include "disentangle/report_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disentangle/covstats.h"
#include "disentangle/encoded.h"
#include "disentangle/error.h"
#include "disentangle/jsonio.h"
#include "disentangle/log.h"
#include "disentangle/report.h"

#define MAX_METRICS 256
#define MAX_COLUMNS 64
#define COLUMN_LEN 64

/* history.csv: a header of column names, then one row of numbers per step. */
typedef struct {
  int cols;
  char names[MAX_COLUMNS][COLUMN_LEN];
  const char *name_ptr[MAX_COLUMNS];
  double *rows; /* [nrows][cols] */
  long nrows, cap;
} History;

/* Split line (modified) at commas into at most max fields, each trimmed of blanks; returns the
 * number of fields (max + 1 when there are more). */
static int split(char *line, char **field, int max) {
  int n = 0;
  for (char *p = line;; n++) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    while (*p == ' ' || *p == '\t') p++;
    char *end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) *--end = 0;
    if (n < max) field[n] = p;
    if (!comma) return n + 1 > max ? max + 1 : n + 1;
    p = comma + 1;
  }
}

static PetscErrorCode history_header(MPI_Comm comm, const char *path, char *line, History *h) {
  PetscFunctionBeginUser;
  char *field[MAX_COLUMNS];
  int step = 0;
  h->cols = split(line, field, MAX_COLUMNS);
  DT_INPUT_CHECK(h->cols <= MAX_COLUMNS, comm, "'%s': the header has more than %d columns", path, MAX_COLUMNS);
  for (int c = 0; c < h->cols; c++) {
    DT_INPUT_CHECK(field[c][0] && strlen(field[c]) < COLUMN_LEN, comm,
                   "'%s': column %d of the header is %s; expected names of 1 to %d characters", path, c + 1,
                   field[c][0] ? "too long" : "empty", COLUMN_LEN - 1);
    strcpy(h->names[c], field[c]);
    h->name_ptr[c] = h->names[c];
    step |= !strcmp(field[c], "step");
  }
  DT_INPUT_CHECK(step, comm, "'%s': the header has no column 'step'; expected step,LOSSES...,samples_per_s", path);
  PetscFunctionReturn(0);
}

static PetscErrorCode history_row(MPI_Comm comm, const char *path, long lineno, char *line, History *h) {
  PetscFunctionBeginUser;
  char *field[MAX_COLUMNS];
  int n = split(line, field, MAX_COLUMNS);
  DT_INPUT_CHECK(n == h->cols, comm, "'%s' line %ld: %d fields; expected %d, the columns of its header", path, lineno,
                 n, h->cols);
  if (h->nrows == h->cap) {
    h->cap = h->cap ? 2 * h->cap : 1024;
    double *grown = realloc(h->rows, sizeof *grown * (size_t)h->cap * h->cols);
    PetscCheck(grown, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory reading '%s'", path);
    h->rows = grown;
  }
  for (int c = 0; c < n; c++) {
    char *end;
    double v = strtod(field[c], &end);
    DT_INPUT_CHECK(field[c][0] && !*end, comm, "'%s' line %ld, column '%s': '%.40s' is not a number", path, lineno,
                   h->names[c], field[c]);
    h->rows[h->nrows * h->cols + c] = v;
  }
  h->nrows++;
  PetscFunctionReturn(0);
}

/* DIR/history.csv into *h; h->cols = 0 when the run has none. A last line without its newline
 * (a run killed while writing it) is left out. */
static PetscErrorCode read_history(MPI_Comm comm, const char *path, History *h) {
  PetscFunctionBeginUser;
  memset(h, 0, sizeof *h);
  FILE *fp = fopen(path, "r");
  if (!fp && (errno == ENOENT || errno == ENOTDIR)) PetscFunctionReturn(0);
  DT_INPUT_CHECK(fp, comm, "cannot read '%s': %s", path, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0;
  while ((len = getline(&line, &cap, fp)) > 0) {
    lineno++;
    if (lineno > 1 && line[len - 1] != '\n') break;
    if (strspn(line, " \t\r\n") == (size_t)len) continue;
    if (lineno == 1) PetscCall(history_header(comm, path, line, h));
    else PetscCall(history_row(comm, path, lineno, line, h));
  }
  int failed = ferror(fp);
  free(line);
  fclose(fp);
  DT_INPUT_CHECK(!failed, comm, "cannot read '%s'", path);
  DT_INPUT_CHECK(h->cols > 0, comm, "'%s' is empty; expected a header step,LOSSES...,samples_per_s", path);
  PetscFunctionReturn(0);
}

/* The metrics of DIR/metrics.json (names point into *doc, which the caller releases); *n = 0
 * when eval has not written it. The first MAX_METRICS are shown; null reads as NaN (n/a). */
static PetscErrorCode read_metrics(MPI_Comm comm, const char *path, json_t **doc, const char **names, double *values,
                                   int *n) {
  PetscFunctionBeginUser;
  const char *key;
  json_t *value;
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

/* Pearson correlations from the covariance; a latent that never varies correlates with
 * nothing, and latents that are not all finite (a diverged model) give an undefined matrix. */
static PetscErrorCode correlation(const double *z, int n, int m, double *corr) {
  PetscFunctionBeginUser;
  for (long i = 0; i < (long)n * m; i++)
    if (!isfinite(z[i])) {
      for (int j = 0; j < m * m; j++) corr[j] = NAN;
      PetscFunctionReturn(0);
    }
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

/* eval's factor-capture matrix from metrics.json, when it has all of it for these latents and
 * factors (eta2_J_K, captured_by_K); else *eta2 stays NULL and the report has no such section. */
static PetscErrorCode read_capture(json_t *doc, int m, int k, double **eta2, int **by) {
  PetscFunctionBeginUser;
  *eta2 = NULL, *by = NULL;
  if (!doc || m < 1 || k < 1) PetscFunctionReturn(0);
  double *e;
  int *b, ok = 1;
  char key[64];
  PetscCall(PetscMalloc2((size_t)m * k, &e, k, &b));
  for (int j = 0; j < m && ok; j++)
    for (int f = 0; f < k && ok; f++) {
      snprintf(key, sizeof key, "eta2_%d_%d", j, f);
      json_t *v = json_object_get(doc, key);
      ok = v && (json_is_number(v) || json_is_null(v));
      if (ok) e[(size_t)j * k + f] = json_is_null(v) ? NAN : json_number_value(v);
    }
  for (int f = 0; f < k && ok; f++) {
    snprintf(key, sizeof key, "captured_by_%d", f);
    json_t *v = json_object_get(doc, key);
    ok = v && json_is_number(v) && json_number_value(v) >= -1 && json_number_value(v) < m;
    if (ok) b[f] = (int)json_number_value(v);
  }
  if (ok) *eta2 = e, *by = b;
  else PetscCall(PetscFree2(e, b));
  PetscFunctionReturn(0);
}

static PetscErrorCode draw(MPI_Comm comm, const char *run_dir, const Encoded *e, const History *h, int nmetrics,
                           const char *const *names, const double *values, json_t *doc) {
  PetscFunctionBeginUser;
  char path[PETSC_MAX_PATH_LEN + 32], subtitle[2 * PETSC_MAX_PATH_LEN + 32];
  double *corr, *eta2;
  int rank, active = 0, *captured_by;
  PetscCall(PetscMalloc1((size_t)e->m * e->m, &corr));
  PetscCall(read_capture(doc, e->m, e->k, &eta2, &captured_by));
  PetscCall(correlation(e->z, e->n, e->m, corr));
  for (int j = 0; j < e->m; j++) active += e->zmax[j] - e->zmin[j] > e->active_threshold;
  snprintf(subtitle, sizeof subtitle, "run %s, data %s", run_dir, e->data);
  ReportData d = {.title = e->title, .subtitle = subtitle, .history_cols = h->cols, .history_names = h->name_ptr,
                  .history = h->rows, .history_rows = h->nrows, .n = e->n, .m = e->m, .z = e->z, .zmin = e->zmin,
                  .zmax = e->zmax, .active_threshold = e->active_threshold, .k = e->k, .factors = e->factors,
                  .factor_names = (const char *const *)e->factor_names, .steps = e->steps, .length = (int)e->features,
                  .traversals = e->traversals, .base_index = (int)e->base, .sample_ndims = e->sample_ndims,
                  .ngenerated = e->ngenerated, .generated = e->generated,
                  .nswap = e->nswap, .swap_content = e->swap_content, .swap_rows = e->swap_rows, .swap = e->swap, .corr = corr, .kl = e->kl, .kl_threshold = e->kl_threshold,
                  .nmetrics = nmetrics, .metric_names = names, .metric_values = values, .eta2 = eta2, .captured_by = captured_by};
  for (int i = 0; i < 3; i++) d.sample_dims[i] = (long)e->sample_dims[i];
  snprintf(path, sizeof path, "%s/report.html", run_dir);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  int failed = rank == 0 ? report_write_html(path, &d) : 0;
  PetscCallMPI(MPI_Bcast(&failed, 1, MPI_INT, 0, comm));
  PetscCheck(!failed, comm, PETSC_ERR_FILE_WRITE, "cannot write '%s'", path);
  log_info(comm, "wrote %s (%d of %d latents active%s%s)", path, active, e->m,
           nmetrics ? "" : "; no metrics.json", h->cols ? "" : "; no history.csv");
  PetscCall(PetscFree(corr));
  if (eta2) PetscCall(PetscFree2(eta2, captured_by));
  PetscFunctionReturn(0);
}

PetscErrorCode report_run_write(MPI_Comm comm, const char *run_dir) {
  PetscFunctionBeginUser;
  char path[PETSC_MAX_PATH_LEN + 32];
  double values[MAX_METRICS];
  const char *names[MAX_METRICS];
  int nmetrics;
  json_t *metrics;
  Encoded e;
  History h;
  snprintf(path, sizeof path, "%s/metrics.json", run_dir);
  PetscCall(read_metrics(comm, path, &metrics, names, values, &nmetrics));
  snprintf(path, sizeof path, "%s/latents.h5", run_dir);
  DT_INPUT_CHECK(access(path, F_OK) == 0, comm, "'%s' not found: run `disentangle eval -run_dir %s` first", path,
                 run_dir);
  PetscCall(encoded_read(comm, path, &e));
  snprintf(path, sizeof path, "%s/history.csv", run_dir);
  PetscCall(read_history(comm, path, &h));
  PetscCall(draw(comm, run_dir, &e, &h, nmetrics, names, values, metrics));
  free(h.rows);
  encoded_free(&e);
  json_decref(metrics);
  PetscFunctionReturn(0);
}
