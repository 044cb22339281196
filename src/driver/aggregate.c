/* `disentangle aggregate DIR...`: one table over many runs (seeds), as the field's large studies
 * ask: per method (or study configuration, -group parent) and metric the median, quartiles, min
 * and max of DIR/metrics.json values. Prints the table, writes the same numbers as CSV (-csv
 * FILE) and draws their distributions as box plots (-html FILE). */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/boxplot.h"
#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/jsonio.h"

#define KEY_LEN 96

typedef struct {
  char csv[4096], html[4096], group[16], metrics[4096], title[256];
} AggregateConfig;

#define ACFG(field) offsetof(AggregateConfig, field), sizeof(((AggregateConfig *)0)->field)
static const OptSpec aggregate_spec[] = {
  {"-csv", OPT_STRING, ACFG(csv), "", 0, 0, NULL, "also write the table as CSV to this file"},
  {"-group", OPT_STRING, ACFG(group), "method", 0, 0, "method|parent",
   "group runs by their method, or by the name of the directory holding the run directory (a study's configuration)"},
  {"-html", OPT_STRING, ACFG(html), "", 0, 0, NULL, "also draw box plots of the metrics per group to this HTML file"},
  {"-metrics", OPT_STRING, ACFG(metrics), "", 0, 0, NULL,
   "comma-separated metrics for -html (default: all but per-latent ones and counts of samples and factors)"},
  {"-title", OPT_STRING, ACFG(title), "disentangle aggregate", 0, 0, NULL, "heading of the -html page"},
};
#define NSPEC ((int)(sizeof aggregate_spec / sizeof aggregate_spec[0]))

typedef struct {
  char method[64], key[KEY_LEN];
  int n, cap;
  double *v;
} Series;

typedef struct {
  int n, cap;
  Series *s;
} Table;

static Series *series_find(Table *t, const char *method, const char *key) {
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->s[i].method, method) && !strcmp(t->s[i].key, key)) return &t->s[i];
  return NULL;
}

static Series *series(Table *t, const char *method, const char *key) {
  Series *found = series_find(t, method, key);
  if (found) return found;
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    t->s = realloc(t->s, sizeof *t->s * t->cap);
  }
  Series *s = &t->s[t->n++];
  memset(s, 0, sizeof *s);
  snprintf(s->method, sizeof s->method, "%s", method);
  snprintf(s->key, sizeof s->key, "%s", key);
  return s;
}

static void add(Series *s, double v) {
  if (s->n == s->cap) s->cap = s->cap ? 2 * s->cap : 16, s->v = realloc(s->v, sizeof *s->v * s->cap);
  s->v[s->n++] = v;
}

/* The name of the directory holding run directory dir ("runs/cfg/seed1/" -> "cfg"). */
static PetscErrorCode parent_name(MPI_Comm comm, const char *dir, char *out, size_t len) {
  PetscFunctionBeginUser;
  char buf[4200];
  snprintf(buf, sizeof buf, "%s", dir);
  for (size_t l = strlen(buf); l > 1 && buf[l - 1] == '/'; l--) buf[l - 1] = 0; /* trailing slashes */
  char *slash = strrchr(buf, '/');
  DT_INPUT_CHECK(slash && slash > buf, comm, "aggregate -group parent: '%s' has no parent directory in its name", dir);
  *slash = 0;
  slash = strrchr(buf, '/');
  const char *name = slash ? slash + 1 : buf;
  DT_INPUT_CHECK(strlen(name) < len && strcmp(name, ".") && strcmp(name, ".."), comm,
                 "aggregate -group parent: the parent of '%s' needs a name of at most %zu characters", dir, len - 1);
  snprintf(out, len, "%s", name);
  PetscFunctionReturn(0);
}

