/* Checkpoint files: see ckpt.h for the layout. */
#include "disentangle/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "disentangle/comm.h"
#include "disentangle/error.h"
#include "disentangle/h5guard.h"

#define CKPT_FORMAT "disentangle-checkpoint"
#define CKPT_FORMAT_VERSION 3 /* 3: the checksum covers /history too; attribute sample_shape */

static PetscErrorCode open_checkpoint(MPI_Comm comm, const char *path, hid_t *file);

/* ---- CRC-32 (IEEE 802.3, the zlib one) ------------------------------------------------------ */

uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* The checksum runs over the tensors in the order HDF5 lists them (group by group, names in
 * increasing order), so `inspect` can verify a file without knowing which method wrote it. */
static int by_path(const void *a, const void *b) {
  const CkptTensor *x = *(const CkptTensor *const *)a, *y = *(const CkptTensor *const *)b;
  int c = strcmp(x->group, y->group);
  return c ? c : strcmp(x->name, y->name);
}

/* The tensors, then the history: a restart trusts /history as much as the tensors (its rows
 * become history.csv and fix the step the run goes on from). */
static uint32_t state_checksum(const CkptState *s, const CkptMeta *m) {
  const CkptTensor **order = malloc(sizeof *order * (s->ntensors + 1));
  for (int i = 0; i < s->ntensors; i++) order[i] = &s->tensors[i];
  qsort(order, s->ntensors, sizeof *order, by_path);
  uint32_t crc = 0;
  for (int i = 0; i < s->ntensors; i++)
    crc = ckpt_crc32(crc, order[i]->data, ckpt_tensor_size(order[i]) * sizeof(float));
  free(order);
  if (m->history_rows > 0) crc = ckpt_crc32(crc, m->history, sizeof(double) * (size_t)m->history_rows * m->history_cols);
  return crc;
}

/* Whether a file datatype is a plain number: an integer of 1 to 8 bytes or a float of 2, 4 or 8.
 * A crafted type (a float of a megabyte per value) would have HDF5 allocate its conversion
 * buffers from the declared size: a 40 KB file took 4 GB and minutes to refuse (found by
 * fuzzing, tests/fuzz/regress/ckpt). */
static int plain_number(hid_t t) {
  H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
  size_t size = t >= 0 ? H5Tget_size(t) : 0;
  if (c == H5T_INTEGER) return size >= 1 && size <= 8;
  return c == H5T_FLOAT && (size == 2 || size == 4 || size == 8);
}

/* Whether dataset d can hold n values of esize bytes: its storage in the file must. A crafted
 * file may declare any shape; allocating from the declaration alone could ask for terabytes.
 * Compressed data may take less room than it holds: allow the best zlib ratio. */
static int stored(hid_t d, hssize_t n, size_t esize) {
  hid_t ft = H5Dget_type(d);
  if (ft >= 0 && H5Tget_size(ft) > esize) esize = H5Tget_size(ft); /* what the file says it holds, at least */
  if (ft >= 0) H5Tclose(ft);
  hid_t dcpl = H5Dget_create_plist(d);
  int filters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
  if (dcpl >= 0) H5Pclose(dcpl);
  double have = (double)H5Dget_storage_size(d) * (filters > 0 ? 1100.0 : 1.0);
  return n >= 0 && (double)n * esize <= have;
}

typedef struct {
  uint32_t crc;
  FILE *out;
  int bad;
  char what[CKPT_NAME_LEN * 3]; /* the first thing found bad */
} Listing;

static int get_attr(hid_t obj, const char *name, hid_t type, void *value);

static void found_bad(Listing *l, const char *fmt, const char *name, const char *attr) {
  if (!l->bad) snprintf(l->what, sizeof l->what, fmt, name, attr);
  l->bad = 1;
}

/* The counts of an optimiser group (Adam's t): each a single integer. */
static herr_t check_count(hid_t group, const char *attr, const H5A_info_t *info, void *data) {
  (void)info;
  long long v;
  const char *name = ((const char **)data)[0];
  if (get_attr(group, attr, H5T_NATIVE_LLONG, &v)) found_bad(((Listing **)data)[1], "attribute %2$s of /%1$s is not a single integer", name, attr);
  return 0;
}

