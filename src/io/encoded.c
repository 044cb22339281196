/* RUN_DIR/latents.h5, written by eval and read by report (see encoded.h). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* fsync under -std=c11 */
#endif
#include "disentangle/encoded.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disentangle/error.h"
#include "disentangle/h5guard.h"

/* Bounds a crafted file cannot pass: no dataset above 2^28 values (2 GiB of doubles). */
#define MAX_VALUES ((int64_t)1 << 28)
#define MAX_STEPS 1000
#define NAME_LEN 256

/* ---------------------------------------------------------------- writing (rank 0, plain C) */

/* Each returns 0, or -1 after an HDF5 failure; the caller reports the file once. */
static int put_dataset(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                       const void *data) {
  hid_t s = H5Screate_simple(rank, dims, NULL), d = -1;
  int rc = -1;
  if (s >= 0) d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) rc = 0;
  if (d >= 0 && H5Dclose(d) < 0) rc = -1;
  if (s >= 0) H5Sclose(s);
  return rc;
}

static int put_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                    const void *data) {
  hid_t s = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR), a = -1;
  int rc = -1;
  if (s >= 0) a = H5Acreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0 && H5Awrite(a, mtype, data) >= 0) rc = 0;
  if (a >= 0 && H5Aclose(a) < 0) rc = -1;
  if (s >= 0) H5Sclose(s);
  return rc;
}

/* count fixed-length strings, each padded to the longest (plus its terminating zero). */
static int put_strings(hid_t loc, const char *name, int rank, const char *const *s, int count) {
  size_t len = 1;
  for (int i = 0; i < count; i++) len = strlen(s[i]) + 1 > len ? strlen(s[i]) + 1 : len;
  char *buf = calloc((size_t)count, len);
  hid_t t = H5Tcopy(H5T_C_S1);
  int rc = -1;
  if (buf && t >= 0 && H5Tset_size(t, len) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0) {
    for (int i = 0; i < count; i++) memcpy(buf + (size_t)i * len, s[i], strlen(s[i]));
    hsize_t dims[1] = {(hsize_t)count};
    rc = put_attr(loc, name, t, t, rank, dims, buf);
  }
  if (t >= 0) H5Tclose(t);
  free(buf);
  return rc;
}

static int put_string(hid_t loc, const char *name, const char *s) { return put_strings(loc, name, 0, &s, 1); }

static int put_double(hid_t loc, const char *name, double v) {
  return put_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &v);
}

static int put_int64(hid_t loc, const char *name, int64_t v) {
  return put_attr(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, &v);
}

