/* Input archives: rank 0 inspects every file first (so a bad archive is reported before any
 * large read, and thousands of files cost no collective opens), then either every rank reads a
 * block of the rows and they are shared (in memory), or the streaming reader (reader.c) takes
 * over. Files are read with serial HDF5, each rank on its own.
 *
 * Every input check is made on values that all ranks hold identically (rank 0's verdict, or
 * agreed through an MPI_Allreduce), so every rank raises the same error and none deadlocks. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* strsep, posix_memalign under -std=c11 */
#endif
#include "archive_impl.h"
#include "disentangle/error.h"
#include "disentangle/h5guard.h"
#include "disentangle/log.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>



static const size_t store_bytes[] = {4, 1, 2, 2};
static const char *norm_where_name[2] = {"/data", "/"};

/* What inspection learnt about one file, besides FileMeta: the factor names and kinds. */
typedef struct {
  FileMeta m;
  char names[NAMES_LEN]; /* factor names, comma-separated */
  char kinds[NAMES_LEN]; /* factor kinds, comma-separated; "" when not given */
} FileInfo;

/* Rows [*lo, *lo + *cnt) of n owned by rank r of p: the first n mod p ranks get one more. */
static void block_range(int64_t n, int r, int p, int64_t *lo, int64_t *cnt) {
  int64_t q = n / p, rem = n % p;
  *lo = r * q + (r < rem ? r : rem);
  *cnt = q + (r < rem ? 1 : 0);
}

static void shape_str(int nd, const int64_t *d, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < nd && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, i ? ", " : "", d[i]);
  if (used < len) snprintf(buf + used, len - used, "]");
}

static void type_str(hid_t t, char *buf, size_t len) {
  static const char *other[H5T_NCLASSES] = {
      [H5T_TIME] = "time",     [H5T_STRING] = "string",        [H5T_BITFIELD] = "bitfield",
      [H5T_OPAQUE] = "opaque", [H5T_COMPOUND] = "compound",    [H5T_REFERENCE] = "reference",
      [H5T_ENUM] = "enum",     [H5T_VLEN] = "variable-length", [H5T_ARRAY] = "array"};
  H5T_class_t c = H5Tget_class(t);
  size_t bits = 8 * H5Tget_size(t);
  if (c == H5T_INTEGER) snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
  else if (c == H5T_FLOAT) snprintf(buf, len, "float%zu", bits);
  else snprintf(buf, len, "%s", c > H5T_NO_CLASS && c < H5T_NCLASSES && other[c] ? other[c] : "unknown");
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  for (char *e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);) *--e = 0;
  return s;
}

/* Rank 0 looks, all ranks hear the verdict: a specific message instead of H5Fopen's failure
 * (or its endless wait on a FIFO). */
static PetscErrorCode probe_file(MPI_Comm comm, const char *path) {
  int rank, verdict = 0; /* 1 ok, 0 cannot reach, -1 not a regular file, 2 not HDF5 */
  char why[128] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    verdict = dt_regular_file(path, why, sizeof why);
    if (verdict == 1 && H5Fis_hdf5(path) <= 0) verdict = 2;
  }
  PetscCallMPI(MPI_Bcast(&verdict, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(why, sizeof why, MPI_CHAR, 0, comm));
  DT_INPUT_CHECK(verdict != 0, comm, "archive '%s': cannot open: %s", path, why);
  DT_INPUT_CHECK(verdict != -1, comm, "archive '%s': %s; expected a regular HDF5 file", path, why);
  DT_INPUT_CHECK(verdict != 2, comm, "archive '%s': not an HDF5 file", path);
  PetscFunctionReturn(0);
}

static PetscErrorCode open_file(MPI_Comm comm, const char *path, hid_t *file) {
  hid_t fapl;
  int ok;

  PetscFunctionBeginUser;
  PetscCall(probe_file(comm, path));
  DT_H5(fapl = H5Pcreate(H5P_FILE_ACCESS));
  /* STRONG: closing the file also closes whatever an input error left open */
  DT_H5(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  DT_H5(H5Pclose(fapl));
  ok = *file >= 0;
  DT_INPUT_CHECK(ok, comm, "archive '%s': HDF5 cannot open the file (truncated, locked or unreadable?)", path);
  PetscFunctionReturn(0);
}

/* Type and shape of one dataset, read and closed again. */
typedef struct {
  int is_dataset;
  H5T_class_t cls;
  size_t size;
  int is_unsigned, nd;
  int64_t dims[H5S_MAX_RANK];
  char type[64], shape[256];
} DsetMeta;

static PetscErrorCode dataset_meta(hid_t file, const char *name, DsetMeta *m) {
  hid_t d, s, t;
  hsize_t h[H5S_MAX_RANK];

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(m, sizeof *m));
  if ((d = H5Dopen2(file, name, H5P_DEFAULT)) < 0) PetscFunctionReturn(0); /* a group, say */
  DT_H5(t = H5Dget_type(d));
  m->is_dataset = 1, m->cls = H5Tget_class(t), m->size = H5Tget_size(t),
  m->is_unsigned = H5Tget_sign(t) == H5T_SGN_NONE;
  type_str(t, m->type, sizeof m->type);
  DT_H5(H5Tclose(t));
  DT_H5(s = H5Dget_space(d));
  DT_H5(m->nd = H5Sget_simple_extent_ndims(s));
  DT_H5(H5Sget_simple_extent_dims(s, h, NULL));
  for (int i = 0; i < m->nd; i++) m->dims[i] = (int64_t)h[i];
  shape_str(m->nd, m->dims, m->shape, sizeof m->shape);
  DT_H5(H5Sclose(s));
  DT_H5(H5Dclose(d));
  PetscFunctionReturn(0);
}

/* Whether this HDF5 library can read dataset `name` at all: a virtual dataset (values in other
 * files) or a filter it lacks (lzf, blosc, bitshuffle: h5py and PyTables plugins) would otherwise
 * fail only at the first read, as if the file were damaged. */
