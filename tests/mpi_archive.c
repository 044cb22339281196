/* Archive reader under MPI (run with 1, 2 and 3 ranks): values, dtypes, several files,
 * normalisation, batches independent of the rank count, and one clear input error on every
 * rank for each kind of bad archive. Test files are written here with serial HDF5 by rank 0. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* mkdtemp under -std=c11 */
#endif
#include "disentangle/archive.h"
#include "disentangle/error.h"
#include "disentangle/rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] = "MPI tests of the HDF5 archive reader.\n";

static int rank, size, failures, test_failures;
static char dir[256];
static char made[64][320];
static int nmade;

static void expect(int cond, const char *fmt, ...) {
  if (cond) return;
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL [rank %d] ", rank);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  va_end(ap);
  test_failures++;
}

/* One PASS/FAIL line per test, agreed over all ranks. */
static void end_test(const char *name) {
  int all = test_failures;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  if (rank == 0) printf("%s %s%s\n", all ? "FAIL" : "PASS", name, all ? " (see FAIL lines above)" : "");
  fflush(stdout);
  failures += all > 0;
  test_failures = 0;
}

static const char *tmp_path(const char *name) {
  snprintf(made[nmade], sizeof made[0], "%s/%s", dir, name);
  return made[nmade++];
}

/* What a test archive holds; data and factors are given as doubles and converted by HDF5. */
typedef struct {
  hid_t ftype; /* file type of /data; 0: no /data */
  int nd;
  hsize_t dims[4];
  const double *data;
  int k;               /* factors; 0: none */
  hsize_t factor_rows; /* 0: dims[0] */
  const double *factors;
  const char *names;     /* scalar variable-length string */
  int names_fixed_array; /* write names as a fixed-length string array instead */
  int norm_on;           /* 0: no mean/std; 1: on /data; 2: on / */
  double mean, std;
} Spec;