static int write_contents(hid_t f, const Encoded *e) {
  hsize_t zd[2] = {(hsize_t)e->n, (hsize_t)e->m}, md[1] = {(hsize_t)e->m}, fd[2] = {(hsize_t)e->n, (hsize_t)e->k};
  hsize_t td[3] = {(hsize_t)e->m, (hsize_t)e->steps, (hsize_t)e->features}, sd[1] = {(hsize_t)e->sample_ndims};
  int version = ENCODED_VERSION;
  if (put_dataset(f, "z", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, zd, e->z) ||
      put_dataset(f, "zmin", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, md, e->zmin) ||
      put_dataset(f, "zmax", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, md, e->zmax) ||
      put_dataset(f, "traversals", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, td, e->traversals) ||
      put_attr(f, "version", H5T_STD_I32LE, H5T_NATIVE_INT, 0, NULL, &version) ||
      put_attr(f, "sample_dims", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, sd, e->sample_dims) ||
      put_double(f, "data_mean", e->data_mean) || put_double(f, "data_std", e->data_std) ||
      put_double(f, "active_threshold", e->active_threshold) || put_int64(f, "base", e->base) ||
      put_int64(f, "step", e->step) || put_int64(f, "seed", e->seed) || put_string(f, "method", e->method) ||
      put_string(f, "title", e->title) || put_string(f, "data", e->data))
    return -1;
  if (e->kl) {
    if (put_dataset(f, "kl", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, md, e->kl)) return -1;
    hid_t d = H5Dopen2(f, "kl", H5P_DEFAULT);
    int rc = d < 0 || put_double(d, "threshold", e->kl_threshold);
    if (d >= 0 && H5Dclose(d) < 0) rc = -1;
    if (rc) return -1;
  }
  if (e->ngenerated > 0) {
    hsize_t gd[2] = {(hsize_t)e->ngenerated, (hsize_t)e->features};
    if (put_dataset(f, "generated", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, gd, e->generated)) return -1;
  }
  if (e->nswap > 0) {
    hsize_t wd[3] = {(hsize_t)e->nswap, (hsize_t)e->nswap, (hsize_t)e->features}, rd[1] = {(hsize_t)e->nswap};
    double *rows = malloc(sizeof *rows * e->nswap); /* float64 like every dataset here: exact below 2^53 */
    if (!rows) return -1;
    for (int i = 0; i < e->nswap; i++) rows[i] = (double)e->swap_rows[i];
    int rc = put_dataset(f, "swap", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, wd, e->swap) ||
             put_dataset(f, "swap_rows", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, rd, rows) ||
             put_int64(f, "swap_content", e->swap_content);
    free(rows);
    if (rc) return -1;
  }
  if (e->k > 0) {
    if (put_dataset(f, "factors", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, fd, e->factors)) return -1;
    const char *names[ENCODED_MAX_FACTORS];
    char fallback[ENCODED_MAX_FACTORS][32];
    for (int i = 0; i < e->k; i++) {
      snprintf(fallback[i], sizeof fallback[i], "factor%d", i);
      names[i] = e->factor_names[i] ? e->factor_names[i] : fallback[i];
    }
    hid_t d = H5Dopen2(f, "factors", H5P_DEFAULT);
    int rc = d < 0 || put_strings(d, "names", 1, names, e->k);
    if (d >= 0 && H5Dclose(d) < 0) rc = -1;
    if (rc) return -1;
  }
  return 0;
}

/* Rank 0: the whole file to tmp, flushed to disk, renamed over path. Returns 0 or an errno. */
static int write_file(const char *path, const char *tmp, const Encoded *e) {
  errno = 0;
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return errno ? errno : EIO;
  int err = write_contents(f, e) ? (errno ? errno : EIO) : 0;
  if (H5Fclose(f) < 0 && !err) err = errno ? errno : EIO;
  if (!err) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) err = errno ? errno : EIO;
    if (fd >= 0) close(fd);
  }
  if (!err && rename(tmp, path) != 0) err = errno;
  if (err) unlink(tmp);
  return err;
}

PetscErrorCode encoded_write(MPI_Comm comm, const char *path, const Encoded *e) {
  PetscFunctionBeginUser;
  int rank, err = 0;
  PetscCheck(e->k >= 0 && e->k <= ENCODED_MAX_FACTORS && (e->sample_ndims == 1 || e->sample_ndims == 3), comm,
             PETSC_ERR_ARG_OUTOFRANGE, "encoded_write: %d factors, %d sample dims", e->k, e->sample_ndims);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char tmp[PETSC_MAX_PATH_LEN + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) err = ENAMETOOLONG;
    else err = write_file(path, tmp, e);
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE, "cannot write '%s': %s", path, strerror(err));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- reading (every rank) */

static const char *class_name(H5T_class_t c) {
  switch (c) {
  case H5T_INTEGER: return "an integer";
  case H5T_FLOAT: return "a float";
  case H5T_STRING: return "a string";
  case H5T_COMPOUND: return "a compound";
  case H5T_ENUM: return "an enum";
  case H5T_ARRAY: return "an array type";
  case H5T_VLEN: return "a variable-length sequence";
  default: return "an unexpected type";
  }
}

/* The dataset `name`: it must exist, be float32 or float64 and have `rank` dimensions (written
 * to dims); what it should be is `expect`, for the message. */
