/* The HTML report of a run (see report.h): one page, one column 960 px wide, inline SVG.
 *
 * Layout is fixed in pixels (only text wrapping in captions varies with the fonts), so the
 * page height can be estimated up front and written into the head for the screenshot tool.
 * Large inputs are decimated deterministically so a report stays well under a megabyte:
 * the loss history to about 440 buckets per curve (a min/max band and a geometric-mean line),
 * waveforms to two points per pixel column (their envelope), image traversals to one PNG of at
 * most 300,000 values, scatter plots to 2000 points a cell and 24000 in all. The loss curves
 * and the traversals are drawn in report_loss.c and report_traversals.c, the per-latent KL in
 * report_kl.c. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* fsync under -std=c11 */
#endif
#include "disentangle/report.h"
#include "disentangle/svg.h"
#include "report_page.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCATTER_MAX 2000    /* points per scatter cell... */
#define SCATTER_TOTAL 24000 /* ...and in the whole grid, so many latents x factors stay small */
#define SCATTER_LAYERS 4    /* separate paths, so overlapping dots darken (see scatter_cell) */
#define HEAD_H 120          /* estimated heights, for the report-height hint */
#define SECTION_H 130       /* heading + caption of one section */

static const char CSS[] =
    "body{margin:0;background:#fff;color:#1a1a1a;font:15px/1.45 \"DejaVu Sans\",\"Liberation Sans\","
    "Arial,sans-serif}\n"
    "main{width:960px;padding:18px 20px 40px}\n"
    "h1{font-size:26px;margin:0 0 4px}\n"
    "h2{font-size:20px;margin:30px 0 8px;padding-bottom:3px;border-bottom:1px solid #ccc}\n"
    ".sub{margin:0;color:#555;font:13px/1.4 \"DejaVu Sans Mono\",monospace;overflow-wrap:anywhere}\n"
    ".sum{margin:10px 0 0;font-size:17px}\n"
    "figure{margin:0}\n"
    "figcaption{font-size:13.5px;color:#444;margin-top:6px}\n"
    ".note{color:#666;font-style:italic}\n"
    "svg{display:block}\n"
    "svg text{font-size:12px;fill:#333}\n"
    "svg text.t{font-size:13px;fill:#111}\n"
    "svg text.b{font-size:14px;font-weight:bold;fill:#111}\n"
    "svg text.s{font-size:10.5px;fill:#555}\n"
    "svg text.off{fill:#a33;font-style:italic}\n"
    "svg text.cw{font-size:13px;fill:#fff}\n"
    "svg text.ck{font-size:13px;fill:#222}\n"
    "svg text.sm{font-size:10px}\n"
    ".tk{stroke:#888}\n.gd{stroke:#e8e8e8}\n.z0{stroke:#999;stroke-dasharray:4 3}\n"
    ".fr{fill:none;stroke:#999}\n.cf{fill:#fcfcfc;stroke:#ccc}\n.cf.off{fill:#f1f1f1}\n.cf.diag{stroke:#888}\n"
    ".ln{fill:none;stroke-width:1.3;stroke-linejoin:round}\n.bd{stroke:none;fill-opacity:.18}\n"
    ".wv{fill:none;stroke:#1f4e9c;stroke-width:1}\n.wv.off{stroke:#888}\n"
    ".ref{fill:none;stroke:#c8c8c8;stroke-width:1}\n"
    ".pt{fill:none;stroke:#1f77b4;stroke-opacity:.35;stroke-width:3.2;stroke-linecap:round}\n"
    ".pt.off{stroke:#777}\n"
    "table.metrics{border-collapse:collapse;font-size:14px;min-width:420px}\n"
    ".metrics th,.metrics td{padding:4px 16px;border-bottom:1px solid #ddd;text-align:left}\n"
    ".metrics td.v{text-align:right;font-family:\"DejaVu Sans Mono\",monospace}\n"
    ".metrics tr:nth-child(even) td{background:#f6f6f6}\n";

/* ---------------------------------------------------------------- shared helpers */

const char *report_latent_label(char *buf, size_t len, int j) {
  snprintf(buf, len, "z%d", j);
  return buf;
}

