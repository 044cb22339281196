#include "disentangle/factors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/rng.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int factors_discretise(const double *col, int n, int kind, int max_values, int bins, int *codes, int *continuous) {
  double *sorted = malloc(sizeof *sorted * (n > 0 ? n : 1));
  if (!sorted) return -1;
  memcpy(sorted, col, sizeof *sorted * n);
  qsort(sorted, n, sizeof *sorted, cmp_double);
  int distinct = 0;
  for (int i = 0; i < n; i++)
    if (i == 0 || sorted[i] != sorted[i - 1]) sorted[distinct++] = sorted[i];
  *continuous = kind == FACTOR_AUTO ? distinct > max_values : kind == FACTOR_CONTINUOUS;
  if (!*continuous) {
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

/* by_value and n_with of fd's codes (ncodes set). */
static int index_values(FactorData *fd) {
  const int n = fd->n, k = fd->k;
  fd->by_value = calloc(k, sizeof(int **));
  fd->n_with = calloc(k, sizeof(int *));
  if (!fd->by_value || !fd->n_with) return -1;
  for (int j = 0; j < k; j++) {
    const int nv = fd->ncodes[j];
    fd->by_value[j] = calloc(nv, sizeof(int *));
    fd->n_with[j] = calloc(nv, sizeof(int));
    if (!fd->by_value[j] || !fd->n_with[j]) return -1;
    for (int i = 0; i < n; i++) fd->n_with[j][fd->codes[(size_t)i * k + j]]++;
    for (int v = 0; v < nv; v++)
      if (!(fd->by_value[j][v] = malloc(sizeof(int) * (fd->n_with[j][v] + 1)))) return -1;
    memset(fd->n_with[j], 0, sizeof(int) * nv);
    for (int i = 0; i < n; i++) {
      const int c = fd->codes[(size_t)i * k + j];
      fd->by_value[j][c][fd->n_with[j][c]++] = i;
    }
  }
  return 0;
}

int factors_create(FactorData *fd, const double *z, int n, int m, const double *factors, int k, int max_values,
                   int bins, const int *kinds) {
  memset(fd, 0, sizeof *fd);
  fd->n = n, fd->m = m, fd->k = k, fd->z = z;
  fd->codes = malloc(sizeof(int) * ((size_t)n * k + 1));
  fd->values = malloc(sizeof(double) * ((size_t)n * k + 1));
  fd->ncodes = calloc(k, sizeof(int));
  fd->continuous = calloc(k, sizeof(int));
  double *col = malloc(sizeof(double) * (n > 0 ? n : 1));
  int *c = malloc(sizeof(int) * (n > 0 ? n : 1));
  if (!fd->codes || !fd->values || !fd->ncodes || !fd->continuous || !col || !c) goto fail;
  memcpy(fd->values, factors, sizeof(double) * (size_t)n * k);
  for (int j = 0; j < k; j++) {
    for (int i = 0; i < n; i++) col[i] = factors[(size_t)i * k + j];
    int nv = factors_discretise(col, n, kinds ? kinds[j] : FACTOR_AUTO, max_values, bins, c, &fd->continuous[j]);
    if (nv < 0) goto fail;
    fd->ncodes[j] = nv;
    for (int i = 0; i < n; i++) fd->codes[(size_t)i * k + j] = c[i];
  }
  if (index_values(fd)) goto fail;
  free(col), free(c);
  return 0;
fail:
  free(col), free(c);
  factors_free(fd);
  return -1;
}

int factors_subset(const FactorData *src, const int *rows, int nrows, const int *cols, int ncols, FactorData *out) {
  memset(out, 0, sizeof *out);
  const int m = cols ? ncols : src->m, k = src->k;
  out->n = nrows, out->m = m, out->k = k;
  out->z_own = malloc(sizeof(double) * ((size_t)nrows * m + 1));
  out->codes = malloc(sizeof(int) * ((size_t)nrows * k + 1));
  out->values = malloc(sizeof(double) * ((size_t)nrows * k + 1));
  out->ncodes = malloc(sizeof(int) * k);
  out->continuous = malloc(sizeof(int) * k);
  if (!out->z_own || !out->codes || !out->values || !out->ncodes || !out->continuous) goto fail;
  out->z = out->z_own;
  memcpy(out->ncodes, src->ncodes, sizeof(int) * k);
  memcpy(out->continuous, src->continuous, sizeof(int) * k);
  for (int i = 0; i < nrows; i++) {
    const size_t r = (size_t)rows[i];
    for (int j = 0; j < m; j++) out->z_own[(size_t)i * m + j] = src->z[r * src->m + (size_t)(cols ? cols[j] : j)];
    memcpy(out->codes + (size_t)i * k, src->codes + r * k, sizeof(int) * k);
    memcpy(out->values + (size_t)i * k, src->values + r * k, sizeof(double) * k);
  }
  if (index_values(out)) goto fail;
  return 0;
fail:
  factors_free(out);
  return -1;
}

void factors_free(FactorData *fd) {
  for (int j = 0; fd->by_value && j < fd->k; j++) {
    for (int v = 0; fd->by_value[j] && v < fd->ncodes[j]; v++) free(fd->by_value[j][v]);
    free(fd->by_value[j]);
    if (fd->n_with) free(fd->n_with[j]);
  }
  free(fd->by_value), free(fd->n_with), free(fd->codes), free(fd->ncodes);
  free(fd->values), free(fd->continuous), free(fd->z_own);
  memset(fd, 0, sizeof *fd);
}

enum { STREAM_SPLIT = 0x53504c00 }; /* "SPL" */

int factors_split(int n, double test_share, uint64_t seed, int *train, int *n_train, int *test, int *n_test) {
  int nt = (int)lround(n * test_share);
  nt = nt < 1 ? 1 : nt > n - 1 ? n - 1 : nt;
  char *in_test = calloc(n > 0 ? n : 1, 1);
  if (!in_test) return -1;
  int *perm = train; /* Fisher-Yates in place; its first nt rows are the test part */
  for (int i = 0; i < n; i++) perm[i] = i;
  for (int i = n - 1; i > 0; i--) {
    const int r = (int)rng_below(seed, STREAM_SPLIT, (uint64_t)i, 0, (uint64_t)i + 1), t = perm[i];
    perm[i] = perm[r], perm[r] = t;
  }
  for (int i = 0; i < nt; i++) in_test[perm[i]] = 1;
  int a = 0, b = 0;
  for (int i = 0; i < n; i++)
    if (in_test[i]) test[b++] = i;
    else train[a++] = i;
  free(in_test);
  *n_train = n - nt, *n_test = nt;
  return 0;
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