static herr_t list_dataset(hid_t root, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  Listing *l = data;
  H5O_info_t oi;
  if (H5Oget_info_by_name2(root, name, &oi, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS, H5P_DEFAULT) < 0) return 0;
  if (oi.type == H5O_TYPE_GROUP && !strncmp(name, "optim/", 6) && oi.num_attrs > 0) {
    hid_t g = H5Gopen2(root, name, H5P_DEFAULT);
    const void *ctx[2] = {name, l};
    if (g >= 0) H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, check_count, (void *)ctx), H5Gclose(g);
  }
  if (oi.type != H5O_TYPE_DATASET) return 0;
  hid_t d = H5Dopen2(root, name, H5P_DEFAULT), s = d >= 0 ? H5Dget_space(d) : -1;
  hsize_t dims[H5S_MAX_RANK] = {0};
  int nd = s >= 0 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
  hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
  if (l->out) {
    fprintf(l->out, "  /%-40s [", name);
    for (int i = 0; i < nd; i++) fprintf(l->out, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    fprintf(l->out, "]\n");
  }
  if (!strncmp(name, "params/", 7) || !strncmp(name, "optim/", 6)) {
    /* a tensor is a vector or a matrix of numbers whose values the file really holds */
    hid_t t = d >= 0 ? H5Dget_type(d) : -1;
    int plain = plain_number(t);
    if (t >= 0) H5Tclose(t);
    float *v = NULL;
    if (nd < 1 || nd > 2 || n < 0 || !plain || !stored(d, n, sizeof(float)) ||
        !(v = malloc(sizeof(float) * (n > 0 ? n : 1))) || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
      found_bad(l, "tensor /%s%s cannot be read (damaged file, or not a vector or matrix held in the file)", name, "");
    else l->crc = ckpt_crc32(l->crc, v, sizeof(float) * n);
    free(v);
  }
  if (s >= 0) H5Sclose(s);
  if (d >= 0) H5Dclose(d);
  else found_bad(l, "/%s%s cannot be opened (damaged file?)", name, "");
  return 0;
}

PetscErrorCode ckpt_list(MPI_Comm comm, const char *path, FILE *out, uint32_t *crc) {
  PetscFunctionBeginUser;
  hid_t file;
  PetscCall(open_checkpoint(comm, path, &file));
  Listing l = {.crc = 0, .out = out, .bad = 0, .what = ""};
  herr_t r = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, list_dataset, &l);
  if (r >= 0 && !l.bad) { /* the checksum goes on over /history, as ckpt_write computes it */
    hid_t d = H5Lexists(file, "history", H5P_DEFAULT) > 0 ? H5Dopen2(file, "history", H5P_DEFAULT) : -1;
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    double *v = NULL;
    if (n < 0 || !stored(d, n, sizeof(double)) || !(v = malloc(sizeof(double) * (n > 0 ? n : 1))) ||
        (n > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0))
      found_bad(&l, "/history%s%s cannot be read (damaged file?)", "", "");
    else if (n > 0) l.crc = ckpt_crc32(l.crc, v, sizeof(double) * n);
    free(v);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
  }
  H5Fclose(file);
  DT_INPUT_CHECK(r >= 0 && !l.bad, comm, "checkpoint '%s': %s", path, l.bad ? l.what : "its datasets cannot be listed (damaged file?)");
  *crc = l.crc;
  PetscFunctionReturn(0);
}

/* ---- attributes ------------------------------------------------------------------------------ */

/* Every object opened is closed again, failed or not: an object left open keeps the file open,
 * and closing it at exit (PetscFinalize) is what crashed or hung after a failed write. */
static PetscErrorCode put_attr(hid_t obj, const char *name, hid_t type, const void *value) {
  PetscFunctionBeginUser;
  hid_t space = H5Screate(H5S_SCALAR), attr = space >= 0 ? H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  int ok = attr >= 0 && H5Awrite(attr, type, value) >= 0;
  if (attr >= 0) ok = H5Aclose(attr) >= 0 && ok;
  if (space >= 0) H5Sclose(space);
  PetscCheck(ok, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write attribute %s", name);
  PetscFunctionReturn(0);
}

static PetscErrorCode put_string_attr(hid_t obj, const char *name, const char *value) {
  PetscFunctionBeginUser;
  hid_t type = H5Tcopy(H5T_C_S1);
  PetscCheck(type >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "H5Tcopy failed");
  PetscErrorCode ierr = H5Tset_size(type, strlen(value) + 1) < 0 ? PETSC_ERR_LIB : put_attr(obj, name, type, value);
  H5Tclose(type);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* Attribute `name` of obj, opened with its type and dataspace; -1 when missing. */
static hid_t open_attr(hid_t obj, const char *name, hid_t *type, hssize_t *count) {
  if (H5Aexists(obj, name) <= 0) return -1;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return -1;
  hid_t space = H5Aget_space(attr);
  *type = H5Aget_type(attr);
  *count = space < 0 ? -1 : H5Sget_simple_extent_type(space) == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space);
  if (space >= 0) H5Sclose(space);
  if (*type < 0) H5Aclose(attr), attr = -1;
  return attr;
}

/* A number attribute into *value of memory type `type`: 0, or -1 when it is missing or not ONE
 * value (a scalar, or an array of one) of the right class (an integer for an integer; a float or
 * an integer for a float). A file is read as data, never trusted: an array where a scalar is
 * expected would overflow value. */
static int get_attr(hid_t obj, const char *name, hid_t type, void *value) {
  hid_t ftype;
  hssize_t count;
  hid_t attr = open_attr(obj, name, &ftype, &count);
  if (attr < 0) return -1;
  H5T_class_t have = H5Tget_class(ftype), want = H5Tget_class(type);
  int ok = count == 1 && (have == want || (want == H5T_FLOAT && have == H5T_INTEGER)) && H5Tget_size(ftype) <= 16 &&
           H5Aread(attr, type, value) >= 0;
  H5Tclose(ftype), H5Aclose(attr);
  return ok ? 0 : -1;
}

/* What attribute `name` of obj is, for a message: "missing", "a string", "an array of 3 floats"... */
static void describe_attr(hid_t obj, const char *name, char *buf, size_t len) {
  hid_t type;
  hssize_t count;
  hid_t attr = open_attr(obj, name, &type, &count);
  if (attr < 0) {
    snprintf(buf, len, "missing");
    return;
  }
  H5T_class_t c = H5Tget_class(type);
  const char *what = c == H5T_STRING ? "string" : c == H5T_INTEGER ? "integer" : c == H5T_FLOAT ? "float" : "value of another HDF5 class";
  if (count == 1) snprintf(buf, len, "%s %s", c == H5T_INTEGER ? "an" : "a", what);
  else if (count == 0) snprintf(buf, len, "empty (no value)");
  else snprintf(buf, len, "an array of %lld %ss", (long long)count, what);
  H5Tclose(type), H5Aclose(attr);
}

#define CKPT_MAX_TEXT (1 << 20) /* the longest string attribute read: the options text is a few KB */

/* A string attribute, malloc'd: one string (scalar or an array of one), fixed or variable length,
 * ASCII or UTF-8 (h5py writes UTF-8 when it rewrites one), at most CKPT_MAX_TEXT bytes; NULL
 * when missing or anything else. */
static char *get_string_attr(hid_t obj, const char *name) {
  hid_t ftype, mtype = -1;
  hssize_t count;
  hid_t attr = open_attr(obj, name, &ftype, &count);
  if (attr < 0) return NULL;
  char *s = NULL;
  int var = H5Tis_variable_str(ftype) > 0;
  size_t n = H5Tget_size(ftype);
  if (H5Tget_class(ftype) == H5T_STRING && count == 1 && (var || n <= CKPT_MAX_TEXT) && (mtype = H5Tcopy(H5T_C_S1)) >= 0 &&
      H5Tset_cset(mtype, H5Tget_cset(ftype)) >= 0) {
    if (var) {
      char *v = NULL;
      if (H5Tset_size(mtype, H5T_VARIABLE) >= 0 && H5Aread(attr, mtype, &v) >= 0 && v) {
        if (strlen(v) <= CKPT_MAX_TEXT) s = strdup(v);
        H5free_memory(v);
      }
    } else if ((s = calloc(n + 2, 1)) && (H5Tset_size(mtype, n + 1) < 0 || H5Aread(attr, mtype, s) < 0))
      free(s), s = NULL;
  }
  if (mtype >= 0) H5Tclose(mtype);
  H5Tclose(ftype), H5Aclose(attr);
  return s;
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* Whether every rank of comm is ok; a failure on any rank is then every rank's failure, so all
 * stop at the same point: a rank that went on alone would wait forever in the next collective
 * HDF5 call. */
static PetscErrorCode all_agree(MPI_Comm comm, int *ok) {
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ok, 1, MPI_INT, MPI_MIN, comm));
  PetscFunctionReturn(0);
}

