#include "disentangle/options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/cmdline.h"
#include "disentangle/error.h"

#define VALUE_LEN 4096

static PetscErrorCode parse_int(MPI_Comm comm, const OptSpec *o, const char *text, PetscInt *v) {
  PetscFunctionBeginUser;
  char *end;
  errno = 0;
  long long x = strtoll(text, &end, 10);
  DT_INPUT_CHECK(*text && !*end, comm, "option %s: '%s' is not an integer; %s", o->name, text, o->help);
  /* an integer too long for 64 bits is still an integer: say that it is out of range */
  DT_INPUT_CHECK(!errno, comm, "option %s: %s is out of range; allowed %.0f to %.0f (%s)", o->name, text, o->min, o->max,
                 o->help);
  DT_INPUT_CHECK(x >= o->min && x <= o->max, comm, "option %s: %lld is out of range; allowed %.0f to %.0f (%s)",
                 o->name, x, o->min, o->max, o->help);
  *v = (PetscInt)x;
  PetscFunctionReturn(0);
}

static PetscErrorCode parse_real(MPI_Comm comm, const OptSpec *o, const char *text, PetscReal *v) {
  PetscFunctionBeginUser;
  char *end;
  errno = 0;
  double x = strtod(text, &end);
  DT_INPUT_CHECK(*text && !*end && (isfinite(x) || errno == ERANGE), comm, "option %s: '%s' is not a finite number; %s",
                 o->name, text, o->help);
  /* 1e400 and 1e-400 are numbers, just not ones a double holds (an underflow would silently be 0);
   * a subnormal result is still the number given, to a few digits */
  /* formatted here: PETSc's own %g would print "0." for 0 */
  char range[160];
  snprintf(range, sizeof range, "%s is out of range for a double (%s); allowed %g to %g", text,
           isfinite(x) ? "it would be 0" : "beyond 1.8e308", o->min, o->max);
  DT_INPUT_CHECK(errno != ERANGE || (x != 0 && isfinite(x)), comm, "option %s: %s (%s)", o->name, range, o->help);
  snprintf(range, sizeof range, "%g is out of range; allowed %g to %g", x, o->min, o->max);
  DT_INPUT_CHECK(x >= o->min && x <= o->max, comm, "option %s: %s (%s)", o->name, range, o->help);
  *v = (PetscReal)x;
  PetscFunctionReturn(0);
}

static int in_choices(const char *choices, const char *v) {
  size_t n = strlen(v);
  for (const char *c = choices; c && *c;) {
    const char *bar = strchr(c, '|');
    size_t len = bar ? (size_t)(bar - c) : strlen(c);
    if (len == n && !strncmp(c, v, n)) return 1;
    c = bar ? bar + 1 : NULL;
  }
  return 0;
}

