/* The scores of grouped observations (grouped.h) on constructed data whose answer is known:
 * 60 groups of 5 samples, rows shuffled, group ids scattered; factor 0 is shared within each
 * group (6 values), factor 1 varies per sample (10 values), factor 2 is constant. Latents:
 * column 0 = factor 0 + tiny noise (content), column 1 = factor 1 + tiny noise (style), column
 * 2 = noise. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "disentangle/factors.h"
#include "disentangle/grouped.h"
#include "disentangle/rng.h"

enum { G = 60, S = 5, N = G * S, K = 3, M = 3 };

static int failures, checks;

static void check(int ok, const char *what, double value) {
  checks++, failures += !ok;
  printf("%s %-64s %.6f\n", ok ? "PASS" : "FAIL", what, value);
}

int main(void) {
  static int64_t groups[N];
  static double factors[N * K], z[N * M];
  static int codes[N], train[N], test[N], rows[G + 5];
  int perm[N];
  for (int i = 0; i < N; i++) perm[i] = i;
  for (int i = N - 1; i > 0; i--) {
    int r = (int)rng_below(5, 1, (uint64_t)i, 0, (uint64_t)i + 1), t = perm[i];
    perm[i] = perm[r], perm[r] = t;
  }
  for (int s = 0; s < N; s++) {
    const int i = perm[s], g = s / S;
    groups[i] = 1000 + 7 * (int64_t)g;
    factors[i * K + 0] = g % 6;
    factors[i * K + 1] = (int)rng_below(5, 2, (uint64_t)s, 0, 10);
    factors[i * K + 2] = 3.5;
    z[i * M + 0] = factors[i * K + 0] / 5.0 + 1e-3 * rng_normal(5, 3, (uint64_t)i, 0);
    z[i * M + 1] = factors[i * K + 1] / 9.0 + 1e-3 * rng_normal(5, 3, (uint64_t)i, 1);
    z[i * M + 2] = rng_normal(5, 3, (uint64_t)i, 2);
  }
  check(grouped_shared_factor(factors, N, K, groups) == 0, "the shared factor is factor 0 (factor 2 is constant)", 0);
  /* factor 1 shared too if each group had one value: make a copy where it is, with more values */
  static double f2[N * K];
  for (int i = 0; i < N; i++) f2[i * K + 0] = factors[i * K + 0], f2[i * K + 1] = (double)(groups[i] % 97), f2[i * K + 2] = 0;
  check(grouped_shared_factor(f2, N, K, groups) == 1, "of two shared factors, the one with more values", 0);
  static double f3[N * 1];
  for (int i = 0; i < N; i++) f3[i] = factors[i * K + 1];
  check(grouped_shared_factor(f3, N, 1, groups) == -1, "no shared factor: -1", 0);

  int cont;
  double col[N];
  for (int i = 0; i < N; i++) col[i] = factors[i * K + 0];
  int classes = factors_discretise(col, N, FACTOR_AUTO, 64, 20, codes, &cont);
  check(classes == 6 && !cont, "factor 0 discretised into its 6 values", classes);
  int ntrain, ntest;
  factors_split(N, 0.3, 9, train, &ntrain, test, &ntest);
  double chance, acc_c = grouped_accuracy(z, M, 0, 1, codes, classes, train, ntrain, test, ntest, &chance);
  check(acc_c >= 0.95, "the shared factor from the content column: accuracy >= 0.95", acc_c);
  check(chance > 0.05 && chance < 0.4, "chance level is the majority share (about 1/6)", chance);
  double chance2, acc_s = grouped_accuracy(z, M, 1, 3, codes, classes, train, ntrain, test, ntest, &chance2);
  check(acc_s < 0.45, "the shared factor from the style and noise columns: near chance", acc_s);
  check(chance2 == chance, "chance does not depend on the columns", chance2);
  check(isnan(grouped_accuracy(z, M, 0, 1, codes, classes, train, 0, test, ntest, &chance)) && isnan(chance),
        "no training rows: NaN", 0);

  int got = grouped_pick_rows(groups, N, 8, rows), distinct = 1;
  for (int a = 0; a < got; a++)
    for (int b = 0; b < a; b++) distinct &= groups[rows[a]] != groups[rows[b]];
  check(got == 8 && distinct, "8 rows picked, each of another group", got);
  got = grouped_pick_rows(groups, N, G + 5, rows);
  check(got == G, "asking more rows than groups gives one per group", got);
  printf("%d checks, %d failed\n", checks, failures);
  return failures != 0;
}
