/* Input archives: inspect every file first (so a bad archive is reported before any large
 * read), then read /data and /factors with parallel HDF5 (each rank one block of rows,
 * collectively) and share the rows so every rank holds the whole data set.
 *
 * Every input check is made on values that all ranks hold identically (file metadata, or
 * agreed through an MPI_Allreduce), so every rank raises the same error and none deadlocks. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* strsep, posix_memalign under -std=c11 */
#endif
#include "disentangle/archive.h"
#include "disentangle/error.h"
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

#define NAMES_LEN 2048

/* How the samples are held in memory: integer data as stored (converted to normalised float32
 * per batch, so uint8 images take a quarter of the memory), anything else as float32. */
typedef enum { STORE_FLOAT, STORE_U8, STORE_I16, STORE_U16 } Store;
static const size_t store_bytes[] = {4, 1, 2, 2};

struct Archive {
  int nfiles;
  char **paths;
  int64_t *file_first;   /* global index of each file's first sample */
  int64_t n;             /* samples in all files */
  int ndims;             /* of one sample: 1 ([L]) or 3 ([C, H, W]) */
  int64_t dims[3];
  int64_t features;      /* values per sample: product of dims */
  double mean, std;      /* normalisation applied to every value: (x - mean) / std */
  Store store;
  float *x;              /* [n][features], normalised (STORE_FLOAT) */
  void *raw;             /* [n][features] as stored (the integer stores) */
  int nfactors;          /* 0 when the archive has no /factors */
  char *factor_names[ARCHIVE_MAX_FACTORS];
  double *factors;       /* [n][nfactors] or NULL */
};

/* What inspection learnt about one file. */
typedef struct {
  int64_t n;
  int ndims; /* of one sample */
  int64_t dims[3];
  int is_f64;            /* /data stored as float64: an Inf may be an out-of-range finite value */
  Store store;            /* how its /data would be held */
  int64_t k;             /* factors; 0 when /factors is absent */
  char names[NAMES_LEN]; /* factor names, comma-separated */
  int has_norm;          /* both `mean` and `std` attributes found */
  double mean, std;
  const char *norm_where; /* "/data" or "/" */
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

/* Split "a.h5,b.h5" into trimmed paths; -data is where the list comes from. */
static PetscErrorCode split_paths(MPI_Comm comm, const char *csv, int *nfiles, char ***paths) {
  char *copy, *save = NULL;
  int n = 1;

  PetscFunctionBeginUser;
  DT_INPUT_CHECK(csv && csv[0], comm, "option -data: no archive given; expected comma-separated HDF5 files");
  for (const char *c = csv; *c; c++) n += (*c == ',');
  DT_INPUT_CHECK(n <= ARCHIVE_MAX_FILES, comm, "option -data: %d archives given; at most %d", n, ARCHIVE_MAX_FILES);
  PetscCall(PetscCalloc1(n, paths));
  *nfiles = n; /* so archive_close frees what is filled in before an error */
  PetscCall(PetscStrallocpy(csv, &copy));
  save = copy;
  for (int i = 0; i < n; i++) {
    /* strsep, not strtok: an empty entry must be seen, not skipped */
    char *tok = trim(strsep(&save, ","));
    int empty = !tok[0]; /* tok points into copy: read before copy is freed */
    if (empty) PetscCall(PetscFree(copy));
    DT_INPUT_CHECK(!empty, comm, "option -data: entry %d of '%s' is empty; expected comma-separated file names", i + 1,
                   csv);
    PetscCall(PetscStrallocpy(tok, &(*paths)[i]));
  }
  PetscCall(PetscFree(copy));
  PetscFunctionReturn(0);
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
  DT_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  /* STRONG: closing the file also closes whatever an input error left open */
  DT_H5(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  DT_H5(H5Pclose(fapl));
  ok = *file >= 0;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm));
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
static PetscErrorCode check_storage(MPI_Comm comm, const char *path, hid_t file, const char *name) {
  PetscFunctionBeginUser;
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT), dcpl = d >= 0 ? H5Dget_create_plist(d) : -1;
  int virtual = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_VIRTUAL, nf = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
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
  DT_INPUT_CHECK(!virtual, comm,
                 "archive '%s': %s is a virtual dataset (its values are in other files), which is not supported; write a "
                 "plain copy, e.g. h5repack -l %s:CONTI '%s' copy.h5", path, name, name, path);
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
  PetscCall(check_storage(comm, path, file, "/data"));
  DT_INPUT_CHECK(m.nd == 2 || m.nd == 4, comm,
                 "archive '%s': dataset /data has %d dimensions %s; expected [N, L] or [N, C, H, W]", path, m.nd,
                 m.shape);
  int u8 = m.cls == H5T_INTEGER && m.size == 1 && m.is_unsigned, i16 = m.cls == H5T_INTEGER && m.size == 2;
  DT_INPUT_CHECK(u8 || i16 || (m.cls == H5T_FLOAT && (m.size == 2 || m.size == 4 || m.size == 8)), comm,
                 "archive '%s': dataset /data has type %s; expected uint8, int16, uint16, float16, float32 or float64",
                 path, m.type);
  fi->store = u8 ? STORE_U8 : i16 ? (m.is_unsigned ? STORE_U16 : STORE_I16) : STORE_FLOAT;
  DT_INPUT_CHECK(m.dims[0] > 0, comm, "archive '%s': dataset /data %s holds no samples", path, m.shape);
  DT_INPUT_CHECK(m.dims[0] <= INT32_MAX, comm,
                 "archive '%s': dataset /data has %" PRId64 " samples; at most %d per file", path, m.dims[0],
                 INT32_MAX);
  fi->n = m.dims[0], fi->ndims = m.nd - 1, fi->is_f64 = m.cls == H5T_FLOAT && m.size == 8;
  int64_t values = 1;
  for (int i = 1; i < m.nd; i++) {
    DT_INPUT_CHECK(m.dims[i] > 0, comm, "archive '%s': dataset /data has shape %s; every sample dimension must be > 0",
                   path, m.shape);
    fi->dims[i - 1] = m.dims[i];
    /* a declared size may be anything: multiply without overflowing */
    DT_INPUT_CHECK(!__builtin_mul_overflow(values, m.dims[i], &values) && values <= INT32_MAX, comm,
                   "archive '%s': dataset /data has shape %s: one sample would hold more than %d values", path, m.shape,
                   INT32_MAX);
  }
  PetscFunctionReturn(0);
}

