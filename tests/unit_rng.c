/* The counter-based generator: Random123's known answers, the distributions, and the
 * property the parallel design rests on: a draw depends only on (seed, stream, counters). */
#include <math.h>
#include <stdint.h>

#include "disentangle/rng.h"
#include "testing.h"

static void known_answers(void) {
  /* Random123 kat_vectors, philox4x32 with 10 rounds */
  const uint32_t ctr[3][4] = {{0, 0, 0, 0}, {~0u, ~0u, ~0u, ~0u}, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
  const uint32_t key[3][2] = {{0, 0}, {~0u, ~0u}, {0xa4093822, 0x299f31d0}};
  const uint32_t want[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                               {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                               {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    rng_philox4x32(ctr[t], key[t], out);
    for (int i = 0; i < 4; i++) CHECK(out[i] == want[t][i], "philox KAT %d word %d: %08x, want %08x", t, i, out[i], want[t][i]);
  }
}

static void distributions(void) {
  const long n = 1000000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0, umin = 1, umax = 0;
  long bins[10] = {0};
  for (long i = 0; i < n; i++) {
    double u = rng_uniform(5, 3, i / 1000, i % 1000), g = rng_normal(5, 4, i, 0);
    su += u, su2 += u * u, umin = fmin(umin, u), umax = fmax(umax, u);
    sn += g, sn2 += g * g, sn4 += g * g * g * g;
    bins[rng_below(5, 6, 0, i, 10)]++;
  }
  double mu = su / n, vu = su2 / n - mu * mu, mn = sn / n, vn = sn2 / n - mn * mn;
  /* tolerances: ~5 standard errors at n = 1e6 */
  CHECK(fabs(mu - 0.5) < 0.0015 && fabs(vu - 1.0 / 12) < 0.0005, "uniform mean %.5f var %.5f", mu, vu);
  CHECK(umin >= 0.0 && umax < 1.0, "uniform outside [0, 1): %g %g", umin, umax);
  CHECK(fabs(mn) < 0.005 && fabs(vn - 1.0) < 0.007 && fabs(sn4 / n - 3.0) < 0.05, "normal mean %.4f var %.4f kurt %.3f", mn,
        vn, sn4 / n);
  double chi2 = 0;
  for (int b = 0; b < 10; b++) chi2 += (bins[b] - n / 10.0) * (bins[b] - n / 10.0) / (n / 10.0);
  CHECK(chi2 < 30.0, "rng_below(10): chi-square %.1f over 9 degrees of freedom", chi2); /* p ~ 4e-4 */
  printf("uniform mean %.5f var %.5f; normal mean %.5f var %.5f; below(10) chi2 %.2f\n", mu, vu, mn, vn, chi2);
}

static void counters_not_state(void) {
  /* The same (seed, stream, a, b) gives the same draw whatever was drawn before or elsewhere;
   * any change of seed, stream or counter gives another. */
  double a = rng_uniform(9, 1, 100, 7);
  for (int i = 0; i < 1000; i++) (void)rng_uniform(9, 1, i, 0);
  CHECK(a == rng_uniform(9, 1, 100, 7), "draw changed after other draws");
  CHECK(a != rng_uniform(10, 1, 100, 7) && a != rng_uniform(9, 2, 100, 7) && a != rng_uniform(9, 1, 101, 7) &&
            a != rng_uniform(9, 1, 100, 8),
        "draws for different seeds/streams/counters coincide");
}

int main(void) {
  known_answers();
  distributions();
  counters_not_state();
  printf(test_failures ? "FAILED\n" : "PASS\n");
  return test_failures ? 1 : 0;
}
