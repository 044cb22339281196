/* The HTML report of a run: one self-contained page (inline SVG and CSS, no script, no network)
 * that a person opens in a browser to judge a trained model.
 *
 * Sections, top to bottom: title and a one-line summary; loss curves; the per-latent KL (only
 * when given: Gaussian heads); latent traversals; generated samples (only when given); content
 * and style swapped (only when given: ML-VAE);
 * latents against ground-truth factors; the latents' correlation matrix; a table of metrics.
 * A section whose data is absent (NULL pointer or zero count) says so in one line instead of
 * drawing an empty figure. The renderer is serial plain C: rank 0 calls it. The same input
 * always gives the same bytes (no timestamps, fixed decimation).
 *
 * Each figure is an <svg id="fig-loss|fig-kl|fig-traversals|fig-factors|fig-corr"> that begins on a
 * line of its own and ends with a line "</svg>", so a test can cut it out of the page; heat
 * map cells are <rect id="corr-I-J">, KL bars <rect id="kl-J">, scatter cells <rect id="scatter-LATENT-FACTOR"> (their
 * plot area), in pixels from the top left of their <svg>. An image traversal grid is one
 * <image id="traversal-grid" x y width height data-grid="ROWS COLS TILE_W TILE_H GAP"> whose
 * PNG holds ROWS x COLS tiles of TILE_W x TILE_H pixels GAP pixels apart (rows in the order
 * drawn: active latents first), scaled to width x height. The <head> carries
 * <meta name="report-height" content="PX">: the page height the layout expects, which
 * tools/render_report.sh uses to size its screenshot. */
#ifndef DISENTANGLE_REPORT_H
#define DISENTANGLE_REPORT_H

#include <stdint.h>

typedef struct {
  const char *title;    /* first heading, e.g. "nashae, seed 1, 2 ranks"; NULL: "disentangle report" */
  const char *subtitle; /* a line under it, e.g. the run directory and data file; may be NULL */

  /* Loss history, as in history.csv: history_rows rows of history_cols doubles (row-major,
   * steps ascending), column c named history_names[c]. The column "step" is the x axis (a
   * history without one is not drawn), "samples_per_s" the speed; every other column is a loss
   * term, drawn on the shared log axis when it never goes negative, else on a linear panel of
   * its own. Non-finite values are skipped; values <= 0 are not drawn on the log axis. */
  int history_cols;
  const char *const *history_names;
  const double *history;
  long history_rows;

  /* Latents of every sample, row-major z[i * m + j] for sample i < n, latent j < m; zmin[j],
   * zmax[j] their range over the data; active[j] != 0 for latents counted as active (NULL:
   * computed as zmax - zmin > active_threshold, the NashAE rule). */
  int n, m;
  const double *z, *zmin, *zmax;
  const int *active;
  double active_threshold;

  /* Ground-truth factors (k may be 0): factors[i * k + f]; factor_names[f] (NULL: "factor f"). */
  int k;
  const double *factors;
  const char *const *factor_names;

  /* Latent traversals: traversals[(j * steps + s) * length + t] is value t of the decoder's
   * output (data units) when latent j is set to zmin[j] + s / (steps - 1) * (zmax[j] - zmin[j])
   * and the other latents keep the code of sample base_index. The report shows at most 7
   * evenly spaced of the `steps` positions. Samples of shape [C, H, W] (sample_ndims 3) with C
   * = 1 or 3 are drawn as a grid of images (one embedded PNG, gray or RGB; values clamped to
   * [0, 1], 0 black and 1 white); any other shape as waveforms of the `length` values. */
  int steps, length;
  const float *traversals;
  int base_index;
  int sample_ndims;       /* 0 or 1: [length]; 3: [C, H, W] with C * H * W = length */
  long sample_dims[3];

  /* Generated samples: generated[g * length + t], g < ngenerated, the decoder's output (data
   * units) for latent vectors drawn from a Gaussian fitted to z; drawn as traversals are
   * (images or waveforms), in one row, in <svg id="fig-generated">. ngenerated 0: no section. */
  int ngenerated;
  const float *generated;

  /* Content/style swap (ML-VAE): swap[(i * nswap + j) * length + t], the decoder's output for
   * the first swap_content latents of sample swap_rows[i] and the rest of sample swap_rows[j],
   * in <svg id="fig-swap">. nswap 0: no section. */
  int nswap, swap_content;
  const int64_t *swap_rows;
  const float *swap;

  /* Correlation matrix of the latents, corr[i * m + j] in [-1, 1]; NaN for undefined (a
   * latent with zero variance) is drawn grey. */
  const double *corr;

  /* Per-latent mean KL(q(z_j|x) || N(0,1)) in nats, kl[m], drawn as a bar chart; NULL (a
   * deterministic head): no such section. kl_threshold: the "used latent" cut, drawn as a
   * dashed line (NaN: none). */
  const double *kl;
  double kl_threshold;

  /* Metrics shown as a two-column table; values with 4 significant digits, NaN as "n/a". */
  int nmetrics;
  const char *const *metric_names;
  const double *metric_values;

  /* Factor capture (eval's eta2_J_K and captured_by_K): eta2[j * k + f] in [0, 1], the latent
   * that captures factor f cleanly captured_by[f] (-1: none); NULL: no such section. */
  const double *eta2;
  const int *captured_by;
} ReportData;

/* Write the report to path: built in path.tmp, then renamed, so a reader never sees half a
 * page. Returns 0, or -1 with errno set and a line on stderr naming the file (invalid
 * arguments, e.g. a negative count or counts without their arrays, give EINVAL). */
int report_write_html(const char *path, const ReportData *d);

#endif