static PetscErrorCode check_storage(MPI_Comm comm, const char *path, hid_t file, const char *name, int *filtered) {
  PetscFunctionBeginUser;
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT), dcpl = d >= 0 ? H5Dget_create_plist(d) : -1;
  H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
  int virtual = layout == H5D_VIRTUAL, nf = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
  /* HDF5 1.10 copies a whole unfiltered chunk (or a compact dataset's whole shape) from what the
   * file stores without checking that the file stores that much: a heap overflow (found by
   * tests/fuzz). Unfiltered chunks are stored whole, so the storage is a multiple of one chunk. */
  double unit = 0, held = 0;
  if (d >= 0 && (layout == H5D_COMPACT || layout == H5D_CHUNKED)) {
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    hsize_t chunk[H5S_MAX_RANK];
    int nd = layout == H5D_CHUNKED ? H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk) : 0;
    unit = (double)(ty >= 0 ? H5Tget_size(ty) : 0);
    if (layout == H5D_COMPACT) unit *= (double)(sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1);
    hsize_t dims[H5S_MAX_RANK], maxdims[H5S_MAX_RANK];
    int rank = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, maxdims) : -1;
    for (int i = 0; i < nd; i++) {
      unit *= (double)chunk[i];
      /* HDF5 refuses to write such a file; reading one overflows its chunk buffers (tests/fuzz) */
      if (i >= rank || (maxdims[i] != H5S_UNLIMITED && chunk[i] > maxdims[i])) unit = -1;
    }
    held = (double)H5Dget_storage_size(d);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
  }
  int bad_chunks = unit < 0,
      short_storage = unit > 0 && nf == 0 && (fmod(held, unit) != 0 || (layout == H5D_COMPACT && held != unit));
  H5Z_filter_t missing = -1;
  char fname[64] = "";
  for (int i = 0; i < nf && missing < 0; i++) {
    unsigned flags, cd[8];
    size_t ncd = 8;
    char n[64] = "";
    H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof n, n, NULL);
    if (id >= 0 && H5Zfilter_avail(id) <= 0) missing = id, snprintf(fname, sizeof fname, "%s", n[0] ? n : "unnamed");
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (d >= 0) H5Dclose(d);
  if (filtered) *filtered = nf > 0;
  DT_INPUT_CHECK(!virtual, comm,
                 "archive '%s': %s is a virtual dataset (its values are in other files), which is not supported; write a "
                 "plain copy, e.g. h5repack -l %s:CONTI '%s' copy.h5", path, name, name, path);
  DT_INPUT_CHECK(!bad_chunks, comm, "archive '%s': %s has chunks larger than its shape; the file is damaged: write it again",
                 path, name);
  DT_INPUT_CHECK(!short_storage, comm,
                 "archive '%s': %s stores %.0f bytes, not whole %s of %.0f bytes; the file is damaged: write it again",
                 path, name, held, layout == H5D_COMPACT ? "values" : "chunks", unit);
  DT_INPUT_CHECK(missing < 0, comm,
                 "archive '%s': %s is compressed with filter %d (%s), which this HDF5 library cannot decode; rewrite it "
                 "with gzip or none (h5py: compression='gzip'; or h5repack -f GZIP=4 where the filter's plugin is "
                 "installed)", path, name, (int)missing, fname);
  PetscFunctionReturn(0);
}