static PetscErrorCode dset_open(MPI_Comm comm, const char *path, hid_t f, const char *name, const char *expect,
                                int rank, hsize_t *dims, hid_t *d) {
  PetscFunctionBeginUser;
  DT_INPUT_CHECK(H5Lexists(f, name, H5P_DEFAULT) > 0, comm, "'%s': no dataset /%s; expected %s", path, name, expect);
  *d = H5Dopen2(f, name, H5P_DEFAULT);
  DT_INPUT_CHECK(*d >= 0, comm, "'%s': /%s is not a dataset; expected %s", path, name, expect);
  hid_t t, s;
  DT_H5(t = H5Dget_type(*d));
  H5T_class_t cls = H5Tget_class(t);
  size_t size = H5Tget_size(t);
  DT_H5(H5Tclose(t));
  DT_INPUT_CHECK(cls == H5T_FLOAT && (size == 4 || size == 8), comm, "'%s': dataset /%s is %s of %zu bytes; expected %s",
                 path, name, class_name(cls), size, expect);
  DT_H5(s = H5Dget_space(*d));
  int nd = H5Sget_simple_extent_ndims(s);
  DT_INPUT_CHECK(nd == rank, comm, "'%s': dataset /%s has %d dimensions; expected %s", path, name, nd, expect);
  DT_H5(H5Sget_simple_extent_dims(s, dims, NULL));
  DT_H5(H5Sclose(s));
  PetscFunctionReturn(0);
}

static PetscErrorCode dset_read(MPI_Comm comm, const char *path, const char *name, hid_t d, hid_t mtype, void *buf) {
  PetscFunctionBeginUser;
  herr_t rc = H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(d);
  DT_INPUT_CHECK(rc >= 0, comm, "'%s': cannot read dataset /%s (damaged file?)", path, name);
  PetscFunctionReturn(0);
}

/* The attribute `name` of object `obj` (path given for the message): its class and value count. */
static PetscErrorCode attr_open(MPI_Comm comm, const char *path, hid_t obj, const char *where, const char *name,
                                const char *expect, H5T_class_t want, hid_t *a, hid_t *t, hssize_t *count) {
  PetscFunctionBeginUser;
  DT_INPUT_CHECK(H5Aexists(obj, name) > 0, comm, "'%s': attribute %s on %s is missing; expected %s", path, name, where,
                 expect);
  DT_H5(*a = H5Aopen(obj, name, H5P_DEFAULT));
  DT_H5(*t = H5Aget_type(*a));
  H5T_class_t cls = H5Tget_class(*t);
  size_t size = H5Tget_size(*t);
  DT_INPUT_CHECK(cls == want && (want == H5T_STRING || size <= 8), comm,
                 "'%s': attribute %s on %s is %s of %zu bytes; expected %s", path, name, where, class_name(cls), size,
                 expect);
  hid_t s;
  DT_H5(s = H5Aget_space(*a));
  H5S_class_t sc = H5Sget_simple_extent_type(s);
  int nd = H5Sget_simple_extent_ndims(s);
  *count = H5Sget_simple_extent_npoints(s);
  DT_H5(H5Sclose(s));
  DT_INPUT_CHECK(sc != H5S_NULL && nd <= 1 && *count >= 0, comm, "'%s': attribute %s on %s has %d dimensions; expected %s",
                 path, name, where, nd, expect);
  PetscFunctionReturn(0);
}

static PetscErrorCode attr_close(MPI_Comm comm, const char *path, const char *name, hid_t a, hid_t t, herr_t rc) {
  PetscFunctionBeginUser;
  H5Tclose(t);
  H5Aclose(a);
  DT_INPUT_CHECK(rc >= 0, comm, "'%s': cannot read attribute %s (damaged file?)", path, name);
  PetscFunctionReturn(0);
}

/* One number: a scalar or a one-element array. */
static PetscErrorCode attr_number(MPI_Comm comm, const char *path, hid_t f, const char *name, H5T_class_t cls,
                                  hid_t mtype, void *v) {
  PetscFunctionBeginUser;
  hid_t a, t;
  hssize_t count;
  const char *expect = cls == H5T_FLOAT ? "one float64" : "one integer";
  PetscCall(attr_open(comm, path, f, "/", name, expect, cls, &a, &t, &count));
  DT_INPUT_CHECK(count == 1, comm, "'%s': attribute %s on / has %lld values; expected %s", path, name, (long long)count,
                 expect);
  PetscCall(attr_close(comm, path, name, a, t, H5Aread(a, mtype, v)));
  PetscFunctionReturn(0);
}

/* count strings (variable or fixed length) into names[i], each at most NAME_LEN - 1 bytes for
 * names or len - 1 for one string in buf. */
