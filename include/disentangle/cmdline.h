/* The command line and options files, read by us rather than by PetscInitialize, so that every
 * problem with them is ONE line naming the file and line (PETSc's own reader stops with a
 * traceback, follows an options file that includes itself until the stack overflows, and drops
 * what it cannot parse silently).
 *
 *   cmdline_split   before PetscInitialize: takes every `-options_file F` out of the arguments
 *                   and finds stray words (`-batch 50 0`);
 *   cmdline_load    after it: reads the files (rank 0 reads, every rank parses the same bytes)
 *                   and sets their options where the command line did not set them, so the
 *                   command line wins; `-options_file` inside a file is followed, cycles refused.
 * An options file holds one `-name [value]` per line; `#` starts a comment; a UTF-8 byte order
 * mark is skipped; a value is one word. */
#ifndef DISENTANGLE_CMDLINE_H
#define DISENTANGLE_CMDLINE_H

#include <petscsys.h>

#define CMDLINE_MAX_FILES 16

typedef struct {
  int nfiles;
  char *files[CMDLINE_MAX_FILES]; /* -options_file values, in order (not owned) */
  int nnames;
  char **names;                   /* option names given on the command line, without the dash */
  char stray[256];                /* a word that is no option and no option's value, "" if none */
  char stray_after[256];          /* the option it follows */
} CmdLine;

/* Remove -options_file pairs from args (argc updated) and note the rest; no PETSc call. */
void cmdline_split(int *argc, char **args, CmdLine *cl);
void cmdline_free(CmdLine *cl);
/* After PetscInitialize: refuse a stray word, load the options files, check -log_view's path. */
PetscErrorCode cmdline_load(MPI_Comm comm, const CmdLine *cl);
/* Whether option `name` ("-name") was given on the command line (not only in a file); 0 before
 * cmdline_load. */
int cmdline_given(const char *name);

#endif