static PetscErrorCode inspect_data(MPI_Comm comm, const char *path, hid_t file, FileInfo *fi) {
  DsetMeta m;

  PetscFunctionBeginUser;
  DT_INPUT_CHECK(H5Lexists(file, "/data", H5P_DEFAULT) > 0, comm,
                 "archive '%s': no dataset /data; expected the samples there", path);
  PetscCall(dataset_meta(file, "/data", &m));
  DT_INPUT_CHECK(m.is_dataset, comm, "archive '%s': /data is not a dataset; expected the samples there", path);
  PetscCall(check_storage(comm, path, file, "/data", &fi->m.filtered));
  DT_INPUT_CHECK(m.nd == 2 || m.nd == 4, comm,
                 "archive '%s': dataset /data has %d dimensions %s; expected [N, L] or [N, C, H, W]", path, m.nd,
                 m.shape);
  int u8 = m.cls == H5T_INTEGER && m.size == 1 && m.is_unsigned, i16 = m.cls == H5T_INTEGER && m.size == 2;
  DT_INPUT_CHECK(u8 || i16 || (m.cls == H5T_FLOAT && (m.size == 2 || m.size == 4 || m.size == 8)), comm,
                 "archive '%s': dataset /data has type %s; expected uint8, int16, uint16, float16, float32 or float64",
                 path, m.type);
  fi->m.store = u8 ? STORE_U8 : i16 ? (m.is_unsigned ? STORE_U16 : STORE_I16) : STORE_FLOAT;
  DT_INPUT_CHECK(m.dims[0] > 0, comm, "archive '%s': dataset /data %s holds no samples", path, m.shape);
  DT_INPUT_CHECK(m.dims[0] <= INT32_MAX, comm,
                 "archive '%s': dataset /data has %" PRId64 " samples; at most %d per file", path, m.dims[0],
                 INT32_MAX);
  fi->m.n = m.dims[0], fi->m.ndims = m.nd - 1, fi->m.is_f64 = m.cls == H5T_FLOAT && m.size == 8;
  int64_t values = 1;
  for (int i = 1; i < m.nd; i++) {
    DT_INPUT_CHECK(m.dims[i] > 0, comm, "archive '%s': dataset /data has shape %s; every sample dimension must be > 0",
                   path, m.shape);
    fi->m.dims[i - 1] = m.dims[i];
    /* a declared size may be anything: multiply without overflowing */
    DT_INPUT_CHECK(!__builtin_mul_overflow(values, m.dims[i], &values) && values <= INT32_MAX, comm,
                   "archive '%s': dataset /data has shape %s: one sample would hold more than %d values", path, m.shape,
                   INT32_MAX);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode inspect_factors(MPI_Comm comm, const char *path, hid_t file, FileInfo *fi) {
  DsetMeta m;

  PetscFunctionBeginUser;
  fi->m.k = 0;
  if (H5Lexists(file, "/factors", H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  PetscCall(dataset_meta(file, "/factors", &m));
  DT_INPUT_CHECK(m.is_dataset, comm, "archive '%s': /factors is not a dataset; expected float64 [N, K]", path);
  PetscCall(check_storage(comm, path, file, "/factors", NULL));
  DT_INPUT_CHECK(m.cls == H5T_INTEGER || m.cls == H5T_FLOAT, comm,
                 "archive '%s': dataset /factors has type %s; expected float64", path, m.type);
  DT_INPUT_CHECK(m.nd == 2, comm, "archive '%s': dataset /factors has shape %s; expected [N, K] with N = %" PRId64,
                 path, m.shape, fi->m.n);
  DT_INPUT_CHECK(m.dims[0] == fi->m.n, comm,
                 "archive '%s': dataset /factors has shape %s but /data has %" PRId64 " samples; expected [%" PRId64
                 ", K]",
                 path, m.shape, fi->m.n, fi->m.n);
  DT_INPUT_CHECK(m.dims[1] >= 1 && m.dims[1] <= ARCHIVE_MAX_FACTORS, comm,
                 "archive '%s': dataset /factors has %" PRId64 " factors; expected 1 to %d", path, m.dims[1],
                 ARCHIVE_MAX_FACTORS);
  fi->m.k = m.dims[1];
  fi->names[0] = 0;
  if (H5Aexists_by_name(file, "/factors", "names", H5P_DEFAULT) > 0)
    PetscCall(archive_read_names(comm, path, file, "names", fi->names));
  fi->kinds[0] = 0;
  if (H5Aexists_by_name(file, "/factors", "kinds", H5P_DEFAULT) > 0)
    PetscCall(archive_read_names(comm, path, file, "kinds", fi->kinds));
  if (!fi->names[0]) /* no names, or none given: factor0, factor1, ... */
    for (int64_t j = 0, used = 0; j < fi->m.k; j++)
      used += snprintf(fi->names + used, NAMES_LEN - (size_t)used, "%sfactor%" PRId64, j ? "," : "", j);
  PetscFunctionReturn(0);
}

/* /groups: one integer id a sample, of a type HDF5 converts to int64 exactly (uint64 may not). */
static PetscErrorCode inspect_groups(MPI_Comm comm, const char *path, hid_t file, FileInfo *fi) {
  DsetMeta m;

  PetscFunctionBeginUser;
  fi->m.has_groups = 0;
  if (H5Lexists(file, "/groups", H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  PetscCall(dataset_meta(file, "/groups", &m));
  DT_INPUT_CHECK(m.is_dataset, comm, "archive '%s': /groups is not a dataset; expected group ids int64 [%" PRId64 "]",
                 path, fi->m.n);
  PetscCall(check_storage(comm, path, file, "/groups", NULL));
  DT_INPUT_CHECK(m.cls == H5T_INTEGER && (m.size < 8 || (m.size == 8 && !m.is_unsigned)), comm,
                 "archive '%s': dataset /groups has type %s; expected integer group ids: int64 (or int8..int32, "
                 "uint8..uint32)", path, m.type);
  DT_INPUT_CHECK(m.nd == 1 && m.dims[0] == fi->m.n, comm,
                 "archive '%s': dataset /groups has shape %s but /data has %" PRId64 " samples; expected [%" PRId64
                 "], one group id a sample", path, m.shape, fi->m.n, fi->m.n);
  fi->m.has_groups = 1;
  PetscFunctionReturn(0);
}

/* `mean` and `std` on /data, else on the root group; both or neither. */
static PetscErrorCode inspect_norm(MPI_Comm comm, const char *path, hid_t file, FileInfo *fi) {
  static const char *where[2] = {"/data", "/"}, *attr[2] = {"mean", "std"};

  PetscFunctionBeginUser;
  fi->m.has_norm = 0;
  for (int w = 0; w < 2 && !fi->m.has_norm; w++) {
    double v[2];
    if (H5Aexists_by_name(file, where[w], "mean", H5P_DEFAULT) <= 0 ||
        H5Aexists_by_name(file, where[w], "std", H5P_DEFAULT) <= 0)
      continue;
    for (int i = 0; i < 2; i++) {
      hid_t at, s;
      int ok;
      DT_H5(at = H5Aopen_by_name(file, where[w], attr[i], H5P_DEFAULT, H5P_DEFAULT));
      DT_H5(s = H5Aget_space(at));
      ok = H5Sget_simple_extent_npoints(s) == 1 && H5Aread(at, H5T_NATIVE_DOUBLE, &v[i]) >= 0;
      DT_H5(H5Sclose(s));
      DT_H5(H5Aclose(at));
      DT_INPUT_CHECK(ok, comm, "archive '%s': attribute %s on %s is not a single number; expected a scalar double",
                     path, attr[i], where[w]);
    }
    fi->m.has_norm = 1, fi->m.mean = v[0], fi->m.std = v[1], fi->m.norm_where = w;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode inspect_file(MPI_Comm comm, const char *path, FileInfo *fi) {
  hid_t file = -1;
  PetscErrorCode err;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(fi, sizeof *fi)); /* names stay "" for a file without /factors */
  PetscCall(open_file(comm, path, &file));
  err = inspect_data(comm, path, file, fi);
  if (!err) err = inspect_factors(comm, path, file, fi);
  if (!err) err = inspect_groups(comm, path, file, fi);
  if (!err) err = inspect_norm(comm, path, file, fi);
  DT_H5(H5Fclose(file));
  PetscCall(err);
  PetscFunctionReturn(0);
}

/* Every file must look like the first: sample shape, factors present or not, K and names. */
static PetscErrorCode check_alike(MPI_Comm comm, char **paths, const FileInfo *fi, int i) {
  char s0[256], si[256];

  PetscFunctionBeginUser;
  shape_str(fi[0].m.ndims, fi[0].m.dims, s0, sizeof s0);
  shape_str(fi[i].m.ndims, fi[i].m.dims, si, sizeof si);
  DT_INPUT_CHECK(!strcmp(s0, si), comm,
                 "archive '%s': /data samples have shape %s but '%s' has %s; all archives must share one sample shape",
                 paths[i], si, paths[0], s0);
  DT_INPUT_CHECK((fi[i].m.k > 0) == (fi[0].m.k > 0), comm,
                 "archive '%s' %s /factors but '%s' %s; either every archive has /factors or none", paths[i],
                 fi[i].m.k ? "has" : "has no", paths[0], fi[0].m.k ? "has" : "has none");
  DT_INPUT_CHECK(fi[i].m.has_groups == fi[0].m.has_groups, comm,
                 "archive '%s' %s /groups but '%s' %s; either every archive has /groups or none", paths[i],
                 fi[i].m.has_groups ? "has" : "has no", paths[0], fi[0].m.has_groups ? "has" : "has none");
  DT_INPUT_CHECK(fi[i].m.k == fi[0].m.k, comm,
                 "archive '%s': /factors has %" PRId64 " factors but '%s' has %" PRId64 "; all archives must agree",
                 paths[i], fi[i].m.k, paths[0], fi[0].m.k);
  DT_INPUT_CHECK(!strcmp(fi[i].names, fi[0].names), comm,
                 "archive '%s': /factors names '%s' differ from '%s' in '%s'; all archives must agree", paths[i],
                 fi[i].names, fi[0].names, paths[0]);
  DT_INPUT_CHECK(!strcmp(fi[i].kinds, fi[0].kinds), comm,
                 "archive '%s': /factors kinds '%s' differ from '%s' in '%s'; all archives must agree", paths[i],
                 fi[i].kinds, fi[0].kinds, paths[0]);
  PetscFunctionReturn(0);
}

static PetscErrorCode set_factor_names(MPI_Comm comm, const char *path, const char *names, Archive *a) {
  char *copy, *save, *tok;
  int n = 0, empty = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscStrallocpy(names, &copy));
  save = copy;
  while (n < ARCHIVE_MAX_FACTORS && (tok = strsep(&save, ","))) {
    tok = trim(tok);
    empty = empty || !tok[0];
    PetscCall(PetscStrallocpy(tok, &a->factor_names[n++]));
  }
  PetscCall(PetscFree(copy));
  DT_INPUT_CHECK(n == a->nfactors && !save && !empty, comm,
                 "archive '%s': attribute names on /factors lists '%s'; expected %d non-empty names, one per factor",
                 path, names, a->nfactors);
  PetscFunctionReturn(0);
}

/* kinds: "" (all auto) or one of discrete|continuous|auto per factor. */
static PetscErrorCode set_factor_kinds(MPI_Comm comm, const char *path, const char *kinds, Archive *a) {
  PetscFunctionBeginUser;
  for (int f = 0; f < a->nfactors; f++) a->factor_kinds[f] = ARCHIVE_KIND_AUTO;
  if (!kinds[0]) PetscFunctionReturn(0);
  char copy[NAMES_LEN], *save = copy, *tok;
  int n = 0, known = 1;
  snprintf(copy, sizeof copy, "%s", kinds);
  while (known && n < a->nfactors && (tok = strsep(&save, ","))) {
    int kind = archive_kind_of(trim(tok));
    known = kind >= 0;
    a->factor_kinds[n++] = known ? kind : ARCHIVE_KIND_AUTO;
  }
  DT_INPUT_CHECK(known && n == a->nfactors && !save, comm,
                 "archive '%s': attribute kinds on /factors lists '%s'; expected %d of discrete, continuous or auto, one "
                 "per factor", path, kinds, a->nfactors);
  PetscFunctionReturn(0);
}

/* Every rank's block of a file's rows to every rank, in place: rank r's rows already sit at
 * their place in buf. */
static PetscErrorCode share_rows(MPI_Comm comm, int64_t n, int64_t width, MPI_Datatype base, void *buf) {
  int size;
  int *counts, *displs;
  MPI_Datatype row;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  for (int r = 0; r < size; r++) {
    int64_t lo, cnt;
    block_range(n, r, size, &lo, &cnt);
    counts[r] = (int)cnt, displs[r] = (int)lo;
  }
  PetscCallMPI(MPI_Type_contiguous((int)width, base, &row));
  PetscCallMPI(MPI_Type_commit(&row));
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, row, comm));
  PetscCallMPI(MPI_Type_free(&row));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}

int archive_file_of(const Archive *a, int64_t i) {
  int lo = 0, hi = a->nfiles - 1;
  while (lo < hi) { /* the last file whose first sample is <= i */
    int mid = (lo + hi + 1) / 2;
    if (a->file_first[mid] <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* Global rows [lo, lo + cnt) of /data (or /factors) into buf as memtype, file by file. An
 * unreadable file here, at open, is the input's fault: raised on every rank through *ok. */
static PetscErrorCode read_rows(Reader *r, const Archive *a, const char *dset, hid_t memtype, size_t row_bytes,
                                int64_t lo, int64_t cnt, void *buf, char *err, size_t len, int *ok) {
  PetscFunctionBeginUser;
  for (int64_t at = lo; at < lo + cnt && *ok;) {
    int f = archive_file_of(a, at);
    int64_t first = at - a->file_first[f], rows = PetscMin(a->file_first[f + 1], lo + cnt) - at;
    *ok = reader_file_rows(r, a, f, dset, memtype, first, rows, (char *)buf + (size_t)(at - lo) * row_bytes, err, len) == 0;
    at += rows;
  }
  PetscFunctionReturn(0);
}

/* First non-finite value of this rank's rows [lo, lo + cnt), coded as (row * width + value) * 2 + is_inf
 * so that an MPI_MIN over the ranks picks the first in the archive; INT64_MAX when all are finite. */
#define FIRST_BAD(T, x, lo, cnt, width, code)                                                                          \
  do {                                                                                                                 \
    code = INT64_MAX;                                                                                                  \
    for (int64_t i_ = 0; i_ < (cnt) * (width) && code == INT64_MAX; i_++) {                                            \
      T v_ = (x)[i_];                                                                                                  \
      if (!isfinite(v_)) code = (((lo) * (width) + i_) * 2 + (isinf(v_) ? 1 : 0));                                     \
    }                                                                                                                  \
  } while (0)

/* "archive 'F': /data sample 3 (global sample 103) holds NaN at value 7" for a FIRST_BAD code */
static void describe_bad(const Archive *a, const char *dset, int64_t code, int64_t width, char *buf, size_t len) {
  int64_t g = code / 2 / width, v = code / 2 % width;
  int f = archive_file_of(a, g);
  const char *what = code % 2 ? (a->meta[f].is_f64 && !strcmp(dset, "/data") ? "Inf (or a value beyond the float32 range)" : "Inf")
                              : "NaN";
  if (!strcmp(dset, "/data"))
    snprintf(buf, len, "archive '%s': /data sample %" PRId64 " (global sample %" PRId64 ") holds %s at value %" PRId64,
             a->paths[f], g - a->file_first[f], g, what, v);
  else
    snprintf(buf, len, "archive '%s': /factors sample %" PRId64 " (global sample %" PRId64 ") holds %s for factor %" PRId64
             " (%s)", a->paths[f], g - a->file_first[f], g, what, v, a->factor_names[v]);
}

/* -on_bad_record skip, in memory: every bad sample of this rank's rows, then all ranks' sorted. */
static PetscErrorCode collect_bad(Archive *a, const float *x, int64_t lo, int64_t cnt) {
  PetscFunctionBeginUser;
  int size;
  PetscCallMPI(MPI_Comm_size(a->comm, &size));
  int64_t *mine, nmine = 0;
  PetscCall(PetscMalloc1(cnt + 1, &mine));
  for (int64_t i = 0; i < cnt; i++) {
    int64_t code;
    FIRST_BAD(float, x + i * a->features, lo + i, 1, a->features, code);
    if (code != INT64_MAX) {
      char what[1024];
      describe_bad(a, "/data", code, a->features, what, sizeof what);
      if (nmine < 20) fprintf(stderr, "disentangle: skipped bad record (-on_bad_record skip): %s\n", what);
      mine[nmine++] = lo + i;
    }
  }
  int n = (int)nmine, *counts, *displs;
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, a->comm));
  int total = 0;
  for (int r = 0; r < size; r++) displs[r] = total, total += counts[r];
  PetscCall(PetscMalloc1(total + 1, &a->bad));
  PetscCallMPI(MPI_Allgatherv(mine, n, MPI_INT64_T, a->bad, counts, displs, MPI_INT64_T, a->comm));
  a->nbad = total; /* block ranges are in rank order: sorted already */
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree(mine));
  DT_INPUT_CHECK(a->nbad < a->n, a->comm, "archive '%s'%s: every sample holds NaN or Inf; nothing to train on", a->paths[0],
                 a->nfiles > 1 ? " and the others" : "");
  PetscFunctionReturn(0);
}

/* In memory: each rank reads its block of the rows (serial HDF5, file by file), checks them, and
 * the blocks are shared so that every rank holds them all. */
static PetscErrorCode load_memory(Archive *a) {
  PetscFunctionBeginUser;
  MPI_Comm comm = a->comm;
  int rank, size, ok = 1;
  int64_t lo, cnt, bad[2];
  char why[1024] = "";
  static const hid_t *const memtype[] = {NULL, &H5T_NATIVE_UINT8_g, &H5T_NATIVE_INT16_g, &H5T_NATIVE_UINT16_g};
  static const MPI_Datatype mpitype[] = {MPI_FLOAT, MPI_UINT8_T, MPI_INT16_T, MPI_UINT16_T};
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  block_range(a->n, rank, size, &lo, &cnt);
  Reader *r;
  PetscCall(reader_create(a, 0, &r));
  size_t rb = (size_t)a->features * store_bytes[a->store];
  if (a->raw) PetscCall(read_rows(r, a, "/data", *memtype[a->store], rb, lo, cnt, (char *)a->raw + lo * rb, why, sizeof why, &ok));
  else PetscCall(read_rows(r, a, "/data", H5T_NATIVE_FLOAT, rb, lo, cnt, a->x + lo * a->features, why, sizeof why, &ok));
  if (a->factors && ok)
    PetscCall(read_rows(r, a, "/factors", H5T_NATIVE_DOUBLE, sizeof(double) * a->nfactors, lo, cnt,
                        a->factors + lo * a->nfactors, why, sizeof why, &ok));
  reader_destroy(&r);
  int all = ok;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, comm));
  if (!all) { /* the lowest failing rank says which file */
    int who = ok ? size : rank;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, comm));
    PetscCallMPI(MPI_Bcast(why, sizeof why, MPI_CHAR, who, comm));
    DT_INPUT_ERROR(comm, "%s", why);
  }
  bad[0] = INT64_MAX; /* integers are always finite */
  if (a->x && !a->io.skip_bad) FIRST_BAD(float, a->x + lo * a->features, lo, cnt, a->features, bad[0]);
  bad[1] = INT64_MAX;
  if (a->factors) FIRST_BAD(double, a->factors + lo * a->nfactors, lo, cnt, (int64_t)a->nfactors, bad[1]);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, bad, 2, MPI_INT64_T, MPI_MIN, comm));
  if (bad[0] != INT64_MAX) {
    describe_bad(a, "/data", bad[0], a->features, why, sizeof why);
    DT_INPUT_ERROR(comm, "%s; fix or remove the sample (or give -on_bad_record skip)", why);
  }
  if (bad[1] != INT64_MAX) {
    describe_bad(a, "/factors", bad[1], a->nfactors, why, sizeof why);
    DT_INPUT_ERROR(comm, "%s; fix or remove the sample", why);
  }
  if (a->x && a->io.skip_bad) PetscCall(collect_bad(a, a->x + lo * a->features, lo, cnt));
  if (a->raw) PetscCall(share_rows(comm, a->n, a->features, mpitype[a->store], a->raw));
  else PetscCall(share_rows(comm, a->n, a->features, MPI_FLOAT, a->x));
  if (a->factors) PetscCall(share_rows(comm, a->n, a->nfactors, MPI_DOUBLE, a->factors));
  PetscFunctionReturn(0);
}