static void put_double_attr(hid_t obj, const char *name, double v) {
  hid_t s = H5Screate(H5S_SCALAR), at = H5Acreate2(obj, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(at, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(at);
  H5Sclose(s);
}

static void put_names(hid_t d, const Spec *sp) {
  hid_t t = H5Tcopy(H5T_C_S1), s, at;
  if (!sp->names_fixed_array) {
    H5Tset_size(t, H5T_VARIABLE);
    s = H5Screate(H5S_SCALAR);
    at = H5Acreate2(d, "names", t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, t, &sp->names);
  } else { /* split "a,b" into a NULLPAD array of 16-byte strings */
    char buf[ARCHIVE_MAX_FACTORS][16] = {{0}};
    hsize_t n = 0;
    for (const char *p = sp->names; *p; n++) {
      size_t len = strcspn(p, ",");
      memcpy(buf[n], p, len);
      p += len + (p[len] == ',');
    }
    H5Tset_size(t, 16);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    s = H5Screate_simple(1, &n, NULL);
    at = H5Acreate2(d, "names", t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, t, buf);
  }
  H5Aclose(at);
  H5Sclose(s);
  H5Tclose(t);
}

/* Rank 0 writes with serial HDF5; everybody waits until the file is complete. */
static const char *write_archive(const char *name, const Spec *sp) {
  const char *path = tmp_path(name);
  if (rank == 0) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), s, d;
    if (sp->ftype) {
      s = H5Screate_simple(sp->nd, sp->dims, NULL);
      d = H5Dcreate2(f, "/data", sp->ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sp->data);
      if (sp->norm_on == 1) put_double_attr(d, "mean", sp->mean), put_double_attr(d, "std", sp->std);
      H5Dclose(d);
      H5Sclose(s);
    }
    if (sp->norm_on == 2) put_double_attr(f, "mean", sp->mean), put_double_attr(f, "std", sp->std);
    if (sp->k) {
      hsize_t fd[2] = {sp->factor_rows ? sp->factor_rows : sp->dims[0], (hsize_t)sp->k};
      s = H5Screate_simple(2, fd, NULL);
      d = H5Dcreate2(f, "/factors", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sp->factors);
      if (sp->names) put_names(d, sp);
      H5Dclose(d);
      H5Sclose(s);
    }
    H5Fclose(f);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  return path;
}

/* Open under the returning error handler, so a failure is a FAIL line, not an abort. */
static PetscErrorCode try_open(const char *csv, const ArchiveNorm *norm, Archive **a) {
  PetscErrorCode code;
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  code = archive_open(PETSC_COMM_WORLD, csv, norm, a);
  PetscPopErrorHandler();
  return code;
}

static Archive *open_ok(const char *csv, const ArchiveNorm *norm) {
  Archive *a = NULL;
  PetscErrorCode code = try_open(csv, norm, &a);
  char *msg = NULL;
  if (code) PetscErrorMessage(code, NULL, &msg);
  expect(!code && a, "archive_open('%s') failed with code %d: %s", csv, (int)code, msg ? msg : "");
  return code ? NULL : a;
}

/* value(i, v) of the test data: integers, so uint8, float32 and float64 hold them exactly */
static double ival(int i, int v) { return (double)((i * 7 + v * 3) % 17 + 1); }

static void fill(double *x, int n, int f, double scale, double shift, int first) {
  for (int i = 0; i < n; i++)
    for (int v = 0; v < f; v++) x[i * f + v] = ival(first + i, v) * scale + shift;
}

/* Every normalised value of an archive, read through archive_read (malloc'd). */
static float *values_of(const Archive *a) {
  float *x = malloc(sizeof(float) * (size_t)(archive_samples(a) * archive_features(a) + 1));
  archive_read(a, 0, (int)archive_samples(a), x);
  return x;
}
static double mean_of(const Archive *a) {
  double m;
  archive_normalisation(a, &m, NULL);
  return m;
}
static double std_of(const Archive *a) {
  double s;
  archive_normalisation(a, NULL, &s);
  return s;
}
static int64_t dim_of(const Archive *a, int i) {
  int64_t d[3];
  archive_sample_dims(a, d);
  return d[i];
}
static int nd_of(const Archive *a) {
  int64_t d[3];
  return archive_sample_dims(a, d);
}

static void check_values(const Archive *a, const double *v, double mean, double std, const char *what) {
  int bad = -1;
  float *x = values_of(a);
  for (int64_t i = 0; i < archive_samples(a) * archive_features(a) && bad < 0; i++)
    if (x[i] != (float)((v[i] - mean) / std)) bad = (int)i;
  expect(bad < 0, "%s: x[%d] = %.9g; expected (%g - %g) / %g = %.9g", what, bad, bad < 0 ? 0.0 : (double)x[bad],
         bad < 0 ? 0.0 : v[bad], mean, std, bad < 0 ? 0.0 : (double)(float)((v[bad] - mean) / std));
  free(x);
}

static void test_values(void) {
  enum { N = 13, L = 6, K = 2 };
  double x[N * L], fac[N * K];
  fill(x, N, L, 0.25, -2.0, 0); /* quarters: exact in float32, and negative values too */
  for (int i = 0; i < N * K; i++) fac[i] = i * 1.5 - 3;
  Spec sp = {H5T_IEEE_F32LE, 2, {N, L}, x, K, 0, fac, "alpha, beta", 0, 1, 0.5, 1.5};
  Archive *a = open_ok(write_archive("values.h5", &sp), NULL);
  if (a) {
    expect(archive_samples(a) == N && archive_features(a) == L && nd_of(a) == 1 && dim_of(a, 0) == L,
           "n %lld features %lld ndims %d dims[0] %lld; expected %d %d 1 %d", (long long)archive_samples(a), (long long)archive_features(a),
           nd_of(a), (long long)dim_of(a, 0), N, L, L);
    expect(mean_of(a) == 0.5 && std_of(a) == 1.5, "mean %g std %g; expected the attributes 0.5 1.5", mean_of(a), std_of(a));
    Batch b;
    batch_create(a, 0, 3, &b);
    expect(((uintptr_t)b.x % 64) == 0, "batch rows not 64-byte aligned");
    batch_free(&b);
    check_values(a, x, 0.5, 1.5, "float32 [N, L]");
    expect(archive_nfactors(a) == K && archive_factors(a) && !memcmp(archive_factors(a), fac, sizeof fac),
           "factors not read back (nfactors %d)", archive_nfactors(a));
    expect(archive_nfactors(a) == K && !strcmp(archive_factor_names(a)[0], "alpha") && !strcmp(archive_factor_names(a)[1], "beta"),
           "factor names '%s','%s'; expected alpha,beta", archive_nfactors(a) > 0 ? archive_factor_names(a)[0] : "",
           archive_nfactors(a) > 1 ? archive_factor_names(a)[1] : "");
    archive_close(&a);
    expect(a == NULL, "archive_close does not clear the pointer");
  }
  /* images, fixed-length name array, no names, attributes on the root group */
  double img[5 * 24], f3[5 * 3] = {0};
  fill(img, 5, 24, 1, 0, 3);
  Spec si = {H5T_IEEE_F32LE, 4, {5, 2, 3, 4}, img, 3, 0, f3, "u,v,w", 1, 2, 2.0, 4.0};
  a = open_ok(write_archive("images.h5", &si), NULL);
  if (a) {
    expect(nd_of(a) == 3 && dim_of(a, 0) == 2 && dim_of(a, 1) == 3 && dim_of(a, 2) == 4 && archive_features(a) == 24,
           "image shape wrong: ndims %d features %lld", nd_of(a), (long long)archive_features(a));
    expect(mean_of(a) == 2.0 && std_of(a) == 4.0, "root attributes not used: mean %g std %g", mean_of(a), std_of(a));
    check_values(a, img, 2.0, 4.0, "float32 [N, C, H, W]");
    expect(archive_nfactors(a) == 3 && !strcmp(archive_factor_names(a)[2], "w"), "fixed-length name array not read");
    archive_close(&a);
  }
  si.names = NULL;
  a = open_ok(write_archive("nonames.h5", &si), NULL);
  if (a)
    expect(archive_nfactors(a) == 3 && !strcmp(archive_factor_names(a)[0], "factor0") && !strcmp(archive_factor_names(a)[2], "factor2"),
           "default names not factor0..");
  archive_close(&a);
  end_test("values: float32 [N, L] and [N, C, H, W], factors, names");
}

static void test_dtypes(void) {
  enum { N = 11, L = 5 };
  double x[N * L];
  hid_t types[3] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_U8LE};
  const char *names[3] = {"f32.h5", "f64.h5", "u8.h5"};
  Archive *a[3] = {NULL, NULL, NULL};
  fill(x, N, L, 1, 0, 0);
  for (int t = 0; t < 3; t++) {
    Spec sp = {types[t], 2, {N, L}, x, 0, 0, NULL, NULL, 0, 0, 0, 0};
    a[t] = open_ok(write_archive(names[t], &sp), NULL);
  }
  if (a[0] && a[1] && a[2]) {
    check_values(a[0], x, mean_of(a[0]), std_of(a[0]), "float32");
    for (int t = 1; t < 3; t++)
    {
      float *xt = values_of(a[t]), *x0 = values_of(a[0]);
      expect(mean_of(a[t]) == mean_of(a[0]) && std_of(a[t]) == std_of(a[0]) && !memcmp(xt, x0, sizeof(float) * N * L),
             "%s normalises differently from float32", names[t]);
      free(xt), free(x0);
    }
  }
  for (int t = 0; t < 3; t++) archive_close(&a[t]);
  end_test("dtypes: float64 and uint8 give the same floats as float32");
}