/* metrics.json: a flat object, the method and numbers; null (a non-finite value) is left out. */
static PetscErrorCode read_run(MPI_Comm comm, const char *dir, int by_parent, Table *t) {
  PetscFunctionBeginUser;
  char path[4200], method[64];
  const char *key;
  json_t *doc, *value;
  snprintf(path, sizeof path, "%s/metrics.json", dir);
  PetscCall(jsonio_read(comm, path, &doc));
  DT_INPUT_CHECK(doc, comm, "aggregate: no '%s'; run `disentangle eval -run_dir %s` first", path, dir);
  PetscCall(jsonio_get_string(comm, path, doc, "method", method, sizeof method));
  if (by_parent) PetscCall(parent_name(comm, dir, method, sizeof method));
  json_object_foreach(doc, key, value) {
    double v;
    if (!strcmp(key, "method")) continue;
    PetscCall(jsonio_to_number(comm, path, key, value, &v));
    DT_INPUT_CHECK(strlen(key) < KEY_LEN, comm, "'%s': metric name \"%.40s...\" is longer than %d characters", path, key,
                   KEY_LEN - 1);
    if (isfinite(v)) add(series(t, method, key), v);
  }
  json_decref(doc);
  PetscFunctionReturn(0);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double quantile(const double *v, int n, double q) { return boxplot_quantile(v, n, q); }

/* Drawn by default: not per-latent (name_J), not the data's bookkeeping, not "active" (= active_latents). */
static int drawn_by_default(const char *key) {
  static const char *const skip[] = {"samples", "factors", "step", "units", "tdv_d", "active", "split_train_samples",
                                     "split_test_samples"};
  size_t l = strlen(key);
  if (l && isdigit((unsigned char)key[l - 1]) && strchr(key, '_')) return 0;
  for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
    if (!strcmp(key, skip[i])) return 0;
  return 1;
}

/* How often each factor was captured cleanly (eval's captured_K, 1 or 0 per run), per group. */
static PetscErrorCode print_capture_counts(MPI_Comm comm, const Table *t, const char *what) {
  PetscFunctionBeginUser;
  int header = 0, f;
  char tail;
  for (int i = 0; i < t->n; i++) {
    const Series *s = &t->s[i];
    if (sscanf(s->key, "captured_%d%c", &f, &tail) != 1) continue;
    if (!header++)
      PetscCall(PetscPrintf(comm, "\nfactors captured cleanly (eval's capture matrix), in how many runs:\n%-8s %-8s %8s %5s\n",
                            what, "factor", "captured", "runs"));
    double sum = 0;
    for (int r = 0; r < s->n; r++) sum += s->v[r] != 0;
    PetscCall(PetscPrintf(comm, "%-8s %-8d %8.0f %5d\n", s->method, f, sum, s->n));
  }
  PetscFunctionReturn(0);
}

/* Box plots of the chosen metrics: groups in the order they first appear (the runs' order). */
static PetscErrorCode write_html(MPI_Comm comm, const AggregateConfig *ac, Table *t) {
  PetscFunctionBeginUser;
  int ng = 0, nk = 0;
  const char **groups, **keys;
  PetscCall(PetscMalloc2(t->n, &groups, t->n + 64, &keys));
  for (int i = 0; i < t->n; i++) {
    int seen = 0;
    for (int g = 0; g < ng && !seen; g++) seen = !strcmp(groups[g], t->s[i].method);
    if (!seen) groups[ng++] = t->s[i].method;
  }
  char list[4096], *save = NULL;
  snprintf(list, sizeof list, "%s", ac->metrics);
  if (list[0])
    for (char *k = strtok_r(list, ",", &save); k && nk < t->n + 64; k = strtok_r(NULL, ",", &save)) keys[nk++] = k;
  else
    for (int i = 0; i < t->n; i++) {
      int seen = !drawn_by_default(t->s[i].key);
      for (int j = 0; j < nk && !seen; j++) seen = !strcmp(keys[j], t->s[i].key);
      if (!seen) keys[nk++] = t->s[i].key;
    }
  BoxPlot *plots;
  int *n;
  const double **v;
  PetscCall(PetscCalloc3(nk, &plots, (size_t)nk * ng, &n, (size_t)nk * ng, &v));
  for (int j = 0; j < nk; j++) {
    plots[j] = (BoxPlot){.metric = keys[j], .ngroups = ng, .group = groups, .n = n + (size_t)j * ng, .v = v + (size_t)j * ng};
    for (int g = 0; g < ng; g++) {
      Series *s = series_find(t, groups[g], keys[j]);
      n[(size_t)j * ng + g] = s ? s->n : 0;
      v[(size_t)j * ng + g] = s ? s->v : NULL;
    }
  }
  int rank, failed = 0;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) failed = boxplot_write_html(ac->html, ac->title, plots, nk) != 0;
  PetscCallMPI(MPI_Bcast(&failed, 1, MPI_INT, 0, comm));
  DT_INPUT_CHECK(!failed, comm, "option -html: cannot write '%s'", ac->html);
  PetscCall(PetscFree3(plots, n, v));
  PetscCall(PetscFree2(groups, keys));
  PetscFunctionReturn(0);
}

