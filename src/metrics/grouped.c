/* Scores of grouped observations (grouped.h). */
#include "disentangle/grouped.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/classify.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

typedef struct {
  int64_t group;
  int row;
} GroupRow;

static int cmp_group_row(const void *a, const void *b) {
  const GroupRow *x = a, *y = b;
  return x->group < y->group ? -1 : x->group > y->group ? 1 : (x->row > y->row) - (x->row < y->row);
}

/* rows 0..n-1 ordered by group id (ties by row), so a group is a run. */
static int *rows_by_group(const int64_t *groups, int n) {
  GroupRow *gr = malloc(sizeof *gr * (n > 0 ? n : 1));
  int *order = malloc(sizeof *order * (n > 0 ? n : 1));
  if (!gr || !order) return free(gr), free(order), NULL;
  for (int i = 0; i < n; i++) gr[i] = (GroupRow){groups[i], i};
  qsort(gr, n, sizeof *gr, cmp_group_row);
  for (int i = 0; i < n; i++) order[i] = gr[i].row;
  free(gr);
  return order;
}

int grouped_shared_factor(const double *factors, int n, int k, const int64_t *groups) {
  int *order = rows_by_group(groups, n), best = -1, best_values = 1;
  if (!order || n < 2) return free(order), -1;
  double *col = malloc(sizeof *col * n);
  if (!col) return free(order), -1;
  for (int f = 0; f < k; f++) {
    int shared = 1;
    for (int i = 1; i < n && shared; i++)
      if (groups[order[i]] == groups[order[i - 1]] && factors[(size_t)order[i] * k + f] != factors[(size_t)order[i - 1] * k + f])
        shared = 0;
    if (!shared) continue;
    for (int i = 0; i < n; i++) col[i] = factors[(size_t)i * k + f];
    qsort(col, n, sizeof *col, cmp_double);
    int values = 1;
    for (int i = 1; i < n; i++) values += col[i] != col[i - 1];
    if (values > best_values) best = f, best_values = values;
  }
  free(col), free(order);
  return best;
}

double grouped_accuracy(const double *z, int m, int c0, int c1, const int *codes, int classes, const int *train,
                        int ntrain, const int *test, int ntest, double *chance) {
  *chance = NAN;
  const int d = c1 - c0;
  if (ntrain < 1 || ntest < 1 || d < 1 || classes < 1) return NAN;
  double *x = malloc(sizeof *x * (size_t)ntrain * d), *mean = calloc(d, sizeof *mean), *sd = calloc(d, sizeof *sd),
         *row = malloc(sizeof *row * d);
  int *y = malloc(sizeof *y * ntrain), *count = calloc(classes, sizeof *count);
  double acc = NAN;
  LogReg lr = {0};
  if (!x || !mean || !sd || !row || !y || !count) goto done;
  for (int i = 0; i < ntrain; i++)
    for (int j = 0; j < d; j++) mean[j] += z[(size_t)train[i] * m + c0 + j] / ntrain;
  for (int i = 0; i < ntrain; i++)
    for (int j = 0; j < d; j++) {
      double v = z[(size_t)train[i] * m + c0 + j] - mean[j];
      sd[j] += v * v / ntrain;
    }
  for (int j = 0; j < d; j++) sd[j] = sd[j] > 0 ? sqrt(sd[j]) : 1.0; /* a constant latent stays 0 */
  for (int i = 0; i < ntrain; i++) {
    for (int j = 0; j < d; j++) x[(size_t)i * d + j] = (z[(size_t)train[i] * m + c0 + j] - mean[j]) / sd[j];
    y[i] = codes[train[i]];
    count[y[i]]++;
  }
  int majority = 0;
  for (int c = 1; c < classes; c++)
    if (count[c] > count[majority]) majority = c;
  if (logreg_fit(&lr, x, y, ntrain, d, classes, 1.0, NULL, 0)) goto done;
  int right = 0, base = 0;
  for (int i = 0; i < ntest; i++) {
    for (int j = 0; j < d; j++) row[j] = (z[(size_t)test[i] * m + c0 + j] - mean[j]) / sd[j];
    right += logreg_predict(&lr, row) == codes[test[i]];
    base += codes[test[i]] == majority;
  }
  acc = (double)right / ntest;
  *chance = (double)base / ntest;
done:
  logreg_free(&lr);
  free(x), free(mean), free(sd), free(row), free(y), free(count);
  return acc;
}

int grouped_pick_rows(const int64_t *groups, int n, int count, int *rows) {
  int *order = rows_by_group(groups, n);
  if (!order) return 0;
  /* first rows of the groups, in the order the groups first appear in the archive */
  int *first = malloc(sizeof *first * (n > 0 ? n : 1)), ng = 0;
  if (!first) return free(order), 0;
  for (int i = 0; i < n; i++)
    if (i == 0 || groups[order[i]] != groups[order[i - 1]]) first[ng++] = order[i];
  free(order);
  qsort(first, ng, sizeof *first, cmp_int);
  int got = ng < count ? ng : count;
  for (int i = 0; i < got; i++) rows[i] = first[(size_t)i * ng / got];
  free(first);
  return got;
}