static void test_two_files(void) {
  enum { NA = 7, NB = 5, L = 4, K = 1 };
  double xa[NA * L], xb[NB * L], x[(NA + NB) * L], fa[NA], fb[NB];
  fill(xa, NA, L, 1, 0, 0);
  fill(xb, NB, L, 1, 100, 50);
  for (int i = 0; i < NA; i++) fa[i] = i;
  for (int i = 0; i < NB; i++) fb[i] = 100 + i;
  memcpy(x, xa, sizeof xa);
  memcpy(x + NA * L, xb, sizeof xb);
  Spec sa = {H5T_IEEE_F32LE, 2, {NA, L}, xa, K, 0, fa, "id", 0, 0, 0, 0}, sb = sa;
  sb.dims[0] = NB, sb.data = xb, sb.factors = fb;
  char csv[700];
  snprintf(csv, sizeof csv, "%s, %s", write_archive("a.h5", &sa), write_archive("b.h5", &sb));
  Archive *a = open_ok(csv, NULL);
  if (a) {
    expect(archive_samples(a) == NA + NB && archive_nfiles(a) == 2 && archive_file_first(a, 0) == 0 && archive_file_first(a, 1) == NA,
           "n %lld nfiles %d file_first %lld %lld; expected %d 2 0 %d", (long long)archive_samples(a), archive_nfiles(a),
           (long long)archive_file_first(a, 0), (long long)archive_file_first(a, archive_nfiles(a) > 1), NA + NB, NA);
    check_values(a, x, mean_of(a), std_of(a), "two files in order");
    expect(archive_factors(a)[NA - 1] == NA - 1 && archive_factors(a)[NA] == 100 && archive_factors(a)[NA + NB - 1] == 100 + NB - 1,
           "factors not in file order");
  }
  archive_close(&a);
  end_test("two files: n is the sum, rows in file order, file_first");
}