static PetscErrorCode parse_value(MPI_Comm comm, const OptSpec *o, const char *text, void *opts) {
  PetscFunctionBeginUser;
  char *field = (char *)opts + o->offset;
  switch (o->type) {
  case OPT_INT: PetscCall(parse_int(comm, o, text, (PetscInt *)field)); break;
  case OPT_REAL: PetscCall(parse_real(comm, o, text, (PetscReal *)field)); break;
  case OPT_BOOL: {
    int yes = !*text || !strcmp(text, "1") || !strcasecmp(text, "true") || !strcasecmp(text, "yes");
    int no = !strcmp(text, "0") || !strcasecmp(text, "false") || !strcasecmp(text, "no");
    DT_INPUT_CHECK(yes || no, comm, "option %s: '%s' is not a truth value; use true or false", o->name, text);
    *(PetscBool *)field = yes ? PETSC_TRUE : PETSC_FALSE;
    break;
  }
  case OPT_STRING:
    DT_INPUT_CHECK(strlen(text) < o->size, comm, "option %s: value longer than %zu characters", o->name, o->size - 1);
    DT_INPUT_CHECK(!o->choices || in_choices(o->choices, text), comm, "option %s: '%s' is not allowed; choose one of %s",
                   o->name, text, o->choices);
    strcpy(field, text);
    break;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode options_defaults(MPI_Comm comm, const OptSpec *spec, int n, void *opts) {
  PetscFunctionBeginUser;
  for (int i = 0; i < n; i++) PetscCall(parse_value(comm, &spec[i], spec[i].def, opts));
  PetscFunctionReturn(0);
}

PetscErrorCode options_read(MPI_Comm comm, const OptSpec *spec, int n, void *opts) {
  PetscFunctionBeginUser;
  char *value;
  PetscCall(options_defaults(comm, spec, n, opts));
  PetscCall(PetscMalloc1(VALUE_LEN, &value));
  for (int i = 0; i < n; i++) {
    PetscBool set = PETSC_FALSE;
    OptSpec o = spec[i];
    value[0] = 0;
    PetscCall(PetscOptionsGetString(NULL, NULL, o.name, value, VALUE_LEN, &set));
    if (o.alias) { /* the older name: messages use the name the user wrote */
      PetscBool old = PETSC_FALSE;
      char *other;
      PetscCall(PetscMalloc1(VALUE_LEN, &other));
      PetscCall(PetscOptionsGetString(NULL, NULL, o.alias, other, VALUE_LEN, &old));
      /* both given (a file has one, the command line the other): the command line's wins */
      if (old && (!set || (cmdline_given(o.alias) && !cmdline_given(o.name)))) {
        snprintf(value, VALUE_LEN, "%s", other);
        set = PETSC_TRUE, o.name = o.alias;
      }
      PetscCall(PetscFree(other));
    }
    DT_INPUT_CHECK(!set || strlen(value) < VALUE_LEN - 1, comm, "option %s: value too long", o.name);
    if (!set) continue;
    DT_INPUT_CHECK(o.type == OPT_BOOL || value[0], comm, "option %s needs a value (%s)", o.name, o.help);
    PetscCall(parse_value(comm, &o, value, opts));
  }
  PetscCall(PetscFree(value));
  PetscFunctionReturn(0);
}

/* PETSc's own options stay usable, by their exact names: a mistyped one (-log_viwe) is refused
 * like any other unknown option. */
static const char *const petsc_options[] = {
  "log_view", "log_view_memory", "log_view_gpu_time", "log_trace", "log_all", "log_exclude", "log_sync",
  "options_left", "options_view", "options_monitor", "options_monitor_cancel", "malloc_debug", "malloc_dump",
  "malloc_view", "malloc_test", "malloc_coalesce", "malloc_hbw", "on_error_abort", "on_error_attach_debugger",
  "on_error_emacs", "fp_trap", "no_signal_handler", "checkstack", "info", "info_exclude", "version", "history",
  "skip_petscrc", "check_pointer_intensity", "objects_dump", "memory_view", "memory_view_summary", NULL};

static int is_petsc_option(const char *name) {
  for (int i = 0; petsc_options[i]; i++)
    if (!strcmp(name, petsc_options[i])) return 1;
  return 0;
}

static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b), row[128];
  if (la > 120 || lb > 120) return 1000;
  for (int j = 0; j <= lb; j++) row[j] = j;
  for (int i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = i;
    for (int j = 1; j <= lb; j++) {
      int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up, row[j] = best;
    }
  }
  return row[lb];
}

PetscErrorCode options_reject_unknown(MPI_Comm comm, const OptSpec *spec, int n) {
  PetscFunctionBeginUser;
  PetscInt nleft;
  char **names, **values;
  PetscCall(PetscOptionsLeftGet(NULL, &nleft, &names, &values));
  const char *unknown = NULL;
  for (PetscInt i = 0; i < nleft && !unknown; i++)
    if (!is_petsc_option(names[i])) unknown = names[i];
  if (unknown) {
    const char *best = NULL;
    int best_d = 4, petsc = 0;
    for (int i = 0; i < n; i++) {
      int d = edit_distance(unknown, spec[i].name + 1);
      if (d < best_d) best_d = d, best = spec[i].name;
    }
    for (int i = 0; petsc_options[i]; i++) {
      int d = edit_distance(unknown, petsc_options[i]);
      if (d < best_d) best_d = d, best = petsc_options[i], petsc = 1;
    }
    char hint[128] = "";
    if (best) snprintf(hint, sizeof hint, " (did you mean -%s?)", petsc ? best : best + 1);
    char name[256];
    snprintf(name, sizeof name, "%s", unknown);
    PetscCall(PetscOptionsLeftRestore(NULL, &nleft, &names, &values));
    DT_INPUT_ERROR(comm, "unknown option -%s%s; run with -help to list every option", name, hint);
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &nleft, &names, &values));
  PetscFunctionReturn(0);
}