PetscErrorCode aggregate_main(int help, int *code, int nargs, char **args) {
  PetscFunctionBeginUser;
  *code = DT_EXIT_OK;
  if (help || nargs == 0) {
    options_print_help(help ? stdout : stderr,
                       "usage: disentangle aggregate RUN_DIR... [-csv FILE] [-html FILE] [-group method|parent]\n\n"
                       "Median, quartiles, min and max of every number in RUN_DIR/metrics.json, per method\n"
                       "(or per parent directory: a study's configuration), over the run directories given\n"
                       "(e.g. one per seed); -html draws them as box plots.",
                       aggregate_spec, NSPEC);
    if (!help) *code = DT_EXIT_INPUT;
    PetscFunctionReturn(0);
  }
  MPI_Comm comm = PETSC_COMM_WORLD;
  AggregateConfig ac;
  PetscCall(options_read(comm, aggregate_spec, NSPEC, &ac));
  PetscCall(options_reject_unknown(comm, aggregate_spec, NSPEC));
  const char *csv = ac.csv;
  Table t = {0};
  const int by_parent = !strcmp(ac.group, "parent");
  const char *what = by_parent ? "config" : "method";
  for (int i = 0; i < nargs; i++) PetscCall(read_run(comm, args[i], by_parent, &t));
  FILE *out = NULL;
  int rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && csv[0]) {
    out = fopen(csv, "w");
    DT_INPUT_CHECK(out, comm, "option -csv: cannot write '%s'", csv);
    fprintf(out, "%s,metric,n,median,q1,q3,min,max\n", what);
  }
  PetscCall(PetscPrintf(comm, "%-8s %-28s %4s %10s %10s %10s %10s %10s\n", what, "metric", "n", "median", "q1", "q3",
                        "min", "max"));
  for (int i = 0; i < t.n; i++) {
    Series *s = &t.s[i];
    qsort(s->v, s->n, sizeof *s->v, by_value);
    double med = quantile(s->v, s->n, 0.5), q1 = quantile(s->v, s->n, 0.25), q3 = quantile(s->v, s->n, 0.75);
    PetscCall(PetscPrintf(comm, "%-8s %-28s %4d %10.4g %10.4g %10.4g %10.4g %10.4g\n", s->method, s->key, s->n, med, q1, q3,
                          s->v[0], s->v[s->n - 1]));
    if (out) fprintf(out, "%s,%s,%d,%.9g,%.9g,%.9g,%.9g,%.9g\n", s->method, s->key, s->n, med, q1, q3, s->v[0], s->v[s->n - 1]);
  }
  if (out) fclose(out);
  PetscCall(print_capture_counts(comm, &t, what));
  if (ac.html[0]) PetscCall(write_html(comm, &ac, &t));
  for (int i = 0; i < t.n; i++) free(t.s[i].v);
  free(t.s);
  PetscFunctionReturn(0);
}
