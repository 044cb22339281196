/* The content/style swap figure of a model with content and style latents (ML-VAE; encoded.h
 * /swap): cell (i, j) is the decoder's output for the content latents of sample i and the style
 * latents of sample j, the samples from distinct groups. Along a row the content is fixed, so
 * what the group shares should stay; along a column the style is fixed. The diagonal is each
 * sample's own reconstruction. Images as one embedded PNG, waveforms as small curves on one
 * y-scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/png.h"
#include "disentangle/svg.h"
#include "report_page.h"

#define SWAP_LABEL_W 112 /* "content 123456" at the label font */
#define SWAP_GAP 6
#define SWAP_CELL_H 46
#define SWAP_IMG_SCALE 1.6 /* CSS px per image pixel */
#define SWAP_HEAD_H 22

static int has_swap(const ReportData *d) { return d->swap && d->nswap >= 1 && d->length >= 1; }

static int is_image(const ReportData *d) {
  return d->sample_ndims == 3 && (d->sample_dims[0] == 1 || d->sample_dims[0] == 3) && d->sample_dims[1] >= 1 &&
         d->sample_dims[2] >= 1 && d->sample_dims[0] * d->sample_dims[1] * d->sample_dims[2] == d->length &&
         d->sample_dims[1] <= 256 && d->sample_dims[2] <= 256;
}

static const float *cell(const ReportData *d, int i, int j) {
  return d->swap + ((size_t)i * d->nswap + j) * (size_t)d->length;
}

static double row_h(const ReportData *d) {
  return is_image(d) ? (d->sample_dims[1] + 1) * SWAP_IMG_SCALE : SWAP_CELL_H + SWAP_GAP;
}

int report_swap_height(const ReportData *d) {
  if (!has_swap(d)) return 0;
  return 130 + SWAP_HEAD_H + (int)ceil(d->nswap * row_h(d)) + 8;
}

static unsigned char intensity(double v) {
  if (!(v > 0)) return 0;
  return v >= 1 ? 255 : (unsigned char)lround(v * 255);
}

static void labels(Report *r, double cell_w, double pitch_x) {
  const ReportData *d = r->d;
  char text[64];
  for (int j = 0; j < d->nswap; j++) {
    snprintf(text, sizeof text, "style %ld", d->swap_rows ? (long)d->swap_rows[j] : (long)j);
    svg_text(r->f, SWAP_LABEL_W + j * pitch_x + cell_w / 2, SWAP_HEAD_H - 6, "middle", "lbl", text);
  }
  for (int i = 0; i < d->nswap; i++) {
    snprintf(text, sizeof text, "content %ld", d->swap_rows ? (long)d->swap_rows[i] : (long)i);
    svg_text(r->f, SWAP_LABEL_W - 6, SWAP_HEAD_H + (i + 0.5) * row_h(d) + 4, "end", "lbl", text);
  }
}

static int image_grid(Report *r) {
  const ReportData *d = r->d;
  const int c = (int)d->sample_dims[0], h = (int)d->sample_dims[1], w = (int)d->sample_dims[2], s = d->nswap;
  const int pw = s * (w + 1) - 1, ph = s * (h + 1) - 1;
  unsigned char *px = malloc((size_t)pw * ph * c), *png = NULL;
  size_t len;
  if (!px) return -1;
  memset(px, 128, (size_t)pw * ph * c);
  for (int i = 0; i < s; i++)
    for (int j = 0; j < s; j++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          for (int ch = 0; ch < c; ch++)
            px[((size_t)(i * (h + 1) + y) * pw + j * (w + 1) + x) * c + ch] = intensity(cell(d, i, j)[((size_t)ch * h + y) * w + x]);
  if (png_encode(px, pw, ph, c, &png, &len)) return free(px), -1;
  free(px);
  char attrs[64];
  snprintf(attrs, sizeof attrs, "data-grid=\"%d %d %d %d 1\"", s, s, w, h);
  svg_open(r->f, "fig-swap", PAGE_W, report_swap_height(d) - 130, "decoded images with content and style swapped");
  labels(r, w * SWAP_IMG_SCALE, (w + 1) * SWAP_IMG_SCALE);
  svg_image_png(r->f, "swap-grid", SWAP_LABEL_W, SWAP_HEAD_H, pw * SWAP_IMG_SCALE, ph * SWAP_IMG_SCALE, png, len, attrs);
  svg_close(r->f);
  free(png);
  return 0;
}

static void wave_grid(Report *r) {
  const ReportData *d = r->d;
  const int s = d->nswap;
  const double cell_w = (PAGE_W - SWAP_LABEL_W - (s - 1) * SWAP_GAP) / (double)s;
  double lo = INFINITY, hi = -INFINITY;
  for (long v = 0; v < (long)s * s * d->length; v++)
    if (isfinite(d->swap[v])) lo = fmin(lo, d->swap[v]), hi = fmax(hi, d->swap[v]);
  if (!(lo <= hi)) lo = 0, hi = 1;
  report_pad_range(&lo, &hi, 0.05);
  svg_open(r->f, "fig-swap", PAGE_W, report_swap_height(d) - 130, "decoded waveforms with content and style swapped");
  labels(r, cell_w, cell_w + SWAP_GAP);
  for (int i = 0; i < s; i++) {
    const double y = SWAP_HEAD_H + i * row_h(d);
    SvgScale sy = {lo, hi, y + SWAP_CELL_H - 3, y + 3, 0};
    for (int j = 0; j < s; j++) {
      const double x = SWAP_LABEL_W + j * (cell_w + SWAP_GAP);
      svg_rect(r->f, NULL, x, y, cell_w, SWAP_CELL_H, i == j ? "cf diag" : "cf", NULL);
      svg_series(r->f, cell(d, i, j), d->length, 1, x + 2, cell_w - 4, &sy, "wv", NULL);
    }
  }
  svg_close(r->f);
}

int report_swap_section(Report *r) {
  const ReportData *d = r->d;
  if (!has_swap(d)) return 0;
  report_section_begin(r, "swap", "Content and style swapped");
  fputs("<figure>\n", r->f);
  if (is_image(d)) {
    if (image_grid(r)) return -1;
  } else {
    wave_grid(r);
  }
  char cap[1024];
  snprintf(cap, sizeof cap,
           "Each cell decodes the content latents (the first %d) of the sample named on its row with the style "
           "latents of the sample named on its column; the %d samples come from distinct groups, and the diagonal "
           "is each one's own reconstruction. Disentangled content and style: along a row, what the group shares "
           "stays; along a column, what varies within a group stays. In data units%s.",
           d->swap_content, d->nswap, is_image(d) ? ", clamped to [0, 1] (0 black, 1 white)" : ", on one y-scale");
  report_figure_end(r, cap);
  return 0;
}