static const char *factor_label(const ReportData *d, char *buf, size_t len, int f) {
  if (d->factor_names && d->factor_names[f]) return d->factor_names[f];
  snprintf(buf, len, "factor %d", f);
  return buf;
}

int report_finite_range(const double *v, long n, long stride, double *lo, double *hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (long i = 0; i < n; i++) {
    double x = v[i * stride];
    if (!isfinite(x)) continue;
    if (x < *lo) *lo = x;
    if (x > *hi) *hi = x;
  }
  return *lo <= *hi;
}

void report_pad_range(double *lo, double *hi, double frac) {
  double w = *hi - *lo;
  if (!(w > 0)) w = fabs(*lo) > 0 ? fabs(*lo) : 1;
  *lo -= frac * w;
  *hi += frac * w;
}

void report_section_begin(Report *r, const char *id, const char *title) {
  fprintf(r->f, "<section id=\"%s\">\n<h2>", id);
  svg_escape(r->f, title);
  fputs("</h2>\n", r->f);
}

void report_section_note(Report *r, const char *text) {
  fputs("<p class=\"note\">", r->f);
  svg_escape(r->f, text);
  fputs("</p>\n</section>\n", r->f);
}

void report_figure_end(Report *r, const char *caption_html) {
  fprintf(r->f, "<figcaption>%s</figcaption>\n</figure>\n</section>\n", caption_html);
}

/* ---------------------------------------------------------------- latents vs factors */

#define SC_LABEL_W 120
#define SC_GAP 14
#define SC_HEAD 26 /* factor names above the columns */
#define SC_CELL_H 120
#define SC_ROW_H (SC_CELL_H + 12)
#define SC_BOTTOM 26 /* x tick numbers under the last row */
#define SC_INSET 5   /* keeps dots at the data range's ends inside the frame */

static double scatter_cell_w(const ReportData *d) {
  double w = (PAGE_W - SC_LABEL_W - (d->k - 1) * SC_GAP) / (double)d->k;
  return w > 240 ? 240 : w;
}

static int scatter_height(const ReportData *d) { return SC_HEAD + d->m * SC_ROW_H + SC_BOTTOM; }

static long scatter_points(const ReportData *d) {
  long cap = SCATTER_TOTAL / ((long)d->m * d->k);
  if (cap > SCATTER_MAX) cap = SCATTER_MAX;
  if (cap < 200) cap = 200;
  return d->n < cap ? d->n : cap;
}

/* One cell: dots of (factor f, latent j) for scatter_points() evenly strided samples. The
 * dots go round-robin into SCATTER_LAYERS paths: dots overlapping within one path do not darken
 * each other (a path is painted once), dots in different paths do, so dense regions show. */
static void scatter_cell(Report *r, int j, int f, const SvgScale *sx, const SvgScale *sy) {
  const ReportData *d = r->d;
  long n = d->n, npts = scatter_points(d);
  for (int layer = 0; layer < SCATTER_LAYERS; layer++) {
    SvgPath p;
    svg_path_begin(&p, r->f, r->active[j] ? "pt" : "pt off", NULL);
    for (long s = layer; s < npts; s += SCATTER_LAYERS) {
      long i = s * n / npts;
      double fx = d->factors[i * d->k + f], zy = d->z[i * d->m + j];
      if (isfinite(fx) && isfinite(zy)) svg_path_dot(&p, round(svg_map(sx, fx)), round(svg_map(sy, zy)));
    }
    svg_path_end(&p);
  }
}

static void scatter_row(Report *r, int row, int j, const SvgScale *sx_all, const SvgScale *sy0) {
  const ReportData *d = r->d;
  double top = SC_HEAD + row * SC_ROW_H, w = scatter_cell_w(d), ticks[16];
  char name[16], id[48];
  SvgScale sy = *sy0;
  sy.p0 = top + SC_CELL_H - SC_INSET;
  sy.p1 = top + SC_INSET;
  int nt = svg_ticks_linear(sy.lo, sy.hi, 4, ticks, 16);
  svg_text(r->f, 0, top + 18, NULL, "b", report_latent_label(name, sizeof name, j));
  if (!r->active[j]) svg_text(r->f, 0, top + 34, NULL, "off", "inactive");
  svg_axis_left(r->f, &sy, ticks, nt, SC_LABEL_W, SC_LABEL_W, 0);
  for (int f = 0; f < d->k; f++) {
    double x = SC_LABEL_W + f * (w + SC_GAP);
    snprintf(id, sizeof id, "scatter-%d-%d", j, f);
    svg_rect(r->f, id, x, top, w, SC_CELL_H, r->active[j] ? "cf" : "cf off", NULL);
    for (int t = 0; t < nt; t++) svg_line(r->f, x, svg_map(&sy, ticks[t]), x + w, svg_map(&sy, ticks[t]), "gd");
    SvgScale sx = sx_all[f];
    sx.p0 = x + SC_INSET;
    sx.p1 = x + w - SC_INSET;
    scatter_cell(r, j, f, &sx, &sy);
  }
}

