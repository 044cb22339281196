/* The exact sums of -reproducible (exactsum.h): parts of widely spread magnitudes, split over the
 * ranks as par_slice splits them, must sum to the same bits as all parts on one rank in any
 * order, and close to the true sum; a NaN makes its block (ExactFloats) or sum (ExactSum) NaN. */
#include <math.h>
#include <string.h>

#include "disentangle/comm.h"
#include "disentangle/exactsum.h"
#include "disentangle/rng.h"
#include "testing.h"

#define PARTS 12
#define N 1000
#define ND 50

/* Part p, value i: a normal number times 2^k with k in [-40, 20], fixed by (p, i). */
static double part_value(int p, int i) {
  double g = rng_normal(7, 0, (uint64_t)p, (uint64_t)i);
  int k = (int)(rng_normal(7, 1, (uint64_t)p, (uint64_t)i) * 10.0);
  k = k < -40 ? -40 : k > 20 ? 20 : k;
  return ldexp(g, k);
}

static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  static float parts[PARTS][N], out[N], ref[N], rev[N];
  static double dparts[PARTS][ND], dout[ND], dref[ND];
  for (int p = 0; p < PARTS; p++) {
    for (int i = 0; i < N; i++) parts[p][i] = (float)part_value(p, i);
    for (int i = 0; i < ND; i++) dparts[p][i] = part_value(p + PARTS, i);
  }
  const size_t start[3] = {0, 300, 301}; /* three blocks, one of a single value */
  int off, cnt;
  par_slice(PARTS, rank, size, &off, &cnt);

  ExactFloats f;
  PetscCall(exactfloats_create(&f, N, 3, start));
  exactfloats_begin(&f);
  for (int p = off; p < off + cnt; p++) PetscCall(exactfloats_add(&f, parts[p]));
  PetscCall(exactfloats_finish(&f, PETSC_COMM_WORLD, PARTS, out));
  exactfloats_begin(&f);
  for (int p = 0; p < PARTS; p++) PetscCall(exactfloats_add(&f, parts[p]));
  PetscCall(exactfloats_finish(&f, MPI_COMM_NULL, PARTS, ref));
  exactfloats_begin(&f);
  for (int p = PARTS - 1; p >= 0; p--) PetscCall(exactfloats_add(&f, parts[p]));
  PetscCall(exactfloats_finish(&f, MPI_COMM_NULL, PARTS, rev));
  CHECK(same_bits(out, ref, sizeof out), "ExactFloats: %d ranks and one rank give other bits", size);
  CHECK(same_bits(rev, ref, sizeof rev), "ExactFloats: the parts in reverse order give other bits");
  double worst = 0;
  for (int b = 0; b < 3; b++) {
    size_t lo = start[b], hi = b < 2 ? start[b + 1] : N;
    double big = 0;
    for (int p = 0; p < PARTS; p++)
      for (size_t i = lo; i < hi; i++) big = fmax(big, fabs((double)parts[p][i]));
    for (size_t i = lo; i < hi; i++) {
      long double t = 0;
      for (int p = 0; p < PARTS; p++) t += parts[p][i];
      /* one float rounding of the true sum, plus the truncation of 12 parts at 2^-58 of the block's largest */
      double err = fabs((double)(out[i] - t)), allowed = 0x1p-24 * fabs((double)t) + PARTS * 0x1p-57 * big;
      worst = fmax(worst, err / allowed);
    }
  }
  CHECK(worst <= 1.0, "ExactFloats: error %.3g of what is allowed", worst);

  ExactSum d;
  PetscCall(exactsum_create(&d, ND));
  exactsum_zero(&d);
  for (int p = off; p < off + cnt; p++) exactsum_add_doubles(&d, dparts[p]);
  PetscCall(exactsum_allreduce(&d, PETSC_COMM_WORLD));
  exactsum_doubles(&d, dout);
  exactsum_zero(&d);
  for (int p = PARTS - 1; p >= 0; p--) exactsum_add_doubles(&d, dparts[p]);
  exactsum_doubles(&d, dref);
  CHECK(same_bits(dout, dref, sizeof dout), "ExactSum: %d ranks and one rank (reversed) give other bits", size);
  for (int i = 0; i < ND; i++) { /* the true sum: the parts span 2^62, so a compensated one */
    long double t = 0, c = 0;
    for (int p = 0; p < PARTS; p++) {
      long double x = dparts[p][i], u = t + x;
      c += fabsl(t) >= fabsl(x) ? (t - u) + x : (x - u) + t;
      t = u;
    }
    t += c;
    CHECK(fabs((double)(dout[i] - t)) <= 0x1p-52 * fabs((double)t) + PARTS * 0x1p-72, "ExactSum: value %d is %.17g, not %.17g",
          i, dout[i], (double)t);
  }

  /* a NaN in block 1 of one part: block 1 NaN, the others finite; in a double sum: all NaN */
  if (rank == size - 1) parts[off][300] = NAN, dparts[off][3] = INFINITY;
  exactfloats_begin(&f);
  for (int p = off; p < off + cnt; p++) PetscCall(exactfloats_add(&f, parts[p]));
  PetscCall(exactfloats_finish(&f, PETSC_COMM_WORLD, PARTS, out));
  CHECK(isnan(out[300]) && isfinite(out[0]) && isfinite(out[301]), "ExactFloats: a NaN spreads wrongly (%g %g %g)",
        (double)out[0], (double)out[300], (double)out[301]);
  exactsum_zero(&d);
  for (int p = off; p < off + cnt; p++) exactsum_add_doubles(&d, dparts[p]);
  PetscCall(exactsum_allreduce(&d, PETSC_COMM_WORLD));
  exactsum_doubles(&d, dout);
  CHECK(isnan(dout[0]) && isnan(dout[ND - 1]), "ExactSum: an Inf part does not make the sum NaN");
  exactfloats_free(&f);
  exactsum_free(&d);
  return test_mpi_finish();
}
