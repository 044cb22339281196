/* `disentangle aggregate DIR...`: one table over many runs (seeds), as the field's large studies
 * ask: per method and metric the median, quartiles, min and max of DIR/metrics.json values.
 * Prints the table and writes the same numbers as CSV (-csv FILE). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/driver.h"
#include "disentangle/error.h"
#include "disentangle/jsonio.h"

#define KEY_LEN 96

typedef struct {
  char csv[4096];
} AggregateConfig;

static const OptSpec aggregate_spec[] = {
  {"-csv", OPT_STRING, offsetof(AggregateConfig, csv), sizeof(((AggregateConfig *)0)->csv), "", 0, 0, NULL,
   "also write the table as CSV to this file"},
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

static Series *series(Table *t, const char *method, const char *key) {
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->s[i].method, method) && !strcmp(t->s[i].key, key)) return &t->s[i];
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

/* metrics.json: a flat object, the method and numbers; null (a non-finite value) is left out. */
static PetscErrorCode read_run(MPI_Comm comm, const char *dir, Table *t) {
  PetscFunctionBeginUser;
  char path[4200], method[64];
  const char *key;
  json_t *doc, *value;
  snprintf(path, sizeof path, "%s/metrics.json", dir);
  PetscCall(jsonio_read(comm, path, &doc));
  DT_INPUT_CHECK(doc, comm, "aggregate: no '%s'; run `disentangle eval -run_dir %s` first", path, dir);
  PetscCall(jsonio_get_string(comm, path, doc, "method", method, sizeof method));
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

/* Quantile q of sorted values, interpolating linearly (numpy's default). */
static double quantile(const double *v, int n, double q) {
  double at = q * (n - 1);
  int lo = (int)floor(at), hi = lo + 1 < n ? lo + 1 : lo;
  return v[lo] + (at - lo) * (v[hi] - v[lo]);
}

PetscErrorCode aggregate_main(int help, int *code, int nargs, char **args) {
  PetscFunctionBeginUser;
  *code = DT_EXIT_OK;
  if (help || nargs == 0) {
    options_print_help(help ? stdout : stderr,
                       "usage: disentangle aggregate RUN_DIR... [-csv FILE]\n\nMedian, quartiles, min and max of every "
                       "number in RUN_DIR/metrics.json, per method,\nover the run directories given (e.g. one per seed).",
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
  for (int i = 0; i < nargs; i++) PetscCall(read_run(comm, args[i], &t));
  FILE *out = NULL;
  int rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && csv[0]) {
    out = fopen(csv, "w");
    DT_INPUT_CHECK(out, comm, "option -csv: cannot write '%s'", csv);
    fprintf(out, "method,metric,n,median,q1,q3,min,max\n");
  }
  PetscCall(PetscPrintf(comm, "%-8s %-28s %4s %10s %10s %10s %10s %10s\n", "method", "metric", "n", "median", "q1", "q3",
                        "min", "max"));
  for (int i = 0; i < t.n; i++) {
    Series *s = &t.s[i];
    qsort(s->v, s->n, sizeof *s->v, by_value);
    double med = quantile(s->v, s->n, 0.5), q1 = quantile(s->v, s->n, 0.25), q3 = quantile(s->v, s->n, 0.75);
    PetscCall(PetscPrintf(comm, "%-8s %-28s %4d %10.4g %10.4g %10.4g %10.4g %10.4g\n", s->method, s->key, s->n, med, q1, q3,
                          s->v[0], s->v[s->n - 1]));
    if (out) fprintf(out, "%s,%s,%d,%.9g,%.9g,%.9g,%.9g,%.9g\n", s->method, s->key, s->n, med, q1, q3, s->v[0], s->v[s->n - 1]);
    free(s->v);
  }
  if (out) fclose(out);
  free(t.s);
  PetscFunctionReturn(0);
}
