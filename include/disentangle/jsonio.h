/* The JSON files of a run (summary.json, metrics.json), read and written through jansson.
 *
 * Non-finite numbers: JSON has no NaN or infinity, so a number that is not finite is WRITTEN
 * AS null, and null is READ BACK AS NaN wherever a number is expected. A diverged run thus
 * still leaves valid JSON, and its readers show the value as "n/a".
 * A whole number is written without a fraction ("200", not "200.0"), as printf's %g would.
 *
 * Writing is collective: rank 0 writes, every rank learns the outcome, and a failure is an
 * output error (one line naming the file, exit DT_EXIT_OUTPUT). Reading is collective too:
 * rank 0 reads the bytes and every rank parses the same text, so all agree; a file that is
 * not what was expected is an input error naming the file (and the line and column, or the key). */
#ifndef DISENTANGLE_JSONIO_H
#define DISENTANGLE_JSONIO_H

#include <jansson.h>
#include <mpi.h>
#include <petscsys.h>
#include <stddef.h>

/* The JSON value of v: a number, or null when v is not finite. New reference (NULL: out of memory). */
json_t *jsonio_number(double v);

/* obj[key] = value; the reference to value is taken over (also on failure). */
PetscErrorCode jsonio_set(json_t *obj, const char *key, json_t *value);
PetscErrorCode jsonio_set_number(json_t *obj, const char *key, double v);
PetscErrorCode jsonio_set_int(json_t *obj, const char *key, long long v);
PetscErrorCode jsonio_set_string(json_t *obj, const char *key, const char *s);
/* obj[key] = [v[0], ..., v[n-1]], non-finite entries as null. */
PetscErrorCode jsonio_set_numbers(json_t *obj, const char *key, const double *v, int n);

/* Write root to path, indented by 2, one member per line, reals to `digits` significant digits:
 * first to PATH.tmp, then renamed over path, so a reader never sees half a file. Collective on comm. */
PetscErrorCode jsonio_write(MPI_Comm comm, const char *path, const json_t *root, int digits);

/* Read path, which must hold one JSON object, into *root (a new reference; json_decref it).
 * *root = NULL when the file does not exist: the caller says what that means. Collective on comm. */
PetscErrorCode jsonio_read(MPI_Comm comm, const char *path, json_t **root);

/* value (obj's member key, read from path) as a number: null -> NaN; anything else but a number
 * is an input error naming path and key. */
PetscErrorCode jsonio_to_number(MPI_Comm comm, const char *path, const char *key, const json_t *value, double *v);
/* obj[key] as a number (as jsonio_to_number) or a string; a missing key is an input error. */
PetscErrorCode jsonio_get_number(MPI_Comm comm, const char *path, const json_t *obj, const char *key, double *v);
PetscErrorCode jsonio_get_string(MPI_Comm comm, const char *path, const json_t *obj, const char *key, char *buf,
                                 size_t len);

#endif
