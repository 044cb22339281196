/* Grouped archives and the grouped sampler under MPI (run with 1, 2 and 3 ranks): /groups read
 * and indexed alike in memory and streamed, ids global across files; every batch is whole groups
 * in group-major order, held-out groups never drawn, the same global batches on any rank count
 * and after a restart, draws spread evenly over the groups; bad /groups are one input error. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* mkdtemp under -std=c11 */
#endif
#include "disentangle/archive.h"
#include "disentangle/error.h"
#include "disentangle/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] = "MPI tests of /groups and the grouped sampler.\n";

static int rank, size, failures, test_failures;
static char dir[256];
static char made[32][320];
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

static void end_test(const char *name) {
  int all = test_failures;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  if (rank == 0) printf("%s %s%s\n", all ? "FAIL" : "PASS", name, all ? " (see FAIL lines above)" : "");
  fflush(stdout);
  failures += all > 0;
  test_failures = 0;
}

enum { L = 4 };

/* An archive of n samples (sample i's values: first + i, ...) and /groups ids[] written as
 * gtype with shape gdims[0..gnd) (gtype 0: no /groups). Rank 0 writes; all wait. */
static const char *write_groups(const char *name, int n, int first, hid_t gtype, int gnd, const hsize_t *gdims,
                                 const int64_t *ids) {
  snprintf(made[nmade], sizeof made[0], "%s/%s", dir, name);
  const char *path = made[nmade++];
  if (rank == 0) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {(hsize_t)n, L};
    float *x = malloc(sizeof(float) * n * L);
    for (int i = 0; i < n * L; i++) x[i] = (float)(first + i / L) + 0.25f * (i % L);
    hid_t s = H5Screate_simple(2, dims, NULL), d = H5Dcreate2(f, "/data", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d), H5Sclose(s), free(x);
    if (gtype) {
      s = H5Screate_simple(gnd, gdims, NULL);
      d = H5Dcreate2(f, "/groups", gtype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids);
      H5Dclose(d), H5Sclose(s);
    }
    H5Fclose(f);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  return path;
}

static PetscErrorCode try_open(const char *csv, double buffer_mb, Archive **a) {
  ArchiveIO io = {.buffer_mb = buffer_mb};
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  PetscErrorCode code = archive_open_io(PETSC_COMM_WORLD, csv, NULL, &io, a);
  PetscPopErrorHandler();
  return code;
}

/* The two files of the main tests: 40 + 31 samples, ids shared across them (7 and -3 are in
 * both: one group each), a large id, groups of 1 to 14 samples, one file's ids stored as int32. */
enum { N1 = 40, N2 = 31, N = N1 + N2 };
static int64_t ids_all[N];
static char csv[700];

static void make_files(void) {
  static const int64_t pool[] = {7, -3, 1000000000000000LL, 12, 5, 6, 40, 41, 42, 43, 44, 45, 46, 47};
  for (int i = 0; i < N; i++) /* uneven group sizes: the first ids of the pool come more often */
    ids_all[i] = pool[(int)rng_below(5, 77, (uint64_t)i, 0, 14) * (int)rng_below(5, 78, (uint64_t)i, 0, 3) % 14];
  for (int i = N1; i < N; i++) /* int32 cannot hold the large id: the int64 file has it */
    if (ids_all[i] > INT32_MAX) ids_all[i] = 12;
  ids_all[3] = 99;                      /* a group of one sample */
  ids_all[0] = ids_all[N1] = 7, ids_all[1] = ids_all[N - 1] = -3; /* in both files */
  hsize_t d1 = N1, d2 = N2;
  const char *a = write_groups("g1.h5", N1, 0, H5T_STD_I64LE, 1, &d1, ids_all);
  const char *b = write_groups("g2.h5", N2, N1, H5T_STD_I32LE, 1, &d2, ids_all + N1);
  snprintf(csv, sizeof csv, "%s,%s", a, b);
}

