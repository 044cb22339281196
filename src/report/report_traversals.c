/* The latent traversal figure of the report: one row per latent (active first), one column per
 * sweep position. Waveform samples ([L]) are drawn as curves on one y-scale; image samples
 * ([C, H, W], C = 1 or 3) as one embedded PNG holding every decoded image. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/png.h"
#include "disentangle/svg.h"
#include "report_page.h"

#define TRAVERSAL_COLS 7 /* sweep positions shown per latent */
#define TR_LABEL_W 120   /* row labels and the y-scale numbers */
#define TR_GAP 8
#define TR_VALUE_H 16 /* the latent value above each cell */
#define TR_CELL_H 58
#define TR_ROW_H (TR_VALUE_H + TR_CELL_H + 12)

#define IMG_HEAD 22             /* the sweep positions above the image grid */
#define IMG_GAP 1               /* PNG pixels between tiles */
#define IMG_MAX_PIXELS 300000   /* PNG values (pixels x channels) before tiles are averaged down */
#define IMG_CELL_W 120.0        /* CSS px a tile (with its gap) may take across... */
#define IMG_CELL_H 160.0        /* ...and down */
#define IMG_MAX_SCALE 8.0       /* CSS px per image pixel at most */

static int traversal_cols(const ReportData *d) { return d->steps < TRAVERSAL_COLS ? d->steps : TRAVERSAL_COLS; }

/* Which of the `steps` sweep positions column c of cols shows: evenly spaced, both ends kept. */
static int traversal_step(const ReportData *d, int c, int cols) {
  return cols > 1 ? (int)lround((double)c * (d->steps - 1) / (cols - 1)) : 0;
}

static const float *traversal_curve(const ReportData *d, int j, int s) {
  return d->traversals + ((size_t)j * (size_t)d->steps + (size_t)s) * (size_t)d->length;
}

static int has_traversals(const ReportData *d) { return d->traversals && d->steps >= 1 && d->length >= 1 && d->m >= 1; }

/* ---------------------------------------------------------------- image grid */

/* The grid's geometry: tiles of tw x th PNG pixels (the images averaged over f x f blocks when
 * the whole grid would be too large), each PNG pixel `scale` CSS px on the page. */
typedef struct {
  int c, h, w, f, tw, th, rows, cols, pw, ph;
  double scale;
} Grid;

static int is_image(const ReportData *d) {
  return d->sample_ndims == 3 && (d->sample_dims[0] == 1 || d->sample_dims[0] == 3) && d->sample_dims[1] >= 1 &&
         d->sample_dims[2] >= 1 && d->sample_dims[0] * d->sample_dims[1] * d->sample_dims[2] == d->length;
}

static Grid grid_of(const ReportData *d) {
  Grid g = {.c = (int)d->sample_dims[0], .h = (int)d->sample_dims[1], .w = (int)d->sample_dims[2], .f = 1,
            .rows = d->m, .cols = traversal_cols(d)};
  for (;; g.f++) {
    g.tw = (g.w + g.f - 1) / g.f, g.th = (g.h + g.f - 1) / g.f;
    g.pw = g.cols * (g.tw + IMG_GAP) - IMG_GAP, g.ph = g.rows * (g.th + IMG_GAP) - IMG_GAP;
    if ((double)g.pw * g.ph * g.c <= IMG_MAX_PIXELS || (g.tw == 1 && g.th == 1)) break;
  }
  g.scale = fmin(IMG_MAX_SCALE, fmin(IMG_CELL_W / (g.tw + IMG_GAP), IMG_CELL_H / (g.th + IMG_GAP)));
  return g;
}

/* A data value as a byte: clamped to [0, 1] (NaN as 0), 0 black and 1 white. */
static unsigned char intensity(double v) {
  if (!(v > 0)) return 0;
  return v >= 1 ? 255 : (unsigned char)lround(v * 255);
}

/* The mosaic: tile (row, col) at PNG pixel (col * (tw + gap), row * (th + gap)); the gaps mid grey. */
static unsigned char *grid_pixels(Report *r, const Grid *g) {
  const ReportData *d = r->d;
  unsigned char *px = malloc((size_t)g->pw * g->ph * g->c);
  if (!px) return NULL;
  memset(px, 128, (size_t)g->pw * g->ph * g->c);
  for (int row = 0; row < g->rows; row++)
    for (int col = 0; col < g->cols; col++) {
      const float *img = traversal_curve(d, r->order[row], traversal_step(d, col, g->cols));
      for (int y = 0; y < g->th; y++)
        for (int x = 0; x < g->tw; x++) {
          unsigned char *out = px + ((size_t)(row * (g->th + IMG_GAP) + y) * g->pw + col * (g->tw + IMG_GAP) + x) * g->c;
          for (int ch = 0; ch < g->c; ch++) { /* the mean of the f x f block (cut at the image's edge) */
            double sum = 0;
            int cnt = 0;
            for (int yy = y * g->f; yy < (y + 1) * g->f && yy < g->h; yy++)
              for (int xx = x * g->f; xx < (x + 1) * g->f && xx < g->w; xx++, cnt++)
                sum += isfinite(img[((size_t)ch * g->h + yy) * g->w + xx]) ? img[((size_t)ch * g->h + yy) * g->w + xx] : 0;
            out[ch] = intensity(sum / cnt);
          }
        }
    }
  return px;
}