/* rows x cols (cols 0: a vector) from every rank's full copy: each writes its block of rows.
 * *ok: this part of the file was written on every rank. */
static PetscErrorCode write_rows(MPI_Comm comm, hid_t file, const char *path, hid_t ftype, hid_t mtype, const void *data,
                                 size_t esize, int rows, int cols, int first, int count, hid_t lcpl, hid_t dxpl, int *ok) {
  PetscFunctionBeginUser;
  int nd = cols ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols}, start[2] = {(hsize_t)first, 0}, cnt[2] = {(hsize_t)count, (hsize_t)cols};
  hid_t fspace = H5Screate_simple(nd, dims, NULL), mspace = H5Screate_simple(nd, cnt, NULL);
  hid_t dset = fspace >= 0 && mspace >= 0 ? H5Dcreate2(file, path, ftype, fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
  *ok = dset >= 0;
  if (*ok && count > 0) *ok = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0;
  else if (*ok) *ok = H5Sselect_none(fspace) >= 0 && H5Sselect_none(mspace) >= 0;
  PetscCall(all_agree(comm, ok));
  const char *from = (const char *)data + (size_t)first * (cols ? cols : 1) * esize;
  if (*ok) *ok = H5Dwrite(dset, mtype, mspace, fspace, dxpl, from) >= 0;
  if (dset >= 0) *ok = H5Dclose(dset) >= 0 && *ok;
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  PetscCall(all_agree(comm, ok));
  PetscFunctionReturn(0);
}

