/* The streaming side of the archive (run with 1, 2 and 3 ranks): the epoch sampler sees every
 * sample exactly once per epoch, in an order that changes from epoch to epoch, and a sampler
 * started at any step draws what one that ran up to it draws; the streamed reader (prefetch
 * thread, chunked gzip files of different lengths) hands every rank the same rows as the
 * in-memory one; the streaming statistics pass gives the same bits on any rank count and
 * agrees with the in-memory statistics. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* mkdtemp under -std=c11 */
#endif
#include "disentangle/archive.h"
#include "disentangle/error.h"

#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] = "MPI tests of the epoch sampler and the streamed archive reader.\n";

static int rank, size, failures, test_failures;
static char dir[256];

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

static void end_test(const char *name) {
  int all = test_failures;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  if (rank == 0) printf("%s %s%s\n", all ? "FAIL" : "PASS", name, all ? " (see FAIL lines above)" : "");
  fflush(stdout);
  failures += all > 0;
  test_failures = 0;
}

static void test_epoch_counts(void) {
  const int64_t ns[] = {1, 7, 100, 1000, 1001};
  const int64_t chunks[] = {1, 3, 64};
  const int64_t windows[] = {1, 4, 100};
  const int batches[] = {1, 7, 32};
  int cases = 0;
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (size_t b = 0; b < sizeof chunks / sizeof *chunks; b++)
      for (size_t c = 0; c < sizeof windows / sizeof *windows; c++)
        for (size_t d = 0; d < sizeof batches / sizeof *batches; d++) {
          int64_t n = ns[a], B = batches[d];
          if (B > n) continue;
          Sampler s, late;
          sampler_init_epoch(&s, 99, 0, (int)B, n, chunks[b], windows[c]);
          int *seen = calloc((size_t)n, sizeof *seen);
          int64_t *first = malloc(sizeof *first * (size_t)n), moved = 0, inorder = 0;
          int64_t steps = (3 * n + B - 1) / B; /* three epochs and a bit */
          for (int64_t st = 0; st < steps; st++, s.step++) {
            if (st == steps / 2) { /* a sampler started here draws the same as the one that got here */
              sampler_init_epoch(&late, 99, st, (int)B, n, chunks[b], windows[c]);
              for (int j = 0; j < B; j++)
                expect(sampler_index(&late, j) == sampler_index(&s, j), "n %lld chunk %lld window %lld B %lld: a sampler "
                       "started at step %lld draws otherwise", (long long)n, (long long)chunks[b], (long long)windows[c],
                       (long long)B, (long long)st);
              sampler_free(&late);
            }
            for (int j = 0; j < B; j++) {
              int64_t p = st * B + j, e = p / n, q = p % n, i = sampler_index(&s, j);
              if (e >= 3) break;
              if (i < 0 || i >= n) {
                expect(0, "index %lld outside [0, %lld)", (long long)i, (long long)n);
                continue;
              }
              seen[i]++;
              if (e == 0) first[q] = i, inorder += i == q;
              if (e == 1) moved += first[q] != i;
              if (q == n - 1) { /* an epoch ends: every sample exactly once */
                int64_t bad = -1;
                for (int64_t k = 0; k < n && bad < 0; k++)
                  if (seen[k] != 1) bad = k;
                expect(bad < 0, "n %lld chunk %lld window %lld B %lld: epoch %lld saw sample %lld %d times",
                       (long long)n, (long long)chunks[b], (long long)windows[c], (long long)B, (long long)e,
                       (long long)bad, bad >= 0 ? seen[bad] : 0);
                memset(seen, 0, sizeof *seen * (size_t)n);
              }
            }
          }
          if (n >= 100) {
            expect(moved > n / 2, "n %lld: epochs 0 and 1 share %lld of %lld positions; expected a new order",
                   (long long)n, (long long)(n - moved), (long long)n);
            expect(inorder < n / 10, "n %lld: %lld samples at their own position in epoch 0; expected shuffled",
                   (long long)n, (long long)inorder);
          }
          sampler_free(&s);
          free(seen), free(first);
          cases++;
        }
  if (rank == 0) printf("  %d sampler settings, 3 epochs each\n", cases);
  end_test("epoch sampler: every sample once per epoch, a new order each epoch, resumable at any step");
}

/* n rows of L values, gzip-compressed in chunks of 4 rows; sample i value v = sin(0.1 i + v) + off. */
static void write_file(const char *path, int first, int n, int L, int attrs) {
  if (rank == 0) {
    double *x = malloc(sizeof *x * (size_t)n * L);
    for (int i = 0; i < n; i++)
      for (int v = 0; v < L; v++) x[i * L + v] = sin(0.1 * (first + i) + v) * 3 + 2;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)L}, chunk[2] = {(hsize_t)(n < 4 ? n : 4), (hsize_t)L};
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), s = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
    hid_t d = H5Dcreate2(f, "/data", H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    if (attrs) {
      double m = 2, sd = 3;
      hid_t as = H5Screate(H5S_SCALAR), a1 = H5Acreate2(d, "mean", H5T_IEEE_F64LE, as, H5P_DEFAULT, H5P_DEFAULT),
            a2 = H5Acreate2(d, "std", H5T_IEEE_F64LE, as, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(a1, H5T_NATIVE_DOUBLE, &m), H5Awrite(a2, H5T_NATIVE_DOUBLE, &sd);
      H5Aclose(a1), H5Aclose(a2), H5Sclose(as);
    }
    H5Dclose(d), H5Pclose(dcpl), H5Sclose(s), H5Fclose(f);
    free(x);
  }
}