static PetscErrorCode attr_strings(MPI_Comm comm, const char *path, hid_t obj, const char *where, const char *name,
                                   const char *expect, int count, size_t len, char **out) {
  PetscFunctionBeginUser;
  hid_t a, t, mt, s;
  hssize_t n;
  PetscCall(attr_open(comm, path, obj, where, name, expect, H5T_STRING, &a, &t, &n));
  DT_INPUT_CHECK(n == count, comm, "'%s': attribute %s on %s has %lld strings; expected %s", path, name, where,
                 (long long)n, expect);
  int var = H5Tis_variable_str(t) > 0;
  size_t flen = var ? 0 : H5Tget_size(t) + 1;
  DT_INPUT_CHECK(var || flen <= len, comm, "'%s': attribute %s on %s holds strings of %zu bytes; expected %s of at most %zu",
                 path, name, where, flen - 1, expect, len - 1);
  DT_H5(mt = H5Tcopy(H5T_C_S1));
  DT_H5(H5Tset_size(mt, var ? H5T_VARIABLE : flen));
  if (!var) DT_H5(H5Tset_strpad(mt, H5T_STR_NULLTERM));
  char **vbuf = NULL, *fbuf = NULL;
  if (var) PetscCall(PetscCalloc1(count, &vbuf));
  else PetscCall(PetscCalloc1((size_t)count * flen, &fbuf));
  herr_t rc = H5Aread(a, mt, var ? (void *)vbuf : (void *)fbuf);
  size_t longest = 0;
  for (int i = 0; rc >= 0 && i < count; i++) {
    const char *v = var ? vbuf[i] : fbuf + (size_t)i * flen;
    size_t l = v ? strlen(v) : 0;
    longest = l > longest ? l : longest;
    if (l < len) memcpy(out[i], v ? v : "", l + 1);
  }
  if (var && rc >= 0) {
    DT_H5(s = H5Aget_space(a));
    H5Dvlen_reclaim(mt, s, H5P_DEFAULT, vbuf);
    H5Sclose(s);
  }
  PetscCall(PetscFree(vbuf));
  PetscCall(PetscFree(fbuf));
  H5Tclose(mt);
  PetscCall(attr_close(comm, path, name, a, t, rc));
  DT_INPUT_CHECK(longest < len, comm, "'%s': attribute %s on %s holds a string of %zu bytes; expected %s of at most %zu",
                 path, name, where, longest, expect, len - 1);
  PetscFunctionReturn(0);
}

static PetscErrorCode attr_string(MPI_Comm comm, const char *path, hid_t f, const char *name, char *buf, size_t len) {
  PetscFunctionBeginUser;
  PetscCall(attr_strings(comm, path, f, "/", name, "one string", 1, len, &buf));
  PetscFunctionReturn(0);
}

static PetscErrorCode read_sample_shape(MPI_Comm comm, const char *path, hid_t f, Encoded *e) {
  PetscFunctionBeginUser;
  hid_t a, t;
  hssize_t count;
  const char *expect = "int64 [1] {L} or [3] {C, H, W}";
  PetscCall(attr_open(comm, path, f, "/", "sample_dims", expect, H5T_INTEGER, &a, &t, &count));
  DT_INPUT_CHECK(count == 1 || count == 3, comm, "'%s': attribute sample_dims on / has %lld values; expected %s", path,
                 (long long)count, expect);
  PetscCall(attr_close(comm, path, "sample_dims", a, t, H5Aread(a, H5T_NATIVE_INT64, e->sample_dims)));
  e->sample_ndims = (int)count;
  e->features = 1;
  for (int i = 0; i < e->sample_ndims; i++) {
    DT_INPUT_CHECK(e->sample_dims[i] >= 1 && e->sample_dims[i] <= MAX_VALUES, comm,
                   "'%s': attribute sample_dims on / holds %lld; expected sizes from 1 to %lld", path,
                   (long long)e->sample_dims[i], (long long)MAX_VALUES);
    e->features *= e->sample_dims[i];
  }
  DT_INPUT_CHECK(e->features <= MAX_VALUES, comm, "'%s': samples of %lld values; at most %lld are drawn", path,
                 (long long)e->features, (long long)MAX_VALUES);
  PetscFunctionReturn(0);
}

