/* Box plots of metrics over runs, one self-contained HTML page (see boxplot.h). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* fsync under -std=c11 */
#endif
#include "disentangle/boxplot.h"
#include "disentangle/svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BP_L 70 /* plot box */
#define BP_TOP 14
#define BP_H 200
#define BP_BOTTOM 66 /* room for slanted group names */
#define BP_SLOT_MAX 90
#define BP_W 960

static const char CSS[] =
    "body{margin:0;background:#fff;color:#1a1a1a;font:15px/1.45 \"DejaVu Sans\",Arial,sans-serif}\n"
    "main{width:960px;padding:18px 20px 40px}\nh1{font-size:24px;margin:0 0 4px}\n"
    "h2{font-size:18px;margin:26px 0 6px;border-bottom:1px solid #ccc}\np{margin:4px 0;color:#444}\n"
    "svg{display:block}\nsvg text{font-size:12px;fill:#333}\n.tk{stroke:#888}\n.gd{stroke:#e8e8e8}\n"
    ".bx{fill:#c6dbef;stroke:#1f4e9c}\n.md{stroke:#08306b;stroke-width:2.5}\n.wk{stroke:#1f4e9c}\n"
    ".pt{fill:none;stroke:#d62728;stroke-opacity:.7;stroke-width:4;stroke-linecap:round}\n";

double boxplot_quantile(const double *v, int n, double q) {
  double at = q * (n - 1);
  int lo = (int)floor(at), hi = lo + 1 < n ? lo + 1 : lo;
  return v[lo] + (at - lo) * (v[hi] - v[lo]);
}

static void one_box(FILE *f, const BoxPlot *p, int g, double x, double w, const SvgScale *sy) {
  const double *v = p->v[g];
  int n = p->n[g];
  double q1 = boxplot_quantile(v, n, 0.25), med = boxplot_quantile(v, n, 0.5), q3 = boxplot_quantile(v, n, 0.75);
  fputs("<g class=\"box\" data-group=\"", f);
  svg_escape(f, p->group[g]);
  fprintf(f, "\" data-n=\"%d\">\n", n);
  double cx = x + w / 2;
  svg_line(f, cx, svg_map(sy, v[0]), cx, svg_map(sy, q1), "wk");
  svg_line(f, cx, svg_map(sy, q3), cx, svg_map(sy, v[n - 1]), "wk");
  svg_line(f, cx - w / 4, svg_map(sy, v[0]), cx + w / 4, svg_map(sy, v[0]), "wk");
  svg_line(f, cx - w / 4, svg_map(sy, v[n - 1]), cx + w / 4, svg_map(sy, v[n - 1]), "wk");
  svg_rect(f, NULL, x, svg_map(sy, q3), w, svg_map(sy, q1) - svg_map(sy, q3), "bx", NULL);
  svg_line(f, x, svg_map(sy, med), x + w, svg_map(sy, med), "md");
  SvgPath dots;
  svg_path_begin(&dots, f, "pt", NULL);
  for (int i = 0; i < n; i++) svg_path_dot(&dots, cx + w * 0.3 * (((i * 37) % 11) / 10.0 - 0.5), svg_map(sy, v[i]));
  svg_path_end(&dots);
  fputs("</g>\n", f);
}

static void one_plot(FILE *f, const BoxPlot *p) {
  double lo = INFINITY, hi = -INFINITY, ticks[16];
  char id[160], lab[32];
  for (int g = 0; g < p->ngroups; g++)
    if (p->n[g] > 0) lo = fmin(lo, p->v[g][0]), hi = fmax(hi, p->v[g][p->n[g] - 1]);
  fputs("<section>\n<h2>", f);
  svg_escape(f, p->metric);
  fputs("</h2>\n", f);
  if (!(lo <= hi)) {
    fputs("<p>No run has a value.</p>\n</section>\n", f);
    return;
  }
  double pad = hi > lo ? 0.06 * (hi - lo) : (fabs(lo) > 0 ? 0.1 * fabs(lo) : 1);
  SvgScale sy = {lo - pad, hi + pad, BP_TOP + BP_H, BP_TOP, 0};
  double slot = (BP_W - BP_L - 10) / (double)(p->ngroups > 0 ? p->ngroups : 1);
  if (slot > BP_SLOT_MAX) slot = BP_SLOT_MAX;
  snprintf(id, sizeof id, "box-%s", p->metric);
  svg_open(f, id, BP_W, BP_TOP + BP_H + BP_BOTTOM, p->metric);
  int nt = svg_ticks_linear(sy.lo, sy.hi, 5, ticks, 16);
  svg_axis_left(f, &sy, ticks, nt, BP_L, BP_L + p->ngroups * slot, 1);
  svg_line(f, BP_L, BP_TOP + BP_H, BP_L + p->ngroups * slot, BP_TOP + BP_H, "tk");
  for (int g = 0; g < p->ngroups; g++) {
    double x = BP_L + g * slot;
    if (p->n[g] > 0) one_box(f, p, g, x + 0.2 * slot, 0.6 * slot, &sy);
    double tx = x + slot / 2, ty = BP_TOP + BP_H + 14;
    fprintf(f, "<text x=\"%s\" ", svg_px(lab, tx));
    fprintf(f, "y=\"%s\" text-anchor=\"end\" transform=\"rotate(-30 ", svg_px(lab, ty));
    fprintf(f, "%s ", svg_px(lab, tx));
    fprintf(f, "%s)\">", svg_px(lab, ty));
    svg_escapef(f, "%s (%d)", p->group[g], p->n[g]);
    fputs("</text>\n", f);
  }
  svg_close(f);
  fputs("</section>\n", f);
}

int boxplot_write_html(const char *path, const char *title, const BoxPlot *plots, int nplots) {
  size_t len = strlen(path) + 5;
  char *tmp = malloc(len);
  if (!tmp) return -1;
  snprintf(tmp, len, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "aggregate: cannot create %s: %s\n", tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>", f);
  svg_escape(f, title);
  fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>", CSS);
  svg_escape(f, title);
  fputs("</h1>\n<p>Per metric, one box per group: the box spans the quartiles, the thick line is the median, the "
        "whiskers reach the smallest and largest value, each dot is one run; (N) under a group is its number of "
        "runs with a value.</p>\n", f);
  for (int i = 0; i < nplots; i++) one_plot(f, &plots[i]);
  fputs("</main>\n</body>\n</html>\n", f);
  int rc = -1, err = 0;
  if (fflush(f) || ferror(f) || fsync(fileno(f))) err = errno ? errno : EIO;
  if (fclose(f) && !err) err = errno ? errno : EIO;
  if (!err && rename(tmp, path)) err = errno;
  if (err) {
    fprintf(stderr, "aggregate: cannot write %s: %s\n", tmp, strerror(err));
    unlink(tmp);
    errno = err;
  } else rc = 0;
  free(tmp);
  return rc;
}
