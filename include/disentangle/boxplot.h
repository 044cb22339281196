/* A self-contained HTML page of box plots (inline SVG and CSS, no script, no network): the
 * distribution of each metric over the runs of each group (a method or a study configuration),
 * as the field's large studies draw them. Used by `disentangle aggregate -html`.
 *
 * One <svg id="box-METRIC"> per metric, beginning on a line of its own and ending with a line
 * "</svg>"; in it one <g class="box" data-group="GROUP" data-n="N"> per group with runs: the box
 * q1..q3, the median line, whiskers to min and max, a dot per run. Quantiles are numpy's default
 * (linear interpolation), as the table's. Serial plain C; the same input gives the same bytes. */
#ifndef DISENTANGLE_BOXPLOT_H
#define DISENTANGLE_BOXPLOT_H

typedef struct {
  const char *metric;
  int ngroups;
  const char *const *group; /* [ngroups] names, in the order drawn */
  const int *n;             /* [ngroups] runs with a finite value (0: no box) */
  const double *const *v;   /* [ngroups] the values, sorted ascending */
} BoxPlot;

/* Write the page to path (path.tmp, then renamed). Returns 0, or -1 with errno set and a line on
 * stderr naming the file. */
int boxplot_write_html(const char *path, const char *title, const BoxPlot *plots, int nplots);

/* Quantile q of n sorted values, interpolating linearly (numpy's default). */
double boxplot_quantile(const double *v, int n, double q);

#endif
