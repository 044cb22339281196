/* The HTML report of a run: one self-contained page (inline SVG and CSS, no script, no network)
 * that a person opens in a browser to judge a trained model.
 *
 * Sections, top to bottom: title and a one-line summary; loss curves; latent traversals;
 * latents against ground-truth factors; the latents' correlation matrix; a table of metrics.
 * A section whose data is absent (NULL pointer or zero count) says so in one line instead of
 * drawing an empty figure. The renderer is serial plain C: rank 0 calls it. The same input
 * always gives the same bytes (no timestamps, fixed decimation).
 *
 * Each figure is an <svg id="fig-loss|fig-traversals|fig-factors|fig-corr"> that begins on a
 * line of its own and ends with a line "</svg>", so a test can cut it out of the page; heat
 * map cells are <rect id="corr-I-J">, scatter cells <rect id="scatter-LATENT-FACTOR"> (their
 * plot area), in pixels from the top left of their <svg>. The <head> carries
 * <meta name="report-height" content="PX">: the page height the layout expects, which
 * tools/render_report.sh uses to size its screenshot. */
#ifndef DISENTANGLE_REPORT_H
#define DISENTANGLE_REPORT_H

/* Columns of one history row, as in history.csv. */
enum {
  REPORT_H_STEP,
  REPORT_H_LOSS, /* (1 - lambda) rec + lambda adv */
  REPORT_H_REC,  /* reconstruction MSE/2 */
  REPORT_H_ADV,  /* sum over latents of cov(z_i, predicted z_i); may be negative */
  REPORT_H_PRED, /* regressors' MSE/2 */
  REPORT_H_RATE, /* samples per second */
  REPORT_HISTORY_COLS
};

typedef struct {
  const char *title;    /* first heading, e.g. "nashae, seed 1, 2 ranks"; NULL: "disentangle report" */
  const char *subtitle; /* a line under it, e.g. the run directory and data file; may be NULL */

  /* Loss history: history_rows rows of REPORT_HISTORY_COLS doubles, steps ascending.
   * Non-finite values are skipped; values <= 0 are not drawn on the log axis. */
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

  /* Latent traversals: traversals[(j * steps + s) * length + t] is sample t of the decoder's
   * output when latent j is set to zmin[j] + s / (steps - 1) * (zmax[j] - zmin[j]) and the
   * other latents keep the code of sample base_index. The report shows at most 7 evenly spaced
   * of the `steps` positions. */
  int steps, length;
  const float *traversals;
  int base_index;

  /* Correlation matrix of the latents, corr[i * m + j] in [-1, 1]; NaN for undefined (a
   * latent with zero variance) is drawn grey. */
  const double *corr;

  /* Metrics shown as a two-column table; values with 4 significant digits, NaN as "n/a". */
  int nmetrics;
  const char *const *metric_names;
  const double *metric_values;
} ReportData;

/* Write the report to path: built in path.tmp, then renamed, so a reader never sees half a
 * page. Returns 0, or -1 with errno set and a line on stderr naming the file (invalid
 * arguments, e.g. a negative count or counts without their arrays, give EINVAL). */
int report_write_html(const char *path, const ReportData *d);

#endif
