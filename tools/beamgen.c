/* beamgen: SNS-like beam waveforms with known generative factors, deterministic from a seed.
 *
 * Waveform i, samples t = 0 .. L-1:
 *   w(t) = amplitude * envelope(t) * gate(t) + noise * N(0, 1)
 *   envelope: raised-cosine rise from 0 to 1 over `rise` samples (default L/20, i.e. 5% of the
 *             window), flat top, raised-cosine fall to 0 over the last L/20 samples (the end of
 *             the macro-pulse, inside the window so every waveform shows it);
 *   gate:     1 when frac(frequency * t / L + phase) < duty, else 0 (frequency = gate periods
 *             across the window, phase in periods).
 * The default set is every (frequency, duty) pair, frequency-major: frequencies from -freqs,
 * duty_j = duty_min + j * (duty_max - duty_min) / duty_count, j = 0 .. duty_count-1.
 * Options switch on random factors, drawn with the counter-based generator per sample:
 *   amplitude uniform in [1-A, 1+A], rise uniform in [rise(1-R), rise(1+R)], phase uniform in
 *   [0, J) periods; additive noise N(0, SIGMA^2) is not a factor (the same for every sample).
 * /factors lists exactly the factors that vary, in the order frequency, duty_cycle, amplitude,
 * rise_time (samples), phase (periods); its `names` attribute says which, and `kinds` that the
 * frequency is discrete and the others continuous.
 * uint8 output stores round(255 * clamp(w, 0, 1)); the `mean` and `std` attributes on /data are
 * those of the stored values (what a reader sees), non-finite values left out.
 * -groups_per_freq G writes /groups int64 [N] for ML-VAE: G groups per gate frequency, group id
 * frequency_index * G + duty_index mod G, so a group's samples share the frequency while the duty
 * cycle (interleaved) and the random factors vary within it. Ids are global over -files parts. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* fsync, strsep under -std=c11 */
#endif
#include "disentangle/rng.h"
#include "h5attr.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

enum { STREAM_FACTORS = 0x6265616d, STREAM_NOISE = 0x6265616e, MAX_FREQS = 64, MAX_K = 5, CHUNK_ROWS = 64 };
enum { F_FREQ, F_DUTY, F_AMP, F_RISE, F_PHASE };
static const char *factor_name[MAX_K] = {"frequency", "duty_cycle", "amplitude", "rise_time", "phase"};
/* the `kinds` attribute (eval's factor kinds): a few gate frequencies; the rest a grid or drawn */
static const char *factor_kind[MAX_K] = {"discrete", "continuous", "continuous", "continuous", "continuous"};

typedef struct {
  const char *out, *dtype;
  unsigned long long seed;
  long length, duty_count, corrupt; /* corrupt: sample to hold a NaN, or -1 */
  long files, chunk_rows, gzip;     /* -files K: OUT is a directory of K archives of different lengths */
  long groups_per_freq;             /* > 0: write /groups, this many groups per frequency */
  double duty_min, duty_max, amp_spread, rise_spread, jitter, noise;
  double freqs[MAX_FREQS];
  int nfreqs, omit_data;
  int k, which[MAX_K]; /* the factors that vary */
} Opts;

static const char usage[] =
    "usage: beamgen -out FILE [-seed S] [-length 1000] [-duty_count 120] [-duty_min 0.2] [-duty_max 0.8]\n"
    "               [-freqs 10,15,20] [-amplitude_spread A] [-rise_spread R] [-jitter J] [-noise SIGMA]\n"
    "               [-dtype float32|float64|uint8] [-corrupt nan:INDEX] [-omit_data] [-help]\n"
    "               [-files 1] [-chunk_rows 64] [-gzip 0..9] [-groups_per_freq G]\n"
    "Writes /data [N, L] (N = frequencies x duty cycles), /factors [N, K] with attribute names, and\n"
    "attributes mean/std of the stored values. -corrupt puts a NaN at value L/2 of sample INDEX (float\n"
    "dtypes only), -omit_data leaves /data out: both make deliberately broken archives for tests.\n"
    "-length is the window (samples per waveform, e.g. 4000 to 25000). -files K > 1 makes OUT a new\n"
    "directory of K archives part-00000.h5 ... of different lengths (the same N waveforms, in order;\n"
    "every part carries the mean/std of the whole). /data is chunked by -chunk_rows rows, gzip'd\n"
    "(with shuffle) at level -gzip when > 0.\n"
    "-groups_per_freq G > 0 also writes /groups int64 [N] (grouped data for -sampler grouped): G groups\n"
    "per gate frequency, id = frequency index * G + duty index mod G; a group's samples share the gate\n"
    "frequency, their duty cycles (and the random factors) vary. G is at most -duty_count.\n";

