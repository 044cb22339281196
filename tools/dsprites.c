/* dsprites: a procedural dSprites (Matthey et al. 2017) — 64x64 binary images of one white
 * shape on black, with five known generative factors, deterministic from the options.
 *
 * Factors, in the order of /factors and of the sample index (pos_y varies fastest):
 *   shape        1 square, 2 ellipse, 3 heart (the first -shapes of them)
 *   scale        -scales values linearly from 0.5 to 1
 *   orientation  -orientations values 2 pi j / O, j = 0 .. O-1, radians counter-clockwise
 *   pos_x, pos_y -positions values linearly from 0 to 1 (pos_x left to right, pos_y top to bottom)
 * The defaults give the full grid 3 x 6 x 40 x 32 x 32 = 737,280 images; -n N keeps N of them,
 * drawn without replacement by the seed, in grid order. (One value of a factor: scale 0.75,
 * position 0.5, orientation 0; the column stays in /factors.)
 *
 * Rendering: a pixel (row r, column c) is 1 when its centre (c + 1/2, r + 1/2) lies inside the
 * shape. A shape at scale 1 fits in a disc of radius R = 12 px; its centre moves over
 * [R, 64 - R] along each axis, so every shape stays inside the image at every orientation.
 * In units of s R around the centre (u right, v up, after rotating the pixel by -orientation):
 *   square   max(|u|, |v|) <= 1/sqrt 2             (corners on the unit circle; 17 px side at s = 1)
 *   ellipse  u^2 + (v / 0.5)^2 <= 1                 (24 x 12 px at s = 1)
 *   heart    (X^2 + Y^2 - 1)^3 - X^2 Y^3 <= 0 with X = 1.3 u, Y = 1.3 v + 0.2935, i.e. the
 *            classic implicit heart curve, centred on its area centroid and shrunk into the disc
 *            (21 x 21 px at s = 1)
 *
 * How it differs from DeepMind's dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz:
 *  - The original was drawn from vector outlines with anti-aliasing and then thresholded; here
 *    pixel centres are tested against the exact shape, so edges differ by up to a pixel and
 *    sizes, margins and the heart's outline are this file's choices, not measured copies.
 *  - The original's 40 orientations are linspace(0, 2 pi, 40): the first and last are the same
 *    image. Here they are 2 pi j / 40 over [0, 2 pi), no duplicate. In both, the square repeats
 *    every pi/2 and the ellipse every pi, so their orientation is identifiable only modulo that;
 *    the heart here has a left-right mirror symmetry and no rotational one.
 *  - The original's constant `color` factor is left out, so /factors has 5 columns, not 6.
 *  - Images are uint8 0/1 in /data [N, 1, 64, 64] (NCHW with one channel), not a packed array.
 *
 * Grouped data (ML-VAE): -group_factor NAME writes /groups int64 [N] where the samples of a group
 * share the value of factor NAME and the other factors vary. -groups_per_value G splits each
 * value's samples into G groups at random (by the seed and the grid index, so a sample keeps its
 * group whatever -n keeps): group id = value index * G + split. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* fsync under -std=c11 */
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
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

enum { SIDE = 64, K = 5, CHUNK_ROWS = 32, STREAM_SUBSET = 0x64737072, STREAM_GROUP_SPLIT = 0x64737073 };
#define RADIUS 12.0 /* px: the disc that holds a shape at scale 1 */
static const char *factor_names = "shape,scale,orientation,pos_x,pos_y";
static const char *factor_name[K] = {"shape", "scale", "orientation", "pos_x", "pos_y"};

typedef struct {
  const char *out;
  unsigned long long seed;
  long n, shapes, scales, orientations, positions, gzip;
  long grid; /* shapes x scales x orientations x positions^2 */
  const char *group_factor; /* NULL: no /groups */
  int group_k;              /* its column */
  long groups_per_value;
} Opts;

static const char usage[] =
    "usage: dsprites -out FILE [-seed 1] [-n N] [-shapes 3] [-scales 6] [-orientations 40] [-positions 32]\n"
    "                [-gzip 1] [-group_factor NAME [-groups_per_value 1]] [-help]\n"
    "Writes 64x64 binary images of a square, an ellipse or a heart to /data uint8 [N, 1, 64, 64] and their\n"
    "factors (shape, scale, orientation, pos_x, pos_y) to /factors float64 [N, 5] with attribute names.\n"
    "The grid is shapes x scales (0.5..1) x orientations ([0, 2 pi)) x positions^2 ([0, 1] each); the\n"
    "defaults give the 737,280 images of dSprites. -n N keeps N of them, drawn without replacement by\n"
    "-seed. -gzip sets the deflate level of /data (0: none).\n"
    "-group_factor NAME (shape, scale, orientation, pos_x or pos_y) also writes /groups int64 [N] (grouped\n"
    "data for -sampler grouped): a group's samples share the value of NAME, the other factors vary.\n"
    "-groups_per_value G splits each value's samples into G groups at random (by -seed); group id =\n"
    "value index * G + split.\n";