static void test_norm(void) {
  enum { N = 9, L = 7 };
  double x[N * L], s = 0, q = 0;
  fill(x, N, L, 0.5, 3, 0);
  for (int i = 0; i < N * L; i++) s += x[i];
  for (int i = 0; i < N * L; i++) q += (x[i] - s / (N * L)) * (x[i] - s / (N * L));
  double mean = s / (N * L), std = sqrt(q / (N * L));
  Spec sp = {H5T_IEEE_F64LE, 2, {N, L}, x, 0, 0, NULL, NULL, 0, 0, 0, 0};
  const char *plain = write_archive("plain.h5", &sp);
  Archive *a = open_ok(plain, NULL);
  if (a) {
    expect(fabs(mean_of(a) - mean) <= 1e-12 * fabs(mean) && fabs(std_of(a) - std) <= 1e-12 * std,
           "computed mean %.17g std %.17g; expected %.17g %.17g", mean_of(a), std_of(a), mean, std);
    check_values(a, x, mean_of(a), std_of(a), "computed normalisation");
  }
  archive_close(&a);
  sp.norm_on = 1, sp.mean = 3, sp.std = 2;
  const char *attrs = write_archive("attrs.h5", &sp);
  a = open_ok(attrs, NULL);
  if (a) expect(mean_of(a) == 3 && std_of(a) == 2, "attributes mean 3 std 2 not used: %g %g", mean_of(a), std_of(a));
  archive_close(&a);
  ArchiveNorm over = {-1, 4, 1, 1};
  a = open_ok(attrs, &over);
  if (a) {
    expect(mean_of(a) == -1 && std_of(a) == 4, "option override -1, 4 not used: %g %g", mean_of(a), std_of(a));
    check_values(a, x, -1, 4, "override");
  }
  archive_close(&a);
  /* files disagreeing on their attributes: fall back to the computed statistics */
  sp.mean = 5;
  char csv[700];
  snprintf(csv, sizeof csv, "%s,%s", attrs, write_archive("attrs5.h5", &sp));
  a = open_ok(csv, NULL);
  if (a)
    expect(fabs(mean_of(a) - mean) <= 1e-12 * fabs(mean), "disagreeing attributes: mean %g; expected computed %g", mean_of(a),
           mean);
  archive_close(&a);
  end_test("normalisation: computed, attributes, option override");
}

