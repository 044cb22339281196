/* The archive reader: the bytes as an input archive (/data, /factors and their names, mean/std),
 * opened as `train -data` opens it, then the samples and factors read as training and eval read
 * them. The seeds are archives of the test suite's tools (tests/fuzz/seeds.sh). */
#include "disentangle/archive.h"
#include "fuzz.h"

#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("archive.h5", data, size);
  ArchiveNorm norm = {0};
  Archive *a = NULL;
  if (!archive_open(PETSC_COMM_SELF, path, &norm, &a) && a) {
    int64_t n = archive_samples(a), f = archive_features(a);
    int count = n < 4 ? (int)n : 4;
    float *x = malloc(sizeof(float) * (size_t)(count * f + 1));
    if (x) archive_read(a, 0, count, x), archive_read(a, n - count, count, x);
    free(x);
    const double *fac = archive_factors(a);
    volatile double sink = fac ? fac[0] : 0;
    (void)sink;
    archive_close(&a);
  }
  return 0;
}