static int bad(const char *opt, const char *val, const char *expected) {
  fprintf(stderr, "dsprites: option %s: '%s' is not valid; expected %s\n", opt, val, expected);
  return 2;
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

static const char *valued[] = {"-out",         "-seed",      "-n",    "-shapes",      "-scales",
                               "-orientations", "-positions", "-gzip", "-group_factor", "-groups_per_value"};

/* 0: go on; 1: -help given; 2: bad command line (already reported). */
static int parse_args(int argc, char **argv, Opts *o) {
  *o = (Opts){.seed = 1, .shapes = 3, .scales = 6, .orientations = 40, .positions = 32, .gzip = 1, .groups_per_value = 1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0, known = 0;
    if (!strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
    for (size_t j = 0; j < sizeof valued / sizeof valued[0]; j++) known = known || !strcmp(a, valued[j]);
    if (!known) return fprintf(stderr, "dsprites: unknown option '%s'; see dsprites -help\n", a), 2;
    if (!v) return fprintf(stderr, "dsprites: option %s needs a value; see dsprites -help\n", a), 2;
    i++;
    if (!strcmp(a, "-out")) o->out = v;
    else if (!strcmp(a, "-seed")) {
      char *end;
      errno = 0;
      o->seed = strtoull(v, &end, 10);
      if (errno || end == v || *end || v[0] == '-') rc = bad(a, v, "a non-negative integer");
    } else if (!strcmp(a, "-n")) rc = parse_int(a, v, 1, 1L << 40, &o->n);
    else if (!strcmp(a, "-shapes")) rc = parse_int(a, v, 1, 3, &o->shapes);
    else if (!strcmp(a, "-scales")) rc = parse_int(a, v, 1, 1000, &o->scales);
    else if (!strcmp(a, "-orientations")) rc = parse_int(a, v, 1, 100000, &o->orientations);
    else if (!strcmp(a, "-positions")) rc = parse_int(a, v, 1, 1000, &o->positions);
    else if (!strcmp(a, "-gzip")) rc = parse_int(a, v, 0, 9, &o->gzip);
    else if (!strcmp(a, "-groups_per_value")) rc = parse_int(a, v, 1, 100000000, &o->groups_per_value);
    else if (!strcmp(a, "-group_factor")) {
      o->group_factor = v, o->group_k = -1;
      for (int k = 0; k < K; k++)
        if (!strcmp(v, factor_name[k])) o->group_k = k;
      if (o->group_k < 0) rc = bad(a, v, "one of shape, scale, orientation, pos_x, pos_y");
    }
    if (rc) return rc;
  }
  return 0;
}

static int check_opts(Opts *o) {
  if (!o->out) return fprintf(stderr, "dsprites: option -out is required: the HDF5 file to write\n"), 2;
  o->grid = o->shapes * o->scales * o->orientations * o->positions * o->positions;
  if (o->grid > 100000000L)
    return fprintf(stderr, "dsprites: the grid has %ld images; at most 100000000 (use fewer values or -n)\n", o->grid),
           2;
  if (o->n > o->grid) {
    char v[32], what[96];
    snprintf(v, sizeof v, "%ld", o->n);
    snprintf(what, sizeof what, "at most %ld, the size of the grid", o->grid);
    return bad("-n", v, what);
  }
  if (!o->n) o->n = o->grid;
  if (o->groups_per_value > 1 && !o->group_factor)
    return fprintf(stderr, "dsprites: option -groups_per_value: given without -group_factor, which says what groups share\n"), 2;
  return 0;
}

/* Grid index g's value index of factor k (the order of factors_of). */
static long level_of(const Opts *o, long g, int k) {
  long lv[K];
  lv[4] = g % o->positions, lv[3] = (g /= o->positions) % o->positions, lv[2] = (g /= o->positions) % o->orientations;
  lv[1] = (g /= o->orientations) % o->scales, lv[0] = g / o->scales;
  return lv[k];
}

/* n values from lo to hi; one value: the middle. */
static double level(long j, long n, double lo, double hi) { return n > 1 ? lo + (hi - lo) * j / (n - 1) : 0.5 * (lo + hi); }

/* Factor values of grid index g (pos_y fastest). */
static void factors_of(const Opts *o, long g, double *f) {
  long py = g % o->positions, px = (g /= o->positions) % o->positions, r = (g /= o->positions) % o->orientations;
  long sc = (g /= o->orientations) % o->scales, sh = g / o->scales;
  f[0] = (double)(sh + 1);
  f[1] = level(sc, o->scales, 0.5, 1.0);
  f[2] = 2 * M_PI * r / o->orientations;
  f[3] = level(px, o->positions, 0.0, 1.0);
  f[4] = level(py, o->positions, 0.0, 1.0);
}

static int inside(int shape, double u, double v) {
  switch (shape) {
  case 1: return fmax(fabs(u), fabs(v)) <= M_SQRT1_2;
  case 2: return u * u + 4 * v * v <= 1;
  default: {
    double X = 1.3 * u, Y = 1.3 * v + 0.2935, q = X * X + Y * Y - 1;
    return q * q * q - X * X * Y * Y * Y <= 0;
  }
  }
}

/* Only pixels within the disc's bounding box can be set: the rest stays 0. */
static void render(const double *f, unsigned char *img) {
  int shape = (int)f[0];
  double size = f[1] * RADIUS, c = cos(f[2]), s = sin(f[2]);
  double cx = RADIUS + f[3] * (SIDE - 2 * RADIUS), cy = RADIUS + f[4] * (SIDE - 2 * RADIUS);
  memset(img, 0, SIDE * SIDE);
  int r0 = (int)fmax(0, floor(cy - size - 1)), r1 = (int)fmin(SIDE - 1, ceil(cy + size + 1));
  int c0 = (int)fmax(0, floor(cx - size - 1)), c1 = (int)fmin(SIDE - 1, ceil(cx + size + 1));
  for (int r = r0; r <= r1; r++)
    for (int col = c0; col <= c1; col++) {
      double dx = col + 0.5 - cx, dy = cy - (r + 0.5); /* y up */
      double u = (c * dx + s * dy) / size, v = (-s * dx + c * dy) / size;
      img[r * SIDE + col] = (unsigned char)inside(shape, u, v);
    }
}

/* The grid indices to write, ascending: all of them, or n drawn without replacement (a partial
 * Fisher-Yates shuffle driven by the counter-based generator, so the draw is a function of the
 * seed and the grid only). */
static long *choose(const Opts *o) {
  long *idx = malloc(sizeof *idx * o->grid);
  if (!idx) return NULL;
  for (long g = 0; g < o->grid; g++) idx[g] = g;
  if (o->n == o->grid) return idx;
  for (long j = 0; j < o->n; j++) {
    long pick = j + (long)rng_below(o->seed, STREAM_SUBSET, (uint64_t)j, 0, (uint64_t)(o->grid - j));
    long t = idx[j];
    idx[j] = idx[pick], idx[pick] = t;
  }
  /* counting sort by a presence mask: ascending grid order */
  unsigned char *keep = calloc((size_t)o->grid, 1);
  if (!keep) return free(idx), NULL;
  for (long j = 0; j < o->n; j++) keep[idx[j]] = 1;
  long m = 0;
  for (long g = 0; g < o->grid; g++)
    if (keep[g]) idx[m++] = g;
  free(keep);
  return idx;
}

#define H5TRY(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) < 0) {                                                                                                  \
      fprintf(stderr, "dsprites: cannot write '%s': HDF5 call failed: %s\n", path, #call);                             \
      goto fail;                                                                                                       \
    }                                                                                                                  \
  } while (0)

/* Render and write CHUNK_ROWS images at a time; factors of every image into fac[n][K]. */
static int write_data(const Opts *o, const char *path, hid_t f, const long *idx, double *fac) {
  hsize_t dims[4] = {(hsize_t)o->n, 1, SIDE, SIDE}, chunk[4] = {(hsize_t)(o->n < CHUNK_ROWS ? o->n : CHUNK_ROWS), 1, SIDE, SIDE};
  hid_t d = -1, fs = -1, ms = -1, dcpl = -1;
  unsigned char *buf = malloc((size_t)CHUNK_ROWS * SIDE * SIDE);
  int rc = 1;

  if (!buf) return fprintf(stderr, "dsprites: out of memory\n"), 1;
  H5TRY(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  H5TRY(H5Pset_chunk(dcpl, 4, chunk));
  if (o->gzip > 0 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) H5TRY(H5Pset_deflate(dcpl, (unsigned)o->gzip));
  H5TRY(fs = H5Screate_simple(4, dims, NULL));
  H5TRY(d = H5Dcreate2(f, "/data", H5T_STD_U8LE, fs, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  for (long r0 = 0; r0 < o->n; r0 += CHUNK_ROWS) {
    long rows = o->n - r0 < CHUNK_ROWS ? o->n - r0 : CHUNK_ROWS;
    for (long r = 0; r < rows; r++) {
      factors_of(o, idx[r0 + r], fac + (r0 + r) * K);
      render(fac + (r0 + r) * K, buf + r * SIDE * SIDE);
    }
    hsize_t start[4] = {(hsize_t)r0, 0, 0, 0}, cnt[4] = {(hsize_t)rows, 1, SIDE, SIDE};
    H5TRY(ms = H5Screate_simple(4, cnt, NULL));
    H5TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL));
    H5TRY(H5Dwrite(d, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, buf));
    H5TRY(H5Sclose(ms));
    ms = -1;
  }
  rc = 0;
fail:
  if (ms >= 0) H5Sclose(ms);
  if (d >= 0) H5Dclose(d);
  if (fs >= 0) H5Sclose(fs);
  if (dcpl >= 0) H5Pclose(dcpl);
  free(buf);
  return rc;
}

static int write_factors(const Opts *o, const char *path, hid_t f, const double *fac) {
  hsize_t dims[2] = {(hsize_t)o->n, K};
  hid_t s = -1, d = -1;
  int rc = 1;
  H5TRY(s = H5Screate_simple(2, dims, NULL));
  H5TRY(d = H5Dcreate2(f, "/factors", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5TRY(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, fac));
  H5TRY(put_string(d, "names", factor_names));
  /* all discrete, as the disentanglement library treats dSprites (at most 40 values each) */
  H5TRY(put_string(d, "kinds", "discrete,discrete,discrete,discrete,discrete"));
  rc = 0;
fail:
  if (d >= 0) H5Dclose(d);
  if (s >= 0) H5Sclose(s);
  return rc;
}

/* /groups: samples of a group share the value of -group_factor. */
static int write_groups(const Opts *o, const char *path, hid_t f, const long *idx) {
  hsize_t dims[1] = {(hsize_t)o->n};
  hid_t s = -1, d = -1;
  int64_t *ids = malloc(sizeof *ids * (size_t)o->n);
  int rc = 1;

  if (!ids) return fprintf(stderr, "dsprites: out of memory\n"), 1;
  for (long i = 0; i < o->n; i++) {
    long split = o->groups_per_value > 1
                     ? (long)rng_below(o->seed, STREAM_GROUP_SPLIT, (uint64_t)idx[i], 0, (uint64_t)o->groups_per_value)
                     : 0;
    ids[i] = (int64_t)level_of(o, idx[i], o->group_k) * o->groups_per_value + split;
  }
  H5TRY(s = H5Screate_simple(1, dims, NULL));
  H5TRY(d = H5Dcreate2(f, "/groups", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5TRY(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids));
  H5TRY(put_string(d, "factor", o->group_factor));
  rc = 0;
fail:
  if (d >= 0) H5Dclose(d);
  if (s >= 0) H5Sclose(s);
  free(ids);
  return rc;
}

/* The whole file under `path`; the caller renames it into place only when this succeeds. */
static int write_archive(const Opts *o, const char *path) {
  long *idx = choose(o);
  double *fac = malloc(sizeof(double) * o->n * K);
  hid_t f = -1;
  int rc = 1;

  if (!idx || !fac) return fprintf(stderr, "dsprites: out of memory\n"), free(idx), free(fac), 1;
  if ((f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
    fprintf(stderr, "dsprites: cannot create '%s': %s\n", path, errno ? strerror(errno) : "HDF5 error");
    goto fail;
  }
  if (write_data(o, path, f, idx, fac)) goto fail;
  if (write_factors(o, path, f, fac)) goto fail;
  if (o->group_factor && write_groups(o, path, f, idx)) goto fail;
  H5TRY(put_string(f, "generator", "dsprites"));
  H5TRY(put_attr(f, "seed", H5T_NATIVE_ULLONG, &o->seed));
  H5TRY(put_string(f, "version", PACKAGE_VERSION));
  rc = 0;
fail:
  if (f >= 0 && H5Fclose(f) < 0) rc = 1;
  free(idx);
  free(fac);
  return rc;
}

static int run(int argc, char **argv) {
  Opts o;
  char tmp[4096];
  int rc = parse_args(argc, argv, &o), fd;

  if (rc == 1) return fputs(usage, stdout), 0;
  if (rc || (rc = check_opts(&o))) return rc;
  if (snprintf(tmp, sizeof tmp, "%s.tmp", o.out) >= (int)sizeof tmp) return bad("-out", o.out, "a shorter path");
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our one-line messages instead of HDF5's stack */
  errno = 0;
  if (write_archive(&o, tmp)) return unlink(tmp), 3;
  /* on disk before it gets the real name: never a half file under FILE */
  if ((fd = open(tmp, O_RDONLY)) < 0 || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, o.out) != 0) {
    fprintf(stderr, "dsprites: cannot move '%s' to '%s': %s\n", tmp, o.out, strerror(errno));
    return unlink(tmp), 3;
  }
  printf("dsprites: wrote %ld of %ld images (%ld shapes x %ld scales x %ld orientations x %ld^2 positions) to %s\n",
         o.n, o.grid, o.shapes, o.scales, o.orientations, o.positions, o.out);
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
