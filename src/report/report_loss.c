/* The loss figure of the report: every loss column of the history by its name. Columns that
 * never go negative share one log axis (the main panel); a column that does (NashAE's adv)
 * gets a linear panel of its own under it, with its zero line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/svg.h"
#include "report_page.h"

#define LOSS_L 78 /* plot box of the loss figure */
#define LOSS_R 16
#define LOSS_TOP 12
#define LOSS_MAIN_H 280
#define LOSS_GAP 18
#define LOSS_LIN_H 110
#define LOSS_BOTTOM 48

typedef struct {
  double min, max, sum, x; /* sum of values (linear) or of log10 values (log) */
  long count;
} Bucket;

/* The columns of the history: the step, then the losses, log-axis ones first (file order). */
typedef struct {
  int step, nlog, nlin;
  int *cols;           /* nlog + nlin loss columns */
  const char **colors; /* one per loss column */
} Layout;

/* Familiar names get familiar colours (NashAE's as they always were); others take the rest. */
static const struct {
  const char *name, *color, *what;
} KNOWN[] = {
    {"loss", "#222222", "the total loss the model minimises"},
    {"rec", "#1f77b4", "the reconstruction error"},
    {"pred", "#2ca02c",
     "the regressors' error: they predict each latent from the others and the encoder works against them, so pred "
     "levelling off high means latents that carry separate information"},
    {"adv", "#d62728", "the adversarial term &#931; cov(z<sub>i</sub>, &#7825;<sub>i</sub>)"},
    {"kl", "#9467bd", "the KL divergence of the code from its prior"},
    {"tc", "#8c564b", "the total correlation of the code"},
};
#define NKNOWN ((int)(sizeof KNOWN / sizeof KNOWN[0]))
static const char *const OTHER_COLORS[] = {"#ff7f0e", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79"};
#define NOTHER ((int)(sizeof OTHER_COLORS / sizeof OTHER_COLORS[0]))

static int known_index(const char *name) {
  for (int i = 0; i < NKNOWN; i++)
    if (name && !strcmp(name, KNOWN[i].name)) return i;
  return -1;
}

static int column_named(const ReportData *d, const char *name) {
  for (int c = 0; c < d->history_cols; c++)
    if (d->history_names[c] && !strcmp(d->history_names[c], name)) return c;
  return -1;
}

static int goes_negative(const ReportData *d, int c) {
  for (long r = 0; r < d->history_rows; r++)
    if (d->history[r * d->history_cols + c] < 0) return 1; /* NaN compares false */
  return 0;
}

static int layout_make(const ReportData *d, Layout *l) {
  l->step = d->history && d->history_names && d->history_rows > 0 ? column_named(d, "step") : -1;
  l->nlog = l->nlin = 0;
  l->cols = calloc((size_t)d->history_cols + 1, sizeof *l->cols);
  l->colors = calloc((size_t)d->history_cols + 1, sizeof *l->colors);
  if (!l->cols || !l->colors) return -1;
  if (l->step < 0) return 0;
  int rate = column_named(d, "samples_per_s"), other = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int c = 0; c < d->history_cols; c++) {
      if (c == l->step || c == rate || goes_negative(d, c) != pass) continue;
      l->cols[l->nlog + l->nlin] = c;
      if (pass) l->nlin++;
      else l->nlog++;
    }
  for (int i = 0; i < l->nlog + l->nlin; i++) {
    int k = known_index(d->history_names[l->cols[i]]);
    l->colors[i] = k >= 0 ? KNOWN[k].color : OTHER_COLORS[other++ % NOTHER];
  }
  return 0;
}

static void layout_free(Layout *l) {
  free(l->cols);
  free(l->colors);
}

static int height_of(int nlin) { return LOSS_TOP + LOSS_MAIN_H + nlin * (LOSS_GAP + LOSS_LIN_H) + LOSS_BOTTOM; }

int report_loss_height(const ReportData *d) {
  Layout l;
  int h = layout_make(d, &l) == 0 && l.step >= 0 ? height_of(l.nlin) : 0;
  layout_free(&l);
  return h;
}

/* Rows are split into nb buckets by row index (never an empty bucket however irregular the
 * steps); a bucket's x is the mean step of its rows. Log buckets take only values > 0. */
static void bucket_fill(const ReportData *d, int step, int col, int log10y, Bucket *b, int nb) {
  long rows = d->history_rows, r = 0;
  for (int i = 0; i < nb; i++) {
    long end = (long)((double)(i + 1) * (double)rows / nb), first = r;
    Bucket bk = {INFINITY, -INFINITY, 0, 0, 0};
    for (; r < end; r++) {
      const double *row = d->history + r * d->history_cols;
      bk.x += row[step];
      double v = row[col];
      if (!isfinite(v) || (log10y && !(v > 0))) continue;
      bk.min = fmin(bk.min, v);
      bk.max = fmax(bk.max, v);
      bk.sum += log10y ? log10(v) : v;
      bk.count++;
    }
    bk.x = end > first ? bk.x / (double)(end - first) : 0;
    b[i] = bk;
  }
}

