/* The factor-capture heat map of the report: eta^2 of every latent (rows) with every factor
 * (columns), read from metrics.json, with the factors eval found captured cleanly marked. It
 * answers the user's question "which latent holds which factor, and only that one" directly. */
#include <math.h>
#include <stdio.h>

#include "disentangle/scores.h"
#include "disentangle/svg.h"
#include "report_page.h"

#define CP_LABEL_W 70 /* latent names left of the rows */
#define CP_TOP 30     /* factor names above the columns */
#define CP_FLAGS 30   /* the clean/not row under the matrix */

static int cell_w(const ReportData *d) {
  int w = (PAGE_W - CP_LABEL_W - 40) / (d->k > 0 ? d->k : 1);
  return w > 140 ? 140 : w < 40 ? 40 : w;
}

static int cell_h(const ReportData *d) {
  int h = 480 / (d->m > 0 ? d->m : 1);
  return h > 44 ? 44 : h < 16 ? 16 : h;
}

int report_capture_height(const ReportData *d) {
  return d->eta2 && d->m > 0 && d->k > 0 ? CP_TOP + d->m * cell_h(d) + CP_FLAGS + 8 : 0;
}

static void capture_cells(Report *r, int w, int h) {
  const ReportData *d = r->d;
  char id[48], style[48], color[8], text[32], name[16];
  for (int row = 0; row < d->m; row++) {
    const int j = r->order[row];
    const double y = CP_TOP + row * h;
    svg_text(r->f, CP_LABEL_W - 10, y + h / 2.0 + 4, "end", r->active[j] ? "t" : "off",
             report_latent_label(name, sizeof name, j));
    for (int f = 0; f < d->k; f++) {
      const double v = d->eta2[(size_t)j * d->k + f], x = CP_LABEL_W + f * w;
      svg_color_diverging(isfinite(v) ? v : NAN, color); /* 0 white .. 1 dark red */
      snprintf(id, sizeof id, "eta2-%d-%d", j, f);
      snprintf(style, sizeof style, "fill:%s;stroke:#fff", color);
      svg_rect(r->f, id, x, y, w, h, NULL, style);
      if (h < 16) continue;
      if (isfinite(v)) snprintf(text, sizeof text, "%.2f", v);
      else snprintf(text, sizeof text, "n/a");
      svg_text(r->f, x + w / 2.0, y + h / 2.0 + 4, "middle", v > 0.55 ? "cw" : "ck", text);
    }
  }
  for (int row = 0; row < d->m; row++) /* frames last, so no neighbouring cell paints over them */
    for (int f = 0; f < d->k; f++)
      if (d->captured_by && d->captured_by[f] == r->order[row]) {
        snprintf(id, sizeof id, "clean-%d", f);
        svg_rect(r->f, id, CP_LABEL_W + f * w + 1.5, CP_TOP + row * h + 1.5, w - 3, h - 3, NULL,
                 "fill:none;stroke:#111;stroke-width:3");
      }
}

int report_capture_section(Report *r) {
  const ReportData *d = r->d;
  if (!d->eta2 || d->m < 1 || d->k < 1) return 0; /* eval without factors (or an older metrics.json) */
  report_section_begin(r, "capture", "Factor capture");
  const int w = cell_w(d), h = cell_h(d), width = CP_LABEL_W + d->k * w + 10;
  char label[64], cap[1024];
  int count = 0;
  fputs("<figure>\n", r->f);
  svg_open(r->f, "fig-capture", width, report_capture_height(d),
           "correlation ratio eta squared of every latent with every factor");
  for (int f = 0; f < d->k; f++) {
    const char *name = d->factor_names && d->factor_names[f] ? d->factor_names[f] : NULL;
    if (!name) snprintf(label, sizeof label, "factor %d", f), name = label;
    svg_text(r->f, CP_LABEL_W + (f + 0.5) * w, CP_TOP - 10, "middle", "t", name);
    const int clean = d->captured_by && d->captured_by[f] >= 0;
    count += clean;
    svg_text(r->f, CP_LABEL_W + (f + 0.5) * w, CP_TOP + d->m * h + 20, "middle", clean ? "b" : "off",
             clean ? "clean" : "not clean");
  }
  capture_cells(r, w, h);
  svg_close(r->f);
  snprintf(cap, sizeof cap,
           "The correlation ratio &#951;&#178; of each latent (rows, active ones first) with each ground-truth factor "
           "(columns): the share of the latent's variance that the factor's value explains (a continuous factor "
           "grouped into its bins). A factor is <b>captured cleanly</b> when an active latent has &#951;&#178; &#8805; "
           "%.1f for it and &#8804; %.1f for every other factor; that cell has a black frame. "
           "<b>%d of %d</b> factors are captured cleanly.",
           SCORES_CAPTURE_HIGH, SCORES_CAPTURE_LOW, count, d->k);
  report_figure_end(r, cap);
  return 0;
}
