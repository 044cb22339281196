/* import: the files users have -> an archive `train` reads (the layout tools/beamgen writes).
 *
 *   import -in DIR -out F.h5 [-pattern '{duty}_{freq}.npy'] [-key NAME]   a folder of .npy/.npz files
 *   import -in F.csv -out F.h5 [-factor_columns K]                         one sample per CSV row
 *
 * Folder: every .npy and .npz file of DIR (other files are ignored and counted), in name order,
 * is ONE sample: shape [L] (a waveform), [H, W] (an image, stored [1, H, W]) or [C, H, W]; all
 * the same shape. An .npz holds named arrays: -key NAME picks one (default: the only one).
 * The labels come from the file names: -pattern is the name with each label written {name}
 * (a number: 0.350, -2, 1e-3) and {*} for text to skip; the extension may be left out. A name
 * that does not match is an error naming the file; so is a file that is not an array.
 * CSV: comma-separated numbers, an optional header row naming the columns; the first K columns
 * (-factor_columns) are labels, the rest the sample's values.
 *
 * Output: /data [N, ...] float32 (-dtype float64 to keep doubles), chunked by -chunk_rows
 * samples (gzip with -gzip LEVEL), its attributes mean/std (of the stored values); /factors
 * float64 [N, K] with attribute names (comma-separated) when there are labels. Written as
 * F.h5.tmp, fsync'd, renamed: never half a file under F.h5. A folder that takes longer than
 * -progress seconds (5) gets a progress line that often, with the time left.
 * Exit 0 done, 2 bad input (one line naming the file and what is wrong), 3 cannot write. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* fsync, strdup under -std=c11 */
#endif
#include "disentangle/archive.h" /* archive_kind_of: the words the reader accepts */
#include "h5attr.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

enum { EXIT_INPUT = 2, EXIT_OUTPUT = 3, MAX_FACTORS = 32, MAX_NAME = 64, MAX_DIMS = 3 };
#define MAX_FILE_BYTES (1LL << 34) /* one sample file: 16 GiB is a mistake, not a sample */

typedef struct {
  const char *in, *out, *pattern, *key, *dtype, *kinds;
  long factor_columns, chunk_rows, gzip;
  double progress; /* seconds between progress lines */
} Opts;

/* One line naming what is wrong, then exit: the tool holds nothing that needs cleaning up but
 * the temporary output, which `fail_output` names. */
static const char *fail_output;

static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("import: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (fail_output) unlink(fail_output);
  int up = 0, down = 0;
  if (MPI_Initialized(&up) == MPI_SUCCESS && up && MPI_Finalized(&down) == MPI_SUCCESS && !down) MPI_Finalize();
  exit(code);
}

static const char usage[] =
    "usage: import -in DIR|FILE.csv -out F.h5 [-pattern '{duty}_{freq}.npy'] [-key NAME] [-factor_columns K]\n"
    "              [-kinds discrete,continuous,...] [-dtype float32|float64] [-chunk_rows 64] [-gzip 0..9]\n"
    "              [-progress SECONDS]\n"
    "Writes an archive for `disentangle train`: /data [N, ...] with attributes mean/std, chunked, and\n"
    "/factors [N, K] with attribute names when the inputs carry labels.\n"
    "  DIR: every .npy/.npz file is one sample ([L], [H, W] or [C, H, W]); -pattern reads labels from the\n"
    "       file names: {name} is a number, {*} skips text; -key picks the array of an .npz\n"
    "  FILE.csv: one sample a row, an optional header row; the first K columns (-factor_columns) are labels\n"
    "  -kinds: each label's kind for eval (discrete, continuous or auto), written as /factors attribute kinds\n";

static long parse_long(const char *opt, const char *s, long lo, long hi) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) die(EXIT_INPUT, "option %s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
  return v;
}

static int parse_args(int argc, char **argv, Opts *o) {
  *o = (Opts){.dtype = "float32", .chunk_rows = 64, .progress = 5};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-help") || !strcmp(a, "--help")) return 1;
    if (i + 1 >= argc) die(EXIT_INPUT, "option %s needs a value; see import -help", a);
    const char *v = argv[++i];
    if (!strcmp(a, "-in")) o->in = v;
    else if (!strcmp(a, "-out")) o->out = v;
    else if (!strcmp(a, "-pattern")) o->pattern = v;
    else if (!strcmp(a, "-key")) o->key = v;
    else if (!strcmp(a, "-kinds")) o->kinds = v;
    else if (!strcmp(a, "-dtype")) o->dtype = v;
    else if (!strcmp(a, "-factor_columns")) o->factor_columns = parse_long(a, v, 0, MAX_FACTORS);
    else if (!strcmp(a, "-chunk_rows")) o->chunk_rows = parse_long(a, v, 1, 1 << 20);
    else if (!strcmp(a, "-gzip")) o->gzip = parse_long(a, v, 0, 9);
    else if (!strcmp(a, "-progress")) o->progress = (double)parse_long(a, v, 0, 86400);
    else die(EXIT_INPUT, "unknown option '%s'; see import -help", a);
  }
  if (!o->in) die(EXIT_INPUT, "option -in is required: a folder of .npy/.npz files or a .csv file");
  if (!o->out) die(EXIT_INPUT, "option -out is required: the HDF5 archive to write");
  if (strcmp(o->dtype, "float32") && strcmp(o->dtype, "float64"))
    die(EXIT_INPUT, "option -dtype: '%s' is not allowed; choose float32 or float64", o->dtype);
  return 0;
}