/* This rank's block [*lo, *lo + *cnt) of a dataset's rows into buf + *lo * row_bytes (buf holds
 * every row); a failure on any rank is one input error on all, the lowest failing rank's. */
static PetscErrorCode read_block(Archive *a, const char *dset, hid_t memtype, size_t row_bytes, void *buf, int64_t *lo,
                                 int64_t *cnt) {
  PetscFunctionBeginUser;
  int rank, size, ok = 1;
  char why[1024] = "";
  PetscCallMPI(MPI_Comm_rank(a->comm, &rank));
  PetscCallMPI(MPI_Comm_size(a->comm, &size));
  block_range(a->n, rank, size, lo, cnt);
  Reader *r;
  PetscCall(reader_create(a, 0, &r));
  PetscCall(read_rows(r, a, dset, memtype, row_bytes, *lo, *cnt, (char *)buf + *lo * row_bytes, why, sizeof why, &ok));
  reader_destroy(&r);
  int all = ok;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, a->comm));
  if (!all) {
    int who = ok ? size : rank;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, a->comm));
    PetscCallMPI(MPI_Bcast(why, sizeof why, MPI_CHAR, who, a->comm));
    DT_INPUT_ERROR(a->comm, "%s", why);
  }
  PetscFunctionReturn(0);
}

