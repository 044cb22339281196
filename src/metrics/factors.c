#include "disentangle/factors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/rng.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Codes of one factor column: its distinct values, or equal-width bins when there are too many. */
static int discretise(const double *col, int n, int max_values, int bins, int *codes) {
  double *sorted = malloc(sizeof *sorted * n);
  if (!sorted) return -1;
  memcpy(sorted, col, sizeof *sorted * n);
  qsort(sorted, n, sizeof *sorted, cmp_double);
  int distinct = 0;
  for (int i = 0; i < n; i++)
    if (i == 0 || sorted[i] != sorted[i - 1]) sorted[distinct++] = sorted[i];
  if (distinct <= max_values) {
    for (int i = 0; i < n; i++) {
      int lo = 0, hi = distinct - 1;
      while (lo < hi) { /* binary search for the exact value */
        int mid = (lo + hi) / 2;
        if (sorted[mid] < col[i]) lo = mid + 1;
        else hi = mid;
      }
      codes[i] = lo;
    }
  } else {
    double lo = sorted[0], width = (sorted[distinct - 1] - lo) / bins;
    for (int i = 0; i < n; i++) {
      int b = width > 0 ? (int)((col[i] - lo) / width) : 0;
      codes[i] = b >= bins ? bins - 1 : b;
    }
    distinct = bins;
  }
  free(sorted);
  return distinct;
}

int factors_create(FactorData *fd, const double *z, int n, int m, const double *factors, int k, int max_values,
                   int bins) {
  memset(fd, 0, sizeof *fd);
  fd->n = n, fd->m = m, fd->k = k, fd->z = z;
  fd->codes = malloc(sizeof(int) * (size_t)n * k);
  fd->ncodes = calloc(k, sizeof(int));
  fd->by_value = calloc(k, sizeof(int **));
  fd->n_with = calloc(k, sizeof(int *));
  double *col = malloc(sizeof(double) * n);
  int *c = malloc(sizeof(int) * n);
  if (!fd->codes || !fd->ncodes || !fd->by_value || !fd->n_with || !col || !c) goto fail;
  for (int j = 0; j < k; j++) {
    for (int i = 0; i < n; i++) col[i] = factors[(size_t)i * k + j];
    int nv = discretise(col, n, max_values, bins, c);
    if (nv < 0) goto fail;
    fd->ncodes[j] = nv;
    fd->by_value[j] = calloc(nv, sizeof(int *));
    fd->n_with[j] = calloc(nv, sizeof(int));
    if (!fd->by_value[j] || !fd->n_with[j]) goto fail;
    for (int i = 0; i < n; i++) fd->codes[(size_t)i * k + j] = c[i], fd->n_with[j][c[i]]++;
    for (int v = 0; v < nv; v++)
      if (!(fd->by_value[j][v] = malloc(sizeof(int) * (fd->n_with[j][v] + 1)))) goto fail;
    memset(fd->n_with[j], 0, sizeof(int) * nv);
    for (int i = 0; i < n; i++) fd->by_value[j][c[i]][fd->n_with[j][c[i]]++] = i;
  }
  free(col), free(c);
  return 0;
fail:
  free(col), free(c);
  factors_free(fd);
  return -1;
}

void factors_free(FactorData *fd) {
  for (int j = 0; fd->by_value && j < fd->k; j++) {
    for (int v = 0; fd->by_value[j] && v < fd->ncodes[j]; v++) free(fd->by_value[j][v]);
    free(fd->by_value[j]);
    if (fd->n_with) free(fd->n_with[j]);
  }
  free(fd->by_value), free(fd->n_with), free(fd->codes), free(fd->ncodes);
  memset(fd, 0, sizeof *fd);
}

int factors_random_value(const FactorData *fd, int j, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  /* uniform over the values that occur (a bin may be empty) */
  int present = 0;
  for (int v = 0; v < fd->ncodes[j]; v++) present += fd->n_with[j][v] > 0;
  int pick = (int)rng_below(seed, stream, a, b, (uint64_t)present);
  for (int v = 0; v < fd->ncodes[j]; v++)
    if (fd->n_with[j][v] > 0 && pick-- == 0) return v;
  return 0;
}

int factors_sample_with(const FactorData *fd, int j, int v, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  return fd->by_value[j][v][rng_below(seed, stream, a, b, (uint64_t)fd->n_with[j][v])];
}
