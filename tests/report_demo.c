/* Writes a report for synthetic data whose right picture is known, for tests/report_render.sh.
 *
 *   report_demo OUT.html                 waveform samples, NashAE's history columns
 *   report_demo -images gray|rgb OUT.html  image samples [1|3, 16, 16], a VAE-like history
 *
 * The data: 360 "beam waveforms" from 3 gate frequencies x 120 duty cycles (two factors);
 * 4 latents of which z0 follows the duty cycle exactly and z2 the gate frequency exactly,
 * while z1 and z3 are dead (constant) — so the traversal rows are z0, z2, z1, z3 (active
 * first). The correlation matrix is set by hand (it is what the heat map test reads, not a
 * statistic of these z): corr(z0, z2) = +0.9, corr(z0, z1) = -0.9, corr(z1, z3) undefined
 * (NaN). The history has 25000 steps of decreasing, noisy losses and an adv that changes sign.
 * Metric names hold <, >, & and quotes to test escaping.
 *
 * With -images the same latents decode to 16 x 16 images: a 4 x 4 square of value 1.7 on a
 * background of -0.4 (the report clamps both to [0, 1]); gray: a white square, rgb: a red one
 * (1.7, -0.4, -0.4). z0 moves the square's left edge from x = 1 to x = 11, z2 its top edge from
 * y = 1 to y = 11; the dead latents keep the base sample's square at (6, 6). The history has
 * columns step,loss,rec,kl,tc,samples_per_s, and tc goes negative. Exit status 0, or 1 if the
 * report could not be written. */
#include "disentangle/report.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FREQ 3
#define N_DUTY 120
#define N (N_FREQ * N_DUTY)
#define M 4
#define K 2
#define STEPS 9
#define LENGTH 1000
#define ROWS 25000
#define BASE 181 /* gate frequency 15, duty cycle 0.505 */
#define COLS 6   /* history columns */
#define SIDE 16  /* image side */
#define SQUARE 4 /* the square's side */

static const double FREQS[N_FREQ] = {10, 15, 20};

static double duty_of(int d) { return 0.2 + 0.005 * d; } /* 0.2 .. 0.795 */

/* Deterministic noise in [-1, 1] (xorshift64). */
static double noise(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (double)(*s >> 11) / 4503599627370496.0 - 1.0;
}

/* A pulse train: raised-cosine rise and fall around a flat top, chopped by a gate of `freq`
 * periods per window that is open for fraction `duty` of each period. */
static void waveform(double freq, double duty, float *out) {
  for (int t = 0; t < LENGTH; t++) {
    double env = 0;
    if (t >= 100 && t < 200) env = 0.5 - 0.5 * cos(M_PI * (t - 100) / 100.0);
    else if (t >= 200 && t < 800) env = 1;
    else if (t >= 800 && t < 900) env = 0.5 + 0.5 * cos(M_PI * (t - 800) / 100.0);
    double phase = fmod(t * freq / LENGTH, 1.0);
    out[t] = (float)(env * (phase < duty ? 1.0 : 0.0));
  }
}

static double z_of_duty(double duty) { return 0.1 + 0.8 * (duty - 0.2) / 0.595; }
static double z_of_freq(double freq) { return 0.15 + 0.7 * (freq - 10) / 10; }

static void fill_latents(double *z, double *factors, double *zmin, double *zmax) {
  for (int f = 0; f < N_FREQ; f++)
    for (int d = 0; d < N_DUTY; d++) {
      int i = f * N_DUTY + d;
      factors[i * K + 0] = FREQS[f];
      factors[i * K + 1] = duty_of(d);
      z[i * M + 0] = z_of_duty(duty_of(d));
      z[i * M + 1] = 0.5;
      z[i * M + 2] = z_of_freq(FREQS[f]);
      z[i * M + 3] = 0.03;
    }
  for (int j = 0; j < M; j++) {
    zmin[j] = zmax[j] = z[j];
    for (int i = 1; i < N; i++) zmin[j] = fmin(zmin[j], z[i * M + j]), zmax[j] = fmax(zmax[j], z[i * M + j]);
  }
}

/* Traversals as a perfect decoder would draw them: z0 sweeps the duty cycle, z2 the gate
 * frequency, and the dead latents leave the base sample's waveform unchanged. */
static void fill_traversals(float *tr) {
  double base_freq = FREQS[BASE / N_DUTY], base_duty = duty_of(BASE % N_DUTY);
  for (int j = 0; j < M; j++)
    for (int s = 0; s < STEPS; s++) {
      double u = (double)s / (STEPS - 1), freq = base_freq, duty = base_duty;
      if (j == 0) duty = 0.2 + u * 0.595;
      if (j == 2) freq = 10 + u * 10;
      waveform(freq, duty, tr + ((size_t)j * STEPS + s) * LENGTH);
    }
}