/* Streamed: only /factors is held (small: K doubles a sample), read as in memory. */
static PetscErrorCode load_factors(Archive *a) {
  PetscFunctionBeginUser;
  int64_t lo, cnt, bad = INT64_MAX;
  char why[1024] = "";
  PetscCall(read_block(a, "/factors", H5T_NATIVE_DOUBLE, sizeof(double) * a->nfactors, a->factors, &lo, &cnt));
  FIRST_BAD(double, a->factors + lo * a->nfactors, lo, cnt, (int64_t)a->nfactors, bad);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_MIN, a->comm));
  if (bad != INT64_MAX) {
    describe_bad(a, "/factors", bad, a->nfactors, why, sizeof why);
    DT_INPUT_ERROR(a->comm, "%s; fix or remove the sample", why);
  }
  PetscCall(share_rows(a->comm, a->n, a->nfactors, MPI_DOUBLE, a->factors));
  PetscFunctionReturn(0);
}

typedef struct {
  int64_t id, i;
} IdSample;

static int by_id_then_sample(const void *x, const void *y) {
  const IdSample *p = x, *q = y;
  if (p->id != q->id) return p->id < q->id ? -1 : 1;
  return p->i < q->i ? -1 : p->i > q->i;
}

/* The groups' membership from the ids, the same on every rank (a function of the ids only). */
static PetscErrorCode build_membership(Archive *a) {
  PetscFunctionBeginUser;
  IdSample *p;
  PetscCall(PetscMalloc1(a->n, &p));
  for (int64_t i = 0; i < a->n; i++) p[i] = (IdSample){a->groups[i], i};
  qsort(p, (size_t)a->n, sizeof *p, by_id_then_sample);
  a->ngroups = 0;
  for (int64_t i = 0; i < a->n; i++) a->ngroups += i == 0 || p[i].id != p[i - 1].id;
  PetscCall(PetscMalloc3(a->ngroups, &a->group_ids, a->ngroups + 1, &a->group_start, a->n, &a->group_members));
  for (int64_t i = 0, g = -1; i < a->n; i++) {
    if (i == 0 || p[i].id != p[i - 1].id) g++, a->group_ids[g] = p[i].id, a->group_start[g] = i;
    a->group_members[i] = p[i].i;
  }
  a->group_start[a->ngroups] = a->n;
  PetscCall(PetscFree(p));
  PetscFunctionReturn(0);
}

