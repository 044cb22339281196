#include "disentangle/jsonio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "disentangle/error.h"

/* A run's JSON files are small (a few thousand numbers); a bound keeps a wrong path (a huge
 * file given by mistake) from being read into memory whole. */
#define JSONIO_MAX_BYTES (64L << 20)

json_t *jsonio_number(double v) {
  if (!isfinite(v)) return json_null();
  /* 2^53: every whole double below it is an exact integer */
  if (v == nearbyint(v) && fabs(v) < 9007199254740992.0) return json_integer((json_int_t)v);
  return json_real(v);
}

PetscErrorCode jsonio_set(json_t *obj, const char *key, json_t *value) {
  PetscFunctionBeginUser;
  /* json_object_set_new releases value also when it fails */
  PetscCheck(value && json_object_set_new(obj, key, value) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "out of memory building the JSON member '%s'", key);
  PetscFunctionReturn(0);
}

PetscErrorCode jsonio_set_number(json_t *obj, const char *key, double v) {
  PetscFunctionBeginUser;
  PetscCall(jsonio_set(obj, key, jsonio_number(v)));
  PetscFunctionReturn(0);
}

PetscErrorCode jsonio_set_int(json_t *obj, const char *key, long long v) {
  PetscFunctionBeginUser;
  PetscCall(jsonio_set(obj, key, json_integer((json_int_t)v)));
  PetscFunctionReturn(0);
}

PetscErrorCode jsonio_set_string(json_t *obj, const char *key, const char *s) {
  PetscFunctionBeginUser;
  json_t *value = json_string(s);
  PetscCheck(value, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "JSON member '%s': its text is not UTF-8 (or out of memory)", key);
  PetscCall(jsonio_set(obj, key, value));
  PetscFunctionReturn(0);
}

PetscErrorCode jsonio_set_numbers(json_t *obj, const char *key, const double *v, int n) {
  PetscFunctionBeginUser;
  json_t *array = json_array();
  int failed = !array;
  for (int i = 0; i < n && !failed; i++) failed = json_array_append_new(array, jsonio_number(v[i])) != 0;
  if (failed) json_decref(array), array = NULL;
  PetscCall(jsonio_set(obj, key, array));
  PetscFunctionReturn(0);
}

/* 0, or the errno of the failure. */
static int write_file(const char *path, const char *tmp, const json_t *root, int digits) {
  errno = 0; /* json_dumpf may fail without setting it */
  FILE *fp = fopen(tmp, "w");
  if (!fp) return errno ? errno : EIO;
  int err = 0;
  if (json_dumpf(root, fp, JSON_INDENT(2) | JSON_REAL_PRECISION(digits)) != 0 || fputc('\n', fp) == EOF) err = errno ? errno : EIO;
  if (fclose(fp) != 0 && !err) err = errno ? errno : EIO;
  if (!err && rename(tmp, path) != 0) err = errno ? errno : EIO;
  if (err) remove(tmp);
  return err;
}

PetscErrorCode jsonio_write(MPI_Comm comm, const char *path, const json_t *root, int digits) {
  PetscFunctionBeginUser;
  int rank, err = 0;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char tmp[PETSC_MAX_PATH_LEN + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) err = ENAMETOOLONG;
    else err = write_file(path, tmp, root, digits);
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE, "cannot write '%s': %s", path, strerror(err));
  PetscFunctionReturn(0);
}

/* Rank 0's view of the file: 0 read, 1 missing (or its directory), 2 unreadable (errno in *err), 3 too large,
 * 4 not a regular file. */
static int slurp(const char *path, char **text, long *len, int *err) {
  *text = NULL, *len = 0, *err = 0;
  struct stat st; /* a FIFO would block fopen forever */
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return 4;
  FILE *fp = fopen(path, "rb");
  if (!fp) return *err = errno, errno == ENOENT || errno == ENOTDIR ? 1 : 2;
  long cap = 0;
  for (;;) {
    if (*len == cap) {
      if (cap >= JSONIO_MAX_BYTES) return fclose(fp), free(*text), *text = NULL, 3;
      cap = cap ? 2 * cap : 1 << 16;
      char *grown = realloc(*text, (size_t)cap);
      if (!grown) return fclose(fp), free(*text), *text = NULL, *err = ENOMEM, 2;
      *text = grown;
    }
    size_t got = fread(*text + *len, 1, (size_t)(cap - *len), fp);
    *len += (long)got;
    if (got == 0) break;
  }
  /* a directory opens on Linux, then fails to read */
  if (ferror(fp)) return *err = errno ? errno : EIO, fclose(fp), free(*text), *text = NULL, 2;
  fclose(fp);
  return 0;
}