/* ---- labels from file names --------------------------------------------------------------- */

typedef struct {
  int k;
  char names[MAX_FACTORS][MAX_NAME];
} Pattern;

/* The field names of a pattern, checked: {name} or {*}, names unique, no two fields adjacent
 * (where one number would end and the next begin is then a guess). */
static void pattern_parse(const char *pat, Pattern *p) {
  p->k = 0;
  int prev_field = 0;
  for (const char *c = pat; *c; c++) {
    if (*c == '}') die(EXIT_INPUT, "option -pattern: '}' without '{' in '%s'", pat);
    if (*c != '{') {
      prev_field = 0;
      continue;
    }
    const char *end = strchr(c, '}');
    if (!end) die(EXIT_INPUT, "option -pattern: '{' without '}' in '%s'", pat);
    size_t n = (size_t)(end - c - 1);
    if (prev_field) die(EXIT_INPUT, "option -pattern: two fields next to each other in '%s'; put a separator between them", pat);
    if (n == 0) die(EXIT_INPUT, "option -pattern: an empty field {} in '%s'; name it ({duty}) or skip text with {*}", pat);
    if (!(n == 1 && c[1] == '*')) {
      if (n >= MAX_NAME) die(EXIT_INPUT, "option -pattern: a field name longer than %d characters", MAX_NAME - 1);
      if (p->k == MAX_FACTORS) die(EXIT_INPUT, "option -pattern: more than %d labels", MAX_FACTORS);
      for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)c[1 + i]) || c[1 + i] == '_'))
          die(EXIT_INPUT, "option -pattern: field {%.*s}: a name is letters, digits and _", (int)n, c + 1);
      snprintf(p->names[p->k], MAX_NAME, "%.*s", (int)n, c + 1);
      for (int j = 0; j < p->k; j++)
        if (!strcmp(p->names[j], p->names[p->k])) die(EXIT_INPUT, "option -pattern: field {%s} twice", p->names[j]);
      p->k++;
    }
    prev_field = 1;
    c = end;
  }
}

/* Whether s matches pat from here on, the numbers of the named fields into v; backtracks over
 * where a number or a skipped text ends ("{a}.{b}" against "1.5.2": a = 1.5, b = 2). */
static int match(const char *pat, const char *s, double *v) {
  if (!*pat) return !*s;
  if (*pat != '{') return *pat == *s && match(pat + 1, s + 1, v);
  const char *end = strchr(pat, '}');
  if (end - pat == 2 && pat[1] == '*') {
    for (const char *t = s + strlen(s);; t--) {
      if (match(end + 1, t, v)) return 1;
      if (t == s) return 0;
    }
  }
  /* the longest prefix that is a whole number first, then shorter ones */
  size_t len = strspn(s, "0123456789+-.eE");
  char num[64];
  for (; len > 0; len--) {
    if (len >= sizeof num) continue;
    memcpy(num, s, len), num[len] = 0;
    char *stop;
    double x = strtod(num, &stop);
    if (*stop || !isfinite(x)) continue;
    if (match(end + 1, s + len, v + 1)) return v[0] = x, 1;
  }
  return 0;
}

/* ---- .npy and .npz ------------------------------------------------------------------------ */

typedef struct {
  char kind;     /* 'f', 'i', 'u', 'b' */
  int size;      /* bytes per value */
  int ndim;
  int64_t dims[8];
  int64_t count; /* values */
} NpyHeader;

/* A value of the header dict: after 'key': (spaces skipped). */
static const char *dict_value(const char *h, const char *key) {
  char quoted[32];
  for (int q = 0; q < 2; q++) {
    snprintf(quoted, sizeof quoted, q ? "\"%s\"" : "'%s'", key);
    const char *at = strstr(h, quoted);
    if (!at) continue;
    at += strlen(quoted);
    while (*at == ' ') at++;
    if (*at++ != ':') return NULL;
    while (*at == ' ') at++;
    return at;
  }
  return NULL;
}