static int bad(const char *opt, const char *val, const char *expected) {
  fprintf(stderr, "beamgen: option %s: '%s' is not valid; expected %s\n", opt, val, expected);
  return 2;
}

static int parse_real(const char *opt, const char *s, double lo, double hi, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  if (errno || end == s || *end || !(*v >= lo && *v <= hi)) {
    char what[96];
    snprintf(what, sizeof what, "a number in [%g, %g]", lo, hi);
    return bad(opt, s, what);
  }
  return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *v) {
  char *end;
  errno = 0;
  *v = strtol(s, &end, 10);
  if (errno || end == s || *end || *v < lo || *v > hi) {
    char what[96];
    snprintf(what, sizeof what, "an integer in [%ld, %ld]", lo, hi);
    return bad(opt, s, what);
  }
  return 0;
}

static int parse_freqs(const char *opt, const char *s, Opts *o) {
  char buf[1024], *rest = buf, *tok;
  o->nfreqs = 0;
  if (strlen(s) >= sizeof buf) return bad(opt, s, "a shorter list");
  strcpy(buf, s);
  while ((tok = strsep(&rest, ","))) { /* strsep, not strtok: "10,,20" is an error, not two values */
    if (o->nfreqs == MAX_FREQS) return bad(opt, s, "at most 64 frequencies");
    if (parse_real(opt, tok, 1e-9, 1e9, &o->freqs[o->nfreqs++])) return 2;
  }
  return 0;
}

static const char *valued[] = {"-out",      "-seed",  "-length",           "-duty_count",  "-duty_min",
                               "-duty_max", "-freqs", "-amplitude_spread", "-rise_spread", "-jitter",
                               "-noise",    "-dtype", "-corrupt", "-files", "-chunk_rows", "-gzip",
                               "-groups_per_freq"};

/* 0: go on; 1: -help given; 2: bad command line (already reported). */
static int parse_args(int argc, char **argv, Opts *o) {
  *o = (Opts){.dtype = "float32",
              .seed = 1,
              .length = 1000,
              .duty_count = 120,
              .corrupt = -1,
              .files = 1,
              .chunk_rows = CHUNK_ROWS,
              .duty_min = 0.2,
              .duty_max = 0.8,
              .freqs = {10, 15, 20},
              .nfreqs = 3};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (!strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
    if (!strcmp(a, "-omit_data")) {
      o->omit_data = 1;
      continue;
    }
    int known = 0;
    for (size_t j = 0; j < sizeof valued / sizeof valued[0]; j++) known = known || !strcmp(a, valued[j]);
    if (!known) {
      fprintf(stderr, "beamgen: unknown option '%s'; see beamgen -help\n", a);
      return 2;
    }
    if (!v) {
      fprintf(stderr, "beamgen: option %s needs a value; see beamgen -help\n", a);
      return 2;
    }
    i++;
    if (!strcmp(a, "-out")) o->out = v;
    else if (!strcmp(a, "-seed")) {
      char *end;
      errno = 0;
      o->seed = strtoull(v, &end, 10);
      if (errno || end == v || *end || v[0] == '-') rc = bad(a, v, "a non-negative integer");
    } else if (!strcmp(a, "-length")) rc = parse_int(a, v, 2, 100000000, &o->length);
    else if (!strcmp(a, "-duty_count")) rc = parse_int(a, v, 1, 100000000, &o->duty_count);
    else if (!strcmp(a, "-files")) rc = parse_int(a, v, 1, 1000000, &o->files);
    else if (!strcmp(a, "-chunk_rows")) rc = parse_int(a, v, 1, 1000000, &o->chunk_rows);
    else if (!strcmp(a, "-gzip")) rc = parse_int(a, v, 0, 9, &o->gzip);
    else if (!strcmp(a, "-groups_per_freq")) rc = parse_int(a, v, 0, 100000000, &o->groups_per_freq);
    else if (!strcmp(a, "-duty_min")) rc = parse_real(a, v, 0, 1, &o->duty_min);
    else if (!strcmp(a, "-duty_max")) rc = parse_real(a, v, 0, 1, &o->duty_max);
    else if (!strcmp(a, "-freqs")) rc = parse_freqs(a, v, o);
    else if (!strcmp(a, "-amplitude_spread")) rc = parse_real(a, v, 0, 0.999, &o->amp_spread);
    else if (!strcmp(a, "-rise_spread")) rc = parse_real(a, v, 0, 0.999, &o->rise_spread);
    else if (!strcmp(a, "-jitter")) rc = parse_real(a, v, 0, 1, &o->jitter);
    else if (!strcmp(a, "-noise")) rc = parse_real(a, v, 0, 1e6, &o->noise);
    else if (!strcmp(a, "-dtype")) {
      o->dtype = v;
      if (strcmp(v, "float32") && strcmp(v, "float64") && strcmp(v, "uint8"))
        rc = bad(a, v, "float32, float64 or uint8");
    } else if (!strcmp(a, "-corrupt")) {
      if (strncmp(v, "nan:", 4) || parse_int(a, v + 4, 0, 1L << 40, &o->corrupt))
        rc = bad(a, v, "nan:INDEX with INDEX a sample number");
    }
    if (rc) return rc;
  }
  return 0;
}