/* Factor names above the columns and their x ticks under the last row. */
static void scatter_axes(Report *r, SvgScale *sx) {
  const ReportData *d = r->d;
  double w = scatter_cell_w(d), bottom = SC_HEAD + (d->m - 1) * SC_ROW_H + SC_CELL_H, ticks[16];
  char buf[32];
  for (int f = 0; f < d->k; f++) {
    double x = SC_LABEL_W + f * (w + SC_GAP);
    report_finite_range(d->factors + f, d->n, d->k, &sx[f].lo, &sx[f].hi);
    if (!(sx[f].lo <= sx[f].hi)) sx[f].lo = 0, sx[f].hi = 1;
    if (!(sx[f].hi > sx[f].lo)) report_pad_range(&sx[f].lo, &sx[f].hi, 0.5);
    sx[f].p0 = x + SC_INSET;
    sx[f].p1 = x + w - SC_INSET;
    sx[f].log10 = 0;
    svg_text(r->f, x + w / 2, 16, "middle", "t", factor_label(d, buf, sizeof buf, f));
    int nt = svg_ticks_linear(sx[f].lo, sx[f].hi, w > 150 ? 4 : 2, ticks, 16);
    svg_axis_bottom(r->f, &sx[f], ticks, nt, bottom - SC_CELL_H, bottom, 0);
  }
}

static int write_factor_section(Report *r) {
  const ReportData *d = r->d;
  report_section_begin(r, "factors", "Latents vs. factors");
  if (!d->z || !d->factors || d->k < 1 || d->n < 1 || d->m < 1) {
    report_section_note(r, "No ground-truth factors were given, so latents cannot be compared with them.");
    return 0;
  }
  SvgScale *sx = calloc((size_t)d->k, sizeof *sx);
  if (!sx) return -1;
  double lo, hi;
  if (!report_finite_range(d->z, (long)d->n * d->m, 1, &lo, &hi)) lo = 0, hi = 1;
  report_pad_range(&lo, &hi, 0.02);
  SvgScale sy = {lo, hi, 0, 0, 0};
  fputs("<figure>\n", r->f);
  svg_open(r->f, "fig-factors", PAGE_W, scatter_height(d), "scatter plots of each latent against each factor");
  scatter_axes(r, sx);
  for (int row = 0; row < d->m; row++) scatter_row(r, row, r->order[row], sx, &sy);
  svg_close(r->f);
  free(sx);
  char cap[1024], drawn[96];
  if (scatter_points(d) < d->n)
    snprintf(drawn, sizeof drawn, "%ld evenly spaced samples of %d are drawn.", scatter_points(d), d->n);
  else
    snprintf(drawn, sizeof drawn, "All %d samples are drawn.", d->n);
  snprintf(cap, sizeof cap,
           "One small scatter plot per latent (rows) and ground-truth factor (columns): each dot is a "
           "sample, x its factor value, y its latent value (one y-scale for all rows). A latent that "
           "captures a factor draws a thin monotone curve in that factor's column and a shapeless "
           "cloud or flat band in the others; an inactive latent is a flat line everywhere. %s",
           drawn);
  report_figure_end(r, cap);
  return 0;
}

/* ---------------------------------------------------------------- correlation heat map */

#define HM_LABEL_W 56 /* latent names left of the rows */
#define HM_TOP 28     /* latent names above the columns */
#define HM_BAR_GAP 40 /* matrix to colour bar */
#define HM_BAR_W 18

static int heatmap_cell(int m) {
  int s = 720 / (m > 0 ? m : 1);
  return s > 72 ? 72 : s < 10 ? 10 : s;
}