/* Parse an .npy image of n bytes: its header into *h and where the values start; NULL and why. */
static const unsigned char *npy_parse(const unsigned char *b, size_t n, NpyHeader *h, char *why, size_t wlen) {
  if (n < 10 || memcmp(b, "\x93NUMPY", 6)) return snprintf(why, wlen, "not an .npy array (no \\x93NUMPY magic)"), NULL;
  int major = b[6];
  size_t hlen, at;
  if (major == 1) hlen = b[8] | (size_t)b[9] << 8, at = 10;
  else if ((major == 2 || major == 3) && n >= 12) hlen = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24, at = 12;
  else return snprintf(why, wlen, ".npy format version %d is not one this tool reads (1, 2, 3)", major), NULL;
  if (hlen > n - at || hlen > (1 << 20)) return snprintf(why, wlen, "truncated .npy header"), NULL;
  char *text = malloc(hlen + 1);
  if (!text) return snprintf(why, wlen, "out of memory"), NULL;
  memcpy(text, b + at, hlen), text[hlen] = 0;
  const char *descr = dict_value(text, "descr"), *fortran = dict_value(text, "fortran_order"), *shape = dict_value(text, "shape");
  const unsigned char *data = NULL;
  char d[16] = "";
  if (descr && (*descr == '\'' || *descr == '"')) {
    const char *close = strchr(descr + 1, *descr);
    if (close && close - descr - 1 < (long)sizeof d) snprintf(d, sizeof d, "%.*s", (int)(close - descr - 1), descr + 1);
  }
  if (!descr || !fortran || !shape || *shape != '(') snprintf(why, wlen, ".npy header without descr, fortran_order and shape");
  else if (!d[0] || !strchr("<|=", d[0]) || !strchr("fiub", d[1]) || !isdigit((unsigned char)d[2]) || strlen(d) > 4)
    snprintf(why, wlen, "values of type '%s'; expected little-endian numbers (<f4, <f8, |u1, <i2, ...)", d[0] ? d : "?");
  else if (strncmp(fortran, "False", 5)) snprintf(why, wlen, "a Fortran-ordered array; save it with np.ascontiguousarray");
  else {
    h->kind = d[1], h->size = atoi(d + 2), h->ndim = 0, h->count = 1;
    int ok = (h->kind == 'f' && (h->size == 4 || h->size == 8)) || (h->kind != 'f' && (h->size == 1 || h->size == 2 || h->size == 4 || h->size == 8));
    const char *p = shape + 1;
    while (ok) {
      while (*p == ' ' || *p == ',') p++;
      if (*p == ')') break;
      char *stop;
      errno = 0;
      long long v = strtoll(p, &stop, 10);
      if (stop == p || errno || v < 0 || h->ndim == 8 || (v > 0 && h->count > INT64_MAX / 16 / v)) ok = 0;
      else h->dims[h->ndim++] = v, h->count *= v, p = stop;
    }
    if (!ok) snprintf(why, wlen, "an .npy header of type '%s' and shape %.40s this tool does not read", d, shape);
    else if ((size_t)h->count * h->size > n - at - hlen)
      snprintf(why, wlen, "truncated: its header promises %lld values of %d bytes, the file holds %zu bytes of values",
               (long long)h->count, h->size, n - at - hlen);
    else data = b + at + hlen;
  }
  free(text);
  return data;
}

static double npy_value(const NpyHeader *h, const unsigned char *p, int64_t i) {
  const unsigned char *q = p + i * h->size;
  switch (h->kind) {
  case 'f': {
    if (h->size == 4) { float f; memcpy(&f, q, 4); return f; }
    double v; memcpy(&v, q, 8); return v;
  }
  case 'b':
  case 'u':
    switch (h->size) {
    case 1: return *q;
    case 2: { uint16_t v; memcpy(&v, q, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, q, 4); return v; }
    default: { uint64_t v; memcpy(&v, q, 8); return (double)v; }
    }
  default:
    switch (h->size) {
    case 1: return (int8_t)*q;
    case 2: { int16_t v; memcpy(&v, q, 2); return v; }
    case 4: { int32_t v; memcpy(&v, q, 4); return v; }
    default: { int64_t v; memcpy(&v, q, 8); return (double)v; }
    }
  }
}

static unsigned char *read_whole(const char *path, size_t *n, char *why, size_t wlen) {
  struct stat st;
  if (stat(path, &st) != 0) return snprintf(why, wlen, "%s", strerror(errno)), NULL;
  if (!S_ISREG(st.st_mode)) return snprintf(why, wlen, "not a regular file"), NULL;
  if (st.st_size > MAX_FILE_BYTES) return snprintf(why, wlen, "%lld bytes: too large for one sample", (long long)st.st_size), NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return snprintf(why, wlen, "%s", strerror(errno)), NULL;
  unsigned char *b = malloc((size_t)st.st_size + 1);
  *n = b ? fread(b, 1, (size_t)st.st_size, f) : 0;
  int bad = !b || ferror(f) || *n != (size_t)st.st_size;
  fclose(f);
  if (bad) return free(b), snprintf(why, wlen, "cannot be read"), NULL;
  return b;
}