static int check_opts(Opts *o) {
  long n = o->nfreqs * o->duty_count;
  char s[64];
  if (!o->out) return fprintf(stderr, "beamgen: option -out is required: the HDF5 file to write\n"), 2;
  snprintf(s, sizeof s, "%g", o->duty_max);
  if (!(o->duty_max > o->duty_min)) return bad("-duty_max", s, "a value above -duty_min");
  if (o->corrupt >= n) {
    snprintf(s, sizeof s, "nan:%ld", o->corrupt);
    char what[96];
    snprintf(what, sizeof what, "a sample index below N = %ld", n);
    return bad("-corrupt", s, what);
  }
  if (o->files > 1 && n < 3 * o->files) {
    snprintf(s, sizeof s, "%ld", o->files);
    char what[96];
    snprintf(what, sizeof what, "at most N / 3 = %ld files, so that each gets a waveform", n / 3);
    return bad("-files", s, what);
  }
  if (o->groups_per_freq > o->duty_count) {
    snprintf(s, sizeof s, "%ld", o->groups_per_freq);
    char what[96];
    snprintf(what, sizeof what, "at most -duty_count = %ld, so that every group gets a waveform", o->duty_count);
    return bad("-groups_per_freq", s, what);
  }
  if (o->corrupt >= 0 && !strcmp(o->dtype, "uint8"))
    return fprintf(stderr, "beamgen: option -corrupt: uint8 cannot hold NaN; use -dtype float32 or float64\n"), 2;
  o->k = 0;
  int varies[MAX_K] = {o->nfreqs > 1, o->duty_count > 1, o->amp_spread > 0, o->rise_spread > 0, o->jitter > 0};
  for (int f = 0; f < MAX_K; f++)
    if (varies[f]) o->which[o->k++] = f;
  return 0;
}

/* Waveform i into w[L] and its factor values into fac[MAX_K] (all five, varying or not). */
static void waveform(const Opts *o, long i, double *w, double *fac) {
  long L = o->length, fi = i / o->duty_count, di = i % o->duty_count;
  double rise0 = L / 20.0, fall = L / 20.0;
  fac[F_FREQ] = o->freqs[fi];
  fac[F_DUTY] = o->duty_min + di * (o->duty_max - o->duty_min) / o->duty_count;
  fac[F_AMP] = 1 + o->amp_spread * (2 * rng_uniform(o->seed, STREAM_FACTORS, (uint64_t)i, 0) - 1);
  fac[F_RISE] = rise0 * (1 + o->rise_spread * (2 * rng_uniform(o->seed, STREAM_FACTORS, (uint64_t)i, 1) - 1));
  fac[F_PHASE] = o->jitter * rng_uniform(o->seed, STREAM_FACTORS, (uint64_t)i, 2);
  for (long t = 0; t < L; t++) {
    double env = 1, g = fac[F_FREQ] * t / L + fac[F_PHASE];
    if (t < fac[F_RISE]) env = 0.5 * (1 - cos(M_PI * t / fac[F_RISE]));
    if (t >= L - fall) env *= 0.5 * (1 + cos(M_PI * (t - (L - fall) + 1) / fall));
    w[t] = fac[F_AMP] * env * (g - floor(g) < fac[F_DUTY] ? 1 : 0);
    if (o->noise > 0) w[t] += o->noise * rng_normal(o->seed, STREAM_NOISE, (uint64_t)i, (uint64_t)t);
  }
  if (i == o->corrupt) w[L / 2] = NAN;
}