/* Append one string of the `names` attribute (len bytes, not NUL-terminated) to the list in out:
 * each comma-separated name trimmed of blanks (also the padding of blank-padded strings).
 * *count counts the names so far; returns -1 when the list outgrows NAMES_LEN. */
static int append_names(char *out, int *count, const char *s, size_t len) {
  size_t used = strlen(out);
  for (size_t at = 0;;) {
    size_t end = at;
    while (end < len && s[end] != ',') end++;
    size_t a = at, b = end;
    while (a < b && isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    if (used + (*count ? 1 : 0) + (b - a) + 1 > NAMES_LEN) return -1;
    if ((*count)++) out[used++] = ',';
    memcpy(out + used, s + a, b - a);
    used += b - a;
    out[used] = 0;
    if (end == len) return 0;
    at = end + 1;
  }
}

/* The `names` attribute, in every form h5py, PyTables, MATLAB and the C API write: ASCII or UTF-8
 * (read in the file's own character set: HDF5 converts neither way), variable or fixed length
 * (NUL- or blank-padded), a scalar or an array of any rank, one comma-separated string or one
 * name per element; joined into one comma-separated list of trimmed names. No value (h5py.Empty,
 * a null dataspace) or one empty string leaves out empty: the default names are used. */
static PetscErrorCode read_names(MPI_Comm comm, const char *path, hid_t file, char *out) {
  hid_t at, t, s, mt = -1;
  hssize_t cnt;
  H5T_class_t cls;
  size_t size;
  int var, count = 0, ok = 1, fits = 1;
  void *buf = NULL;

  PetscFunctionBeginUser;
  out[0] = 0;
  DT_H5(at = H5Aopen_by_name(file, "/factors", "names", H5P_DEFAULT, H5P_DEFAULT));
  DT_H5(t = H5Aget_type(at));
  DT_H5(s = H5Aget_space(at));
  cls = H5Tget_class(t);
  var = cls == H5T_STRING && H5Tis_variable_str(t) > 0;
  size = H5Tget_size(t);
  cnt = H5Sget_simple_extent_type(s) == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(s);
  if (cls == H5T_STRING && cnt > 0 && cnt <= ARCHIVE_MAX_FACTORS && (var || size <= NAMES_LEN)) {
    if (var) {
      DT_H5(mt = H5Tcopy(H5T_C_S1));
      DT_H5(H5Tset_size(mt, H5T_VARIABLE));
      DT_H5(H5Tset_cset(mt, H5Tget_cset(t)));
    } else DT_H5(mt = H5Tcopy(t)); /* as stored: no conversion, the padding is trimmed below */
    PetscCall(PetscCalloc1((size_t)cnt * (var ? sizeof(char *) : size), (char **)&buf));
    ok = H5Aread(at, mt, buf) >= 0;
    for (hssize_t i = 0; ok && fits && i < cnt; i++) {
      const char *e = var ? ((char **)buf)[i] : (const char *)buf + (size_t)i * size;
      size_t len = 0, max = var ? (e ? strlen(e) : 0) : size;
      while (len < max && e[len]) len++;
      fits = append_names(out, &count, e ? e : "", len) == 0;
    }
    if (var && ok) DT_H5(H5Dvlen_reclaim(mt, s, H5P_DEFAULT, buf));
    PetscCall(PetscFree(buf));
    DT_H5(H5Tclose(mt));
  }
  DT_H5(H5Sclose(s));
  DT_H5(H5Tclose(t));
  DT_H5(H5Aclose(at));
  DT_INPUT_CHECK(cls == H5T_STRING, comm,
                 "archive '%s': attribute names on /factors is not a string; expected comma-separated factor names", path);
  DT_INPUT_CHECK(cnt <= ARCHIVE_MAX_FACTORS, comm,
                 "archive '%s': attribute names on /factors holds %lld strings; expected one per factor (at most %d)", path,
                 (long long)cnt, ARCHIVE_MAX_FACTORS);
  DT_INPUT_CHECK(ok, comm, "archive '%s': attribute names on /factors cannot be read (damaged file?)", path);
  DT_INPUT_CHECK(fits && (var || size <= NAMES_LEN), comm,
                 "archive '%s': attribute names on /factors is longer than %d bytes; expected short factor names", path,
                 NAMES_LEN - 1);
  PetscFunctionReturn(0);
}

static PetscErrorCode inspect_factors(MPI_Comm comm, const char *path, hid_t file, FileInfo *fi) {
  DsetMeta m;

  PetscFunctionBeginUser;
  fi->k = 0;
  if (H5Lexists(file, "/factors", H5P_DEFAULT) <= 0) PetscFunctionReturn(0);
  PetscCall(dataset_meta(file, "/factors", &m));
  DT_INPUT_CHECK(m.is_dataset, comm, "archive '%s': /factors is not a dataset; expected float64 [N, K]", path);
  PetscCall(check_storage(comm, path, file, "/factors"));
  DT_INPUT_CHECK(m.cls == H5T_INTEGER || m.cls == H5T_FLOAT, comm,
                 "archive '%s': dataset /factors has type %s; expected float64", path, m.type);
  DT_INPUT_CHECK(m.nd == 2, comm, "archive '%s': dataset /factors has shape %s; expected [N, K] with N = %" PRId64,
                 path, m.shape, fi->n);
  DT_INPUT_CHECK(m.dims[0] == fi->n, comm,
                 "archive '%s': dataset /factors has shape %s but /data has %" PRId64 " samples; expected [%" PRId64
                 ", K]",
                 path, m.shape, fi->n, fi->n);
  DT_INPUT_CHECK(m.dims[1] >= 1 && m.dims[1] <= ARCHIVE_MAX_FACTORS, comm,
                 "archive '%s': dataset /factors has %" PRId64 " factors; expected 1 to %d", path, m.dims[1],
                 ARCHIVE_MAX_FACTORS);
  fi->k = m.dims[1];
  fi->names[0] = 0;
  if (H5Aexists_by_name(file, "/factors", "names", H5P_DEFAULT) > 0) PetscCall(read_names(comm, path, file, fi->names));
  if (!fi->names[0]) /* no names, or none given: factor0, factor1, ... */
    for (int64_t j = 0, used = 0; j < fi->k; j++)
      used += snprintf(fi->names + used, NAMES_LEN - (size_t)used, "%sfactor%" PRId64, j ? "," : "", j);
  PetscFunctionReturn(0);
}

/* `mean` and `std` on /data, else on the root group; both or neither. */
static PetscErrorCode inspect_norm(MPI_Comm comm, const char *path, hid_t file, FileInfo *fi) {
  static const char *where[2] = {"/data", "/"}, *attr[2] = {"mean", "std"};

  PetscFunctionBeginUser;
  fi->has_norm = 0;
  for (int w = 0; w < 2 && !fi->has_norm; w++) {
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
    fi->has_norm = 1, fi->mean = v[0], fi->std = v[1], fi->norm_where = where[w];
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode inspect_file(MPI_Comm comm, const char *path, FileInfo *fi) {
  hid_t file;
  PetscErrorCode err;

  PetscFunctionBeginUser;
  PetscCall(open_file(comm, path, &file));
  err = inspect_data(comm, path, file, fi);
  if (!err) err = inspect_factors(comm, path, file, fi);
  if (!err) err = inspect_norm(comm, path, file, fi);
  DT_H5(H5Fclose(file));
  PetscCall(err);
  PetscFunctionReturn(0);
}

/* Every file must look like the first: sample shape, factors present or not, K and names. */
static PetscErrorCode check_alike(MPI_Comm comm, char **paths, const FileInfo *fi, int i) {
  char s0[256], si[256];

  PetscFunctionBeginUser;
  shape_str(fi[0].ndims, fi[0].dims, s0, sizeof s0);
  shape_str(fi[i].ndims, fi[i].dims, si, sizeof si);
  DT_INPUT_CHECK(!strcmp(s0, si), comm,
                 "archive '%s': /data samples have shape %s but '%s' has %s; all archives must share one sample shape",
                 paths[i], si, paths[0], s0);
  DT_INPUT_CHECK((fi[i].k > 0) == (fi[0].k > 0), comm,
                 "archive '%s' %s /factors but '%s' %s; either every archive has /factors or none", paths[i],
                 fi[i].k ? "has" : "has no", paths[0], fi[0].k ? "has" : "has none");
  DT_INPUT_CHECK(fi[i].k == fi[0].k, comm,
                 "archive '%s': /factors has %" PRId64 " factors but '%s' has %" PRId64 "; all archives must agree",
                 paths[i], fi[i].k, paths[0], fi[0].k);
  DT_INPUT_CHECK(!strcmp(fi[i].names, fi[0].names), comm,
                 "archive '%s': /factors names '%s' differ from '%s' in '%s'; all archives must agree", paths[i],
                 fi[i].names, fi[0].names, paths[0]);
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

/* Collective read of this rank's rows [lo, lo + cnt) of dataset `name`, converted to memtype. */
static PetscErrorCode read_block(MPI_Comm comm, const char *path, hid_t file, const char *name, hid_t memtype,
                                 int64_t lo, int64_t cnt, int64_t width, void *buf) {
  hid_t d, fs, ms, dx;
  hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK], mlen = (hsize_t)(cnt * width > 0 ? cnt * width : 1);
  int ok;

  PetscFunctionBeginUser;
  DT_H5(d = H5Dopen2(file, name, H5P_DEFAULT));
  DT_H5(fs = H5Dget_space(d));
  DT_H5(H5Sget_simple_extent_dims(fs, count, NULL)); /* whole samples: every extent but the first */
  DT_H5(ms = H5Screate_simple(1, &mlen, NULL));
  start[0] = (hsize_t)lo, count[0] = (hsize_t)cnt;
  if (cnt > 0) DT_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL));
  else { /* a rank without rows still joins the collective read */ DT_H5(H5Sselect_none(fs));
    DT_H5(H5Sselect_none(ms));
  }
  DT_H5(dx = H5Pcreate(H5P_DATASET_XFER));
  DT_H5(H5Pset_dxpl_mpio(dx, H5FD_MPIO_COLLECTIVE));
  ok = H5Dread(d, memtype, ms, fs, dx, buf) >= 0;
  DT_H5(H5Pclose(dx));
  DT_H5(H5Sclose(ms));
  DT_H5(H5Sclose(fs));
  DT_H5(H5Dclose(d));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm));
  DT_INPUT_CHECK(ok, comm, "archive '%s': cannot read %s (unreadable chunk or truncated file)", path, name);
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

