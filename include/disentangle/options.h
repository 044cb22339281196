/* Options, PETSc style (`-name value`, `-options_file F`), described by ONE table per
 * subcommand: the table gives each option's type, default, allowed range and help line, and
 * drives reading, validation and -help alike, so they cannot drift apart. */
#ifndef DISENTANGLE_OPTIONS_H
#define DISENTANGLE_OPTIONS_H

#include <mpi.h>
#include <petscsys.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { OPT_INT, OPT_REAL, OPT_STRING, OPT_BOOL } OptType;

typedef struct {
  const char *name;    /* with the dash: "-steps" */
  OptType type;
  size_t offset;       /* of the field in the subcommand's options struct */
  size_t size;         /* of the field (strings: buffer length) */
  const char *def;     /* default, as text */
  double min, max;     /* numbers: allowed closed range */
  const char *choices; /* strings: allowed values "a|b|c", or NULL for free text */
  const char *help;
  const char *alias;   /* an older name still accepted (messages then use it), or NULL */
} OptSpec;

/* Fill opts with every default (nothing else). */
PetscErrorCode options_defaults(MPI_Comm comm, const OptSpec *spec, int n, void *opts);
/* Fill opts with every default, then the values given on the command line or in option files;
 * a value of the wrong type or out of range is an input error naming the option. */
PetscErrorCode options_read(MPI_Comm comm, const OptSpec *spec, int n, void *opts);
/* An option nobody asked for (a typo, an option of another subcommand) is an input error,
 * with the closest known name as a hint. PETSc's own options (-log_view, ...) are allowed. */
PetscErrorCode options_reject_unknown(MPI_Comm comm, const OptSpec *spec, int n);
/* The -help text: every option with its default, range and meaning. */
void options_print_help(FILE *fp, const char *usage, const OptSpec *spec, int n);
/* Just the lines of the options (for tables printed after the main one). */
void options_print_table(FILE *fp, const OptSpec *spec, int n);
/* "-name value" for every option, one per line: what a run records of its configuration. */
PetscErrorCode options_format(const OptSpec *spec, int n, const void *opts, char **text);



/* Set the options named in a text of "-name value" lines (what options_format writes, e.g. the
 * option set stored in a checkpoint); names not in spec are ignored. */
PetscErrorCode options_apply_text(MPI_Comm comm, const OptSpec *spec, int n, const char *text, void *opts);

/* Parse a comma-separated list of positive integers ("200,80,40") given to option `name`. */
PetscErrorCode options_parse_widths(const char *name, const char *text, int *out, int max, int *n);

#endif