/* Image traversals: the square's corner follows z0 (x) and z2 (y); channels 1 or 3. */
static void fill_image_traversals(float *tr, int channels) {
  const int base = 6;
  for (int j = 0; j < M; j++)
    for (int s = 0; s < STEPS; s++) {
      int shift = (int)lround(1 + 10.0 * s / (STEPS - 1)), x0 = j == 0 ? shift : base, y0 = j == 2 ? shift : base;
      float *img = tr + ((size_t)j * STEPS + s) * channels * SIDE * SIDE;
      for (int c = 0; c < channels; c++)
        for (int y = 0; y < SIDE; y++)
          for (int x = 0; x < SIDE; x++) {
            int in = x >= x0 && x < x0 + SQUARE && y >= y0 && y < y0 + SQUARE;
            img[(c * SIDE + y) * SIDE + x] = in && c == 0 ? 1.7f : in && channels == 1 ? 1.7f : -0.4f;
          }
    }
}

/* NashAE's columns (images = 0), or a VAE's whose tc changes sign (images = 1). */
static void fill_history(double *h, int images) {
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < ROWS; i++) {
    double *row = h + (size_t)i * COLS;
    double rec = (0.4 * exp(-i / 3000.0) + 0.002) * (1 + 0.3 * noise(&seed));
    double adv = 0.01 * exp(-i / 4000.0) * cos(i / 1500.0) + 0.001 * noise(&seed);
    double third = (0.02 + 0.03 * (1 - exp(-i / 5000.0))) * (1 + 0.2 * noise(&seed));
    row[0] = i;
    row[1] = 0.8 * rec + 0.2 * (images ? third : adv);
    row[2] = rec;
    row[3] = images ? third : adv;
    row[4] = images ? adv : third;
    row[5] = 5000 + 300 * noise(&seed);
  }
}

int main(int argc, char **argv) {
  int channels = 0; /* 0: waveforms */
  if (argc > 2 && !strcmp(argv[1], "-images")) {
    channels = !strcmp(argv[2], "rgb") ? 3 : !strcmp(argv[2], "gray") ? 1 : -1;
    if (channels < 0) return fprintf(stderr, "report_demo: -images gray|rgb, not '%s'\n", argv[2]), 2;
    argv += 2, argc -= 2;
  }
  const char *out = argc > 1 ? argv[1] : "report.html";
  static double z[N * M], factors[N * K], history[(size_t)ROWS * COLS];
  static float traversals[(size_t)M * STEPS * LENGTH]; /* LENGTH >= 3 * SIDE * SIDE */
  const char *const nashae_columns[COLS] = {"step", "loss", "rec", "adv", "pred", "samples_per_s"};
  const char *const vae_columns[COLS] = {"step", "loss", "rec", "kl", "tc", "samples_per_s"};
  double zmin[M], zmax[M];
  const double corr[M * M] = {1, -0.9, 0.9, 0.05, -0.9, 1, -0.3, NAN, 0.9, -0.3, 1, 0.2, 0.05, NAN, 0.2, 1};
  const char *const factor_names[K] = {"gate frequency", "duty cycle"};
  const char *const metric_names[] = {"active latents", "final rec (MSE/2)", "MIG", "SAP score",
                                      "DCI <disentanglement> & \"completeness\"", "samples/s"};
  const double metric_values[] = {2, 0.001234567, 0.6123456, NAN, 0.87654321, 51234.5};
  fill_latents(z, factors, zmin, zmax);
  if (channels) fill_image_traversals(traversals, channels);
  else fill_traversals(traversals);
  fill_history(history, channels > 0);
  ReportData d = {
      .title = "nashae, seed 1, 2 ranks",
      .subtitle = "runs/beam-nashae \xc2\xb7 data/beam.h5 (synthetic <demo> & 'test')",
      .history_cols = COLS, .history_names = channels ? vae_columns : nashae_columns,
      .history = history, .history_rows = ROWS,
      .n = N, .m = M, .z = z, .zmin = zmin, .zmax = zmax, .active = NULL, .active_threshold = 0.2,
      .k = K, .factors = factors, .factor_names = factor_names,
      .steps = STEPS, .length = channels ? channels * SIDE * SIDE : LENGTH, .traversals = traversals,
      .base_index = BASE, .sample_ndims = channels ? 3 : 1,
      .sample_dims = {channels ? channels : LENGTH, channels ? SIDE : 0, channels ? SIDE : 0},
      .corr = corr,
      .nmetrics = 6, .metric_names = metric_names, .metric_values = metric_values,
  };
  return report_write_html(out, &d) == 0 ? 0 : 1;
}