static int heatmap_bar_h(int m) { return m * heatmap_cell(m) > 180 ? m * heatmap_cell(m) : 180; }

static int heatmap_height(const ReportData *d) { return HM_TOP + heatmap_bar_h(d->m) + 12; }

static void heatmap_cells(Report *r, int s) {
  const ReportData *d = r->d;
  for (int i = 0; i < d->m; i++)
    for (int j = 0; j < d->m; j++) {
      double v = d->corr[i * d->m + j], x = HM_LABEL_W + j * s, y = HM_TOP + i * s;
      char id[48], style[32], color[8], text[32];
      svg_color_diverging(v, color);
      snprintf(id, sizeof id, "corr-%d-%d", i, j);
      snprintf(style, sizeof style, "fill:%s;stroke:#fff", color);
      svg_rect(r->f, id, x, y, s, s, NULL, style);
      if (s < 28) continue; /* too small for a readable number */
      if (isnan(v)) snprintf(text, sizeof text, "n/a");
      else snprintf(text, sizeof text, "%.2f", fabs(v) < 0.005 ? 0.0 : v);
      const char *cls = fabs(v) > 0.55 ? (s < 46 ? "cw sm" : "cw") : (s < 46 ? "ck sm" : "ck");
      svg_text(r->f, x + s / 2.0, y + s / 2.0 + (s < 46 ? 3.5 : 4.5), "middle", cls, text);
    }
}

static void heatmap_labels(Report *r, int s) {
  char name[16];
  for (int j = 0; j < r->d->m; j++) {
    const char *cls = r->active[j] ? "t" : "off";
    report_latent_label(name, sizeof name, j);
    svg_text(r->f, HM_LABEL_W + (j + 0.5) * s, HM_TOP - 8, "middle", cls, name);
    svg_text(r->f, HM_LABEL_W - 8, HM_TOP + (j + 0.5) * s + 4, "end", cls, name);
  }
}