#define H5TRY(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) < 0) {                                                                                                  \
      fprintf(stderr, "beamgen: cannot write '%s': HDF5 call failed: %s\n", path, #call);                              \
      goto fail;                                                                                                       \
    }                                                                                                                  \
  } while (0)

/* Running statistics of the stored values (Welford), over every file written. */
typedef struct {
  double mean, m2, count;
} Stats;

/* Stream waveforms [first, first + n) out CHUNK_ROWS at a time, so N x L never has to fit in memory twice. */
static int write_data(const Opts *o, const char *path, hid_t f, long first, long n, double *fac_all, Stats *st,
                      double stats[2]) {
  long L = o->length;
  int u8 = !strcmp(o->dtype, "uint8"), f64 = !strcmp(o->dtype, "float64");
  hid_t mtype = u8 ? H5T_NATIVE_UINT8 : f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, d = -1, fs = -1, ms = -1, dcpl = -1;
  size_t esize = u8 ? 1 : f64 ? 8 : 4;
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)L}, chunk[2] = {(hsize_t)(n < o->chunk_rows ? n : o->chunk_rows), (hsize_t)L};
  double *w = malloc(sizeof(double) * L * CHUNK_ROWS), mean = st->mean, m2 = st->m2, count = st->count, fac[MAX_K];
  unsigned char *buf = malloc(esize * L * CHUNK_ROWS);
  int rc = 1;

  if (!w || !buf) return fprintf(stderr, "beamgen: out of memory\n"), free(w), free(buf), 1;
  H5TRY(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  H5TRY(H5Pset_chunk(dcpl, 2, chunk));
  if (o->gzip > 0) {
    H5TRY(H5Pset_shuffle(dcpl));
    H5TRY(H5Pset_deflate(dcpl, (unsigned)o->gzip));
  }
  H5TRY(fs = H5Screate_simple(2, dims, NULL));
  if (!o->omit_data)
    H5TRY(d = H5Dcreate2(f, "/data",
                         u8    ? H5T_STD_U8LE
                         : f64 ? H5T_IEEE_F64LE
                               : H5T_IEEE_F32LE,
                         fs, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  for (long r0 = 0; r0 < n; r0 += CHUNK_ROWS) {
    long rows = n - r0 < CHUNK_ROWS ? n - r0 : CHUNK_ROWS;
    for (long r = 0; r < rows; r++) {
      waveform(o, first + r0 + r, w + r * L, fac);
      for (int j = 0; j < o->k; j++) fac_all[(r0 + r) * o->k + j] = fac[o->which[j]];
    }
    for (long v = 0; v < rows * L; v++) { /* store, then take the statistics of what is stored (Welford) */
      double s = w[v];
      if (u8) s = buf[v] = (unsigned char)lround(255 * fmin(fmax(w[v], 0), 1));
      else if (f64) ((double *)buf)[v] = s;
      else s = ((float *)buf)[v] = (float)w[v];
      if (isfinite(s)) {
        double before = mean;
        count++;
        mean += (s - before) / count;
        m2 += (s - before) * (s - mean);
      }
    }
    if (o->omit_data) continue;
    hsize_t start[2] = {(hsize_t)r0, 0}, cnt[2] = {(hsize_t)rows, (hsize_t)L};
    H5TRY(ms = H5Screate_simple(2, cnt, NULL));
    H5TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL));
    H5TRY(H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf));
    H5TRY(H5Sclose(ms));
    ms = -1;
  }
  st->mean = mean, st->m2 = m2, st->count = count;
  stats[0] = mean, stats[1] = count > 0 ? sqrt(m2 / count) : 0;
  if (!o->omit_data) {
    H5TRY(put_attr(d, "mean", H5T_NATIVE_DOUBLE, &stats[0]));
    H5TRY(put_attr(d, "std", H5T_NATIVE_DOUBLE, &stats[1]));
  }
  rc = 0;