static uint32_t le32(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* The member `want` ("NAME.npy", or NULL: the only one) of the zip image z, inflated; NULL and why. */
static unsigned char *npz_member(const unsigned char *z, size_t n, const char *want, size_t *len, char *why, size_t wlen) {
  size_t eocd = 0;
  int found = 0;
  for (size_t back = 22; back <= n && back <= 22 + 65535; back++)
    if (le32(z + n - back) == 0x06054b50) {
      eocd = n - back, found = 1;
      break;
    }
  if (!found) return snprintf(why, wlen, "not an .npz (zip) archive: no end-of-directory record"), NULL;
  uint64_t entries = le16(z + eocd + 10), dir = le32(z + eocd + 16);
  if (dir == 0xffffffffu || entries == 0xffff) { /* zip64: the real values are in the zip64 end record */
    if (eocd < 20 || le32(z + eocd - 20) != 0x07064b50) return snprintf(why, wlen, "damaged zip64 .npz"), NULL;
    uint64_t at = le64(z + eocd - 20 + 8);
    if (at > n - 56 || le32(z + at) != 0x06064b50) return snprintf(why, wlen, "damaged zip64 .npz"), NULL;
    entries = le64(z + at + 32), dir = le64(z + at + 48);
  }
  char names[512] = "";
  const unsigned char *hit = NULL;
  uint64_t csize = 0, usize = 0, local = 0;
  int method = 0, matches = 0;
  uint32_t crc = 0;
  for (uint64_t e = 0, at = dir; e < entries; e++) {
    if (at > n - 46 || le32(z + at) != 0x02014b50) return snprintf(why, wlen, "damaged .npz: bad central directory"), NULL;
    size_t nlen = le16(z + at + 28), xlen = le16(z + at + 30), clen = le16(z + at + 32);
    if (at + 46 + nlen + xlen > n) return snprintf(why, wlen, "damaged .npz: bad central directory"), NULL;
    const char *name = (const char *)z + at + 46;
    char member[256];
    snprintf(member, sizeof member, "%.*s", (int)(nlen < 255 ? nlen : 255), name);
    size_t ml = strlen(member);
    if (ml > 4 && !strcmp(member + ml - 4, ".npy")) member[ml - 4] = 0;
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "", member);
    if (!want || !strcmp(member, want)) {
      matches++;
      hit = z + at, method = le16(z + at + 10), crc = le32(z + at + 16);
      csize = le32(z + at + 20), usize = le32(z + at + 24), local = le32(z + at + 42);
      /* zip64 extra field: the sizes and offset that did not fit, in this order */
      for (size_t x = 0; x + 4 <= xlen;) {
        const unsigned char *f = z + at + 46 + nlen + x;
        size_t fl = le16(f + 2), o = 4;
        if (le16(f) == 1) {
          if (usize == 0xffffffffu && o + 8 <= fl + 4) usize = le64(f + o), o += 8;
          if (csize == 0xffffffffu && o + 8 <= fl + 4) csize = le64(f + o), o += 8;
          if (local == 0xffffffffu && o + 8 <= fl + 4) local = le64(f + o);
        }
        x += 4 + fl;
      }
    }
    at += 46 + nlen + xlen + clen;
  }
  if (!want && matches != 1)
    return snprintf(why, wlen, "an .npz of %d arrays (%s); pick one with -key", (int)entries, names), NULL;
  if (!matches) return snprintf(why, wlen, "no array '%s' in this .npz (it has: %s)", want, names), NULL;
  (void)hit;
  if (local > n - 30 || le32(z + local) != 0x04034b50) return snprintf(why, wlen, "damaged .npz: bad local header"), NULL;
  uint64_t data = local + 30 + le16(z + local + 26) + le16(z + local + 28);
  if (data > n || csize > n - data || usize > MAX_FILE_BYTES) return snprintf(why, wlen, "damaged or truncated .npz"), NULL;
  unsigned char *out = malloc(usize + 1);
  if (!out) return snprintf(why, wlen, "out of memory"), NULL;
  if (method == 0) {
    if (csize != usize) return free(out), snprintf(why, wlen, "damaged .npz: sizes disagree"), NULL;
    memcpy(out, z + data, usize);
  } else if (method == 8) {
    z_stream s = {0};
    int ok = inflateInit2(&s, -MAX_WBITS) == Z_OK;
    s.next_in = (unsigned char *)z + data, s.avail_in = (uInt)csize, s.next_out = out, s.avail_out = (uInt)usize;
    ok = ok && csize <= UINT32_MAX && usize <= UINT32_MAX && inflate(&s, Z_FINISH) == Z_STREAM_END && s.total_out == usize;
    inflateEnd(&s);
    if (!ok) return free(out), snprintf(why, wlen, "damaged .npz: its deflated data do not inflate"), NULL;
  } else return free(out), snprintf(why, wlen, ".npz compressed with method %d; only stored and deflate are read", method), NULL;
  if (crc32(0L, out, (uInt)usize) != crc) return free(out), snprintf(why, wlen, "damaged .npz: CRC mismatch"), NULL;
  *len = usize;
  return out;
}