static void test_batches(void) {
  enum { N = 23, L = 3, B = 10 };
  double x[N * L];
  fill(x, N, L, 1, 0, 0);
  Spec sp = {H5T_IEEE_F32LE, 2, {N, L}, x, 0, 0, NULL, NULL, 0, 0, 0, 0};
  Archive *a = open_ok(write_archive("batch.h5", &sp), NULL);
  if (!a) {
    end_test("batches");
    return;
  }
  Sampler cur, ref;
  sampler_init(&cur, SAMPLER_IID, 12345, 0, B, N);
  ref = cur;
  int counts[64], displs[64], q = B / size, r = B % size;
  for (int p = 0; p < size; p++) counts[p] = (q + (p < r)) * L, displs[p] = (p * q + (p < r ? p : r)) * L;
  int off = displs[rank] / L, cnt = counts[rank] / L, distinct = 0;
  float mine[B * L], gathered[B * L], full[B * L];
  int64_t mine_index[B], full_index[B];
  for (int step = 0; step < 3; step++) {
    int64_t first = sampler_index(&cur, 0);
    for (int j = 1; j < B; j++) distinct += sampler_index(&cur, j) != first;
    for (int j = 0; j < B; j++) /* the documented draw: counters (step, position) of the batch stream */
      expect(sampler_index(&cur, j) ==
                 (int64_t)rng_below(cur.seed, RNG_STREAM_BATCH, (uint64_t)step, (uint64_t)j, N),
             "step %d row %d: index not rng_below", step, j);
    Batch mb = {.offset = off, .count = cnt, .x = mine, .index = mine_index};
    PetscErrorCode code = archive_next_batch(a, &cur, &mb);
    expect(!code && cur.step == step + 1, "archive_next_batch: code %d, step %lld; expected 0, %d", (int)code,
           (long long)cur.step, step + 1);
    for (int j = 0; j < cnt; j++) {
      int64_t s = sampler_index(&ref, off + j);
      float want[L];
      archive_read(a, s, 1, want);
      expect(s >= 0 && s < N && mine_index[j] == s && !memcmp(mine + j * L, want, sizeof(float) * L),
             "step %d row %d: not sample %lld", step, off + j, (long long)s);
    }
    (void)MPI_Allgatherv(mine, cnt * L, MPI_FLOAT, gathered, counts, displs, MPI_FLOAT, PETSC_COMM_WORLD);
    Batch fb = {.offset = 0, .count = B, .x = full, .index = full_index};
    archive_next_batch(a, &ref, &fb); /* the whole batch, on one rank */
    expect(!memcmp(gathered, full, sizeof full), "step %d: slices over %d ranks differ from the one-rank batch", step,
           size);
  }
  expect(distinct > 0, "every batch index is the same sample");
  archive_close(&a);
  end_test("batches: indices, rows, cursor, independent of rank count");
}

/* A bad archive: DT_ERR_INPUT on every rank, a message naming the file and what is wrong. */
static void expect_input_error(const char *what, const char *csv, const char *name, const char *detail) {
  Archive *a = NULL;
  PetscErrorCode code = try_open(csv, NULL, &a);
  char *msg = NULL;
  int lo = (int)code, hi = (int)code;
  PetscErrorMessage(code, NULL, &msg);
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  expect(lo == DT_ERR_INPUT && hi == DT_ERR_INPUT, "%s: codes %d..%d over the ranks; expected DT_ERR_INPUT (%d) on all",
         what, lo, hi, DT_ERR_INPUT);
  expect(a == NULL, "%s: archive returned despite the error", what);
  expect(msg && strstr(msg, name) && strstr(msg, detail), "%s: message '%s' should name '%s' and say '%s'", what,
         msg ? msg : "(none)", name, detail);
  if (rank == 0 && msg && code) printf("  %-22s -> %s\n", what, msg);
  archive_close(&a);
}