static PetscErrorCode read_attributes(MPI_Comm comm, const char *path, hid_t f, Encoded *e) {
  PetscFunctionBeginUser;
  int version;
  PetscCall(attr_number(comm, path, f, "version", H5T_INTEGER, H5T_NATIVE_INT, &version));
  DT_INPUT_CHECK(version == ENCODED_VERSION, comm, "'%s' has version %d; expected %d (run `disentangle eval` again)",
                 path, version, ENCODED_VERSION);
  PetscCall(read_sample_shape(comm, path, f, e));
  PetscCall(attr_number(comm, path, f, "data_mean", H5T_FLOAT, H5T_NATIVE_DOUBLE, &e->data_mean));
  PetscCall(attr_number(comm, path, f, "data_std", H5T_FLOAT, H5T_NATIVE_DOUBLE, &e->data_std));
  PetscCall(attr_number(comm, path, f, "active_threshold", H5T_FLOAT, H5T_NATIVE_DOUBLE, &e->active_threshold));
  DT_INPUT_CHECK(isfinite(e->data_mean) && isfinite(e->data_std) && isfinite(e->active_threshold), comm,
                 "'%s': data_mean, data_std and active_threshold on / must be finite", path);
  PetscCall(attr_number(comm, path, f, "base", H5T_INTEGER, H5T_NATIVE_INT64, &e->base));
  PetscCall(attr_number(comm, path, f, "step", H5T_INTEGER, H5T_NATIVE_INT64, &e->step));
  PetscCall(attr_number(comm, path, f, "seed", H5T_INTEGER, H5T_NATIVE_INT64, &e->seed));
  PetscCall(attr_string(comm, path, f, "method", e->method, sizeof e->method));
  PetscCall(attr_string(comm, path, f, "title", e->title, sizeof e->title));
  PetscCall(attr_string(comm, path, f, "data", e->data, sizeof e->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode read_latents(MPI_Comm comm, const char *path, hid_t f, Encoded *e) {
  PetscFunctionBeginUser;
  hsize_t dims[3];
  hid_t d;
  PetscCall(dset_open(comm, path, f, "z", "float64 [n][m] (samples, latents)", 2, dims, &d));
  DT_INPUT_CHECK(dims[0] >= 2 && dims[0] <= MAX_VALUES && dims[1] >= 1 && dims[1] <= MAX_VALUES / dims[0], comm,
                 "'%s': dataset /z is [%llu][%llu]; expected at least 2 samples, 1 latent and at most %lld values", path,
                 (unsigned long long)dims[0], (unsigned long long)dims[1], (long long)MAX_VALUES);
  e->n = (int)dims[0], e->m = (int)dims[1];
  PetscCall(PetscMalloc1((size_t)e->n * e->m, &e->z));
  PetscCall(dset_read(comm, path, "z", d, H5T_NATIVE_DOUBLE, e->z));
  const char *names[2] = {"zmin", "zmax"};
  double **out[2] = {&e->zmin, &e->zmax};
  for (int i = 0; i < 2; i++) {
    PetscCall(dset_open(comm, path, f, names[i], "float64 [m], one value per latent", 1, dims, &d));
    DT_INPUT_CHECK(dims[0] == (hsize_t)e->m, comm, "'%s': dataset /%s has %llu values; expected %d, one per latent of /z",
                   path, names[i], (unsigned long long)dims[0], e->m);
    PetscCall(PetscMalloc1(e->m, out[i]));
    PetscCall(dset_read(comm, path, names[i], d, H5T_NATIVE_DOUBLE, *out[i]));
  }
  /* optional: a file of a deterministic head, or of a build before /kl, has none */
  if (H5Lexists(f, "kl", H5P_DEFAULT) > 0) {
    PetscCall(dset_open(comm, path, f, "kl", "float64 [m], one KL per latent", 1, dims, &d));
    DT_INPUT_CHECK(dims[0] == (hsize_t)e->m, comm, "'%s': dataset /kl has %llu values; expected %d, one per latent of /z",
                   path, (unsigned long long)dims[0], e->m);
    PetscCall(PetscMalloc1(e->m, &e->kl));
    if (H5Aexists(d, "threshold") > 0) {
      hid_t a, t;
      hssize_t count;
      PetscCall(attr_open(comm, path, d, "/kl", "threshold", "one float64", H5T_FLOAT, &a, &t, &count));
      DT_INPUT_CHECK(count == 1, comm, "'%s': attribute threshold on /kl has %lld values; expected one float64", path,
                     (long long)count);
      PetscCall(attr_close(comm, path, "threshold", a, t, H5Aread(a, H5T_NATIVE_DOUBLE, &e->kl_threshold)));
    }
    PetscCall(dset_read(comm, path, "kl", d, H5T_NATIVE_DOUBLE, e->kl));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode read_traversals(MPI_Comm comm, const char *path, hid_t f, Encoded *e) {
  PetscFunctionBeginUser;
  hsize_t dims[3];
  hid_t d;
  PetscCall(dset_open(comm, path, f, "traversals", "float32 [m][steps][features]", 3, dims, &d));
  DT_INPUT_CHECK(dims[0] == (hsize_t)e->m && dims[1] >= 1 && dims[1] <= MAX_STEPS && dims[2] == (hsize_t)e->features &&
                     dims[0] * dims[1] * dims[2] <= (hsize_t)MAX_VALUES,
                 comm, "'%s': dataset /traversals is [%llu][%llu][%llu]; expected [%d][1..%d][%lld] (latents, steps, sample values)",
                 path, (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2], e->m,
                 MAX_STEPS, (long long)e->features);
  e->steps = (int)dims[1];
  PetscCall(PetscMalloc1((size_t)dims[0] * dims[1] * dims[2], &e->traversals));
  PetscCall(dset_read(comm, path, "traversals", d, H5T_NATIVE_FLOAT, e->traversals));
  DT_INPUT_CHECK(e->base >= 0 && e->base < e->n, comm, "'%s': attribute base on / is %lld; expected a sample index below %d",
                 path, (long long)e->base, e->n);
  /* optional: files written before generation was drawn have none */
  if (H5Lexists(f, "generated", H5P_DEFAULT) > 0) {
    PetscCall(dset_open(comm, path, f, "generated", "float32 [g][features]", 2, dims, &d));
    DT_INPUT_CHECK(dims[0] >= 1 && dims[0] <= MAX_STEPS && dims[1] == (hsize_t)e->features, comm,
                   "'%s': dataset /generated is [%llu][%llu]; expected [1..%d][%lld] (draws, sample values)", path,
                   (unsigned long long)dims[0], (unsigned long long)dims[1], MAX_STEPS, (long long)e->features);
    e->ngenerated = (int)dims[0];
    PetscCall(PetscMalloc1((size_t)dims[0] * dims[1], &e->generated));
    PetscCall(dset_read(comm, path, "generated", d, H5T_NATIVE_FLOAT, e->generated));
  }
  PetscFunctionReturn(0);
}

/* Optional: models without content and style latents have none. */
static PetscErrorCode read_swap(MPI_Comm comm, const char *path, hid_t f, Encoded *e) {
  PetscFunctionBeginUser;
  if (H5Lexists(f, "swap", H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  hsize_t dims[3], rdims[1];
  hid_t d;
  int64_t content;
  PetscCall(dset_open(comm, path, f, "swap", "float32 [s][s][features]", 3, dims, &d));
  DT_INPUT_CHECK(dims[0] >= 1 && dims[0] <= MAX_STEPS && dims[1] == dims[0] && dims[2] == (hsize_t)e->features, comm,
                 "'%s': dataset /swap is [%llu][%llu][%llu]; expected [s][s][%lld] with 1 <= s <= %d (content source, "
                 "style source, sample values)",
                 path, (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2],
                 (long long)e->features, MAX_STEPS);
  e->nswap = (int)dims[0];
  PetscCall(PetscMalloc1((size_t)dims[0] * dims[1] * dims[2], &e->swap));
  PetscCall(dset_read(comm, path, "swap", d, H5T_NATIVE_FLOAT, e->swap));
  PetscCall(dset_open(comm, path, f, "swap_rows", "float64 [s] (sample indices)", 1, rdims, &d));
  DT_INPUT_CHECK(rdims[0] == dims[0], comm, "'%s': dataset /swap_rows has %llu values; expected %d (one per row of /swap)",
                 path, (unsigned long long)rdims[0], e->nswap);
  double rows[MAX_STEPS];
  PetscCall(dset_read(comm, path, "swap_rows", d, H5T_NATIVE_DOUBLE, rows));
  PetscCall(PetscMalloc1(e->nswap, &e->swap_rows));
  for (int i = 0; i < e->nswap; i++) {
    DT_INPUT_CHECK(rows[i] >= 0 && rows[i] < e->n && rows[i] == floor(rows[i]), comm,
                   "'%s': dataset /swap_rows value %d is %g; expected a sample index below %d", path, i, rows[i], e->n);
    e->swap_rows[i] = (int64_t)rows[i];
  }
  PetscCall(attr_number(comm, path, f, "swap_content", H5T_INTEGER, H5T_NATIVE_INT64, &content));
  DT_INPUT_CHECK(content >= 1 && content < e->m, comm,
                 "'%s': attribute swap_content on / is %lld; expected 1 .. %d (the content latents among /z's %d)", path,
                 (long long)content, e->m - 1, e->m);
  e->swap_content = (int)content;
  PetscFunctionReturn(0);
}

static PetscErrorCode read_factors(MPI_Comm comm, const char *path, hid_t f, Encoded *e) {
  PetscFunctionBeginUser;
  hsize_t dims[2];
  hid_t d;
  e->k = 0;
  if (H5Lexists(f, "factors", H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  PetscCall(dset_open(comm, path, f, "factors", "float64 [n][k] (samples, factors)", 2, dims, &d));
  DT_INPUT_CHECK(dims[0] == (hsize_t)e->n && dims[1] >= 1 && dims[1] <= ENCODED_MAX_FACTORS, comm,
                 "'%s': dataset /factors is [%llu][%llu]; expected [%d][1..%d] (the samples of /z)", path,
                 (unsigned long long)dims[0], (unsigned long long)dims[1], e->n, ENCODED_MAX_FACTORS);
  e->k = (int)dims[1];
  for (int i = 0; i < e->k; i++) PetscCall(PetscCalloc1(NAME_LEN, &e->factor_names[i]));
  PetscCall(attr_strings(comm, path, d, "/factors", "names", "one name per factor", e->k, NAME_LEN, e->factor_names));
  PetscCall(PetscMalloc1((size_t)e->n * e->k, &e->factors));
  PetscCall(dset_read(comm, path, "factors", d, H5T_NATIVE_DOUBLE, e->factors));
  PetscFunctionReturn(0);
}

PetscErrorCode encoded_read(MPI_Comm comm, const char *path, Encoded *e) {
  PetscFunctionBeginUser;
  memset(e, 0, sizeof *e);
  e->kl_threshold = NAN;
  char why[128];
  int kind = dt_regular_file(path, why, sizeof why);
  DT_INPUT_CHECK(kind != 0, comm, "cannot read '%s': %s", path, why);
  DT_INPUT_CHECK(kind != -1, comm, "'%s' %s; expected a regular HDF5 file", path, why);
  DT_INPUT_CHECK(H5Fis_hdf5(path) > 0, comm, "'%s' is not an HDF5 file", path);
  char damaged[512], *one[1] = {(char *)path};
  int rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) h5guard_check(1, one, damaged, sizeof damaged); /* "" when the file parsed */
  PetscCallMPI(MPI_Bcast(damaged, sizeof damaged, MPI_CHAR, 0, comm));
  DT_INPUT_CHECK(!damaged[0], comm, "'%s': %s: the file is damaged; write it again with eval", path, damaged);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  DT_INPUT_CHECK(f >= 0, comm, "cannot open '%s' as HDF5 (damaged file?)", path);
  PetscCall(read_attributes(comm, path, f, e));
  PetscCall(read_latents(comm, path, f, e));
  PetscCall(read_traversals(comm, path, f, e));
  PetscCall(read_swap(comm, path, f, e));
  PetscCall(read_factors(comm, path, f, e));
  H5Fclose(f);
  PetscFunctionReturn(0);
}

void encoded_free(Encoded *e) {
  PetscFree(e->z);
  PetscFree(e->zmin);
  PetscFree(e->zmax);
  PetscFree(e->kl);
  PetscFree(e->factors);
  PetscFree(e->traversals);
  PetscFree(e->generated);
  PetscFree(e->swap);
  PetscFree(e->swap_rows);
  for (int i = 0; i < ENCODED_MAX_FACTORS; i++) PetscFree(e->factor_names[i]);
}