static void test_read(void) {
  for (int streamed = 0; streamed < 2; streamed++) {
    Archive *a = NULL;
    PetscErrorCode code = try_open(csv, streamed ? 1.0 : 0, &a);
    expect(!code && a, "open (%s): code %d", streamed ? "streamed" : "in memory", (int)code);
    if (code) continue;
    const int64_t *g = archive_groups(a), *ids = archive_group_ids(a), *start = archive_group_start(a),
                  *mem = archive_group_members(a);
    expect(g && !memcmp(g, ids_all, sizeof ids_all), "/groups not read back as written (int64 and int32 files)");
    int64_t distinct = 0;
    for (int i = 0; i < N; i++) {
      int seen = 0;
      for (int j = 0; j < i; j++) seen |= ids_all[j] == ids_all[i];
      distinct += !seen;
    }
    expect(archive_ngroups(a) == distinct, "%lld groups; expected %lld", (long long)archive_ngroups(a), (long long)distinct);
    expect(start[0] == 0 && start[archive_ngroups(a)] == N, "membership does not cover the %d samples", N);
    for (int64_t k = 0; k < archive_ngroups(a); k++) {
      expect(k == 0 || ids[k - 1] < ids[k], "group ids not ascending at %lld", (long long)k);
      expect(archive_group_index(a, ids[k]) == k, "archive_group_index(%lld) != %lld", (long long)ids[k], (long long)k);
      for (int64_t m = start[k]; m < start[k + 1]; m++)
        expect(ids_all[mem[m]] == ids[k] && (m == start[k] || mem[m - 1] < mem[m]),
               "group %lld: member %lld (sample %lld) wrong or out of order", (long long)ids[k], (long long)m, (long long)mem[m]);
    }
    expect(archive_group_index(a, 8) == -1, "archive_group_index of an absent id is not -1");
    int64_t k7 = archive_group_index(a, 7), km3 = archive_group_index(a, -3);
    int both7 = 0, both3 = 0;
    for (int64_t m = start[k7]; k7 >= 0 && m < start[k7 + 1]; m++) both7 |= mem[m] < N1 ? 1 : 2;
    for (int64_t m = start[km3]; km3 >= 0 && m < start[km3 + 1]; m++) both3 |= mem[m] < N1 ? 1 : 2;
    expect(both7 == 3 && both3 == 3, "ids 7 and -3 should each be one group over both files");
    archive_close(&a);
  }
  end_test("read: /groups in memory and streamed, int32 and int64, ids global across files, membership");
}

/* FNV-1a of the indices of the first steps: the batches may not change between versions
 * (a restart from an older checkpoint would go on with other batches). */
