/* Options files and the command line: see cmdline.h. */
#include "disentangle/cmdline.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disentangle/error.h"

#define MAX_FILE_BYTES (1 << 20) /* an options file is a few lines; more is a mistake */
#define MAX_DEPTH 8

/* A word that is an option's value rather than an option: not "-name", or a negative number. */
static int is_value(const char *w) {
  if (w[0] != '-') return 1;
  char *end;
  strtod(w, &end);
  return end != w && !*end;
}

void cmdline_split(int *argc, char **args, CmdLine *cl) {
  memset(cl, 0, sizeof *cl);
  cl->names = malloc(sizeof *cl->names * (*argc + 1));
  int n = 1, expect_value = 0;
  const char *last = "";
  for (int i = 1; i < *argc; i++) {
    const char *w = args[i];
    if (!strcmp(w, "-options_file") && i + 1 < *argc) {
      if (cl->nfiles < CMDLINE_MAX_FILES) cl->files[cl->nfiles++] = args[i + 1];
      i++, expect_value = 0;
      continue;
    }
    if (!is_value(w)) {
      cl->names[cl->nnames++] = (char *)w + 1;
      last = w, expect_value = 1;
    } else if (expect_value) {
      expect_value = 0;
    } else if (!cl->stray[0]) {
      snprintf(cl->stray, sizeof cl->stray, "%s", w);
      snprintf(cl->stray_after, sizeof cl->stray_after, "%s", last);
    }
    args[n++] = args[i];
  }
  args[n] = NULL;
  *argc = n;
}

void cmdline_free(CmdLine *cl) {
  free(cl->names);
  cl->names = NULL;
}

static int given_on_command_line(const CmdLine *cl, const char *name) {
  for (int i = 0; i < cl->nnames; i++)
    if (!strcmp(cl->names[i], name)) return 1;
  return 0;
}

/* Rank 0 reads the file; every rank gets its bytes (or the reason it cannot be read). */
static PetscErrorCode read_file(MPI_Comm comm, const char *path, const char *from, char **text, long *len) {
  PetscFunctionBeginUser;
  int rank;
  long n = 0;
  char why[160] = "";
  char *buf = NULL;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    struct stat st;
    /* stat first: opening a FIFO would block forever, a directory reads as nothing */
    if (stat(path, &st) != 0) snprintf(why, sizeof why, "%s", strerror(errno));
    else if (S_ISDIR(st.st_mode)) snprintf(why, sizeof why, "it is a directory; give a file of '-name value' lines");
    else if (!S_ISREG(st.st_mode)) snprintf(why, sizeof why, "it is not a regular file (a FIFO or device?)");
    else if (st.st_size > MAX_FILE_BYTES)
      snprintf(why, sizeof why, "it holds %lld bytes; an options file has at most %d", (long long)st.st_size, MAX_FILE_BYTES);
    else {
      FILE *f = fopen(path, "rb");
      if (!f) snprintf(why, sizeof why, "%s", strerror(errno));
      else {
        buf = malloc((size_t)st.st_size + 1);
        n = buf ? (long)fread(buf, 1, (size_t)st.st_size, f) : 0;
        if (!buf || ferror(f)) snprintf(why, sizeof why, "cannot be read");
        fclose(f);
      }
    }
    if (why[0]) n = -1;
  }
  PetscCallMPI(MPI_Bcast(&n, 1, MPI_LONG, 0, comm));
  PetscCallMPI(MPI_Bcast(why, sizeof why, MPI_CHAR, 0, comm));
  if (n < 0) free(buf);
  DT_INPUT_CHECK(n >= 0, comm, "options file '%s'%s: %s", path, from, why);
  if (rank != 0) buf = malloc((size_t)n + 1);
  PetscCheck(buf, comm, PETSC_ERR_MEM, "out of memory reading '%s'", path);
  PetscCallMPI(MPI_Bcast(buf, (int)n, MPI_CHAR, 0, comm));
  buf[n] = 0;
  *text = buf, *len = n;
  PetscFunctionReturn(0);
}

typedef struct {
  int depth;
  char *stack[MAX_DEPTH + 1]; /* real paths of the files being read, for cycles */
} Nesting;

static PetscErrorCode load_file(MPI_Comm comm, const CmdLine *cl, const char *path, const char *from, Nesting *nest);