/* First non-finite value of this rank's rows [lo, lo + cnt), coded as (row * width + value) * 2 + is_inf
 * so that an MPI_MIN over the ranks picks the first in the file; INT64_MAX when all are finite. */
#define FIRST_BAD(T, x, lo, cnt, width, code)                                                                          \
  do {                                                                                                                 \
    code = INT64_MAX;                                                                                                  \
    for (int64_t i_ = 0; i_ < (cnt) * (width) && code == INT64_MAX; i_++) {                                            \
      T v_ = (x)[i_];                                                                                                  \
      if (!isfinite(v_)) code = (((lo) * (width) + i_) * 2 + (isinf(v_) ? 1 : 0));                                     \
    }                                                                                                                  \
  } while (0)

static PetscErrorCode load_file(MPI_Comm comm, Archive *a, int f, const FileInfo *fi) {
  const char *path = a->paths[f];
  int rank, size;
  int64_t lo, cnt, bad[2];
  hid_t file;
  PetscErrorCode err;
  float *x = a->x ? a->x + a->file_first[f] * a->features : NULL;
  char *raw = a->raw ? (char *)a->raw + (size_t)a->file_first[f] * a->features * store_bytes[a->store] : NULL;
  static const hid_t *const memtype[] = {NULL, &H5T_NATIVE_UINT8_g, &H5T_NATIVE_INT16_g, &H5T_NATIVE_UINT16_g};
  static const MPI_Datatype mpitype[] = {MPI_FLOAT, MPI_UINT8_T, MPI_INT16_T, MPI_UINT16_T};
  double *fac = a->nfactors ? a->factors + a->file_first[f] * a->nfactors : NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  block_range(fi->n, rank, size, &lo, &cnt);
  PetscCall(open_file(comm, path, &file));
  if (raw)
    err = read_block(comm, path, file, "/data", *memtype[a->store], lo, cnt, a->features,
                     raw + (size_t)lo * a->features * store_bytes[a->store]);
  else err = read_block(comm, path, file, "/data", H5T_NATIVE_FLOAT, lo, cnt, a->features, x + lo * a->features);
  if (!err && fac)
    err = read_block(comm, path, file, "/factors", H5T_NATIVE_DOUBLE, lo, cnt, a->nfactors, fac + lo * a->nfactors);
  DT_H5(H5Fclose(file));
  PetscCall(err);
  bad[0] = INT64_MAX; /* integers are always finite */
  if (x) FIRST_BAD(float, x + lo * a->features, lo, cnt, a->features, bad[0]);
  bad[1] = INT64_MAX;
  if (fac) FIRST_BAD(double, fac + lo * a->nfactors, lo, cnt, (int64_t)a->nfactors, bad[1]);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, bad, 2, MPI_INT64_T, MPI_MIN, comm));
  if (bad[0] != INT64_MAX) {
    int64_t s = bad[0] / 2 / a->features, v = bad[0] / 2 % a->features;
    DT_INPUT_ERROR(comm,
                   "archive '%s': /data sample %" PRId64 " (global sample %" PRId64 ") holds %s at value %" PRId64
                   "; fix or remove the sample",
                   path, s, a->file_first[f] + s,
                   bad[0] % 2 ? (fi->is_f64 ? "Inf (or a value beyond the float32 range)" : "Inf") : "NaN", v);
  }
  if (bad[1] != INT64_MAX) {
    int64_t s = bad[1] / 2 / a->nfactors, v = bad[1] / 2 % a->nfactors;
    DT_INPUT_ERROR(comm,
                   "archive '%s': /factors sample %" PRId64 " (global sample %" PRId64 ") holds %s for factor %" PRId64
                   " (%s); fix or remove the sample",
                   path, s, a->file_first[f] + s, bad[1] % 2 ? "Inf" : "NaN", v, a->factor_names[v]);
  }
  if (raw) PetscCall(share_rows(comm, fi->n, a->features, mpitype[a->store], raw));
  else PetscCall(share_rows(comm, fi->n, a->features, MPI_FLOAT, x));
  if (fac) PetscCall(share_rows(comm, fi->n, a->nfactors, MPI_DOUBLE, fac));
  PetscFunctionReturn(0);
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