/* A tensor of any rank from every rank's full copy: each writes its block along the first axis. */
static PetscErrorCode write_tensor(MPI_Comm comm, hid_t file, const char *path, const CkptTensor *t, int rank, int size,
                                   hid_t lcpl, hid_t dxpl, int *ok) {
  PetscFunctionBeginUser;
  int off, cnt, nd = t->ndim;
  par_slice(t->dims[0], rank, size, &off, &cnt);
  hsize_t dims[CKPT_MAX_DIMS], start[CKPT_MAX_DIMS] = {0}, count[CKPT_MAX_DIMS];
  for (int d = 0; d < nd; d++) dims[d] = count[d] = (hsize_t)t->dims[d];
  start[0] = (hsize_t)off, count[0] = (hsize_t)cnt;
  hid_t fspace = H5Screate_simple(nd, dims, NULL), mspace = H5Screate_simple(nd, count, NULL);
  hid_t dset = fspace >= 0 && mspace >= 0 ? H5Dcreate2(file, path, H5T_IEEE_F32LE, fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
  *ok = dset >= 0;
  if (*ok && cnt > 0) *ok = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0;
  else if (*ok) *ok = H5Sselect_none(fspace) >= 0 && H5Sselect_none(mspace) >= 0;
  PetscCall(all_agree(comm, ok));
  const float *from = t->data + (size_t)off * (ckpt_tensor_size(t) / (size_t)t->dims[0]);
  if (*ok) *ok = H5Dwrite(dset, H5T_NATIVE_FLOAT, mspace, fspace, dxpl, from) >= 0;
  if (dset >= 0) *ok = H5Dclose(dset) >= 0 && *ok;
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  PetscCall(all_agree(comm, ok));
  PetscFunctionReturn(0);
}

static PetscErrorCode write_root_attrs(hid_t file, const CkptMeta *m) {
  PetscFunctionBeginUser;
  long long step = m->step, ranks = m->ranks, fv = CKPT_FORMAT_VERSION, batch = m->global_batch;
  unsigned long long seed = m->seed;
  PetscCall(put_string_attr(file, "format", CKPT_FORMAT));
  PetscCall(put_attr(file, "format_version", H5T_NATIVE_LLONG, &fv));
  PetscCall(put_string_attr(file, "version", PACKAGE_VERSION));
  PetscCall(put_string_attr(file, "method", m->method));
  PetscCall(put_string_attr(file, "options", m->options ? m->options : ""));
  PetscCall(put_attr(file, "step", H5T_NATIVE_LLONG, &step));
  PetscCall(put_attr(file, "epoch", H5T_NATIVE_DOUBLE, &m->epoch));
  PetscCall(put_attr(file, "ranks", H5T_NATIVE_LLONG, &ranks));
  PetscCall(put_attr(file, "seed", H5T_NATIVE_ULLONG, &seed));
  PetscCall(put_attr(file, "global_batch", H5T_NATIVE_LLONG, &batch));
  PetscCall(put_attr(file, "data_mean", H5T_NATIVE_DOUBLE, &m->data_mean));
  PetscCall(put_attr(file, "data_std", H5T_NATIVE_DOUBLE, &m->data_std));
  PetscCall(put_attr(file, "checksum", H5T_NATIVE_UINT32, &m->checksum));
  if (m->run_id[0]) PetscCall(put_string_attr(file, "run_id", m->run_id));
  if (m->run_log) PetscCall(put_string_attr(file, "run_log", m->run_log));
  if (m->data_samples > 0) {
    PetscCall(put_attr(file, "cursor_epoch", H5T_NATIVE_LLONG, &m->cursor_epoch));
    PetscCall(put_attr(file, "cursor_sample", H5T_NATIVE_LLONG, &m->cursor_sample));
    PetscCall(put_attr(file, "data_samples", H5T_NATIVE_LLONG, &m->data_samples));
  }
  if (m->sample_ndims > 0) {
    hsize_t n = (hsize_t)m->sample_ndims;
    hid_t space = H5Screate_simple(1, &n, NULL),
          attr = space >= 0 ? H5Acreate2(file, "sample_shape", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = attr >= 0 && H5Awrite(attr, H5T_NATIVE_LLONG, m->sample_dims) >= 0;
    if (attr >= 0) ok = H5Aclose(attr) >= 0 && ok;
    if (space >= 0) H5Sclose(space);
    PetscCheck(ok, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write attribute sample_shape");
  }
  PetscFunctionReturn(0);
}

/* /rng, /cursor (a row per rank) and /history (rank 0 writes it all). */
static PetscErrorCode write_run_position(MPI_Comm comm, hid_t file, const CkptMeta *m, int rank, int size, hid_t lcpl,
                                         hid_t dxpl, int *ok) {
  PetscFunctionBeginUser;
  (void)rank, (void)size;
  const int ranks = m->ranks; /* the writer fills the rows of every rank of the run */
  long long *rows;
  PetscCall(PetscCalloc1(8 * (size_t)ranks, &rows));
  long long *cursor = rows + 4 * ranks;
  for (int r = 0; r < ranks; r++) {
    int off, cnt;
    par_slice(m->global_batch, r, ranks, &off, &cnt);
    rows[4 * r + 0] = (long long)m->seed, rows[4 * r + 1] = 1 /* RNG_STREAM_BATCH */;
    rows[4 * r + 2] = m->step, rows[4 * r + 3] = 0;
    cursor[4 * r + 0] = m->step, cursor[4 * r + 1] = m->global_batch;
    cursor[4 * r + 2] = off, cursor[4 * r + 3] = cnt;
  }
  rank = 0, size = 1;
  PetscCall(write_rows(comm, file, "rng", H5T_STD_I64LE, H5T_NATIVE_LLONG, rows, sizeof *rows, ranks, 4, 0, ranks, lcpl, dxpl, ok));
  if (*ok)
    PetscCall(write_rows(comm, file, "cursor", H5T_STD_I64LE, H5T_NATIVE_LLONG, cursor, sizeof *cursor, ranks, 4, 0, ranks, lcpl,
                         dxpl, ok));
  PetscCall(PetscFree(rows));
  int hrows = (int)m->history_rows;
  if (*ok)
    PetscCall(write_rows(comm, file, "history", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->history, sizeof(double), hrows,
                         m->history_cols, 0, rank == 0 ? hrows : 0, lcpl, dxpl, ok));
  if (*ok) { /* the columns by name: the history's schema is the method's, not a fixed one */
    hid_t d = H5Dopen2(file, "history", H5P_DEFAULT);
    *ok = d >= 0 && put_string_attr(d, "columns", m->history_columns ? m->history_columns : "") == 0;
    if (d >= 0) *ok = H5Dclose(d) >= 0 && *ok;
    PetscCall(all_agree(comm, ok));
  }
  PetscFunctionReturn(0);
}

/* Make the finished file durable, then publish it under its real name in one atomic step. */
static PetscErrorCode publish(MPI_Comm comm, const char *tmp, const char *path) {
  PetscFunctionBeginUser;
  int rank, err = 0;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) err = errno;
    if (fd >= 0) close(fd);
    if (!err && rename(tmp, path) != 0) err = errno;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY);
    if (dfd >= 0) fsync(dfd), close(dfd);
    if (err) unlink(tmp);
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE, "could not publish checkpoint '%s': %s", path, strerror(err));
  PetscFunctionReturn(0);
}

/* The whole file, part by part; after each part the ranks agree whether it was written (*ok), and
 * after a failure none goes on. Only MPI failures are returned as errors. */
static PetscErrorCode write_body(hid_t file, MPI_Comm comm, const CkptState *s, CkptMeta *m, int *ok) {
  PetscFunctionBeginUser;
  const int rank = 0, size = 1; /* rank 0 writes the whole file (see ckpt_write) */
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER), lcpl = H5Pcreate(H5P_LINK_CREATE);
  *ok = dxpl >= 0 && lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0;
  if (*ok) *ok = write_root_attrs(file, m) == 0;
  PetscCall(all_agree(comm, ok));
  for (int i = 0; i < s->ntensors && *ok; i++) {
    const CkptTensor *t = &s->tensors[i];
    char path[2 * CKPT_NAME_LEN + 2];
    snprintf(path, sizeof path, "%s/%s", t->group, t->name);
    PetscCall(write_tensor(comm, file, path, t, rank, size, lcpl, dxpl, ok));
  }
  for (int i = 0; i < s->ncounts && *ok; i++) {
    hid_t g = H5Oopen(file, s->counts[i].group, H5P_DEFAULT);
    *ok = g >= 0 && put_attr(g, s->counts[i].name, H5T_NATIVE_LLONG, s->counts[i].value) == 0;
    if (g >= 0) H5Oclose(g);
    PetscCall(all_agree(comm, ok));
  }
  if (*ok) PetscCall(write_run_position(comm, file, m, rank, size, lcpl, dxpl, ok));
  if (lcpl >= 0) H5Pclose(lcpl);
  if (dxpl >= 0) H5Pclose(dxpl);
  PetscFunctionReturn(0);
}

