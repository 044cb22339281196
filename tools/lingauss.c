/* lingauss: the synthetic data of the seed paper's dimensionality experiment ("Disentangled
 * activations in deep networks", Kagebaeck & Mogren 2018): x = Omega z with z ~ N(0, Sigma),
 * d independent Gaussian factors of a non-degenerate diagonal covariance, pushed through a
 * random linear map Omega [D][d] to D dimensions.
 *
 * Choices of this tool (the paper gives d = 4 and 10000 samples, not D, Sigma or Omega's law):
 *   Sigma = diag(-variances), default 4,3,2,1 (distinct, so the principal axes are defined);
 *   Omega entries N(0, 1/d) drawn from -omega_seed (so x has variance of order Sigma's mean);
 *   D = -dim, default 20; z from -seed (a new data set for the same Omega with another -seed);
 *   -noise s adds N(0, s^2) to every value of x (default 0: the paper's x = Omega z). Without
 *     noise x lies in a d-dimensional subspace, so the code of a LINEAR autoencoder has rank d
 *     whatever it learned: TdV = 1 and UD90 <= d at any lambda. Noise gives the D - d other
 *     directions some variance, which an unregularised code keeps and L_Sigma switches off.
 * Writes /data float64 [n][D] with attributes mean 0 and std 1 (the program then trains on x
 * as it is), /factors float64 [n][d] (z, names z1..zd) and /omega [D][d]; NAME.tmp, then renamed. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disentangle/rng.h"

#define MAX_D 64
enum { STREAM_Z = 0x4c47, STREAM_OMEGA = 0x4f4d, STREAM_NOISE = 0x4e4f };

static const char usage[] =
  "usage: lingauss -out FILE [-n 10000] [-dim 20] [-variances 4,3,2,1] [-noise 0] [-seed 1] [-omega_seed 1]\n"
  "x = Omega z, z ~ N(0, diag(variances)), Omega [dim][d] ~ N(0, 1/d) from -omega_seed (d = number of variances).\n"
  "Writes /data [n][dim], /factors [n][d] (z), /omega; exit 2 on bad options, 3 on I/O errors.\n";

typedef struct {
  const char *out;
  long n, dim, d, seed, omega_seed;
  double var[MAX_D], noise;
} Opts;

static int bad(const char *opt, const char *val, const char *want) {
  fprintf(stderr, "lingauss: option %s: '%s' is not %s\n", opt, val, want);
  return 2;
}

static int parse(int argc, char **argv, Opts *o) {
  *o = (Opts){.n = 10000, .dim = 20, .d = 4, .seed = 1, .omega_seed = 1, .var = {4, 3, 2, 1}};
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(k, "-help") || !strcmp(k, "-h")) return fputs(usage, stdout), 1;
    if (!v) return fprintf(stderr, "lingauss: option %s needs a value\n%s", k, usage), 2;
    char *end;
    i++;
    if (!strcmp(k, "-out")) o->out = v;
    else if (!strcmp(k, "-variances")) {
      o->d = 0;
      for (const char *p = v; *p && o->d < MAX_D; p = *end ? end + 1 : end) {
        o->var[o->d] = strtod(p, &end);
        if (end == p || !(o->var[o->d] > 0) || (*end && *end != ',')) return bad(k, v, "a list of positive variances");
        o->d++;
      }
    } else if (!strcmp(k, "-noise")) {
      o->noise = strtod(v, &end);
      if (end == v || *end || !(o->noise >= 0) || o->noise > 1e6) return bad(k, v, "a standard deviation >= 0");
    } else {
      long x = strtol(v, &end, 10), *f = !strcmp(k, "-n") ? &o->n : !strcmp(k, "-dim") ? &o->dim : !strcmp(k, "-seed") ? &o->seed
                                          : !strcmp(k, "-omega_seed") ? &o->omega_seed : NULL;
      if (!f) return fprintf(stderr, "lingauss: unknown option %s\n%s", k, usage), 2;
      if (*end || end == v || x < (f == &o->n ? 2 : f == &o->dim ? 1 : 0) || x > 100000000) return bad(k, v, "a valid count or seed");
      *f = x;
    }
  }
  if (!o->out) return fprintf(stderr, "lingauss: option -out: missing; give the archive to write\n"), 2;
  if (o->dim < o->d) return fprintf(stderr, "lingauss: option -dim: %ld is below the %ld factors\n", o->dim, o->d), 2;
  return 0;
}

static int put_double(hid_t obj, const char *name, double v) {
  hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  return e < 0 ? -1 : 0;
}

static int put_string(hid_t obj, const char *name, const char *v) {
  hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
  H5Tset_size(t, strlen(v) + 1);
  hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, t, v);
  if (a >= 0) H5Aclose(a);
  H5Sclose(s), H5Tclose(t);
  return e < 0 ? -1 : 0;
}

static hid_t put_matrix(hid_t f, const char *name, const double *m, long rows, long cols) {
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols}, chunk[2] = {(hsize_t)(rows < 1024 ? rows : 1024), (hsize_t)cols};
  hid_t s = H5Screate_simple(2, dims, NULL), p = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (s >= 0 && p >= 0 && H5Pset_chunk(p, 2, chunk) >= 0)
    d = H5Dcreate2(f, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
  if (d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m) < 0) H5Dclose(d), d = -1;
  if (p >= 0) H5Pclose(p);
  if (s >= 0) H5Sclose(s);
  return d;
}

static int write_archive(const Opts *o, const char *path) {
  const long n = o->n, D = o->dim, d = o->d;
  double *z = malloc(sizeof(double) * n * d), *x = calloc((size_t)n * D, sizeof(double)), *om = malloc(sizeof(double) * D * d);
  int rc = 3;
  hid_t f = -1, dd = -1, df = -1, dm = -1;
  if (!z || !x || !om) goto done;
  for (long i = 0; i < D * d; i++) om[i] = rng_normal((uint64_t)o->omega_seed, STREAM_OMEGA, 0, (uint64_t)i) / sqrt((double)d);
  for (long r = 0; r < n; r++)
    for (long j = 0; j < d; j++) z[r * d + j] = sqrt(o->var[j]) * rng_normal((uint64_t)o->seed, STREAM_Z, (uint64_t)r, (uint64_t)j);
  for (long r = 0; r < n; r++)
    for (long i = 0; i < D; i++)
      for (long j = 0; j < d; j++) x[r * D + i] += om[i * d + j] * z[r * d + j];
  if (o->noise > 0)
    for (long r = 0; r < n; r++)
      for (long i = 0; i < D; i++) x[r * D + i] += o->noise * rng_normal((uint64_t)o->seed, STREAM_NOISE, (uint64_t)r, (uint64_t)i);
  char names[MAX_D * 8] = "";
  for (long j = 0; j < d; j++) snprintf(names + strlen(names), sizeof names - strlen(names), "%sz%ld", j ? "," : "", j + 1);
  if ((f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto done;
  if ((dd = put_matrix(f, "/data", x, n, D)) < 0 || put_double(dd, "mean", 0.0) || put_double(dd, "std", 1.0)) goto done;
  if ((df = put_matrix(f, "/factors", z, n, d)) < 0 || put_string(df, "names", names)) goto done;
  if ((dm = put_matrix(f, "/omega", om, D, d)) < 0) goto done;
  if (put_string(f, "generator", "lingauss") || put_double(f, "seed", (double)o->seed) || put_double(f, "omega_seed", (double)o->omega_seed) ||
      put_double(f, "noise", o->noise))
    goto done;
  rc = 0;
done:
  if (dd >= 0) H5Dclose(dd);
  if (df >= 0) H5Dclose(df);
  if (dm >= 0) H5Dclose(dm);
  if (f >= 0 && H5Fclose(f) < 0) rc = 3;
  if (rc) fprintf(stderr, "lingauss: cannot write '%s': %s\n", path, !z || !x || !om ? "out of memory" : "HDF5 error");
  free(z), free(x), free(om);
  return rc;
}

static int run(int argc, char **argv) {
  Opts o;
  int rc = parse(argc, argv, &o);
  if (rc == 1) return 0;
  if (rc) return rc;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", o.out) >= (int)sizeof tmp) return bad("-out", o.out, "a shorter path");
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if ((rc = write_archive(&o, tmp))) return unlink(tmp), rc;
  if (rename(tmp, o.out) != 0) return fprintf(stderr, "lingauss: cannot move '%s' to '%s': %s\n", tmp, o.out, strerror(errno)), unlink(tmp), 3;
  printf("lingauss: wrote %ld samples of %ld values from %ld factors (Omega seed %ld) to %s\n", o.n, o.dim, o.d, o.omega_seed, o.out);
  return 0;
}

int main(int argc, char **argv) {
  int rank, rc = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) rc = run(argc, argv); /* a serial tool */
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}