/* Per field: the option, else attributes every file agrees on, else the data's own statistics.
 * The statistics are computed by every rank over all rows in one order, so they do not depend
 * on the rank count. */
static PetscErrorCode choose_norm(MPI_Comm comm, Archive *a, const FileInfo *fi, const ArchiveNorm *norm,
                                  const char *csv) {
  int attrs = 1;
  size_t total = (size_t)a->n * (size_t)a->features;

  PetscFunctionBeginUser;
  int overridden = norm && norm->have_mean && norm->have_std;
  for (int f = 0; f < a->nfiles && !overridden; f++) {
    if (!fi[f].has_norm) continue;
    DT_INPUT_CHECK(isfinite(fi[f].mean), comm,
                   "archive '%s': attribute mean on %s is %g; expected a finite number (fix or delete it, or give "
                   "-data_mean and -data_std)", a->paths[f], fi[f].norm_where, fi[f].mean);
    DT_INPUT_CHECK(isfinite(fi[f].std) && fi[f].std > 0, comm,
                   "archive '%s': attribute std on %s is %g; expected a finite number > 0 (fix or delete it, or give "
                   "-data_mean and -data_std)", a->paths[f], fi[f].norm_where, fi[f].std);
  }
  for (int f = 0; f < a->nfiles; f++)
    attrs = attrs && fi[f].has_norm && fi[f].mean == fi[0].mean && fi[f].std == fi[0].std;
  if (attrs) {
    a->mean = fi[0].mean, a->std = fi[0].std;
    DT_INPUT_CHECK(isfinite(a->mean) || (norm && norm->have_mean), comm,
                   "archive '%s': attribute mean on %s is %g; expected a finite number", a->paths[0], fi[0].norm_where,
                   a->mean);
    DT_INPUT_CHECK((isfinite(a->std) && a->std > 0) || (norm && norm->have_std), comm,
                   "archive '%s': attribute std on %s is %g; expected a finite number > 0", a->paths[0],
                   fi[0].norm_where, a->std);
  } else if (!norm || !norm->have_mean || !norm->have_std) {
    double s = 0, q = 0;
#define VALUE(i) stored_value(a, i)
    for (size_t i = 0; i < total; i++) s += VALUE(i);
    a->mean = s / (double)total;
    for (size_t i = 0; i < total; i++) q += (VALUE(i) - a->mean) * (VALUE(i) - a->mean);
#undef VALUE
    a->std = sqrt(q / (double)total);
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
  double need = (double)a->n * (double)a->features * (double)store_bytes[a->store] + 8.0 * a->n * a->nfactors;
  double have;
  PetscCall(node_memory(comm, &have, &on_node));
  DT_INPUT_CHECK(have < 0 || need * on_node <= 0.9 * have, comm,
                 "archive '%s'%s: holding %" PRId64 " samples of %" PRId64 " values needs %.3g GB per rank, %.3g GB for the "
                 "%d rank(s) on this node, and %.3g GB are available; use fewer ranks per node or fewer archives",
                 a->paths[0], a->nfiles > 1 ? " and the others" : "", a->n, a->features, need / 1e9, need * on_node / 1e9,
                 on_node, have / 1e9);
  PetscFunctionReturn(0);
}

static PetscErrorCode archive_alloc(MPI_Comm comm, Archive *a, FileInfo *fi) {
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(a->nfiles, &a->file_first));
  for (int f = 0; f < a->nfiles; f++) {
    char here[PATH_MAX], there[PATH_MAX];
    for (int g = 0; g < f && realpath(a->paths[f], here); g++)
      DT_INPUT_CHECK(!realpath(a->paths[g], there) || strcmp(here, there), comm,
                     "option -data: archive '%s' is listed twice (entries %d and %d); give each archive once",
                     a->paths[f], g + 1, f + 1);
    PetscCall(inspect_file(comm, a->paths[f], &fi[f]));
    PetscCall(check_alike(comm, a->paths, fi, f));
    a->file_first[f] = a->n;
    a->n += fi[f].n;
  }
  a->ndims = fi[0].ndims;
  a->features = 1;
  for (int i = 0; i < a->ndims; i++) a->dims[i] = fi[0].dims[i], a->features *= fi[0].dims[i];
  DT_INPUT_CHECK(a->features <= INT32_MAX, comm, "archive '%s': one sample holds %" PRId64 " values; at most %d",
                 a->paths[0], a->features, INT32_MAX);
  a->nfactors = (int)fi[0].k;
  if (a->nfactors) {
    PetscCall(set_factor_names(comm, a->paths[0], fi[0].names, a));
    PetscCall(PetscMalloc1((size_t)a->n * a->nfactors, &a->factors));
  }
  a->store = fi[0].store; /* integers stay as stored when every file has the same integer type */
  for (int f = 1; f < a->nfiles; f++)
    if (fi[f].store != a->store) a->store = STORE_FLOAT;
  PetscCall(check_memory(comm, a));
  /* 64-byte rows start for the BLAS kernels, as tensor.h's buffers do */
  size_t bytes = ((size_t)a->n * (size_t)a->features * store_bytes[a->store] + 63) / 64 * 64;
  void **where = a->store != STORE_FLOAT ? &a->raw : (void **)&a->x;
  PetscCheck(posix_memalign(where, 64, bytes) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "cannot allocate %zu bytes for the archive samples", bytes);
  PetscFunctionReturn(0);
}

