/* The list of input files behind -data: comma-separated entries, each a file, a directory
 * written with a trailing '/' (every *.h5 and *.hdf5 in it, sorted by name), a glob pattern
 * (sorted by glob(3)) or a manifest '@FILE' (one entry a line, relative to the manifest's own
 * directory; '#' comments and blank lines skipped; no nested manifests). Rank 0 expands it and
 * sends the result: tens of thousands of names must not mean tens of thousands of collective
 * calls, nor every rank listing the same directory. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* strsep, realpath under -std=c11 */
#endif
#include "archive_impl.h"
#include "disentangle/error.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PetscErrorCode archive_rank0(MPI_Comm comm, PetscErrorCode (*fn)(void *), void *ctx) {
  PetscFunctionBeginUser;
  int rank, code = 0;
  char msg[2048] = "";
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    PetscErrorCode e = fn(ctx);
    PetscCall(PetscPopErrorHandler());
    if (e) {
      const char *text = NULL;
      char *specific = NULL;
      PetscErrorMessage(e, &text, &specific);
      snprintf(msg, sizeof msg, "%s", specific && specific[0] ? specific : text ? text : "error");
      code = (int)e;
    }
  }
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
  if (!code) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
  SETERRQ(comm, (PetscErrorCode)code, "%s", msg);
}

typedef struct {
  const char *csv;
  int n, cap;
  char **paths;
  size_t bytes;
} Expand;

static PetscErrorCode add(Expand *e, const char *path) {
  PetscFunctionBeginUser;
  if (e->n == e->cap) {
    int cap = e->cap ? 2 * e->cap : 64;
    char **grown = realloc(e->paths, sizeof *grown * (size_t)cap);
    PetscCheck(grown, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory listing the archives");
    e->paths = grown, e->cap = cap;
  }
  PetscCall(PetscStrallocpy(path, &e->paths[e->n++]));
  e->bytes += strlen(path) + 1;
  PetscFunctionReturn(0);
}

static int by_name(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

static int is_archive_name(const char *name) {
  size_t n = strlen(name);
  return (n > 3 && !strcmp(name + n - 3, ".h5")) || (n > 5 && !strcmp(name + n - 5, ".hdf5"));
}

static PetscErrorCode add_directory(Expand *e, const char *dir) {
  PetscFunctionBeginUser;
  DIR *d = opendir(dir);
  DT_INPUT_CHECK(d, PETSC_COMM_SELF, "option -data: directory '%s': %s", dir, strerror(errno));
  int first = e->n;
  struct dirent *de;
  PetscErrorCode err = 0;
  size_t len = strlen(dir);
  while (!err && (de = readdir(d))) {
    if (de->d_name[0] == '.' || !is_archive_name(de->d_name)) continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/", de->d_name);
    err = add(e, path);
  }
  closedir(d);
  PetscCall(err);
  DT_INPUT_CHECK(e->n > first, PETSC_COMM_SELF, "option -data: directory '%s' holds no *.h5 or *.hdf5 files", dir);
  qsort(e->paths + first, (size_t)(e->n - first), sizeof *e->paths, by_name);
  PetscFunctionReturn(0);
}

static PetscErrorCode add_glob(Expand *e, const char *pattern) {
  PetscFunctionBeginUser;
  glob_t g;
  int rc = glob(pattern, 0, NULL, &g);
  DT_INPUT_CHECK(rc != GLOB_NOMATCH, PETSC_COMM_SELF, "option -data: pattern '%s' matches no file", pattern);
  DT_INPUT_CHECK(rc == 0, PETSC_COMM_SELF, "option -data: pattern '%s' cannot be expanded (%s)", pattern,
                 rc == GLOB_NOSPACE ? "out of memory" : "read error");
  PetscErrorCode err = 0;
  for (size_t i = 0; i < g.gl_pathc && !err; i++) err = add(e, g.gl_pathv[i]);
  globfree(&g);
  PetscCall(err);
  PetscFunctionReturn(0);
}

static PetscErrorCode add_entry(Expand *e, const char *tok, int in_manifest);

static PetscErrorCode add_manifest(Expand *e, const char *manifest) {
  PetscFunctionBeginUser;
  char why[128] = "";
  int ok = dt_regular_file(manifest, why, sizeof why);
  DT_INPUT_CHECK(ok == 1, PETSC_COMM_SELF, "option -data: manifest '%s': %s; expected a text file of archive names",
                 manifest, why);
  FILE *f = fopen(manifest, "r");
  DT_INPUT_CHECK(f, PETSC_COMM_SELF, "option -data: manifest '%s': %s", manifest, strerror(errno));
  char line[PATH_MAX], base[PATH_MAX];
  snprintf(base, sizeof base, "%s", manifest);
  char *slash = strrchr(base, '/');
  if (slash) slash[1] = 0;
  else base[0] = 0;
  int lineno = 0, first = e->n;
  PetscErrorCode err = 0;
  while (!err && fgets(line, sizeof line, f)) {
    lineno++;
    char *s = line;
    if (lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3)) s += 3; /* a UTF-8 byte order mark */
    while (isspace((unsigned char)*s)) s++;
    for (char *end = s + strlen(s); end > s && isspace((unsigned char)end[-1]);) *--end = 0;
    if (!*s || *s == '#') continue;
    if (*s == '@') {
      fclose(f);
      DT_INPUT_ERROR(PETSC_COMM_SELF, "option -data: manifest '%s' line %d names another manifest '%s'; list archives",
                     manifest, lineno, s);
    }
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s%s", *s == '/' ? "" : base, s);
    err = add_entry(e, path, 1);
  }
  fclose(f);
  PetscCall(err);
  DT_INPUT_CHECK(e->n > first, PETSC_COMM_SELF, "option -data: manifest '%s' names no archive", manifest);
  PetscFunctionReturn(0);
}

static PetscErrorCode add_entry(Expand *e, const char *tok, int in_manifest) {
  PetscFunctionBeginUser;
  size_t len = strlen(tok);
  if (tok[0] == '@' && !in_manifest) PetscCall(add_manifest(e, tok + 1));
  else if (len > 1 && tok[len - 1] == '/') PetscCall(add_directory(e, tok));
  else if (strpbrk(tok, "*?[")) PetscCall(add_glob(e, tok));
  else PetscCall(add(e, tok));
  PetscFunctionReturn(0);
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  for (char *e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);) *--e = 0;
  return s;
}