/* Room for the file, checked before writing: parallel HDF5 cannot always get out of a write
 * that fails on a full disk (ranks can stop in different collective calls and wait forever). */
static PetscErrorCode check_space(MPI_Comm comm, const char *path, const CkptState *s, const CkptMeta *m) {
  PetscFunctionBeginUser;
  int rank;
  double need = 1 << 20, have = 0; /* 1 MiB for metadata and the small datasets */
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (int i = 0; i < s->ntensors; i++) need += 4.0 * (double)ckpt_tensor_size(&s->tensors[i]);
  need += 8.0 * m->history_cols * m->history_rows;
  if (rank == 0) {
    char dir[4096];
    struct statvfs fs;
    snprintf(dir, sizeof dir, "%s", path);
    have = statvfs(dirname(dir), &fs) == 0 ? (double)fs.f_bavail * fs.f_frsize : -1.0;
  }
  PetscCallMPI(MPI_Bcast(&have, 1, MPI_DOUBLE, 0, comm));
  PetscCheck(have < 0 || have >= need, comm, PETSC_ERR_FILE_WRITE,
             "no room for checkpoint '%s': it needs %.1f MB, %.1f MB are free; free space or lower -checkpoint_keep "
             "(older checkpoints are intact)", path, need / 1e6, have / 1e6);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_write(MPI_Comm comm, const char *path, const CkptState *s, CkptMeta *m) {
  PetscFunctionBeginUser;
  char tmp[4200];
  int rank, all_ok;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(check_space(comm, path, s, m));
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  m->checksum = state_checksum(s, m); /* every rank holds the whole state: all agree */
  /* Rank 0 writes the whole file through serial HDF5; the others wait for its verdict. Every
   * rank holds the whole state, so nothing has to travel. (The collective MPI-IO write hung
   * now and then inside H5Fclose, the ranks in different collectives of HDF5's metadata cache,
   * about once in 50 writes on 2 ranks; see the closing note of this change.) */
  all_ok = 1;
  if (rank == 0) {
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    all_ok = file >= 0;
    if (all_ok) {
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL)); /* no line per failed part */
      PetscErrorCode ierr = write_body(file, PETSC_COMM_SELF, s, m, &all_ok);
      PetscCall(PetscPopErrorHandler());
      if (ierr) all_ok = 0;
      if (!all_ok && truncate(tmp, 0) != 0) { /* a full disk: give room back so the close can flush */
      }
      all_ok = H5Fclose(file) >= 0 && all_ok; /* flushes: a full disk shows here at the latest */
    }
    if (!all_ok) unlink(tmp); /* nothing half-written stays behind */
  }
  PetscCallMPI(MPI_Bcast(&all_ok, 1, MPI_INT, 0, comm));
  PetscCheck(all_ok, comm, PETSC_ERR_FILE_WRITE,
             "writing checkpoint '%s' failed (disk full?); the partial file was removed, older checkpoints are intact", path);
  PetscCall(publish(comm, tmp, path));
  PetscFunctionReturn(0);
}

/* ---- reading ---------------------------------------------------------------------------------- */

/* Whether HDF5 crashes parsing the file (h5guard.h); why: what happened, and where. */
static int crashes_hdf5(const char *path, char *why, size_t len) {
  char *one[1] = {(char *)path};
  return h5guard_check(1, one, why, len) >= 0;
}