/* Vertical colour bar, +1 at the top, with its ticks. */
static void heatmap_colorbar(Report *r, int s) {
  FILE *f = r->f;
  double x = HM_LABEL_W + r->d->m * s + HM_BAR_GAP, h = heatmap_bar_h(r->d->m), ticks[5] = {-1, -0.5, 0, 0.5, 1};
  char color[8];
  fputs("<defs><linearGradient id=\"corr-scale\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">", f);
  for (int i = 0; i <= 10; i++) {
    svg_color_diverging(1 - i / 5.0, color);
    fprintf(f, "<stop offset=\"%d%%\" stop-color=\"%s\"/>", i * 10, color);
  }
  fputs("</linearGradient></defs>\n", f);
  svg_rect(f, "corr-bar", x, HM_TOP, HM_BAR_W, h, NULL, "fill:url(#corr-scale);stroke:#999");
  SvgScale sy = {-1, 1, HM_TOP + h, HM_TOP, 0};
  for (int i = 0; i < 5; i++) {
    char lab[16];
    double y = svg_map(&sy, ticks[i]);
    svg_line(f, x + HM_BAR_W, y, x + HM_BAR_W + 5, y, "tk");
    snprintf(lab, sizeof lab, "%g", ticks[i]);
    svg_text(f, x + HM_BAR_W + 8, y + 4, NULL, NULL, lab);
  }
  svg_text_vertical(f, x + HM_BAR_W + 52, HM_TOP + h / 2, "t", "correlation");
}

static int write_corr_section(Report *r) {
  const ReportData *d = r->d;
  report_section_begin(r, "correlation", "Latent correlations");
  if (!d->corr || d->m < 1) {
    report_section_note(r, "No correlation matrix was given.");
    return 0;
  }
  int s = heatmap_cell(d->m), w = HM_LABEL_W + d->m * s + HM_BAR_GAP + HM_BAR_W + 64;
  fputs("<figure>\n", r->f);
  svg_open(r->f, "fig-corr", w, heatmap_height(d), "correlation matrix of the latents");
  heatmap_cells(r, s);
  heatmap_labels(r, s);
  heatmap_colorbar(r, s);
  svg_close(r->f);
  report_figure_end(r, "Pearson correlation of every pair of latents over the data: red cells are "
                "positive, blue negative, white none; the diagonal is 1 by definition. Disentangled "
                "active latents are nearly uncorrelated (pale off-diagonal cells). Latent names in "
                "<span style=\"color:#a33\">red italics</span> are inactive; a grey cell is undefined "
                "(a latent that never varies).");
  return 0;
}

/* ---------------------------------------------------------------- metrics */

static int write_metric_section(Report *r) {
  const ReportData *d = r->d;
  report_section_begin(r, "metrics", "Metrics");
  if (d->nmetrics < 1 || !d->metric_names || !d->metric_values) {
    report_section_note(r, "No metrics were given.");
    return 0;
  }
  fputs("<table class=\"metrics\">\n<thead><tr><th>metric</th><th>value</th></tr></thead>\n<tbody>\n", r->f);
  for (int i = 0; i < d->nmetrics; i++) {
    char v[48];
    fputs("<tr><td>", r->f);
    svg_escape(r->f, d->metric_names[i] ? d->metric_names[i] : "?");
    fprintf(r->f, "</td><td class=\"v\">%s</td></tr>\n", svg_value(v, sizeof v, d->metric_values[i], 4));
  }
  fputs("</tbody>\n</table>\n</section>\n", r->f);
  return 0;
}

/* ---------------------------------------------------------------- page */

/* Per-latent ranges, activity and display order (active first). */
static int report_resolve(Report *r) {
  const ReportData *d = r->d;
  size_t m = d->m > 0 ? (size_t)d->m : 1;
  r->lo = calloc(m, sizeof *r->lo);
  r->hi = calloc(m, sizeof *r->hi);
  r->active = calloc(m, sizeof *r->active);
  r->order = calloc(m, sizeof *r->order);
  if (!r->lo || !r->hi || !r->active || !r->order) return -1;
  r->nactive = 0;
  for (int j = 0; j < d->m; j++) {
    if (d->zmin && d->zmax) r->lo[j] = d->zmin[j], r->hi[j] = d->zmax[j];
    else if (!d->z || !report_finite_range(d->z + j, d->n, d->m, &r->lo[j], &r->hi[j])) r->lo[j] = r->hi[j] = NAN;
    r->active[j] = d->active ? d->active[j] != 0 : r->hi[j] - r->lo[j] > d->active_threshold;
    r->nactive += r->active[j];
  }
  int next = 0;
  for (int pass = 1; pass >= 0; pass--)
    for (int j = 0; j < d->m; j++)
      if (r->active[j] == pass) r->order[next++] = j;
  return 0;
}

static void report_release(Report *r) {
  free(r->lo);
  free(r->hi);
  free(r->active);
  free(r->order);
}

/* The page height the layout should come to, for the screenshot tool (captions may wrap a
 * line more or less; tools/render_report.sh trims the white below the page). */
static long page_height_estimate(const ReportData *d) {
  long h = HEAD_H + 5 * SECTION_H;
  h += report_loss_height(d) + report_traversal_height(d) + (d->kl && d->m > 0 ? SECTION_H + report_kl_height(d) : 0);
  h += report_generated_height(d) + report_swap_height(d);
  if (d->z && d->factors && d->k > 0 && d->n > 0 && d->m > 0) h += scatter_height(d);
  if (d->corr && d->m > 0) h += heatmap_height(d);
  if (report_capture_height(d)) h += SECTION_H + report_capture_height(d);
  return h + 30L * (d->nmetrics > 0 ? d->nmetrics + 1 : 0);
}

static int history_column(const ReportData *d, const char *name) {
  for (int c = 0; c < d->history_cols; c++)
    if (d->history_names[c] && !strcmp(d->history_names[c], name)) return c;
  return -1;
}

/* The last step, the last values of its first three loss columns and the mean speed. */
static void summary_history(FILE *f, const ReportData *d) {
  int step = history_column(d, "step"), rate = history_column(d, "samples_per_s"), shown = 0;
  const double *last = d->history + (d->history_rows - 1) * d->history_cols;
  char a[32];
  if (step < 0) return;
  fprintf(f, " &#183; step %s:", svg_value(a, sizeof a, last[step], 10));
  for (int c = 0; c < d->history_cols && shown < 3; c++) {
    if (c == step || c == rate) continue;
    fputs(shown++ ? ", " : " ", f);
    svg_escape(f, d->history_names[c]);
    fprintf(f, " %s", svg_value(a, sizeof a, last[c], 3));
  }
  if (rate < 0) return;
  double sum = 0;
  long n = 0;
  for (long i = 0; i < d->history_rows; i++) {
    double v = d->history[i * d->history_cols + rate];
    if (isfinite(v) && v > 0) sum += v, n++;
  }
  if (n) fprintf(f, " &#183; %s samples/s", svg_value(a, sizeof a, sum / (double)n, 3));
}

/* The one-line summary under the title. */
static void write_summary(Report *r) {
  const ReportData *d = r->d;
  FILE *f = r->f;
  char a[32];
  fprintf(f, "<p class=\"sum\"><b>%d of %d latents active</b>", r->nactive, d->m);
  if (d->active_threshold > 0) fprintf(f, " (range &gt; %s)", svg_value(a, sizeof a, d->active_threshold, 3));
  fprintf(f, " &#183; %d samples, %d ground-truth factor%s", d->n, d->k, d->k == 1 ? "" : "s");
  if (d->history && d->history_names && d->history_rows > 0) summary_history(f, d);
  fputs("</p>\n", f);
}

static int write_document(Report *r) {
  const ReportData *d = r->d;
  FILE *f = r->f;
  const char *title = d->title ? d->title : "disentangle report";
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n", f);
  fprintf(f, "<meta name=\"report-height\" content=\"%ld\"/>\n<title>", page_height_estimate(d));
  svg_escape(f, title);
  fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<header>\n<h1>", CSS);
  svg_escape(f, title);
  fputs("</h1>\n", f);
  if (d->subtitle) {
    fputs("<p class=\"sub\">", f);
    svg_escape(f, d->subtitle);
    fputs("</p>\n", f);
  }
  write_summary(r);
  fputs("</header>\n", f);
  if (report_loss_section(r) || report_kl_section(r) || report_traversal_section(r) || report_generated_section(r) ||
      report_swap_section(r) ||
      write_factor_section(r) || write_corr_section(r) || report_capture_section(r) || write_metric_section(r))
    return -1;
  fputs("</main>\n</body>\n</html>\n", f);
  return 0;
}

static int report_args_valid(const ReportData *d) {
  return d->n >= 0 && d->m >= 0 && d->k >= 0 && d->steps >= 0 && d->length >= 0 && d->nmetrics >= 0 &&
         d->history_rows >= 0 && d->history_cols >= 0 && !(d->history_rows > 0 && (!d->history_names || !d->history)) &&
         (d->sample_ndims == 0 || d->sample_ndims == 1 || d->sample_ndims == 3) && !(d->corr && d->m == 0);
}

/* Close and remove a half-written PATH.tmp after a failure; keeps the first errno. */
static int fail_tmp(FILE *f, const char *tmp, const char *what) {
  int err = errno ? errno : EIO;
  fprintf(stderr, "report: %s %s: %s\n", what, tmp, strerror(err));
  if (f) fclose(f);
  unlink(tmp);
  errno = err;
  return -1;
}

int report_write_html(const char *path, const ReportData *d) {
  if (!path || !*path || !d || !report_args_valid(d)) {
    fprintf(stderr, "report: invalid arguments for %s\n", path ? path : "(no path)");
    errno = EINVAL;
    return -1;
  }
  size_t len = strlen(path) + 5;
  char *tmp = malloc(len);
  if (!tmp) return -1;
  snprintf(tmp, len, "%s.tmp", path);
  int rc = -1;
  Report r = {.d = d};
  r.f = fopen(tmp, "w");
  if (!r.f) {
    fprintf(stderr, "report: cannot create %s: %s\n", tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  errno = 0;
  if (report_resolve(&r) || write_document(&r)) fail_tmp(r.f, tmp, "out of memory writing");
  else if (fflush(r.f) || ferror(r.f) || fsync(fileno(r.f))) fail_tmp(r.f, tmp, "cannot write");
  else if (fclose(r.f)) fail_tmp(NULL, tmp, "cannot write");
  else if (rename(tmp, path)) fail_tmp(NULL, tmp, "cannot rename into place");
  else rc = 0;
  report_release(&r);
  free(tmp);
  return rc;
}