static void test_bad_inputs(void) {
  enum { N = 13, L = 6 };
  double x[N * L], x3[4 * 5 * 6] = {0}, fac[(N + 1) * 2] = {0};
  fill(x, N, L, 1, 0, 0);
  Spec ok = {H5T_IEEE_F32LE, 2, {N, L}, x, 0, 0, NULL, NULL, 0, 0, 0, 0}, sp;
  const char *good = write_archive("good.h5", &ok);
  char csv[700];

  expect_input_error("missing file", tmp_path("missing.h5"), "missing.h5", "cannot open: No such file or directory");
  const char *text = tmp_path("text.h5");
  if (rank == 0) {
    FILE *fp = fopen(text, "w");
    fputs("not hdf5\n", fp);
    fclose(fp);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  expect_input_error("not HDF5", text, "text.h5", "not an HDF5 file");
  sp = ok, sp.ftype = 0, sp.k = 2, sp.factors = fac;
  expect_input_error("no /data", write_archive("nodata.h5", &sp), "nodata.h5", "no dataset /data");
  sp = ok, sp.nd = 3, sp.dims[0] = 4, sp.dims[1] = 5, sp.dims[2] = 6, sp.data = x3;
  expect_input_error("3-D /data", write_archive("threed.h5", &sp), "threed.h5", "3 dimensions [4, 5, 6]");
  sp = ok, sp.ftype = H5T_STD_I32LE;
  expect_input_error("int32 /data (int16 and uint16 are read)", write_archive("int32.h5", &sp), "int32.h5", "type int32");
  /* NaN in the last sample: only the last rank reads it, every rank must report it */
  x[(N - 1) * L + 4] = NAN;
  sp = ok;
  snprintf(csv, sizeof csv, "%s,%s", good, write_archive("nan.h5", &sp));
  expect_input_error("NaN", csv, "nan.h5", "/data sample 12 (global sample 25) holds NaN at value 4");
  x[(N - 1) * L + 4] = 1, x[1] = INFINITY;
  sp = ok, sp.ftype = H5T_IEEE_F64LE;
  expect_input_error("Inf", write_archive("inf.h5", &sp), "inf.h5", "/data sample 0 (global sample 0) holds Inf");
  x[1] = 1;
  sp = ok, sp.dims[1] = L - 1;
  snprintf(csv, sizeof csv, "%s,%s", good, write_archive("short.h5", &sp));
  expect_input_error("different shapes", csv, "short.h5", "shape [5] but");
  sp = ok, sp.k = 2, sp.factor_rows = N + 1, sp.factors = fac;
  expect_input_error("/factors wrong N", write_archive("facn.h5", &sp), "facn.h5", "/factors has shape [14, 2]");
  sp = ok, sp.norm_on = 1, sp.mean = 0, sp.std = 0;
  expect_input_error("std attribute 0", write_archive("std0.h5", &sp), "std0.h5", "attribute std");
  snprintf(csv, sizeof csv, "%s,,%s", good, good);
  expect_input_error("empty list entry", csv, "-data", "entry 2");
  /* an input error must not leave files, datasets or attributes open */
  expect(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "%d HDF5 objects still open",
         (int)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
  end_test("bad inputs: DT_ERR_INPUT on every rank, message names file and problem");
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(dt_error_setup());
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  if (rank == 0) {
    snprintf(dir, sizeof dir, "/tmp/mpi_archive.XXXXXX");
    if (!mkdtemp(dir)) dir[0] = 0;
  }
  (void)MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, PETSC_COMM_WORLD);
  PetscCheck(dir[0], PETSC_COMM_WORLD, PETSC_ERR_FILE_OPEN, "cannot create a temporary directory under /tmp");
  test_values();
  test_dtypes();
  test_two_files();
  test_norm();
  test_batches();
  test_bad_inputs();
  MPI_Barrier(PETSC_COMM_WORLD);
  if (rank == 0) {
    for (int i = 0; i < nmade; i++) unlink(made[i]);
    rmdir(dir);
    printf("%s: %d test(s) failed on %d rank(s)\n", failures ? "FAIL" : "PASS", failures, size);
  }
  PetscCall(PetscFinalize());
  return failures ? 1 : 0;
}