/* One line "-name [value]" (comments and blanks already gone): set it unless the command line has. */
static PetscErrorCode apply_line(MPI_Comm comm, const CmdLine *cl, const char *path, int lineno, char *line, Nesting *nest) {
  PetscFunctionBeginUser;
  char *words[3] = {NULL, NULL, NULL};
  int nw = 0, options = 0;
  for (char *w = strtok(line, " \t"); w; w = strtok(NULL, " \t")) {
    if (nw < 3) words[nw] = w;
    options += !is_value(w);
    nw++;
  }
  char shown[48]; /* the word as it can be printed: random bytes must not reach the terminal */
  snprintf(shown, sizeof shown, "%s", words[0]);
  for (char *c = shown; *c; c++)
    if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
  DT_INPUT_CHECK(words[0][0] == '-' && words[0][1] && !is_value(words[0]), comm,
                 "options file '%s' line %d: '%s' is not an option; each line is '-name value' (or a # comment)", path,
                 lineno, shown);
  DT_INPUT_CHECK(options == 1, comm, "options file '%s' line %d: %d options on one line; put one per line", path, lineno,
                 options);
  DT_INPUT_CHECK(nw <= 2, comm, "options file '%s' line %d: '%s' is followed by %d words; a value is one word (no spaces)",
                 path, lineno, words[0], nw - 1);
  if (!strcmp(words[0], "-options_file")) {
    DT_INPUT_CHECK(words[1], comm, "options file '%s' line %d: -options_file needs a file name", path, lineno);
    char from[PATH_MAX + 64], target[PATH_MAX];
    snprintf(from, sizeof from, " (included from '%s' line %d)", path, lineno);
    /* relative to the including file, as a user reads it */
    if (words[1][0] != '/') {
      char dir[PATH_MAX];
      snprintf(dir, sizeof dir, "%s", path);
      snprintf(target, sizeof target, "%s/%s", dirname(dir), words[1]);
    } else snprintf(target, sizeof target, "%s", words[1]);
    PetscCall(load_file(comm, cl, target, from, nest));
    PetscFunctionReturn(0);
  }
  if (!given_on_command_line(cl, words[0] + 1)) PetscCall(PetscOptionsSetValue(NULL, words[0], words[1]));
  PetscFunctionReturn(0);
}

static PetscErrorCode load_file(MPI_Comm comm, const CmdLine *cl, const char *path, const char *from, Nesting *nest) {
  PetscFunctionBeginUser;
  char real[PATH_MAX];
  if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
  for (int d = 0; d < nest->depth; d++)
    DT_INPUT_CHECK(strcmp(nest->stack[d], real), comm, "options file '%s'%s: it includes itself (a cycle of -options_file)",
                   path, from);
  DT_INPUT_CHECK(nest->depth < MAX_DEPTH, comm, "options file '%s'%s: -options_file nested more than %d deep", path, from,
                 MAX_DEPTH);
  char *text = NULL;
  long len = 0;
  PetscCall(read_file(comm, path, from, &text, &len));
  nest->stack[nest->depth++] = real;
  char *p = text, *stop = text + len;
  if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* a UTF-8 byte order mark (Windows editors) */
  PetscErrorCode ierr = 0;
  for (int lineno = 1; p < stop && !ierr; lineno++) {
    char *end = memchr(p, '\n', (size_t)(stop - p)), *next;
    if (!end) end = stop;
    next = end + 1;
    /* a control byte (NUL included): the file is binary or damaged, not something to skip */
    for (const char *c = p; c < end; c++)
      if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\r') {
        int byte = (unsigned char)*c;
        free(text);
        DT_INPUT_ERROR(comm, "options file '%s' line %d: a control byte 0x%02x%s; is it a text file?", path, lineno, byte,
                       byte ? "" : " (NUL)");
      }
    *end = 0;
    char *hash = strchr(p, '#');
    if (hash) *hash = 0;
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1])) p[--n] = 0;
    while (isspace((unsigned char)*p)) p++;
    if (*p) ierr = apply_line(comm, cl, path, lineno, p, nest);
    p = next;
  }
  nest->depth--;
  free(text);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* -log_view :FILE[:format] must be writable before the run starts, not after it ends. */
static PetscErrorCode check_log_view(MPI_Comm comm) {
  PetscFunctionBeginUser;
  char value[PATH_MAX] = "";
  PetscBool set = PETSC_FALSE;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-log_view", value, sizeof value, &set));
  if (!set || value[0] != ':' || !value[1]) PetscFunctionReturn(0);
  char file[PATH_MAX], dir[PATH_MAX];
  snprintf(file, sizeof file, "%s", value + 1);
  char *colon = strchr(file, ':');
  if (colon) *colon = 0;
  snprintf(dir, sizeof dir, "%s", file);
  int rank, ok = 1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) ok = access(dirname(dir), W_OK) == 0;
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  DT_INPUT_CHECK(ok, comm, "option -log_view: cannot write '%s' (no such directory, or not writable)", file);
  PetscFunctionReturn(0);
}

static const CmdLine *loaded;

int cmdline_given(const char *name) { return loaded && name[0] == '-' && given_on_command_line(loaded, name + 1); }

PetscErrorCode cmdline_load(MPI_Comm comm, const CmdLine *cl) {
  PetscFunctionBeginUser;
  loaded = cl;
  DT_INPUT_CHECK(!cl->stray[0], comm, "'%s' after %s is neither an option nor its value; one value per option",
                 cl->stray, cl->stray_after[0] ? cl->stray_after : "the command");
  for (int f = 0; f < cl->nfiles; f++) {
    Nesting nest = {0};
    PetscCall(load_file(comm, cl, cl->files[f], "", &nest));
  }
  PetscCall(check_log_view(comm));
  PetscFunctionReturn(0);
}