/* /groups of every file, in memory and streamed alike: each rank reads a block of the rows
 * (converted to int64 by HDF5), then they are shared. */
static PetscErrorCode load_groups(Archive *a) {
  PetscFunctionBeginUser;
  int64_t lo, cnt;
  PetscCall(PetscMalloc1(a->n, &a->groups));
  PetscCall(read_block(a, "/groups", H5T_NATIVE_INT64, sizeof(int64_t), a->groups, &lo, &cnt));
  PetscCall(share_rows(a->comm, a->n, 1, MPI_INT64_T, a->groups));
  PetscCall(build_membership(a));
  PetscFunctionReturn(0);
}

static int is_bad(const Archive *a, int64_t i) {
  int64_t lo = 0, hi = a->nbad;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (a->bad[mid] < i) lo = mid + 1;
    else hi = mid;
  }
  return lo < a->nbad && a->bad[lo] == i;
}

/* A skipped sample's stand-in: the next good one (the same on every rank). */
static int64_t good_sample(const Archive *a, int64_t i) {
  while (a->nbad && is_bad(a, i)) i = (i + 1) % a->n;
  return i;
}

/* Value i of the samples as stored (before normalisation). */
static inline double stored_value(const Archive *a, size_t i) {
  switch (a->store) {
  case STORE_U8: return ((const uint8_t *)a->raw)[i];
  case STORE_I16: return ((const int16_t *)a->raw)[i];
  case STORE_U16: return ((const uint16_t *)a->raw)[i];
  case STORE_FLOAT: break;
  }
  return a->x[i];
}

/* In memory: the data's own statistics, computed by every rank over all rows in one order, so
 * they do not depend on the rank count (skipped samples left out). */
static void memory_stats(const Archive *a, double *mean, double *std) {
  double s = 0, q = 0, count = 0;
  for (int64_t r = 0, b = 0; r < a->n; r++) {
    if (b < a->nbad && a->bad[b] == r) { b++; continue; }
    for (size_t i = (size_t)r * a->features; i < (size_t)(r + 1) * a->features; i++) s += stored_value(a, i);
    count += (double)a->features;
  }
  *mean = s / count;
  for (int64_t r = 0, b = 0; r < a->n; r++) {
    if (b < a->nbad && a->bad[b] == r) { b++; continue; }
    for (size_t i = (size_t)r * a->features; i < (size_t)(r + 1) * a->features; i++)
      q += (stored_value(a, i) - *mean) * (stored_value(a, i) - *mean);
  }
  *std = sqrt(q / count);
}

/* Per field: the option, else attributes every file agrees on, else the data's own statistics
 * (in memory, or one streaming pass). */
static PetscErrorCode choose_norm(MPI_Comm comm, Archive *a, const ArchiveNorm *norm, const char *csv) {
  int attrs = 1;
  const FileMeta *fi = a->meta;

  PetscFunctionBeginUser;
  int overridden = norm && norm->have_mean && norm->have_std;
  for (int f = 0; f < a->nfiles && !overridden; f++) {
    if (!fi[f].has_norm) continue;
    DT_INPUT_CHECK(isfinite(fi[f].mean), comm,
                   "archive '%s': attribute mean on %s is %g; expected a finite number (fix or delete it, or give "
                   "-data_mean and -data_std)", a->paths[f], norm_where_name[fi[f].norm_where], fi[f].mean);
    DT_INPUT_CHECK(isfinite(fi[f].std) && fi[f].std > 0, comm,
                   "archive '%s': attribute std on %s is %g; expected a finite number > 0 (fix or delete it, or give "
                   "-data_mean and -data_std)", a->paths[f], norm_where_name[fi[f].norm_where], fi[f].std);
  }
  for (int f = 0; f < a->nfiles; f++)
    attrs = attrs && fi[f].has_norm && fi[f].mean == fi[0].mean && fi[f].std == fi[0].std;
  if (attrs) {
    a->mean = fi[0].mean, a->std = fi[0].std;
    DT_INPUT_CHECK(isfinite(a->mean) || (norm && norm->have_mean), comm,
                   "archive '%s': attribute mean on %s is %g; expected a finite number", a->paths[0],
                   norm_where_name[fi[0].norm_where], a->mean);
    DT_INPUT_CHECK((isfinite(a->std) && a->std > 0) || (norm && norm->have_std), comm,
                   "archive '%s': attribute std on %s is %g; expected a finite number > 0", a->paths[0],
                   norm_where_name[fi[0].norm_where], a->std);
  } else if (!norm || !norm->have_mean || !norm->have_std) {
    if (a->reader) PetscCall(reader_stats(a, &a->mean, &a->std));
    else memory_stats(a, &a->mean, &a->std);
    DT_INPUT_CHECK(a->std > 0 || (norm && norm->have_std), comm,
                   "archives '%s': every value of /data equals %g (std 0), so they cannot be normalised; set the std "
                   "explicitly (-data_std)",
                   csv, a->mean);
  }
  if (norm && norm->have_mean) a->mean = norm->mean;
  if (norm && norm->have_std) a->std = norm->std;
  DT_INPUT_CHECK(isfinite(a->mean), comm, "normalisation: mean %g given (option -data_mean); expected a finite number",
                 a->mean);
  DT_INPUT_CHECK(isfinite(a->std) && a->std > 0, comm,
                 "normalisation: std %g given (option -data_std); expected a finite number > 0", a->std);
  PetscFunctionReturn(0);
}

/* MemAvailable of /proc/meminfo in bytes, or -1. */
static double memory_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  double kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

PetscErrorCode node_memory(MPI_Comm comm, double *available, int *ranks_on_node) {
  PetscFunctionBeginUser;
  MPI_Comm node;
  int rank;
  PetscCallMPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_size(node, ranks_on_node));
  PetscCallMPI(MPI_Comm_free(&node));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  *available = rank == 0 ? memory_available() : -1;
  PetscCallMPI(MPI_Bcast(available, 1, MPI_DOUBLE, 0, comm));
  PetscFunctionReturn(0);
}

/* Every rank holds the whole archive (until the streaming reader lands): refuse what cannot fit
 * on this node, with the estimate, before allocating anything. */