/* ---- the output ----------------------------------------------------------------------------- */

typedef struct {
  const Opts *o;
  const char *path;
  hid_t file, data, fspace;
  int ndim; /* of one sample */
  int64_t dims[MAX_DIMS], features, n, k;
  double *buf;     /* [chunk_rows][features] */
  double *factors; /* [n][k] */
  int64_t rows;    /* in buf */
  int64_t written;
  double mean, m2, count; /* Welford over the stored values */
  char names[MAX_FACTORS * MAX_NAME];
} Out;

#define H5OUT(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) < 0) die(EXIT_OUTPUT, "cannot write '%s': HDF5 call failed: %s", out->path, #call);                     \
  } while (0)

/* -kinds: one of discrete|continuous|auto per label. */
static void check_kinds(const char *kinds, int k) {
  int n = 0;
  for (const char *w = kinds; *w; n++) {
    size_t len = strcspn(w, ",");
    char word[16];
    snprintf(word, sizeof word, "%.*s", (int)len, w);
    if (len >= sizeof word || archive_kind_of(word) < 0)
      die(EXIT_INPUT, "option -kinds: '%.*s' is not discrete, continuous or auto", (int)len, w);
    w += len + (w[len] == ',');
  }
  if (n != k) die(EXIT_INPUT, "option -kinds: %d kinds for %d labels; give one per label", n, k);
}