static void row_label(Report *r, int j, double top) {
  char name[16], text[96], a[32], b[32];
  svg_text(r->f, 0, top + 18, NULL, "b", report_latent_label(name, sizeof name, j));
  if (!r->active[j]) svg_text(r->f, 0, top + 34, NULL, "off", "inactive");
  snprintf(text, sizeof text, "%s to %s", svg_value(a, sizeof a, r->lo[j], 3), svg_value(b, sizeof b, r->hi[j], 3));
  svg_text(r->f, 0, top + (r->active[j] ? 34 : 50), NULL, "s", text);
}

static int image_height(const ReportData *d) {
  Grid g = grid_of(d);
  return IMG_HEAD + (int)ceil(g.ph * g.scale) + 6;
}

static int image_grid(Report *r) {
  const ReportData *d = r->d;
  Grid g = grid_of(d);
  unsigned char *px = grid_pixels(r, &g), *png = NULL;
  size_t len;
  if (!px || png_encode(px, g.pw, g.ph, g.c, &png, &len)) return free(px), -1;
  free(px);
  double tile_w = (g.tw + IMG_GAP) * g.scale, tile_h = (g.th + IMG_GAP) * g.scale;
  char attrs[96];
  svg_open(r->f, "fig-traversals", PAGE_W, image_height(d), "decoded images while one latent sweeps");
  for (int c = 0; c < g.cols; c++) {
    char text[32];
    double frac = g.cols > 1 ? (double)traversal_step(d, c, g.cols) / (d->steps - 1) : 0;
    snprintf(text, sizeof text, c == 0 ? "min" : c == g.cols - 1 ? "max" : "%.0f%%", 100 * frac);
    svg_text(r->f, TR_LABEL_W + c * tile_w + g.tw * g.scale / 2, IMG_HEAD - 7, "middle", "s", text);
  }
  snprintf(attrs, sizeof attrs, "data-grid=\"%d %d %d %d %d\"", g.rows, g.cols, g.tw, g.th, IMG_GAP);
  svg_image_png(r->f, "traversal-grid", TR_LABEL_W, IMG_HEAD, g.pw * g.scale, g.ph * g.scale, png, len, attrs);
  free(png);
  for (int row = 0; row < g.rows; row++) {
    int j = r->order[row];
    double top = IMG_HEAD + row * tile_h;
    row_label(r, j, top);
    if (!r->active[j]) /* faded: an inactive latent's row should not catch the eye */
      svg_rect(r->f, NULL, TR_LABEL_W, top, g.pw * g.scale, g.th * g.scale, NULL, "fill:#fff;fill-opacity:.55");
  }
  svg_close(r->f);
  char cap[1024], avg[96] = "";
  if (g.f > 1) snprintf(avg, sizeof avg, " Each image is averaged over %d&#215;%d pixel blocks to keep the page small.", g.f, g.f);
  snprintf(cap, sizeof cap,
           "Each row sweeps one latent from its smallest to its largest value over the data (left of the row; the "
           "column heads give the position in that range) while the other latents keep the code of sample #%d; "
           "each cell is the decoded %s image (%ld&#215;%ld), its values in data units clamped to [0, 1]: 0 black, "
           "1 %s.%s An active latent changes the image along its row; an <i>inactive</i> one (faded) leaves it "
           "unchanged. Active latents come first.",
           d->base_index, g.c == 1 ? "grey-scale" : "RGB", d->sample_dims[1], d->sample_dims[2],
           g.c == 1 ? "white" : "full intensity", avg);
  report_figure_end(r, cap);
  return 0;
}

/* ---------------------------------------------------------------- waveforms */

static int wave_height(const ReportData *d) { return 6 + d->m * TR_ROW_H; }