static double bucket_mean(const Bucket *b, int log10y) {
  double m = b->sum / (double)b->count;
  return log10y ? pow(10.0, m) : m;
}

/* A curve: its min/max band (when buckets hold several rows) under its mean line. */
static void draw_curve(FILE *f, const Bucket *b, int nb, const SvgScale *sx, const SvgScale *sy, int log10y,
                       const char *color, int band) {
  char style[64];
  SvgPath p;
  if (band) {
    snprintf(style, sizeof style, "fill:%s", color);
    svg_path_begin(&p, f, "bd", style);
    for (int i = 0; i < nb;) {
      if (!b[i].count) {
        i++;
        continue;
      }
      int j = i;
      for (; j < nb && b[j].count; j++) svg_path_to(&p, svg_map(sx, b[j].x), svg_map(sy, b[j].max));
      for (int q = j - 1; q >= i; q--) svg_path_to(&p, svg_map(sx, b[q].x), svg_map(sy, b[q].min));
      fputc('Z', f);
      svg_path_break(&p);
      i = j;
    }
    svg_path_end(&p);
  }
  snprintf(style, sizeof style, "stroke:%s", color);
  svg_path_begin(&p, f, "ln", style);
  for (int i = 0; i < nb; i++) {
    if (!b[i].count) svg_path_break(&p);
    else svg_path_to(&p, svg_map(sx, b[i].x), svg_map(sy, bucket_mean(&b[i], log10y)));
  }
  svg_path_end(&p);
}

/* Legend in the top right corner of the main panel, with each curve's last value. */
static void loss_legend(FILE *f, const ReportData *d, const Layout *l, double right, double top) {
  const double *last = d->history + (d->history_rows - 1) * d->history_cols;
  double w = 285, x = right - w - 8, y = top + 8;
  svg_rect(f, NULL, x, y, w, 14 + 20 * l->nlog, NULL, "fill:#fff;fill-opacity:.9;stroke:#ccc");
  for (int i = 0; i < l->nlog; i++) {
    char val[32], text[160];
    double ly = y + 17 + 20 * i;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" style=\"stroke:%s;stroke-width:2.5\"/>\n", (int)x + 10,
            (int)ly - 4, (int)x + 34, (int)ly - 4, l->colors[i]);
    snprintf(text, sizeof text, "%.100s  last %s", d->history_names[l->cols[i]],
             svg_value(val, sizeof val, last[l->cols[i]], 3));
    svg_text(f, x + 42, ly, NULL, "t", text);
  }
}

/* Main panel: the log-axis columns. Returns 0 when nothing is positive. */
static int main_panel(FILE *f, const ReportData *d, const Layout *l, const SvgScale *sx, Bucket *b, int nb) {
  double lo = INFINITY, hi = -INFINITY, ticks[40];
  for (int i = 0; i < l->nlog; i++) {
    bucket_fill(d, l->step, l->cols[i], 1, b + (size_t)i * nb, nb);
    for (int q = 0; q < nb; q++)
      if (b[(size_t)i * nb + q].count) lo = fmin(lo, b[(size_t)i * nb + q].min), hi = fmax(hi, b[(size_t)i * nb + q].max);
  }
  svg_rect(f, NULL, LOSS_L, LOSS_TOP, PAGE_W - LOSS_L - LOSS_R, LOSS_MAIN_H, "fr", NULL);
  if (!(lo <= hi)) return 0;
  if (hi / lo < 1.5) lo /= 1.5, hi *= 1.5;
  double span = log10(hi / lo);
  SvgScale sy = {lo * pow(10, -0.04 * span), hi * pow(10, 0.04 * span), LOSS_TOP + LOSS_MAIN_H, LOSS_TOP, 1};
  int nt = svg_ticks_log(sy.lo, sy.hi, ticks, 40);
  svg_axis_left(f, &sy, ticks, nt, LOSS_L, PAGE_W - LOSS_R, 1);
  for (int i = 0; i < l->nlog; i++) draw_curve(f, b + (size_t)i * nb, nb, sx, &sy, 1, l->colors[i], d->history_rows > nb);
  svg_text_vertical(f, 18, LOSS_TOP + LOSS_MAIN_H / 2.0, "t", "loss terms (log scale)");
  loss_legend(f, d, l, PAGE_W - LOSS_R, LOSS_TOP);
  return 1;
}