fail:
  if (ms >= 0) H5Sclose(ms);
  if (d >= 0) H5Dclose(d);
  if (fs >= 0) H5Sclose(fs);
  if (dcpl >= 0) H5Pclose(dcpl);
  free(w);
  free(buf);
  return rc;
}

static int write_factors(const Opts *o, const char *path, hid_t f, long n, const double *fac_all) {
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)o->k};
  hid_t s = -1, d = -1;
  char names[256] = "", kinds[256] = "";
  int rc = 1;

  for (int j = 0; j < o->k; j++) {
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? "," : "", factor_name[o->which[j]]);
    snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s", j ? "," : "", factor_kind[o->which[j]]);
  }
  H5TRY(s = H5Screate_simple(2, dims, NULL));
  H5TRY(d = H5Dcreate2(f, "/factors", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5TRY(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, fac_all));
  H5TRY(put_string(d, "names", names));
  H5TRY(put_string(d, "kinds", kinds));
  rc = 0;
fail:
  if (d >= 0) H5Dclose(d);
  if (s >= 0) H5Sclose(s);
  return rc;
}

/* /groups of waveforms [first, first + n): G groups per frequency, the duty cycles interleaved. */
static int write_groups(const Opts *o, const char *path, hid_t f, long first, long n) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t s = -1, d = -1;
  int64_t *ids = malloc(sizeof *ids * (size_t)n);
  int rc = 1;

  if (!ids) return fprintf(stderr, "beamgen: out of memory\n"), 1;
  for (long r = 0; r < n; r++) {
    long i = first + r;
    ids[r] = (int64_t)(i / o->duty_count) * o->groups_per_freq + (i % o->duty_count) % o->groups_per_freq;
  }
  H5TRY(s = H5Screate_simple(1, dims, NULL));
  H5TRY(d = H5Dcreate2(f, "/groups", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5TRY(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids));
  H5TRY(put_string(d, "factor", "frequency")); /* what the samples of a group share */
  rc = 0;
fail:
  if (d >= 0) H5Dclose(d);
  if (s >= 0) H5Sclose(s);
  free(ids);
  return rc;
}

/* The whole file under `path`; the caller renames it into place only when this succeeds. */
static int write_archive(const Opts *o, const char *path, long first, long n, Stats *st, double stats[2]) {
  double *fac_all = malloc(sizeof(double) * n * (o->k ? o->k : 1));
  hid_t f = -1;
  int rc = 1;

  if (!fac_all) return fprintf(stderr, "beamgen: out of memory\n"), 1;
  if ((f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
    fprintf(stderr, "beamgen: cannot create '%s': %s\n", path, errno ? strerror(errno) : "HDF5 error");
    goto fail;
  }
  if (write_data(o, path, f, first, n, fac_all, st, stats)) goto fail;
  if (o->k && write_factors(o, path, f, n, fac_all)) goto fail;
  if (o->groups_per_freq > 0 && write_groups(o, path, f, first, n)) goto fail;
  H5TRY(put_string(f, "generator", "beamgen"));
  H5TRY(put_attr(f, "seed", H5T_NATIVE_ULLONG, &o->seed));
  H5TRY(put_string(f, "version", PACKAGE_VERSION));
  rc = 0;
fail:
  if (f >= 0 && H5Fclose(f) < 0) rc = 1;
  free(fac_all);
  return rc;
}

/* -files K: waveforms [first, first + n) of part k; the parts' lengths go 1 : 2 : 3, 1 : 2 : 3, ...
 * (users' archives are files of different lengths). */
static void part_range(const Opts *o, long k, long *first, long *n) {
  long total = o->nfreqs * o->duty_count, wsum = 0, before = 0;
  for (long j = 0; j < o->files; j++) wsum += 1 + j % 3, before += j < k ? 1 + j % 3 : 0;
  *first = (long)((double)total * before / wsum);
  *n = (long)((double)total * (before + 1 + k % 3) / wsum) - *first;
}

/* Put the mean/std of the whole into a written part, sync it and give it its name. */
static int finish_part(const char *tmp, const char *path, const double stats[2]) {
  hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT), d = f >= 0 ? H5Dopen2(f, "/data", H5P_DEFAULT) : -1;
  int rc = 1, fd;
  if (d >= 0) {
    hid_t a1 = H5Aopen(d, "mean", H5P_DEFAULT), a2 = H5Aopen(d, "std", H5P_DEFAULT);
    rc = !(a1 >= 0 && a2 >= 0 && H5Awrite(a1, H5T_NATIVE_DOUBLE, &stats[0]) >= 0 && H5Awrite(a2, H5T_NATIVE_DOUBLE, &stats[1]) >= 0);
    if (a1 >= 0) H5Aclose(a1);
    if (a2 >= 0) H5Aclose(a2);
    H5Dclose(d);
  }
  if (f >= 0 && H5Fclose(f) < 0) rc = 1;
  if (rc) return fprintf(stderr, "beamgen: cannot set the statistics of '%s'\n", tmp), 1;
  if ((fd = open(tmp, O_RDONLY)) < 0 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0)
    return fprintf(stderr, "beamgen: cannot move '%s' to '%s': %s\n", tmp, path, strerror(errno)), 1;
  return 0;
}