static PetscErrorCode open_checkpoint(MPI_Comm comm, const char *path, hid_t *file) {
  PetscFunctionBeginUser;
  /* 0 ok, 1 missing, 2 not HDF5, 3 not a regular file (a FIFO would block H5Fopen), 4 crashes HDF5 */
  int rank, state = 0;
  char why[512] = "";
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    int kind = dt_regular_file(path, why, sizeof why);
    state = kind == 0 ? 1 : kind < 0 ? 3 : H5Fis_hdf5(path) > 0 ? 0 : 2;
    if (state == 0 && crashes_hdf5(path, why, sizeof why)) state = 4;
  }
  PetscCallMPI(MPI_Bcast(&state, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(why, sizeof why, MPI_CHAR, 0, comm));
  DT_INPUT_CHECK(state != 4, comm, "checkpoint '%s': %s: the file is damaged; restart from another checkpoint", path,
                 why);
  DT_INPUT_CHECK(state != 1, comm, "checkpoint '%s': cannot open: %s", path, "no such readable file");
  DT_INPUT_CHECK(state != 3, comm, "checkpoint '%s': %s; expected a regular HDF5 file", path, why);
  DT_INPUT_CHECK(state != 2, comm, "checkpoint '%s': not an HDF5 file (truncated or overwritten?)", path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  DT_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  /* STRONG: closing the file also closes whatever an input error left open */
  DT_H5(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  int ok = *file >= 0, all;
  PetscCallMPI(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm));
  if (!all && *file >= 0) H5Fclose(*file);
  DT_INPUT_CHECK(all, comm, "checkpoint '%s': HDF5 cannot open it (truncated?)", path);
  PetscFunctionReturn(0);
}

/* Dimensions of dataset d (any rank, as many as the file says): its rank, -1 on failure. */
static int dataset_dims(hid_t d, hsize_t dims[H5S_MAX_RANK]) {
  hid_t s = H5Dget_space(d);
  int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
  if (nd >= 0 && nd <= H5S_MAX_RANK) nd = H5Sget_simple_extent_dims(s, dims, NULL);
  else nd = -1;
  if (s >= 0) H5Sclose(s);
  return nd;
}

static int numeric(hid_t d) {
  hid_t t = H5Dget_type(d);
  int plain = plain_number(t);
  if (t >= 0) H5Tclose(t);
  return plain;
}

static PetscErrorCode read_history(MPI_Comm comm, hid_t file, const char *path, CkptMeta *m) {
  PetscFunctionBeginUser;
  hid_t d = H5Lexists(file, "history", H5P_DEFAULT) > 0 ? H5Dopen2(file, "history", H5P_DEFAULT) : -1;
  DT_INPUT_CHECK(d >= 0, comm, "checkpoint '%s': no /history", path);
  hsize_t dims[H5S_MAX_RANK] = {0};
  int nd = dataset_dims(d, dims), num = numeric(d);
  /* the columns are named: as many names as columns, step first */
  char *columns = get_string_attr(d, "columns");
  int ncols = 0;
  for (const char *c = columns; c && *c; c++) ncols += *c == ',';
  if (columns && *columns) ncols++;
  int named = nd == 2 && columns && dims[1] >= 2 && dims[1] <= CKPT_MAX_HISTORY_COLS && (hsize_t)ncols == dims[1] &&
              !strncmp(columns, "step,", 5);
  /* the shape is only a declaration: the rows must really be in the file before any allocation */
  int held = named && dims[0] <= (hsize_t)LONG_MAX / (8 * CKPT_MAX_HISTORY_COLS) &&
             stored(d, (hssize_t)(dims[0] * dims[1]), sizeof(double));
  if (!named || !num || !held) H5Dclose(d), free(columns);
  DT_INPUT_CHECK(nd == 2 && num, comm, "checkpoint '%s': /history is not a float array [steps][columns]", path);
  DT_INPUT_CHECK(named, comm,
                 "checkpoint '%s': /history has %llu columns but its attribute `columns` does not name them (step, losses, "
                 "samples_per_s)", path, nd == 2 ? (unsigned long long)dims[1] : 0ULL);
  DT_INPUT_CHECK(held, comm, "checkpoint '%s': /history declares %llu rows, more than the file holds (damaged or crafted)",
                 path, (unsigned long long)dims[0]);
  m->history_rows = (long)dims[0];
  m->history_cols = (int)dims[1];
  m->history_columns = columns;
  PetscCall(PetscMalloc1(dims[0] * dims[1] + 1, &m->history));
  herr_t r = dims[0] ? H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->history) : 0;
  H5Dclose(d);
  DT_INPUT_CHECK(r >= 0, comm, "checkpoint '%s': /history cannot be read (damaged file?)", path);
  PetscFunctionReturn(0);
}

/* A run id as written: 1 to CKPT_RUN_ID_LEN hex digits. */
static int valid_run_id(const char *id) {
  size_t n = strlen(id);
  return n >= 1 && n <= CKPT_RUN_ID_LEN && strspn(id, "0123456789abcdef") == n;
}

/* The root attributes; NULL, or the name of the first that is missing or not of its kind (*kind:
 * what it should be). */
static const char *read_root_attrs(hid_t file, CkptMeta *m, long long *fv, const char **kind) {
  long long step = -1, ranks = 0, batch = 0;
  unsigned long long seed = 0;
  const struct {
    const char *name;
    hid_t type;
    void *value;
  } num[] = {{"format_version", H5T_NATIVE_LLONG, fv},     {"step", H5T_NATIVE_LLONG, &step},
             {"epoch", H5T_NATIVE_DOUBLE, &m->epoch},       {"ranks", H5T_NATIVE_LLONG, &ranks},
             {"seed", H5T_NATIVE_ULLONG, &seed},            {"global_batch", H5T_NATIVE_LLONG, &batch},
             {"checksum", H5T_NATIVE_UINT32, &m->checksum}, {"data_mean", H5T_NATIVE_DOUBLE, &m->data_mean},
             {"data_std", H5T_NATIVE_DOUBLE, &m->data_std}};
  for (size_t i = 0; i < sizeof num / sizeof *num; i++) {
    *kind = H5Tget_class(num[i].type) == H5T_INTEGER ? "one integer" : "one number";
    if (get_attr(file, num[i].name, num[i].type, num[i].value)) return num[i].name;
  }
  *kind = "one string";
  char *method = get_string_attr(file, "method");
  if (!method) return "method";
  snprintf(m->method, sizeof m->method, "%s", method);
  free(method);
  if (!(m->options = get_string_attr(file, "options"))) return "options";
  if (H5Aexists(file, "run_id") > 0) {
    char *id = get_string_attr(file, "run_id");
    int ok = id && valid_run_id(id);
    if (ok) snprintf(m->run_id, sizeof m->run_id, "%s", id);
    free(id);
    if (!ok) return *kind = "one string of 1 to 32 hex digits", "run_id";
  }
  if (H5Aexists(file, "run_log") > 0 && !(m->run_log = get_string_attr(file, "run_log")))
    return *kind = "one string", "run_log";
  m->step = (long)step, m->ranks = (int)ranks, m->seed = seed, m->global_batch = (int)batch;
  m->cursor_epoch = m->cursor_sample = m->data_samples = -1; /* optional: older files have no cursor */
  const char *cursor[3] = {"cursor_epoch", "cursor_sample", "data_samples"};
  long long *into[3] = {&m->cursor_epoch, &m->cursor_sample, &m->data_samples};
  *kind = "one integer";
  for (int i = 0; i < 3; i++)
    if (H5Aexists(file, cursor[i]) > 0 && get_attr(file, cursor[i], H5T_NATIVE_LLONG, into[i])) return cursor[i];
  return NULL;
}