/* One y-scale for the whole grid, so rows and columns compare directly. */
static SvgScale wave_scale(const ReportData *d) {
  double lo = INFINITY, hi = -INFINITY;
  int cols = traversal_cols(d);
  for (int j = 0; j < d->m; j++)
    for (int c = 0; c < cols; c++) {
      const float *y = traversal_curve(d, j, traversal_step(d, c, cols));
      for (int t = 0; t < d->length; t++)
        if (isfinite(y[t])) lo = fmin(lo, y[t]), hi = fmax(hi, y[t]);
    }
  if (!(lo <= hi)) lo = 0, hi = 1;
  report_pad_range(&lo, &hi, 0.05);
  SvgScale s = {lo, hi, TR_CELL_H - 3, 3, 0}; /* relative to a cell's top */
  return s;
}

static void wave_row_label(Report *r, int j, double top, const SvgScale *sy) {
  char name[16], text[64], v[32];
  svg_text(r->f, 0, top + 18, NULL, "b", report_latent_label(name, sizeof name, j));
  if (!r->active[j]) svg_text(r->f, 0, top + 34, NULL, "off", "inactive");
  snprintf(text, sizeof text, "range %s", svg_value(v, sizeof v, r->hi[j] - r->lo[j], 3));
  svg_text(r->f, 0, top + (r->active[j] ? 34 : 50), NULL, "s", text);
  /* The grid's y-scale, beside the row's first cell. */
  double ticks[8];
  SvgScale s = *sy;
  s.p0 += top;
  s.p1 += top;
  svg_axis_left(r->f, &s, ticks, svg_ticks_linear(s.lo, s.hi, 2, ticks, 8), TR_LABEL_W, TR_LABEL_W, 0);
}

static void wave_row(Report *r, int row, int j, const SvgScale *sy0, double cell_w) {
  const ReportData *d = r->d;
  int cols = traversal_cols(d), off = !r->active[j];
  double top = 4 + row * TR_ROW_H + TR_VALUE_H;
  SvgScale sy = *sy0;
  sy.p0 += top;
  sy.p1 += top;
  wave_row_label(r, j, top, sy0);
  for (int c = 0; c < cols; c++) {
    int s = traversal_step(d, c, cols);
    double x = TR_LABEL_W + c * (cell_w + TR_GAP), frac = d->steps > 1 ? (double)s / (d->steps - 1) : 0;
    char name[16], v[32], text[64];
    snprintf(text, sizeof text, "%s = %s", report_latent_label(name, sizeof name, j),
             svg_value(v, sizeof v, r->lo[j] + frac * (r->hi[j] - r->lo[j]), 3));
    svg_text(r->f, x + cell_w / 2, top - 4, "middle", "s", text);
    svg_rect(r->f, NULL, x, top, cell_w, TR_CELL_H, off ? "cf off" : "cf", NULL);
    if (c > 0 && !off) /* the row's first cell again, faint, to make the change visible */
      svg_series(r->f, traversal_curve(d, j, 0), d->length, 1, x + 2, cell_w - 4, &sy, "ref", NULL);
    svg_series(r->f, traversal_curve(d, j, s), d->length, 1, x + 2, cell_w - 4, &sy, off ? "wv off" : "wv", NULL);
  }
}

static void wave_grid(Report *r) {
  const ReportData *d = r->d;
  int cols = traversal_cols(d);
  double cell_w = (PAGE_W - TR_LABEL_W - (cols - 1) * TR_GAP) / (double)cols;
  if (cell_w > 160) cell_w = 160;
  SvgScale sy = wave_scale(d);
  svg_open(r->f, "fig-traversals", PAGE_W, wave_height(d), "decoded waveforms while one latent sweeps");
  for (int row = 0; row < d->m; row++) wave_row(r, row, r->order[row], &sy, cell_w);
  svg_close(r->f);
  char cap[1024];
  snprintf(cap, sizeof cap,
           "Each row sweeps one latent from its smallest to its largest value over the data (the "
           "numbers above the cells) while the other latents keep the code of sample #%d; each cell "
           "is the decoded waveform, sample index 0&#8211;%d left to right, on one y-scale for the "
           "whole grid (numbered left of each row). In active rows a pale grey curve repeats the "
           "row's first cell for comparison. An active latent changes the waveform along its row; "
           "an <i>inactive</i> one (grey) leaves it unchanged. Active latents come first.",
           d->base_index, d->length - 1);
  report_figure_end(r, cap);
}

/* ---------------------------------------------------------------- the section */

int report_traversal_height(const ReportData *d) {
  if (!has_traversals(d)) return 0;
  return is_image(d) ? image_height(d) : wave_height(d);
}

int report_traversal_section(Report *r) {
  report_section_begin(r, "traversals", "Latent traversals");
  if (!has_traversals(r->d)) {
    report_section_note(r, "No latent traversals were given.");
    return 0;
  }
  fputs("<figure>\n", r->f);
  if (is_image(r->d)) return image_grid(r);
  wave_grid(r);
  return 0;
}