PetscErrorCode jsonio_read(MPI_Comm comm, const char *path, json_t **root) {
  PetscFunctionBeginUser;
  int rank, state[2] = {0, 0};
  long len = 0;
  char *text = NULL;
  *root = NULL;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) state[0] = slurp(path, &text, &len, &state[1]);
  PetscCallMPI(MPI_Bcast(state, 2, MPI_INT, 0, comm));
  if (state[0] == 1) PetscFunctionReturn(0);
  DT_INPUT_CHECK(state[0] != 2, comm, "cannot read '%s': %s", path, strerror(state[1]));
  DT_INPUT_CHECK(state[0] != 4, comm, "cannot read '%s': it is not a regular file (a FIFO or device?)", path);
  DT_INPUT_CHECK(state[0] != 3, comm, "'%s' is larger than %ld MiB; it is not a JSON file this program wrote", path,
                 JSONIO_MAX_BYTES >> 20);
  PetscCallMPI(MPI_Bcast(&len, 1, MPI_LONG, 0, comm));
  if (rank != 0) PetscCall(PetscMalloc1(len + 1, &text)); /* rank 0's text came from realloc in slurp */
  PetscCallMPI(MPI_Bcast(text, (int)len, MPI_CHAR, 0, comm));
  json_error_t jerr;
  json_t *doc = json_loadb(text, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
  if (rank == 0) free(text);
  else PetscCall(PetscFree(text));
  DT_INPUT_CHECK(doc, comm, "'%s' is not valid JSON: line %d, column %d: %s", path, jerr.line, jerr.column, jerr.text);
  if (!json_is_object(doc)) {
    json_decref(doc);
    DT_INPUT_ERROR(comm, "'%s': expected a JSON object ({...}) at the top", path);
  }
  *root = doc;
  PetscFunctionReturn(0);
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

PetscErrorCode jsonio_to_number(MPI_Comm comm, const char *path, const char *key, const json_t *value, double *v) {
  PetscFunctionBeginUser;
  DT_INPUT_CHECK(json_is_number(value) || json_is_null(value), comm, "'%s': \"%s\" is %s; expected a number (or null)",
                 path, key, type_name(value));
  *v = json_is_null(value) ? NAN : json_number_value(value);
  PetscFunctionReturn(0);
}

static PetscErrorCode member(MPI_Comm comm, const char *path, const json_t *obj, const char *key, json_t **value) {
  PetscFunctionBeginUser;
  *value = json_object_get(obj, key);
  DT_INPUT_CHECK(*value, comm, "'%s' has no \"%s\"", path, key);
  PetscFunctionReturn(0);
}

PetscErrorCode jsonio_get_number(MPI_Comm comm, const char *path, const json_t *obj, const char *key, double *v) {
  PetscFunctionBeginUser;
  json_t *value;
  PetscCall(member(comm, path, obj, key, &value));
  PetscCall(jsonio_to_number(comm, path, key, value, v));
  PetscFunctionReturn(0);
}

PetscErrorCode jsonio_get_string(MPI_Comm comm, const char *path, const json_t *obj, const char *key, char *buf,
                                 size_t len) {
  PetscFunctionBeginUser;
  json_t *value;
  PetscCall(member(comm, path, obj, key, &value));
  DT_INPUT_CHECK(json_is_string(value), comm, "'%s': \"%s\" is %s; expected a string", path, key, type_name(value));
  DT_INPUT_CHECK(json_string_length(value) < len, comm, "'%s': \"%s\" is longer than %zu characters", path, key, len - 1);
  memcpy(buf, json_string_value(value), json_string_length(value) + 1);
  PetscFunctionReturn(0);
}