/* The sample shape the model was trained on: 1 or 3 positive integers. */
static int read_sample_shape(hid_t file, CkptMeta *m) {
  hid_t type;
  hssize_t count;
  hid_t attr = open_attr(file, "sample_shape", &type, &count);
  if (attr < 0) return -1;
  long long v[CKPT_MAX_DIMS];
  int ok = H5Tget_class(type) == H5T_INTEGER && (count == 1 || count == 3) && H5Aread(attr, H5T_NATIVE_LLONG, v) >= 0;
  for (int i = 0; ok && i < count; i++) ok = v[i] >= 1 && v[i] <= INT32_MAX;
  H5Tclose(type), H5Aclose(attr);
  if (!ok) return -1;
  m->sample_ndims = (int)count;
  for (int i = 0; i < count; i++) m->sample_dims[i] = v[i];
  return 0;
}

/* Whether the step agrees with /history, which records every step 1..step of the run (steps a
 * run skipped have no row, so rows may be fewer): 1 when it does. A crafted step would have the
 * run repeat or skip steps, or take an untrained model for a finished one. */
static int step_matches_history(const CkptMeta *m, long long step, char *why, size_t len) {
  const long rows = m->history_rows;
  const int cols = m->history_cols;
  double prev = 0;
  for (long r = 0; r < rows; r++) {
    double st = m->history[r * cols];
    if (!(st > prev && st == floor(st) && st <= 1e15)) {
      snprintf(why, len, "/history row %ld records step %g after step %g; expected increasing whole steps from 1", r + 1, st, prev);
      return 0;
    }
    prev = st;
  }
  if ((double)step != prev) {
    if (rows) snprintf(why, len, "attribute step is %lld, but /history records steps up to %.0f (%ld rows); expected step %.0f",
                       step, prev, rows, prev);
    else snprintf(why, len, "attribute step is %lld, but /history has no rows; expected step 0", step);
    return 0;
  }
  return 1;
}

PetscErrorCode ckpt_read_meta(MPI_Comm comm, const char *path, CkptMeta *m) {
  PetscFunctionBeginUser;
  memset(m, 0, sizeof *m);
  hid_t file;
  PetscCall(open_checkpoint(comm, path, &file));
  char *format = get_string_attr(file, "format");
  int ours = format && !strcmp(format, CKPT_FORMAT);
  free(format);
  long long fv = 0;
  const char *kind = "", *bad = ours ? read_root_attrs(file, m, &fv, &kind) : NULL;
  char have[96] = "";
  if (bad) describe_attr(file, bad, have, sizeof have);
  if (!ours || bad) H5Fclose(file), ckpt_meta_free(m);
  DT_INPUT_CHECK(ours, comm, "checkpoint '%s': not a disentangle checkpoint (no attribute format = '%s')", path, CKPT_FORMAT);
  DT_INPUT_CHECK(!bad, comm, "checkpoint '%s': attribute %s is %s; expected %s (damaged or crafted)", path, bad, have, kind);
  if (fv != CKPT_FORMAT_VERSION) H5Fclose(file), ckpt_meta_free(m);
  DT_INPUT_CHECK(fv == CKPT_FORMAT_VERSION, comm, "checkpoint '%s': format version %lld; this program reads %d", path, fv,
                 CKPT_FORMAT_VERSION);
  int shaped = read_sample_shape(file, m) == 0;
  if (!shaped) describe_attr(file, "sample_shape", have, sizeof have), H5Fclose(file), ckpt_meta_free(m);
  DT_INPUT_CHECK(shaped, comm, "checkpoint '%s': attribute sample_shape is %s; expected 1 or 3 positive integers (damaged or crafted)",
                 path, have);
  /* the normalisation the model was trained with: a model cannot be used without it */
  double mean = m->data_mean, std = m->data_std;
  if (!isfinite(mean) || !isfinite(std) || !(std > 0) || m->step < 0) H5Fclose(file), ckpt_meta_free(m);
  char num[2][32]; /* formatted here: PETSc's own %g would print "0." for 0 */
  snprintf(num[0], sizeof num[0], "%g", mean), snprintf(num[1], sizeof num[1], "%g", std);
  DT_INPUT_CHECK(isfinite(mean), comm, "checkpoint '%s': attribute data_mean is %s; expected a finite number (damaged or crafted)",
                 path, num[0]);
  DT_INPUT_CHECK(isfinite(std) && std > 0, comm,
                 "checkpoint '%s': attribute data_std is %s; expected a finite number > 0 (damaged or crafted)", path, num[1]);
  DT_INPUT_CHECK(m->step >= 0, comm, "checkpoint '%s': attribute step is %ld; expected a whole number >= 0 (damaged or crafted)",
                 path, m->step);
  PetscErrorCode ierr = read_history(comm, file, path, m);
  H5Fclose(file);
  if (ierr) ckpt_meta_free(m);
  PetscCall(ierr);
  char why[256];
  int agree = step_matches_history(m, m->step, why, sizeof why);
  if (!agree) ckpt_meta_free(m);
  DT_INPUT_CHECK(agree, comm, "checkpoint '%s': %s (damaged or crafted)", path, why);
  PetscFunctionReturn(0);
}

int ckpt_peek(const char *path, long *step, char *run_id, size_t len) {
  long long s = -1;
  *step = -1;
  if (len) run_id[0] = 0;
  char why[512];
  if (dt_regular_file(path, why, sizeof why) != 1 || H5Fis_hdf5(path) <= 0 || crashes_hdf5(path, why, sizeof why)) return -1;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) return -1;
  int ok = get_attr(f, "step", H5T_NATIVE_LLONG, &s) == 0 && s >= 0;
  char *id = H5Aexists(f, "run_id") > 0 ? get_string_attr(f, "run_id") : NULL;
  snprintf(run_id, len, "%s", id && valid_run_id(id) ? id : "");
  free(id);
  H5Fclose(f);
  *step = (long)s;
  return ok ? 0 : -1;
}

static int same_shape(const CkptTensor *t, int nd, const hsize_t *dims) {
  if (nd != t->ndim) return 0;
  for (int k = 0; k < nd; k++)
    if (dims[k] != (hsize_t)t->dims[k]) return 0;
  return 1;
}