static PetscErrorCode check_memory(MPI_Comm comm, const Archive *a) {
  PetscFunctionBeginUser;
  int on_node;
  double need = (double)a->n * (double)a->features * (double)store_bytes[a->store] + 8.0 * a->n * a->nfactors +
                (a->meta[0].has_groups ? 16.0 * a->n : 0);
  double have;
  PetscCall(node_memory(comm, &have, &on_node));
  DT_INPUT_CHECK(have < 0 || need * on_node <= 0.9 * have, comm,
                 "archive '%s'%s: holding %" PRId64 " samples of %" PRId64 " values needs %.3g GB per rank, %.3g GB for the "
                 "%d rank(s) on this node, and %.3g GB are available; use fewer ranks per node or fewer archives",
                 a->paths[0], a->nfiles > 1 ? " and the others" : "", a->n, a->features, need / 1e9, need * on_node / 1e9,
                 on_node, have / 1e9);
  PetscFunctionReturn(0);
}

/* Rank 0 inspects every file (serial HDF5), checks they are alike; every rank gets the result. */
typedef struct {
  Archive *a;
  FileInfo *fi0; /* the first file's, names included */
} Inspect;

static PetscErrorCode inspect_all(void *ctx) {
  PetscFunctionBeginUser;
  Inspect *in = ctx;
  Archive *a = in->a;
  FileInfo *fi;
  PetscCall(PetscMalloc1(1, &fi));
  for (int f = 0; f < a->nfiles; f++) {
    FileInfo *into = f == 0 ? in->fi0 : fi;
    PetscErrorCode err = inspect_file(PETSC_COMM_SELF, a->paths[f], into);
    if (!err && f > 0) {
      FileInfo pair[2] = {*in->fi0, *fi};
      char *two[2] = {a->paths[0], a->paths[f]};
      err = check_alike(PETSC_COMM_SELF, two, pair, 1);
    }
    if (err) PetscCall(PetscFree(fi));
    PetscCall(err);
    a->meta[f] = into->m;
  }
  PetscCall(PetscFree(fi));
  PetscFunctionReturn(0);
}

/* Every file parsed by disentangle-h5check before anything here parses it (h5guard.h): rank r
 * checks files r, r + P, ... (under ASan a file costs a few ms: ten thousand files are spread
 * over the ranks that would otherwise wait for rank 0's inspection); the lowest failing file is
 * reported on every rank. */
static PetscErrorCode check_parse(MPI_Comm comm, const Archive *a) {
  PetscFunctionBeginUser;
  int rank, size, mine = 0, bad, first;
  char why[512];
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  char **paths;
  PetscCall(PetscMalloc1(a->nfiles / size + 1, &paths));
  for (int f = rank; f < a->nfiles; f += size) paths[mine++] = a->paths[f];
  bad = h5guard_check(mine, paths, why, sizeof why);
  PetscCall(PetscFree(paths));
  bad = bad < 0 ? INT_MAX : rank + bad * size;
  PetscCallMPI(MPI_Allreduce(&bad, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == INT_MAX) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Bcast(why, sizeof why, MPI_CHAR, first % size, comm));
  DT_INPUT_ERROR(comm, "archive '%s': %s: the file is damaged; look at it with h5dump, then regenerate it or leave it out "
                 "of -data", a->paths[first], why);
}

static PetscErrorCode archive_alloc(MPI_Comm comm, Archive *a) {
  PetscFunctionBeginUser;
  FileInfo *fi0;
  PetscCall(check_parse(comm, a));
  PetscCall(PetscCalloc1(1, &fi0));
  PetscCall(PetscCalloc1(a->nfiles, &a->meta));
  Inspect in = {a, fi0};
  PetscErrorCode err = archive_rank0(comm, inspect_all, &in);
  if (!err) err = MPI_Bcast(a->meta, (int)(sizeof *a->meta * a->nfiles), MPI_BYTE, 0, comm);
  if (!err) err = MPI_Bcast(fi0, (int)sizeof *fi0, MPI_BYTE, 0, comm);
  if (err) PetscCall(PetscFree(fi0));
  PetscCall(err);
  PetscCall(PetscMalloc1(a->nfiles + 1, &a->file_first));
  for (int f = 0; f < a->nfiles; f++) a->file_first[f] = a->n, a->n += a->meta[f].n;
  a->file_first[a->nfiles] = a->n;
  a->ndims = fi0->m.ndims;
  a->features = 1;
  for (int i = 0; i < a->ndims; i++) a->dims[i] = fi0->m.dims[i], a->features *= fi0->m.dims[i];
  a->nfactors = (int)fi0->m.k;
  err = 0;
  if (a->nfactors) err = set_factor_names(comm, a->paths[0], fi0->names, a);
  if (a->nfactors && !err) err = set_factor_kinds(comm, a->paths[0], fi0->kinds, a);
  PetscCall(PetscFree(fi0));
  PetscCall(err);
  DT_INPUT_CHECK(a->features <= INT32_MAX, comm, "archive '%s': one sample holds %" PRId64 " values; at most %d",
                 a->paths[0], a->features, INT32_MAX);
  a->store = (Store)a->meta[0].store; /* integers stay as stored when every file has the same integer type */
  for (int f = 1; f < a->nfiles; f++)
    if (a->meta[f].store != (int)a->store) a->store = STORE_FLOAT;
  if (a->io.buffer_mb > 0) {
    if (a->nfactors) PetscCall(PetscMalloc1((size_t)a->n * a->nfactors, &a->factors));
    PetscFunctionReturn(0);
  }
  PetscCall(check_memory(comm, a));
  if (a->nfactors) PetscCall(PetscMalloc1((size_t)a->n * a->nfactors, &a->factors));
  /* 64-byte rows start for the BLAS kernels, as tensor.h's buffers do */
  size_t bytes = ((size_t)a->n * (size_t)a->features * store_bytes[a->store] + 63) / 64 * 64;
  void **where = a->store != STORE_FLOAT ? &a->raw : (void **)&a->x;
  PetscCheck(posix_memalign(where, 64, bytes) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "cannot allocate %zu bytes for the archive samples", bytes);
  PetscFunctionReturn(0);
}

PetscErrorCode archive_open(MPI_Comm comm, const char *paths_csv, const ArchiveNorm *norm, Archive **out) {
  return archive_open_io(comm, paths_csv, norm, NULL, out);
}

PetscErrorCode archive_open_io(MPI_Comm comm, const char *paths_csv, const ArchiveNorm *norm, const ArchiveIO *io,
                               Archive **out) {
  Archive *a;
  PetscErrorCode err;

  PetscFunctionBeginUser;
  *out = NULL;
  PetscCall(PetscCalloc1(1, &a));
  a->comm = comm;
  if (io) a->io = *io;
  err = archive_expand_paths(comm, paths_csv, &a->nfiles, &a->paths);
  if (!err) err = archive_alloc(comm, a);
  if (!err && a->io.buffer_mb > 0) {
    if (a->factors) err = load_factors(a);
    if (!err && a->meta[0].has_groups) err = load_groups(a);
    if (!err) err = reader_create(a, 1, &a->reader);
  } else if (!err) {
    err = load_memory(a);
    if (!err && a->meta[0].has_groups) err = load_groups(a);
  }
  if (!err) err = choose_norm(comm, a, norm, paths_csv);
  if (!err && a->x) {
    size_t total = (size_t)a->n * (size_t)a->features;
    for (size_t i = 0; i < total; i++) a->x[i] = (float)(((double)a->x[i] - a->mean) / a->std);
  }
  if (err) archive_close(&a); /* nothing half-built survives an input error */
  PetscCall(err);
  *out = a;
  PetscFunctionReturn(0);
}