PetscErrorCode archive_open(MPI_Comm comm, const char *paths_csv, const ArchiveNorm *norm, Archive **out) {
  Archive *a;
  FileInfo *fi = NULL;
  PetscErrorCode err;

  PetscFunctionBeginUser;
  *out = NULL;
  PetscCall(PetscCalloc1(1, &a));
  err = split_paths(comm, paths_csv, &a->nfiles, &a->paths);
  if (!err) err = PetscCalloc1(a->nfiles, &fi);
  if (!err) err = archive_alloc(comm, a, fi);
  for (int f = 0; f < a->nfiles && !err; f++) err = load_file(comm, a, f, &fi[f]);
  if (!err) err = choose_norm(comm, a, fi, norm, paths_csv);
  if (!err && a->x) {
    size_t total = (size_t)a->n * (size_t)a->features;
    for (size_t i = 0; i < total; i++) a->x[i] = (float)(((double)a->x[i] - a->mean) / a->std);
  }
  PetscCall(PetscFree(fi));
  if (err) archive_close(&a); /* nothing half-built survives an input error */
  PetscCall(err);
  *out = a;
  PetscFunctionReturn(0);
}

void archive_close(Archive **ap) {
  Archive *a = ap ? *ap : NULL;
  if (!a) return;
  for (int f = 0; a->paths && f < a->nfiles; f++) (void)PetscFree(a->paths[f]);
  for (int k = 0; k < ARCHIVE_MAX_FACTORS; k++) (void)PetscFree(a->factor_names[k]);
  (void)PetscFree(a->paths);
  (void)PetscFree(a->file_first);
  (void)PetscFree(a->factors);
  free(a->x);
  free(a->raw);
  (void)PetscFree(a);
  *ap = NULL;
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

PetscErrorCode archive_read(const Archive *a, int64_t first, int count, float *x) {
  PetscFunctionBeginUser;
  PetscCheck(first >= 0 && count >= 0 && first + count <= a->n, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "samples [%lld, %lld) outside the archive's %lld", (long long)first, (long long)(first + count),
             (long long)a->n);
  if (a->x) PetscCall(PetscArraycpy(x, a->x + (size_t)first * a->features, (size_t)count * a->features));
  else { /* as the float path computes it: the stored value exactly, normalised in double */
    const size_t at = (size_t)first * a->features, n = (size_t)count * a->features;
    for (size_t i = 0; i < n; i++) x[i] = (float)((stored_value(a, at + i) - a->mean) / a->std);
  }
  PetscFunctionReturn(0);
}

int archive_nfiles(const Archive *a) { return a->nfiles; }
const char *archive_path(const Archive *a, int f) { return a->paths[f]; }
int64_t archive_file_first(const Archive *a, int f) { return a->file_first[f]; }

void sampler_init(Sampler *s, SamplerKind kind, uint64_t seed, int64_t step, int global_batch, int64_t n) {
  *s = (Sampler){.kind = kind, .seed = seed, .step = step, .global_batch = global_batch, .n = n};
}

int64_t sampler_index(const Sampler *s, int j) {
  return (int64_t)rng_below(s->seed, RNG_STREAM_BATCH, (uint64_t)s->step, (uint64_t)j, (uint64_t)s->n);
}

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
  for (int j = 0; j < b->count; j++) {
    b->index[j] = sampler_index(s, b->offset + j);
    PetscCall(archive_read(a, b->index[j], 1, b->x + (size_t)j * a->features));
  }
  b->step = s->step++;
  PetscFunctionReturn(0);
}