static void shape_text(int nd, const hsize_t *dims, char *buf, size_t len) {
  size_t at = (size_t)snprintf(buf, len, "[");
  for (int k = 0; k < nd && k < H5S_MAX_RANK && at < len; k++)
    at += (size_t)snprintf(buf + at, len - at, "%s%llu", k ? ", " : "", (unsigned long long)dims[k]);
  if (at < len) snprintf(buf + at, len - at, "]");
}

static void tensor_shape_text(const CkptTensor *t, char *buf, size_t len) {
  hsize_t dims[CKPT_MAX_DIMS];
  for (int k = 0; k < t->ndim; k++) dims[k] = (hsize_t)t->dims[k];
  shape_text(t->ndim, dims, buf, len);
}

static PetscErrorCode read_tensor(MPI_Comm comm, hid_t file, const char *path, const CkptTensor *t) {
  PetscFunctionBeginUser;
  char name[2 * CKPT_NAME_LEN + 2];
  snprintf(name, sizeof name, "%s/%s", t->group, t->name);
  htri_t exists = H5Lexists(file, t->group, H5P_DEFAULT) > 0 ? H5Lexists(file, name, H5P_DEFAULT) : 0;
  DT_INPUT_CHECK(exists > 0, comm, "checkpoint '%s': tensor /%s is missing (another method or architecture?)", path, name);
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  DT_INPUT_CHECK(d >= 0, comm, "checkpoint '%s': /%s is not a dataset (damaged file?)", path, name);
  hsize_t dims[H5S_MAX_RANK] = {0};
  int nd = dataset_dims(d, dims), num = numeric(d);
  int same = same_shape(t, nd, dims);
  if (!same || !num) H5Dclose(d);
  DT_INPUT_CHECK(num, comm, "checkpoint '%s': /%s does not hold numbers (damaged file?)", path, name);
  char there[96], here[96];
  shape_text(nd, dims, there, sizeof there);
  tensor_shape_text(t, here, sizeof here);
  DT_INPUT_CHECK(same, comm, "checkpoint '%s': /%s is %s there but %s in this run (another architecture?)", path, name,
                 there, here);
  herr_t r = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data);
  H5Dclose(d);
  DT_INPUT_CHECK(r >= 0, comm, "checkpoint '%s': /%s cannot be read (damaged file?)", path, name);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_find_mismatch(MPI_Comm comm, const char *path, const CkptState *s, char *what, size_t len) {
  PetscFunctionBeginUser;
  hid_t file;
  PetscCall(open_checkpoint(comm, path, &file));
  what[0] = 0;
  for (int i = 0; i < s->ntensors && !what[0]; i++) {
    const CkptTensor *t = &s->tensors[i];
    char name[2 * CKPT_NAME_LEN + 2];
    snprintf(name, sizeof name, "%s/%s", t->group, t->name);
    hid_t d = H5Lexists(file, t->group, H5P_DEFAULT) > 0 && H5Lexists(file, name, H5P_DEFAULT) > 0
                  ? H5Dopen2(file, name, H5P_DEFAULT) : -1;
    if (d < 0) {
      snprintf(what, len, "it has no tensor /%s (another method or architecture?)", name);
      break;
    }
    hsize_t dims[H5S_MAX_RANK] = {0};
    int nd = dataset_dims(d, dims);
    H5Dclose(d);
    if (!same_shape(t, nd, dims)) {
      char there[96], here[96];
      shape_text(nd, dims, there, sizeof there);
      tensor_shape_text(t, here, sizeof here);
      snprintf(what, len, "/%s is %s there and %s here (another architecture, or data of another sample length?)", name,
               there, here);
    }
  }
  H5Fclose(file);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_read_state(MPI_Comm comm, const char *path, const CkptState *s, const CkptMeta *m) {
  PetscFunctionBeginUser;
  hid_t file;
  PetscCall(open_checkpoint(comm, path, &file));
  PetscErrorCode ierr = 0;
  for (int i = 0; i < s->ntensors && !ierr; i++) ierr = read_tensor(comm, file, path, &s->tensors[i]);
  for (int i = 0; i < s->ncounts && !ierr; i++) {
    hid_t g = H5Oopen(file, s->counts[i].group, H5P_DEFAULT);
    int bad = g < 0 || get_attr(g, s->counts[i].name, H5T_NATIVE_LLONG, s->counts[i].value);
    if (g >= 0) H5Oclose(g);
    if (bad) {
      H5Fclose(file);
      DT_INPUT_ERROR(comm, "checkpoint '%s': attribute %s of /%s is missing or not a single integer", path, s->counts[i].name, s->counts[i].group);
    }
  }
  H5Fclose(file);
  PetscCall(ierr);
  uint32_t crc = state_checksum(s, m);
  DT_INPUT_CHECK(crc == m->checksum, comm,
                 "checkpoint '%s': checksum mismatch (file says %08x, its tensors and /history give %08x): damaged",
                 path, m->checksum, crc);
  PetscFunctionReturn(0);
}

void ckpt_meta_free(CkptMeta *m) {
  free(m->options);
  free(m->history_columns);
  free(m->run_log);
  PetscFree(m->history);
  m->options = NULL;
  m->history_columns = NULL;
  m->history = NULL;
  m->run_log = NULL;
}

const char *ckpt_option(const char *options, const char *name, char *buf, size_t len) {
  size_t n = strlen(name);
  for (const char *line = options; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t ll = end ? (size_t)(end - line) : strlen(line);
    if (ll > n && !strncmp(line, name, n) && line[n] == ' ') {
      size_t vl = PetscMin(ll - n - 1, len - 1);
      memcpy(buf, line + n + 1, vl);
      buf[vl] = 0;
      return buf;
    }
    line = end ? end + 1 : NULL;
  }
  return NULL;
}