static void test_streamed(void) {
  enum { L = 9, NF = 5, B = 13, STEPS = 40 };
  const int lens[NF] = {3, 17, 1, 29, 10};
  char csv[2048] = "";
  for (int f = 0, first = 0; f < NF; first += lens[f], f++) {
    char path[400];
    snprintf(path, sizeof path, "%s/part%d.h5", dir, f);
    write_file(path, first, lens[f], L, 0);
    snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%s%s", f ? "," : "", path);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  Archive *mem = NULL, *str = NULL, *solo = NULL;
  ArchiveIO io = {.buffer_mb = 1};
  PetscErrorCode e1 = archive_open(PETSC_COMM_WORLD, csv, NULL, &mem);
  PetscErrorCode e2 = archive_open_io(PETSC_COMM_WORLD, csv, NULL, &io, &str);
  PetscErrorCode e3 = archive_open_io(PETSC_COMM_SELF, csv, NULL, &io, &solo);
  expect(!e1 && !e2 && !e3 && mem && str && solo, "opening: codes %d %d %d", (int)e1, (int)e2, (int)e3);
  if (!mem || !str || !solo) {
    end_test("streamed reader");
    return;
  }
  expect(archive_streamed(str) && !archive_streamed(mem), "streamed flags");
  double m1, s1, m2, s2, m3, s3;
  archive_normalisation(mem, &m1, &s1);
  archive_normalisation(str, &m2, &s2);
  archive_normalisation(solo, &m3, &s3);
  expect(m2 == m3 && s2 == s3, "streaming statistics differ with the rank count: %.17g %.17g on %d ranks, %.17g %.17g on 1",
         m2, s2, size, m3, s3);
  expect(fabs(m1 - m2) < 1e-12 * fabs(m1) + 1e-14 && fabs(s1 - s2) < 1e-12 * s1,
         "streaming statistics %.17g %.17g differ from the in-memory ones %.17g %.17g", m2, s2, m1, s1);
  archive_close(&solo);
  /* the same normalisation for both, so the rows must agree bit for bit */
  ArchiveNorm norm = {.mean = m1, .std = s1, .have_mean = 1, .have_std = 1};
  archive_close(&str);
  archive_open_io(PETSC_COMM_WORLD, csv, &norm, &io, &str);
  int off = (int)(B * rank / size), cnt = (int)(B * (rank + 1) / size) - off;
  Batch bm, bs;
  batch_create(mem, off, cnt, &bm);
  batch_create(str, off, cnt, &bs);
  PetscErrorCode ok = archive_check_buffer(str, cnt);
  expect(!ok, "a 1 MB buffer refused for %d rows of %d values", cnt, L);
  for (int kind = 0; kind < 2; kind++) {
    Sampler sm, ss;
    if (kind) {
      sampler_init_epoch(&sm, 5, 0, B, archive_samples(mem), 4, 3);
      sampler_init_epoch(&ss, 5, 0, B, archive_samples(mem), 4, 3);
    } else {
      sampler_init(&sm, SAMPLER_IID, 5, 0, B, archive_samples(mem));
      sampler_init(&ss, SAMPLER_IID, 5, 0, B, archive_samples(mem));
    }
    int differ = 0;
    for (int st = 0; st < STEPS; st++) {
      archive_next_batch(mem, &sm, &bm);
      archive_next_batch(str, &ss, &bs);
      differ += bm.step != bs.step || memcmp(bm.index, bs.index, sizeof *bm.index * cnt) ||
                memcmp(bm.x, bs.x, sizeof *bm.x * cnt * L);
      if (st == STEPS / 2) { /* a read outside training in between (eval's way), then on */
        float a[L * 4], b[L * 4];
        archive_read(mem, 15, 4, a);
        archive_read(str, 15, 4, b);
        differ += memcmp(a, b, sizeof a) != 0;
      }
    }
    expect(!differ, "%s sampler: %d of %d batches differ between the streamed and the in-memory reader",
           kind ? "epoch" : "iid", differ, STEPS);
    sampler_free(&sm), sampler_free(&ss);
  }
  batch_free(&bm), batch_free(&bs);
  archive_close(&mem), archive_close(&str);
  end_test("streamed reader: the same rows as in memory (iid and epoch), statistics independent of the rank count");
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(dt_error_setup());
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  if (rank == 0) {
    snprintf(dir, sizeof dir, "/tmp/mpi_stream.XXXXXX");
    if (!mkdtemp(dir)) dir[0] = 0;
  }
  (void)MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, PETSC_COMM_WORLD);
  PetscCheck(dir[0], PETSC_COMM_WORLD, PETSC_ERR_FILE_OPEN, "cannot create a temporary directory under /tmp");
  test_epoch_counts();
  test_streamed();
  MPI_Barrier(PETSC_COMM_WORLD);
  if (rank == 0) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) printf("note: could not remove %s\n", dir);
    printf("%s: %d test(s) failed on %d rank(s)\n", failures ? "FAIL" : "PASS", failures, size);
  }
  PetscCall(PetscFinalize());
  return failures ? 1 : 0;
}