void archive_close(Archive **ap) {
  Archive *a = ap ? *ap : NULL;
  if (!a) return;
  reader_destroy(&a->reader);
  for (int f = 0; a->paths && f < a->nfiles; f++) (void)PetscFree(a->paths[f]);
  for (int k = 0; k < ARCHIVE_MAX_FACTORS; k++) (void)PetscFree(a->factor_names[k]);
  (void)PetscFree(a->paths);
  (void)PetscFree(a->meta);
  (void)PetscFree(a->file_first);
  (void)PetscFree(a->factors);
  (void)PetscFree(a->bad);
  (void)PetscFree(a->groups);
  (void)PetscFree3(a->group_ids, a->group_start, a->group_members);
  free(a->x);
  free(a->raw);
  (void)PetscFree(a);
  *ap = NULL;
}

int archive_streamed(const Archive *a) { return a->reader != NULL; }
void archive_quiesce(const Archive *a) {
  if (a->reader) reader_quiesce(a->reader);
}

PetscErrorCode archive_check_buffer(const Archive *a, int rows) {
  PetscFunctionBeginUser;
  if (a->reader) PetscCall(reader_check_buffer(a, rows));
  PetscFunctionReturn(0);
}

PetscErrorCode archive_skipped(const Archive *a, long *records, long *files) {
  PetscFunctionBeginUser;
  *records = (long)a->nbad, *files = 0;
  if (a->reader) PetscCall(reader_skipped(a, records, files));
  PetscFunctionReturn(0);
}

int64_t archive_samples(const Archive *a) { return a->n; }
int64_t archive_features(const Archive *a) { return a->features; }

int archive_sample_dims(const Archive *a, int64_t *dims) {
  for (int d = 0; d < 3; d++) dims[d] = d < a->ndims ? a->dims[d] : 1;
  return a->ndims;
}

void archive_normalisation(const Archive *a, double *mean, double *std) {
  if (mean) *mean = a->mean;
  if (std) *std = a->std;
}

int archive_nfactors(const Archive *a) { return a->nfactors; }
const double *archive_factors(const Archive *a) { return a->factors; }
const char *const *archive_factor_names(const Archive *a) { return (const char *const *)a->factor_names; }
const int *archive_factor_kinds(const Archive *a) { return a->factor_kinds; }
int archive_kind_of(const char *word) {
  return !strcmp(word, "auto")         ? ARCHIVE_KIND_AUTO
         : !strcmp(word, "discrete")   ? ARCHIVE_KIND_DISCRETE
         : !strcmp(word, "continuous") ? ARCHIVE_KIND_CONTINUOUS
                                       : -1;
}
const int64_t *archive_groups(const Archive *a) { return a->groups; }
int64_t archive_ngroups(const Archive *a) { return a->ngroups; }
const int64_t *archive_group_ids(const Archive *a) { return a->group_ids; }
const int64_t *archive_group_start(const Archive *a) { return a->group_start; }
const int64_t *archive_group_members(const Archive *a) { return a->group_members; }

int64_t archive_group_index(const Archive *a, int64_t id) {
  int64_t lo = 0, hi = a->ngroups;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (a->group_ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < a->ngroups && a->group_ids[lo] == id ? lo : -1;
}

/* One sample i of the in-memory data, normalised. */
static void memory_row(const Archive *a, int64_t i, float *x) {
  const size_t at = (size_t)i * a->features;
  if (a->x) memcpy(x, a->x + at, sizeof *x * (size_t)a->features);
  else /* as the float path computes it: the stored value exactly, normalised in double */
    for (size_t k = 0; k < (size_t)a->features; k++) x[k] = (float)((stored_value(a, at + k) - a->mean) / a->std);
}

PetscErrorCode archive_read(const Archive *a, int64_t first, int count, float *x) {
  PetscFunctionBeginUser;
  PetscCheck(first >= 0 && count >= 0 && first + count <= a->n, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "samples [%lld, %lld) outside the archive's %lld", (long long)first, (long long)(first + count),
             (long long)a->n);
  if (a->reader) PetscCall(reader_range(a, first, count, x));
  else if (a->nbad)
    for (int j = 0; j < count; j++) memory_row(a, good_sample(a, first + j), x + (size_t)j * a->features);
  else if (a->x) PetscCall(PetscArraycpy(x, a->x + (size_t)first * a->features, (size_t)count * a->features));
  else { /* as the float path computes it: the stored value exactly, normalised in double */
    const size_t at = (size_t)first * a->features, n = (size_t)count * a->features;
    for (size_t i = 0; i < n; i++) x[i] = (float)((stored_value(a, at + i) - a->mean) / a->std);
  }
  PetscFunctionReturn(0);
}

int archive_nfiles(const Archive *a) { return a->nfiles; }
const char *archive_path(const Archive *a, int f) { return a->paths[f]; }
int64_t archive_file_first(const Archive *a, int f) { return a->file_first[f]; }

PetscErrorCode batch_create(const Archive *a, int offset, int count, Batch *b) {
  PetscFunctionBeginUser;
  *b = (Batch){.offset = offset, .count = count};
  PetscCall(tensor_alloc((size_t)PetscMax(count, 1) * a->features, &b->x));
  PetscCall(PetscMalloc1(PetscMax(count, 1), &b->index));
  PetscFunctionReturn(0);
}

void batch_free(Batch *b) {
  tensor_free(&b->x);
  (void)PetscFree(b->index);
}

PetscErrorCode archive_next_batch(const Archive *a, Sampler *s, Batch *b) {
  PetscFunctionBeginUser;
  PetscCheck(b->offset >= 0 && b->count >= 0 && b->offset + b->count <= s->global_batch, PETSC_COMM_SELF,
             PETSC_ERR_ARG_OUTOFRANGE, "batch rows [%d, %d) outside the global batch of %d", b->offset,
             b->offset + b->count, s->global_batch);
  if (a->reader) {
    PetscCall(reader_next_batch(a, s, b));
    PetscFunctionReturn(0);
  }
  for (int j = 0; j < b->count; j++) {
    b->index[j] = good_sample(a, sampler_index(s, b->offset + j));
    memory_row(a, b->index[j], b->x + (size_t)j * a->features);
  }
  b->step = s->step++;
  PetscFunctionReturn(0);
}