static uint64_t fnv(uint64_t h, int64_t v) {
  for (int i = 0; i < 8; i++) h = (h ^ (uint64_t)((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
  return h;
}

static void test_sampler(void) {
  enum { S = 3, B = 12, G = B / S, STEPS = 3000 };
  const double share = 0.2;
  const uint64_t seed = 99;
  Archive *a = NULL;
  if (try_open(csv, 0, &a)) {
    expect(0, "open failed");
    end_test("sampler");
    return;
  }
  const int64_t T = archive_ngroups(a), *ids = archive_group_ids(a), *start = archive_group_start(a);
  int64_t held = 0;
  for (int64_t k = 0; k < T; k++) held += sampler_group_held_out(seed, ids[k], share);
  expect(held == sampler_groups_held_out(a, seed, share), "sampler_groups_held_out %lld; counted %lld",
         (long long)sampler_groups_held_out(a, seed, share), (long long)held);
  expect(held > 0 && held < T - G, "seed %llu holds out %lld of %lld groups: the test needs some, and enough left",
         (unsigned long long)seed, (long long)held, (long long)T);
  expect(sampler_groups_held_out(a, seed, 0) == 0, "share 0 holds out groups");
  Sampler s;
  PetscErrorCode code = sampler_init_grouped(&s, a, seed, 0, B, S, share);
  expect(!code, "sampler_init_grouped: code %d", (int)code);
  long *draws = calloc((size_t)T, sizeof *draws);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (int64_t step = 0; step < STEPS && !code; step++, s.step++) {
    int64_t slot_id[G];
    for (int k = 0; k < G; k++) {
      int64_t first = sampler_index(&s, k * S), id = ids_all[first], gi = archive_group_index(a, id);
      slot_id[k] = id;
      draws[gi]++;
      expect(!sampler_group_held_out(seed, id, share), "step %lld: held-out group %lld drawn", (long long)step, (long long)id);
      for (int j = 0; j < k; j++) expect(slot_id[j] != id, "step %lld: group %lld twice in one batch", (long long)step, (long long)id);
      for (int i = 0; i < S; i++) {
        int64_t x = sampler_index(&s, k * S + i);
        expect(x >= 0 && x < N && ids_all[x] == id, "step %lld row %d: sample %lld of group %lld, not of the slot's %lld",
               (long long)step, k * S + i, (long long)x, (long long)(x >= 0 && x < N ? ids_all[x] : -1), (long long)id);
        for (int q = 0; q < i && start[gi + 1] - start[gi] >= S; q++)
          expect(sampler_index(&s, k * S + q) != x, "step %lld: group %lld has >= %d members but a sample twice",
                 (long long)step, (long long)id, S);
        if (step < 50) h = fnv(h, x);
      }
    }
  }
  /* each step draws G of the T - held groups uniformly: the counts are Binomial(STEPS, p) */
  double p = (double)G / (double)(T - held), mean = STEPS * p, sd = sqrt(STEPS * p * (1 - p));
  for (int64_t k = 0; k < T; k++) {
    if (sampler_group_held_out(seed, ids[k], share)) {
      expect(draws[k] == 0, "held-out group %lld drawn %ld times", (long long)ids[k], draws[k]);
      continue;
    }
    expect(fabs(draws[k] - mean) < 5 * sd, "group %lld drawn %ld times in %d steps; expected %.0f +- %.0f",
           (long long)ids[k], draws[k], STEPS, mean, 5 * sd);
  }
  free(draws);
  expect(h == 0x73cfa8f5ff2dce86ULL, "hash of the first 50 batches' indices %016llx; expected 73cfa8f5ff2dce86 (the "
         "grouped batches changed: checkpoints of earlier versions would go on with other batches)", (unsigned long long)h);
  sampler_free(&s);
  archive_close(&a);
  end_test("sampler: whole groups, group-major rows, held-out groups never drawn, even draws");
}

/* This rank's slices of the batches (as training takes them, in memory and streamed), gathered,
 * against the whole batch drawn on one rank; a sampler restarted at step k against one that ran
 * through the k steps before. */
static void test_ranks_and_restart(void) {
  enum { S = 4, B = 16, STEPS = 12, K = 5 };
  const uint64_t seed = 3;
  int counts[64], displs[64], q = B / size, r = B % size;
  for (int p = 0; p < size; p++) counts[p] = q + (p < r), displs[p] = p * q + (p < r ? p : r);
  int off = displs[rank], cnt = counts[rank];
  for (int streamed = 0; streamed < 2; streamed++) {
    Archive *a = NULL;
    if (try_open(csv, streamed ? 1.0 : 0, &a)) {
      expect(0, "open failed");
      continue;
    }
    Sampler cur, ref;
    PetscErrorCode code = sampler_init_grouped(&cur, a, seed, 0, B, S, 0.0);
    code = code ? code : sampler_init_grouped(&ref, a, seed, 0, B, S, 0.0);
    expect(!code, "sampler_init_grouped: %d", (int)code);
    if (code) {
      archive_close(&a);
      continue;
    }
    Batch mb;
    batch_create(a, off, cnt, &mb);
    for (int step = 0; step < STEPS; step++) {
      if (step == K) { /* a restart: a new sampler from the step alone */
        sampler_free(&cur);
        code = sampler_init_grouped(&cur, a, seed, K, B, S, 0.0);
        expect(!code && cur.step == K, "restart at step %d", K);
      }
      int64_t want[B], got[B];
      for (int j = 0; j < B; j++) want[j] = sampler_index(&ref, j);
      ref.step++;
      code = archive_next_batch(a, &cur, &mb);
      expect(!code && mb.step == step, "archive_next_batch: code %d step %lld", (int)code, (long long)mb.step);
      (void)MPI_Allgatherv(mb.index, cnt, MPI_INT64_T, got, counts, displs, MPI_INT64_T, PETSC_COMM_WORLD);
      expect(!memcmp(got, want, sizeof want), "%s, step %d: the %d ranks' slices differ from the one-rank batch",
             streamed ? "streamed" : "in memory", step, size);
      for (int j = 0; j < cnt; j++) { /* and the rows are those samples */
        float x[L];
        archive_read(a, mb.index[j], 1, x);
        expect(!memcmp(x, mb.x + j * L, sizeof x), "step %d row %d: values not those of sample %lld", step, off + j,
               (long long)mb.index[j]);
      }
    }
    batch_free(&mb);
    sampler_free(&cur);
    sampler_free(&ref);
    archive_close(&a);
  }
  end_test("ranks and restart: the same global batches on any rank count, in memory and streamed, and after a restart");
}

static void expect_error(const char *what, PetscErrorCode code, const char *name, const char *detail) {
  char *msg = NULL;
  int lo = (int)code, hi = (int)code;
  PetscErrorMessage(code, NULL, &msg);
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  expect(lo == DT_ERR_INPUT && hi == DT_ERR_INPUT, "%s: codes %d..%d over the ranks; expected DT_ERR_INPUT on all", what,
         lo, hi);
  expect(msg && strstr(msg, name) && strstr(msg, detail), "%s: message '%s' should name '%s' and say '%s'", what,
         msg ? msg : "(none)", name, detail);
  if (rank == 0 && msg && code) printf("  %-24s -> %s\n", what, msg);
}

static void test_bad(void) {
  enum { M = 10 };
  int64_t ids[2 * M];
  for (int i = 0; i < 2 * M; i++) ids[i] = i % 3;
  hsize_t n = M, n1 = M - 1, two[2] = {M, 2};
  struct {
    const char *what, *file;
    hid_t type;
    int nd;
    const hsize_t *dims;
    const char *detail;
  } bad[] = {
      {"float /groups", "gf.h5", H5T_IEEE_F64LE, 1, &n, "dataset /groups has type float64; expected integer group ids"},
      {"uint64 /groups", "gu.h5", H5T_STD_U64LE, 1, &n, "dataset /groups has type uint64; expected integer group ids"},
      {"short /groups", "gs.h5", H5T_STD_I64LE, 1, &n1, "dataset /groups has shape [9] but /data has 10 samples; expected [10]"},
      {"2-d /groups", "g2.h5", H5T_STD_I64LE, 2, two, "dataset /groups has shape [10, 2]"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    const char *path = write_groups(bad[i].file, M, 0, bad[i].type, bad[i].nd, bad[i].dims, ids);
    Archive *a = NULL;
    expect_error(bad[i].what, try_open(path, 0, &a), path, bad[i].detail);
    expect(!a, "%s: archive returned despite the error", bad[i].what);
  }
  const char *good = write_groups("gok.h5", M, 0, H5T_STD_I64LE, 1, &n, ids), *none = write_groups("gnone.h5", M, 0, 0, 0, NULL, NULL);
  char two_files[700];
  snprintf(two_files, sizeof two_files, "%s,%s", good, none);
  Archive *a = NULL;
  expect_error("/groups in one file only", try_open(two_files, 0, &a), none,
               "has no /groups but");
  /* the sampler's refusals */
  Sampler s;
  if (!try_open(none, 0, &a)) {
    PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
    PetscErrorCode code = sampler_init_grouped(&s, a, 1, 0, 6, 3, 0);
    PetscPopErrorHandler();
    expect_error("no /groups", code, none, "no dataset /groups; -sampler grouped needs");
    archive_close(&a);
  }
  if (!try_open(good, 0, &a)) { /* 3 groups (ids 0, 1, 2) */
    PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
    PetscErrorCode code = sampler_init_grouped(&s, a, 1, 0, 8, 3, 0);
    expect_error("batch not whole groups", code, "-batch", "8 is not a multiple of -group_size 3");
    code = sampler_init_grouped(&s, a, 1, 0, 12, 3, 0);
    expect_error("too few groups", code, good,
                 "dataset /groups has 3 groups, 0 of them held out (-holdout_groups 0), which leaves 3 for training; a batch "
                 "needs 4 (-batch 12 / -group_size 3)");
    code = sampler_init_grouped(&s, a, 1, 0, 9, 3, 0.9);
    expect_error("too few after holdout", code, good, "held out (-holdout_groups 0.9)");
    PetscPopErrorHandler();
    int64_t held = sampler_groups_held_out(a, 1, 0.9);
    expect(held > 0, "share 0.9 of 3 groups held none out with seed 1");
    archive_close(&a);
  }
  end_test("bad input: /groups type, shape, presence; batch not whole groups; too few groups");
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(dt_error_setup());
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  if (rank == 0) {
    snprintf(dir, sizeof dir, "/tmp/mpi_groups.XXXXXX");
    if (!mkdtemp(dir)) dir[0] = 0;
  }
  (void)MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, PETSC_COMM_WORLD);
  PetscCheck(dir[0], PETSC_COMM_WORLD, PETSC_ERR_FILE_OPEN, "cannot create a temporary directory under /tmp");
  make_files();
  test_read();
  test_sampler();
  test_ranks_and_restart();
  test_bad();
  MPI_Barrier(PETSC_COMM_WORLD);
  if (rank == 0) {
    for (int i = 0; i < nmade; i++) unlink(made[i]);
    rmdir(dir);
    printf("%s: %d test(s) failed on %d rank(s)\n", failures ? "FAIL" : "PASS", failures, size);
  }
  PetscCall(PetscFinalize());
  return failures ? 1 : 0;
}