static int run_parts(const Opts *o) {
  Stats st = {0, 0, 0};
  double stats[2];
  char tmp[4200], path[4200];
  if (mkdir(o->out, 0777) != 0)
    return fprintf(stderr, "beamgen: cannot create directory '%s': %s\n", o->out, strerror(errno)), 1;
  for (long k = 0; k < o->files; k++) {
    long first, n;
    part_range(o, k, &first, &n);
    snprintf(tmp, sizeof tmp, "%s/part-%05ld.h5.tmp", o->out, k);
    errno = 0;
    if (write_archive(o, tmp, first, n, &st, stats)) return unlink(tmp), 1;
  }
  for (long k = 0; k < o->files; k++) {
    snprintf(tmp, sizeof tmp, "%s/part-%05ld.h5.tmp", o->out, k);
    snprintf(path, sizeof path, "%s/part-%05ld.h5", o->out, k);
    if (o->omit_data) {
      if (rename(tmp, path)) return fprintf(stderr, "beamgen: cannot move '%s': %s\n", tmp, strerror(errno)), 1;
    } else if (finish_part(tmp, path, stats)) return 1;
  }
  printf("beamgen: wrote %ld waveforms x %ld samples, %d factors to %s/part-*.h5 (%ld files)\n", o->nfreqs * o->duty_count,
         o->length, o->k, o->out, o->files);
  return 0;
}

static int run(int argc, char **argv) {
  Opts o;
  double stats[2];
  char tmp[4096];
  int rc = parse_args(argc, argv, &o), fd;

  if (rc == 1) return fputs(usage, stdout), 0;
  if (rc || (rc = check_opts(&o))) return rc;
  if (snprintf(tmp, sizeof tmp, "%s.tmp", o.out) >= (int)sizeof tmp) return bad("-out", o.out, "a shorter path");
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our one-line messages instead of HDF5's stack */
  if (o.files > 1) return run_parts(&o);
  errno = 0;
  Stats st = {0, 0, 0};
  if (write_archive(&o, tmp, 0, o.nfreqs * o.duty_count, &st, stats)) return unlink(tmp), 1;
  /* on disk before it gets the real name: never a half file under FILE */
  if ((fd = open(tmp, O_RDONLY)) < 0 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, o.out) != 0) {
    fprintf(stderr, "beamgen: cannot move '%s' to '%s': %s\n", tmp, o.out, strerror(errno));
    return unlink(tmp), 1;
  }
  printf("beamgen: wrote %ld waveforms x %ld samples, %d factors to %s\n", o.nfreqs * o.duty_count, o.length, o.k,
         o.out);
  return 0;
}

int main(int argc, char **argv) {
  int rank, rc = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) rc = run(argc, argv); /* a serial tool: other ranks, if any, only wait */
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}