void options_print_table(FILE *fp, const OptSpec *spec, int n) {
  for (int i = 0; i < n; i++) {
    const OptSpec *o = &spec[i];
    char range[128] = "";
    if (o->type == OPT_INT) snprintf(range, sizeof range, " [%.0f..%.0f]", o->min, o->max);
    else if (o->type == OPT_REAL) snprintf(range, sizeof range, " [%g..%g]", o->min, o->max);
    else if (o->choices) snprintf(range, sizeof range, " {%s}", o->choices);
    char alias[80] = "";
    if (o->alias) snprintf(alias, sizeof alias, "; also %s", o->alias);
    fprintf(fp, "  %-20s %s (default: %s)%s%s\n", o->name, o->help, *o->def ? o->def : "\"\"", range, alias);
  }
}

void options_print_help(FILE *fp, const char *usage, const OptSpec *spec, int n) {
  fprintf(fp, "%s\n\nOptions (PETSc style: -name value, or -options_file FILE with one per line):\n", usage);
  options_print_table(fp, spec, n);
  fprintf(fp, "\nPETSc options also work, e.g. -log_view for a timing table of the phases.\n");
}

PetscErrorCode options_format(const OptSpec *spec, int n, const void *opts, char **text) {
  PetscFunctionBeginUser;
  size_t cap = 256;
  for (int i = 0; i < n; i++) cap += strlen(spec[i].name) + (spec[i].type == OPT_STRING ? spec[i].size : 32) + 4;
  char *buf;
  PetscCall(PetscMalloc1(cap, &buf));
  buf[0] = 0; /* a table of no options (ae has none of its own) is the empty text, not uninitialised memory */
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    const char *field = (const char *)opts + spec[i].offset;
    size_t room = cap - len;
    switch (spec[i].type) {
    case OPT_INT: len += snprintf(buf + len, room, "%s %lld\n", spec[i].name, (long long)*(const PetscInt *)field); break;
    case OPT_REAL: len += snprintf(buf + len, room, "%s %.17g\n", spec[i].name, (double)*(const PetscReal *)field); break;
    case OPT_BOOL: len += snprintf(buf + len, room, "%s %s\n", spec[i].name, *(const PetscBool *)field ? "true" : "false"); break;
    case OPT_STRING: len += snprintf(buf + len, room, "%s %s\n", spec[i].name, field); break;
    }
  }
  *text = buf;
  PetscFunctionReturn(0);
}

PetscErrorCode options_apply_text(MPI_Comm comm, const OptSpec *spec, int n, const char *text, void *opts) {
  PetscFunctionBeginUser;
  char name[256], value[VALUE_LEN];
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n'), *space = strchr(line, ' ');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (space && space < line + len && (size_t)(space - line) < sizeof name && len - (space - line) - 1 < sizeof value) {
      snprintf(name, sizeof name, "%.*s", (int)(space - line), line);
      snprintf(value, sizeof value, "%.*s", (int)(len - (space - line) - 1), space + 1);
      for (int i = 0; i < n; i++)
        if (!strcmp(spec[i].name, name)) PetscCall(parse_value(comm, &spec[i], value, opts));
    }
    line = end ? end + 1 : NULL;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode options_parse_widths(const char *name, const char *text, int *out, int max, int *n) {
  PetscFunctionBeginUser;
  *n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    long w = strtol(p, &end, 10);
    DT_INPUT_CHECK(end != p && w >= 1 && w <= 1000000 && (*end == ',' || !*end), PETSC_COMM_WORLD,
                   "option %s: '%s' is not a list of positive widths like 200,80,40", name, text);
    DT_INPUT_CHECK(*n < max, PETSC_COMM_WORLD, "option %s: more than %d widths in '%s'", name, max, text);
    out[(*n)++] = (int)w;
    p = *end ? end + 1 : end;
  }
  DT_INPUT_CHECK(*n > 0, PETSC_COMM_WORLD, "option %s: give at least one width, e.g. 200,80,40", name);
  PetscFunctionReturn(0);
}