/* A panel under the main one: column i of the layout on a linear axis with its zero line. */
static void linear_panel(FILE *f, const ReportData *d, const Layout *l, int i, const SvgScale *sx, Bucket *b, int nb) {
  double lo = 0, hi = 0, ticks[16];
  double top = LOSS_TOP + LOSS_MAIN_H + LOSS_GAP + (i - l->nlog) * (LOSS_GAP + LOSS_LIN_H);
  char label[128];
  bucket_fill(d, l->step, l->cols[i], 0, b, nb);
  for (int q = 0; q < nb; q++)
    if (b[q].count) lo = fmin(lo, b[q].min), hi = fmax(hi, b[q].max);
  report_pad_range(&lo, &hi, 0.08);
  SvgScale sy = {lo, hi, top + LOSS_LIN_H, top, 0};
  int nt = svg_ticks_linear(lo, hi, 3, ticks, 16);
  svg_axis_left(f, &sy, ticks, nt, LOSS_L, PAGE_W - LOSS_R, 1);
  nt = svg_ticks_linear(sx->lo, sx->hi, 8, ticks, 16);
  for (int t = 0; t < nt; t++) svg_line(f, svg_map(sx, ticks[t]), top, svg_map(sx, ticks[t]), top + LOSS_LIN_H, "gd");
  svg_line(f, LOSS_L, svg_map(&sy, 0), PAGE_W - LOSS_R, svg_map(&sy, 0), "z0");
  draw_curve(f, b, nb, sx, &sy, 0, l->colors[i], d->history_rows > nb);
  svg_rect(f, NULL, LOSS_L, top, PAGE_W - LOSS_L - LOSS_R, LOSS_LIN_H, "fr", NULL);
  snprintf(label, sizeof label, "%.100s (linear)", d->history_names[l->cols[i]]);
  svg_text_vertical(f, 18, top + LOSS_LIN_H / 2.0, "t", label);
}

/* The caption names the columns (escaped: they come from the history file). */
static void loss_caption(Report *r, const Layout *l) {
  FILE *f = r->f;
  const ReportData *d = r->d;
  fputs("<figcaption>", f);
  for (int i = 0; i < l->nlog + l->nlin; i++) {
    if (i == 0) fputs(l->nlog ? "Top, on a log axis (values &#8804; 0 cannot be drawn there and are left out): " : "", f);
    if (i == l->nlog)
      fputs(l->nlin ? (l->nlog ? " Below, each on a linear axis of its own with its zero line dashed (they go negative): "
                               : "Each on a linear axis with its zero line dashed (they go negative): ")
                    : "",
            f);
    const char *name = d->history_names[l->cols[i]];
    int k = known_index(name);
    fputs("<b>", f);
    svg_escape(f, name);
    fputs("</b>", f);
    if (k >= 0) fprintf(f, ", %s", KNOWN[k].what);
    fputs(i + 1 == l->nlog || i + 1 == l->nlog + l->nlin ? "." : "; ", f);
  }
  fputs(" Curves against training step, one per column of history.csv. Long histories are averaged into buckets "
        "of a few steps: the line is the bucket's (geometric) mean, the pale band its min&#8211;max, so a wide band "
        "means noisy steps.</figcaption>\n</figure>\n</section>\n",
        f);
}

int report_loss_section(Report *r) {
  const ReportData *d = r->d;
  Layout l;
  report_section_begin(r, "loss", "Loss curves");
  if (layout_make(d, &l)) return layout_free(&l), -1;
  if (l.step < 0 || l.nlog + l.nlin == 0) {
    report_section_note(r, l.step < 0 ? "No loss history was given." : "The loss history has no loss columns.");
    layout_free(&l);
    return 0;
  }
  int nb = (PAGE_W - LOSS_L - LOSS_R) / 2;
  if (nb > d->history_rows) nb = (int)d->history_rows;
  Bucket *b = calloc((size_t)nb * (l.nlog + 1), sizeof *b);
  if (!b) return layout_free(&l), -1;
  double s0, s1, ticks[16];
  report_finite_range(d->history + l.step, d->history_rows, d->history_cols, &s0, &s1);
  if (!(s1 > s0)) report_pad_range(&s0, &s1, 0.5);
  SvgScale sx = {s0, s1, LOSS_L, PAGE_W - LOSS_R, 0};
  int h = height_of(l.nlin);
  fputs("<figure>\n", r->f);
  svg_open(r->f, "fig-loss", PAGE_W, h, "loss curves against training step");
  /* The shared x axis first, so its grid lines lie under the curves. */
  int nt = svg_ticks_linear(s0, s1, 8, ticks, 16);
  svg_axis_bottom(r->f, &sx, ticks, nt, h - LOSS_BOTTOM, h - LOSS_BOTTOM, 0);
  for (int i = 0; i < nt; i++)
    svg_line(r->f, svg_map(&sx, ticks[i]), LOSS_TOP, svg_map(&sx, ticks[i]), LOSS_TOP + LOSS_MAIN_H, "gd");
  int shown = main_panel(r->f, d, &l, &sx, b, nb);
  for (int i = l.nlog; i < l.nlog + l.nlin; i++) linear_panel(r->f, d, &l, i, &sx, b + (size_t)l.nlog * nb, nb);
  svg_text(r->f, (LOSS_L + PAGE_W - LOSS_R) / 2.0, h - 8, "middle", "t", "training step");
  if (!shown) svg_text(r->f, PAGE_W / 2.0, LOSS_TOP + 140, "middle", "off", "no positive loss values");
  svg_close(r->f);
  free(b);
  loss_caption(r, &l);
  layout_free(&l);
  return 0;
}