typedef struct {
  char *real;
  int index;
} Real;

static int by_real(const void *x, const void *y) {
  const Real *a = x, *b = y;
  int c = strcmp(a->real, b->real);
  return c ? c : a->index - b->index;
}

/* An archive listed twice would be trained on twice as often: the first later entry that names
 * an earlier one's file, as a pairwise scan would find it, in n log n. */
static PetscErrorCode check_duplicates(Expand *e) {
  PetscFunctionBeginUser;
  Real *r;
  int m = 0, later = INT_MAX, earlier = -1;
  PetscCall(PetscMalloc1(e->n > 0 ? e->n : 1, &r));
  for (int i = 0; i < e->n; i++) {
    char here[PATH_MAX];
    if (realpath(e->paths[i], here)) {
      PetscCall(PetscStrallocpy(here, &r[m].real));
      r[m++].index = i;
    }
  }
  qsort(r, (size_t)m, sizeof *r, by_real);
  for (int i = 1; i < m; i++) /* in a run of equal names the first has the smallest index */
    if (!strcmp(r[i].real, r[i - 1].real) && r[i].index < later) {
      int j = i - 1;
      while (j > 0 && !strcmp(r[j - 1].real, r[i].real)) j--;
      later = r[i].index, earlier = r[j].index;
    }
  for (int i = 0; i < m; i++) PetscCall(PetscFree(r[i].real));
  PetscCall(PetscFree(r));
  DT_INPUT_CHECK(earlier < 0, PETSC_COMM_SELF,
                 "option -data: archive '%s' is listed twice (entries %d and %d); give each archive once",
                 e->paths[later], earlier + 1, later + 1);
  PetscFunctionReturn(0);
}

static PetscErrorCode expand(void *ctx) {
  PetscFunctionBeginUser;
  Expand *e = ctx;
  const char *csv = e->csv;
  DT_INPUT_CHECK(csv && csv[0], PETSC_COMM_SELF, "option -data: no archive given; expected comma-separated HDF5 files");
  char *copy, *save;
  PetscCall(PetscStrallocpy(csv, &copy));
  save = copy;
  PetscErrorCode err = 0;
  for (int i = 0; save && !err; i++) {
    /* strsep, not strtok: an empty entry must be seen, not skipped */
    char *tok = trim(strsep(&save, ","));
    if (!tok[0]) {
      PetscCall(PetscFree(copy));
      DT_INPUT_ERROR(PETSC_COMM_SELF, "option -data: entry %d of '%s' is empty; expected comma-separated file names", i + 1,
                     csv);
    }
    err = add_entry(e, tok, 0);
  }
  PetscCall(PetscFree(copy));
  PetscCall(err);
  PetscCall(check_duplicates(e));
  PetscFunctionReturn(0);
}

PetscErrorCode archive_expand_paths(MPI_Comm comm, const char *csv, int *nfiles, char ***paths) {
  PetscFunctionBeginUser;
  Expand e = {.csv = csv};
  PetscErrorCode err = archive_rank0(comm, expand, &e);
  long long head[2] = {e.n, (long long)e.bytes};
  if (!err) err = MPI_Bcast(head, 2, MPI_LONG_LONG, 0, comm);
  char *all = NULL;
  if (!err) err = PetscMalloc1(head[1] + 1, &all);
  if (!err && e.paths) { /* rank 0 packs the names */
    size_t at = 0;
    for (int i = 0; i < e.n; i++) at += (size_t)sprintf(all + at, "%s", e.paths[i]) + 1;
  }
  for (int i = 0; i < e.n; i++) (void)PetscFree(e.paths[i]);
  free(e.paths);
  PetscCall(err);
  PetscCallMPI(MPI_Bcast(all, (int)head[1], MPI_CHAR, 0, comm));
  *nfiles = (int)head[0];
  PetscCall(PetscCalloc1(*nfiles, paths));
  for (size_t i = 0, at = 0; i < (size_t)*nfiles; i++) {
    PetscCall(PetscStrallocpy(all + at, &(*paths)[i]));
    at += strlen(all + at) + 1;
  }
  PetscCall(PetscFree(all));
  PetscFunctionReturn(0);
}