static void out_create(Out *out) {
  if (out->o->kinds && !out->k) die(EXIT_INPUT, "option -kinds: the inputs carry no labels (see -pattern, -factor_columns)");
  if (out->o->kinds && out->k) check_kinds(out->o->kinds, (int)out->k);
  hsize_t dims[1 + MAX_DIMS], chunk[1 + MAX_DIMS];
  dims[0] = (hsize_t)out->n, chunk[0] = (hsize_t)(out->n < out->o->chunk_rows ? out->n : out->o->chunk_rows);
  for (int d = 0; d < out->ndim; d++) dims[1 + d] = chunk[1 + d] = (hsize_t)out->dims[d];
  out->file = H5Fcreate(out->path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (out->file < 0) die(EXIT_OUTPUT, "cannot create '%s': %s", out->path, errno ? strerror(errno) : "HDF5 error");
  hid_t dcpl;
  H5OUT(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  H5OUT(H5Pset_chunk(dcpl, 1 + out->ndim, chunk));
  if (out->o->gzip) {
    H5OUT(H5Pset_shuffle(dcpl));
    H5OUT(H5Pset_deflate(dcpl, (unsigned)out->o->gzip));
  }
  H5OUT(out->fspace = H5Screate_simple(1 + out->ndim, dims, NULL));
  int f64 = !strcmp(out->o->dtype, "float64");
  H5OUT(out->data = H5Dcreate2(out->file, "/data", f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, out->fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  H5Pclose(dcpl);
  out->buf = malloc(sizeof(double) * out->features * out->o->chunk_rows);
  if (!out->buf) die(EXIT_OUTPUT, "out of memory for %ld samples of %lld values", out->o->chunk_rows, (long long)out->features);
}

static void out_flush(Out *out) {
  if (!out->rows) return;
  int f64 = !strcmp(out->o->dtype, "float64");
  hsize_t start[1 + MAX_DIMS] = {(hsize_t)out->written}, cnt[1 + MAX_DIMS] = {(hsize_t)out->rows};
  for (int d = 0; d < out->ndim; d++) cnt[1 + d] = (hsize_t)out->dims[d];
  size_t values = (size_t)(out->rows * out->features);
  if (!f64) { /* float32 in place: the statistics are of the stored (rounded) values */
    float *f = (float *)out->buf;
    for (size_t i = 0; i < values; i++) f[i] = (float)out->buf[i];
  }
  for (size_t i = 0; i < values; i++) {
    double s = f64 ? out->buf[i] : ((float *)out->buf)[i], before = out->mean;
    out->count++;
    out->mean += (s - before) / out->count;
    out->m2 += (s - before) * (s - out->mean);
  }
  hid_t ms;
  H5OUT(ms = H5Screate_simple(1 + out->ndim, cnt, NULL));
  H5OUT(H5Sselect_hyperslab(out->fspace, H5S_SELECT_SET, start, NULL, cnt, NULL));
  H5OUT(H5Dwrite(out->data, f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, ms, out->fspace, H5P_DEFAULT, out->buf));
  H5Sclose(ms);
  out->written += out->rows, out->rows = 0;
}

/* The next sample's values (and labels) from `what` (a file name, or "F.csv line 7"). */
static double *out_next(Out *out, const double *labels) {
  if (out->rows == out->o->chunk_rows) out_flush(out);
  if (out->k) memcpy(out->factors + (out->written + out->rows) * out->k, labels, sizeof(double) * out->k);
  return out->buf + out->rows++ * out->features;
}

static void out_close(Out *out, const char *source) {
  out_flush(out);
  double stats[2] = {out->mean, out->count > 0 ? sqrt(out->m2 / out->count) : 0};
  H5OUT(put_attr(out->data, "mean", H5T_NATIVE_DOUBLE, &stats[0]));
  H5OUT(put_attr(out->data, "std", H5T_NATIVE_DOUBLE, &stats[1]));
  H5Dclose(out->data), H5Sclose(out->fspace);
  if (out->k) {
    hsize_t dims[2] = {(hsize_t)out->n, (hsize_t)out->k};
    hid_t s, d;
    H5OUT(s = H5Screate_simple(2, dims, NULL));
    H5OUT(d = H5Dcreate2(out->file, "/factors", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5OUT(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->factors));
    H5OUT(put_string(d, "names", out->names));
    if (out->o->kinds) H5OUT(put_string(d, "kinds", out->o->kinds));
    H5Dclose(d), H5Sclose(s);
  }
  H5OUT(put_string(out->file, "generator", "import"));
  H5OUT(put_string(out->file, "source", source));
  H5OUT(put_string(out->file, "version", PACKAGE_VERSION));
  if (H5Fclose(out->file) < 0) die(EXIT_OUTPUT, "cannot write '%s' (disk full?)", out->path);
  printf("import: %lld samples of shape [", (long long)out->n);
  for (int d = 0; d < out->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)out->dims[d]);
  printf("], %lld factors%s%s%s, mean %g, std %g\n", (long long)out->k, out->k ? " (" : "", out->names, out->k ? ")" : "",
         stats[0], stats[1]);
}

/* ---- progress --------------------------------------------------------------------------------- */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A line every `every` seconds once a folder takes longer than that (and a last one then):
 * files done, total, time left. */
static void progress(double every, int64_t done, int64_t total, double start, double *last) {
  double t = now();
  if (done < total && t - *last < every) return;
  if (t - start >= every || *last > start) {
    double left = done ? (t - start) * (double)(total - done) / (double)done : 0;
    fprintf(stderr, "import: %lld of %lld files (%.0f%%), %.0fs, about %.0fs left\n", (long long)done, (long long)total,
            100.0 * (double)done / (double)total, t - start, left);
  }
  *last = t;
}

/* ---- readers -------------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && !strcmp(s + n - m, suffix);
}

/* One sample file's array: the .npy image (an .npz's member inflated), parsed. */
static unsigned char *load_array(const Opts *o, const char *path, NpyHeader *h, const unsigned char **values) {
  char why[400];
  size_t n;
  unsigned char *b = read_whole(path, &n, why, sizeof why);
  if (!b) die(EXIT_INPUT, "'%s': %s", path, why);
  if (has_suffix(path, ".npz")) {
    size_t m;
    unsigned char *member = npz_member(b, n, o->key, &m, why, sizeof why);
    free(b);
    if (!member) die(EXIT_INPUT, "'%s': %s", path, why);
    b = member, n = m;
  }
  *values = npy_parse(b, n, h, why, sizeof why);
  if (!*values) free(b), die(EXIT_INPUT, "'%s': %s", path, why);
  return b;
}

static void import_folder(const Opts *o, Out *out) {
  Pattern pat = {0};
  char pattern[1024] = "";
  if (o->pattern) {
    pattern_parse(o->pattern, &pat);
    snprintf(pattern, sizeof pattern, "%s", o->pattern);
  }
  DIR *dir = opendir(o->in);
  if (!dir) die(EXIT_INPUT, "option -in: cannot read the folder '%s': %s", o->in, strerror(errno));
  char **files = NULL;
  int64_t n = 0, cap = 0, other = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (e->d_name[0] == '.') continue;
    if (!has_suffix(e->d_name, ".npy") && !has_suffix(e->d_name, ".npz")) {
      other++;
      continue;
    }
    if (n == cap && !(files = realloc(files, sizeof *files * (size_t)(cap = cap ? 2 * cap : 1024))))
      die(EXIT_INPUT, "out of memory listing '%s'", o->in);
    if (!(files[n++] = strdup(e->d_name))) die(EXIT_INPUT, "out of memory listing '%s'", o->in);
  }
  closedir(dir);
  if (!n) die(EXIT_INPUT, "option -in: the folder '%s' holds no .npy or .npz files", o->in);
  qsort(files, (size_t)n, sizeof *files, by_name);
  if (other) fprintf(stderr, "import: note: %lld files in '%s' are not .npy/.npz and were skipped\n", (long long)other, o->in);

  int whole = has_suffix(pattern, ".npy") || has_suffix(pattern, ".npz"); /* else the name without its extension */
  out->n = n, out->k = pat.k;
  for (int j = 0; j < pat.k; j++)
    snprintf(out->names + strlen(out->names), sizeof out->names - strlen(out->names), "%s%s", j ? "," : "", pat.names[j]);
  if (pat.k && !(out->factors = malloc(sizeof(double) * (size_t)(n * pat.k)))) die(EXIT_INPUT, "out of memory for the labels");

  double start = now(), last = start;
  char path[4096];
  for (int64_t i = 0; i < n; i++) {
    double labels[MAX_FACTORS + 1];
    if (pat.k || o->pattern) {
      char name[1024];
      snprintf(name, sizeof name, "%s", files[i]);
      if (!whole) name[strlen(name) - 4] = 0;
      if (!match(pattern, name, labels))
        die(EXIT_INPUT, "'%s/%s': the file name does not match -pattern '%s' (each {field} a number)", o->in, files[i], o->pattern);
    }
    snprintf(path, sizeof path, "%s/%s", o->in, files[i]);
    NpyHeader h;
    const unsigned char *values;
    unsigned char *image = load_array(o, path, &h, &values);
    int64_t dims[MAX_DIMS];
    int nd = h.ndim;
    if (nd == 1) dims[0] = h.dims[0];
    else if (nd == 2) nd = 3, dims[0] = 1, dims[1] = h.dims[0], dims[2] = h.dims[1];
    else if (nd == 3) memcpy(dims, h.dims, sizeof(int64_t) * 3);
    else free(image), die(EXIT_INPUT, "'%s': an array of %d dimensions; a sample is [L], [H, W] or [C, H, W]", path, h.ndim);
    if (h.count == 0) free(image), die(EXIT_INPUT, "'%s': an empty array", path);
    if (i == 0) {
      out->ndim = nd, out->features = h.count;
      memcpy(out->dims, dims, sizeof dims);
      out_create(out);
    } else if (nd != out->ndim || memcmp(dims, out->dims, sizeof(int64_t) * nd)) {
      char a[96] = "", b[96] = "";
      for (int d = 0; d < nd; d++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? ", " : "", (long long)dims[d]);
      for (int d = 0; d < out->ndim; d++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? ", " : "", (long long)out->dims[d]);
      free(image);
      die(EXIT_INPUT, "'%s': a sample of shape [%s]; the files before it are [%s] (from '%s')", path, a, b, files[0]);
    }
    double *x = out_next(out, labels);
    for (int64_t v = 0; v < h.count; v++) {
      x[v] = npy_value(&h, values, v);
      if (!isfinite(x[v])) free(image), die(EXIT_INPUT, "'%s': value %lld is %g; an archive holds finite numbers", path, (long long)v, x[v]);
    }
    free(image);
    progress(o->progress, i + 1, n, start, &last);
  }
  for (int64_t i = 0; i < n; i++) free(files[i]);
  free(files);
}

/* The cells of one CSV line (trailing \r and spaces allowed); the count, -1 past max. */
static int csv_cells(char *line, char **cells, int max) {
  int n = 0;
  for (char *c = line;;) {
    if (n == max) return -1;
    cells[n++] = c;
    char *comma = strchr(c, ',');
    if (!comma) break;
    *comma = 0, c = comma + 1;
  }
  for (int i = 0; i < n; i++) {
    while (isspace((unsigned char)*cells[i])) cells[i]++;
    for (char *e = cells[i] + strlen(cells[i]); e > cells[i] && isspace((unsigned char)e[-1]);) *--e = 0;
  }
  return n;
}

static int is_number(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return *s && !*end;
}

static void import_csv(const Opts *o, Out *out) {
  char why[256];
  size_t len;
  char *text = (char *)read_whole(o->in, &len, why, sizeof why);
  if (!text) die(EXIT_INPUT, "option -in: '%s': %s", o->in, why);
  text[len] = 0;
  if (memchr(text, 0, len)) die(EXIT_INPUT, "'%s': a NUL byte; is it a text file?", o->in);
  /* the lines, blank ones skipped; the first is a header when one of its cells is not a number */
  int64_t nlines = 0;
  for (size_t i = 0; i < len; i++) nlines += text[i] == '\n';
  char **lines = malloc(sizeof *lines * (size_t)(nlines + 2));
  int *lineno = malloc(sizeof *lineno * (size_t)(nlines + 2));
  if (!lines || !lineno) die(EXIT_INPUT, "out of memory reading '%s'", o->in);
  int64_t n = 0;
  int no = 0;
  for (char *p = text, *next; p && *p; p = next) {
    next = strchr(p, '\n');
    if (next) *next++ = 0;
    no++;
    char *q = p;
    while (isspace((unsigned char)*q)) q++;
    if (*q) lines[n] = p, lineno[n++] = no;
  }
  if (!n) die(EXIT_INPUT, "'%s': no rows", o->in);
  int maxc = 1;
  for (const char *c = lines[0]; *c; c++) maxc += *c == ',';
  char **cells = malloc(sizeof *cells * (size_t)(maxc + 1));
  if (!cells) die(EXIT_INPUT, "out of memory reading '%s'", o->in);
  char *head = strdup(lines[0]); /* split apart here; lines[0] is parsed again as a row when it is not a header */
  if (!head) die(EXIT_INPUT, "out of memory reading '%s'", o->in);
  int ncols = csv_cells(head, cells, maxc + 1), header = 0;
  double v;
  for (int c = 0; c < ncols; c++) header |= !is_number(cells[c], &v);
  const int64_t k = o->factor_columns;
  if (ncols <= k) die(EXIT_INPUT, "'%s' line %d: %d columns; -factor_columns %lld leaves no values", o->in, lineno[0], ncols, (long long)k);
  out->k = k;
  for (int j = 0; j < k; j++) {
    char name[MAX_NAME];
    if (header) snprintf(name, sizeof name, "%s", cells[j]);
    else snprintf(name, sizeof name, "factor%d", j);
    if (strchr(name, ',') || !name[0]) die(EXIT_INPUT, "'%s' line %d: column %d has no usable name", o->in, lineno[0], j + 1);
    snprintf(out->names + strlen(out->names), sizeof out->names - strlen(out->names), "%s%s", j ? "," : "", name);
  }
  int64_t first = header;
  free(head); /* the names are copied into out->names */
  out->n = n - first;
  if (out->n < 1) die(EXIT_INPUT, "'%s': a header and no rows", o->in);
  out->ndim = 1, out->dims[0] = out->features = ncols - k;
  if (k && !(out->factors = malloc(sizeof(double) * (size_t)(out->n * k)))) die(EXIT_INPUT, "out of memory for the labels");
  out_create(out);
  for (int64_t r = first; r < n; r++) {
    int got = csv_cells(lines[r], cells, maxc + 1);
    if (got != ncols)
      die(EXIT_INPUT, "'%s' line %d: %s cells; the first line has %d", o->in, lineno[r], got < 0 ? "more" : "fewer", ncols);
    double labels[MAX_FACTORS];
    for (int c = 0; c < ncols; c++)
      if (!is_number(cells[c], &v) || !isfinite(v))
        die(EXIT_INPUT, "'%s' line %d column %d: '%.40s' is not a finite number", o->in, lineno[r], c + 1, cells[c]);
      else if (c < k) labels[c] = v;
    double *x = out_next(out, labels);
    for (int c = (int)k; c < ncols; c++) is_number(cells[c], &x[c - k]);
  }
  free(cells), free(lines), free(lineno), free(text);
}

static int run(int argc, char **argv) {
  Opts o;
  if (parse_args(argc, argv, &o)) return fputs(usage, stdout), 0;
  struct stat st;
  if (stat(o.in, &st) != 0) die(EXIT_INPUT, "option -in: '%s': %s", o.in, strerror(errno));
  int folder = S_ISDIR(st.st_mode);
  if (!folder && !has_suffix(o.in, ".csv")) die(EXIT_INPUT, "option -in: '%s' is neither a folder of .npy/.npz files nor a .csv file", o.in);
  if (folder && o.factor_columns) die(EXIT_INPUT, "option -factor_columns is for CSV input; a folder's labels come from -pattern");
  if (!folder && (o.pattern || o.key)) die(EXIT_INPUT, "options -pattern and -key are for a folder of .npy/.npz files");
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", o.out) >= (int)sizeof tmp) die(EXIT_INPUT, "option -out: path too long");
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our one-line messages instead of HDF5's stack */
  Out out = {.o = &o, .path = tmp, .file = -1};
  fail_output = tmp;
  errno = 0;
  if (folder) import_folder(&o, &out);
  else import_csv(&o, &out);
  out_close(&out, o.in);
  int fd;
  if ((fd = open(tmp, O_RDONLY)) < 0 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, o.out) != 0)
    die(EXIT_OUTPUT, "cannot move '%s' to '%s': %s", tmp, o.out, strerror(errno));
  fail_output = NULL;
  printf("import: wrote %s\n", o.out);
  free(out.buf), free(out.factors);
  return 0;
}

int main(int argc, char **argv) {
  /* HDF5 here is the MPI build: a serial tool still initialises MPI (one process) */
  MPI_Init(&argc, &argv);
  int rc = run(argc, argv);
  MPI_Finalize();
  return rc;
}
