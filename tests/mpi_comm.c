/* The parallel building blocks on 1, 2 and 3 ranks: the batch split, the statistics
 * allreduce, the row allgather and the regressor rank groups. */
#include <math.h>
#include <stdlib.h>

#include "disentangle/comm.h"
#include "disentangle/rng.h"
#include "testing.h"

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);

  /* par_slice tiles [0, B) in order, sizes differ by at most one */
  for (int B = 1; B <= 40; B++)
    for (int P = 1; P <= 7; P++) {
      int next = 0, lo = B, hi = 0;
      for (int p = 0; p < P; p++) {
        int off, cnt;
        par_slice(B, p, P, &off, &cnt);
        CHECK(off == next, "par_slice(%d, %d, %d): offset %d, want %d", B, p, P, off, next);
        next = off + cnt, lo = cnt < lo ? cnt : lo, hi = cnt > hi ? cnt : hi;
      }
      CHECK(next == B && hi - lo <= 1, "par_slice(%d, *, %d) covers %d, sizes %d..%d", B, P, next, lo, hi);
    }

  /* statistics: each rank sums its slice; after the allreduce every rank holds the serial sums */
  const int B = 101, W = 5;
  double serial[W], stats[W];
  float *rows = malloc(sizeof(float) * B * W), *full = malloc(sizeof(float) * B * W);
  for (int i = 0; i < B * W; i++) rows[i] = (float)rng_normal(3, 1, 0, i);
  int off, cnt;
  par_slice(B, rank, size, &off, &cnt);
  for (int j = 0; j < W; j++) {
    serial[j] = stats[j] = 0;
    for (int r = 0; r < B; r++) serial[j] += rows[r * W + j];
    for (int r = off; r < off + cnt; r++) stats[j] += rows[r * W + j];
  }
  PetscCall(par_allreduce_stats(stats, W, PETSC_COMM_WORLD));
  for (int j = 0; j < W; j++)
    CHECK(fabs(stats[j] - serial[j]) < 1e-12 * (1 + fabs(serial[j])), "stats[%d] %.17g vs serial %.17g", j, stats[j], serial[j]);

  /* gradients: float sums of the slices equal the serial sum up to float round-off */
  float g = 0;
  for (int r = off; r < off + cnt; r++) g += rows[r * W];
  PetscCall(par_allreduce_grads(&g, 1, PETSC_COMM_WORLD));
  CHECK(fabsf(g - (float)serial[0]) < 1e-4f, "grad allreduce %g vs %g", g, serial[0]);

  /* allgather: the slices put back together are the batch, bit for bit */
  PetscCall(par_allgather_rows(rows + (size_t)off * W, full, B, W, PETSC_COMM_WORLD));
  int same = 1;
  for (int i = 0; i < B * W; i++) same &= full[i] == rows[i];
  CHECK(same, "allgather_rows did not reproduce the batch");

  /* groups: rank r in group r mod G; each group's ranks agree on its size */
  for (int G = 1; G <= size; G++) {
    Par par;
    PetscCall(par_create(PETSC_COMM_WORLD, G, &par));
    CHECK(par.group_id == rank % G, "G=%d: rank %d in group %d", G, rank, par.group_id);
    int want = 0;
    for (int r = 0; r < size; r++) want += r % G == par.group_id;
    CHECK(par.group_size == want, "G=%d: group %d has %d ranks, want %d", G, par.group_id, par.group_size, want);
    par_free(&par);
  }

  int failures = test_failures;
  MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  if (rank == 0) printf(failures ? "FAILED: %d check(s)\n" : "PASS (%d ranks)\n", failures ? failures : size);
  free(rows), free(full);
  PetscCall(PetscFinalize());
  return failures ? 1 : 0;
}
