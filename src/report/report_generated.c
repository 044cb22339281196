/* The generated-samples figure of the report: the decoder's outputs for latent vectors drawn
 * from a Gaussian fitted to the encoded latents (eval draws them; encoded.h /generated), in one
 * row: waveforms as curves on one y-scale, images ([C, H, W], C = 1 or 3) as one embedded PNG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/png.h"
#include "disentangle/svg.h"
#include "report_page.h"

#define GEN_COLS 8     /* samples shown */
#define GEN_LABEL_W 60 /* the y-scale numbers */
#define GEN_GAP 8
#define GEN_CELL_H 70
#define GEN_IMG_SCALE 1.6 /* CSS px per image pixel */

static int gen_cols(const ReportData *d) { return d->ngenerated < GEN_COLS ? d->ngenerated : GEN_COLS; }

static int has_generated(const ReportData *d) { return d->generated && d->ngenerated >= 1 && d->length >= 1; }

static int is_image(const ReportData *d) {
  return d->sample_ndims == 3 && (d->sample_dims[0] == 1 || d->sample_dims[0] == 3) && d->sample_dims[1] >= 1 &&
         d->sample_dims[2] >= 1 && d->sample_dims[0] * d->sample_dims[1] * d->sample_dims[2] == d->length &&
         d->sample_dims[1] <= 256 && d->sample_dims[2] <= 256;
}

static const float *sample(const ReportData *d, int g) { return d->generated + (size_t)g * (size_t)d->length; }

static int image_h(const ReportData *d) { return (int)ceil(d->sample_dims[1] * GEN_IMG_SCALE) + 8; }

int report_generated_height(const ReportData *d) {
  if (!has_generated(d)) return 0;
  return 130 + (is_image(d) ? image_h(d) : GEN_CELL_H + 8);
}

static unsigned char intensity(double v) {
  if (!(v > 0)) return 0;
  return v >= 1 ? 255 : (unsigned char)lround(v * 255);
}

/* One row of tiles, 1 PNG pixel of mid grey between them. */
static int image_row(Report *r) {
  const ReportData *d = r->d;
  const int c = (int)d->sample_dims[0], h = (int)d->sample_dims[1], w = (int)d->sample_dims[2], cols = gen_cols(d);
  const int pw = cols * (w + 1) - 1, ph = h;
  unsigned char *px = malloc((size_t)pw * ph * c), *png = NULL;
  size_t len;
  if (!px) return -1;
  memset(px, 128, (size_t)pw * ph * c);
  for (int g = 0; g < cols; g++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int ch = 0; ch < c; ch++)
          px[((size_t)y * pw + g * (w + 1) + x) * c + ch] = intensity(sample(d, g)[((size_t)ch * h + y) * w + x]);
  if (png_encode(px, pw, ph, c, &png, &len)) return free(px), -1;
  free(px);
  char attrs[64];
  snprintf(attrs, sizeof attrs, "data-grid=\"1 %d %d %d 1\"", cols, w, h);
  svg_open(r->f, "fig-generated", PAGE_W, image_h(d), "decoded images of latent vectors drawn at random");
  svg_image_png(r->f, "generated-grid", 0, 4, pw * GEN_IMG_SCALE, ph * GEN_IMG_SCALE, png, len, attrs);
  svg_close(r->f);
  free(png);
  return 0;
}

static void wave_row(Report *r) {
  const ReportData *d = r->d;
  const int cols = gen_cols(d);
  double cell_w = (PAGE_W - GEN_LABEL_W - (cols - 1) * GEN_GAP) / (double)cols, lo = INFINITY, hi = -INFINITY;
  for (int g = 0; g < cols; g++)
    for (int t = 0; t < d->length; t++)
      if (isfinite(sample(d, g)[t])) lo = fmin(lo, sample(d, g)[t]), hi = fmax(hi, sample(d, g)[t]);
  if (!(lo <= hi)) lo = 0, hi = 1;
  report_pad_range(&lo, &hi, 0.05);
  SvgScale sy = {lo, hi, 4 + GEN_CELL_H - 3, 4 + 3, 0};
  double ticks[8];
  svg_open(r->f, "fig-generated", PAGE_W, GEN_CELL_H + 8, "decoded waveforms of latent vectors drawn at random");
  svg_axis_left(r->f, &sy, ticks, svg_ticks_linear(lo, hi, 2, ticks, 8), GEN_LABEL_W, GEN_LABEL_W, 0);
  for (int g = 0; g < cols; g++) {
    double x = GEN_LABEL_W + g * (cell_w + GEN_GAP);
    svg_rect(r->f, NULL, x, 4, cell_w, GEN_CELL_H, "cf", NULL);
    svg_series(r->f, sample(d, g), d->length, 1, x + 2, cell_w - 4, &sy, "wv", NULL);
  }
  svg_close(r->f);
}

int report_generated_section(Report *r) {
  const ReportData *d = r->d;
  if (!has_generated(d)) return 0; /* runs evaluated before generation was drawn: no section */
  report_section_begin(r, "generated", "Generated samples");
  fputs("<figure>\n", r->f);
  if (is_image(d)) {
    if (image_row(r)) return -1;
  } else {
    wave_row(r);
  }
  char cap[768];
  snprintf(cap, sizeof cap,
           "Generation by sampling the latent space: each cell is the decoded %s of a latent vector drawn from the "
           "Gaussian fitted to the encoded data (its mean and covariance), %d of %d draws, in data units%s. Samples "
           "that look like the data mean the decoder covers the latent region the data occupy.",
           is_image(d) ? "image" : "waveform", gen_cols(d), d->ngenerated,
           is_image(d) ? " clamped to [0, 1] (0 black, 1 white)" : " on one y-scale");
  report_figure_end(r, cap);
  return 0;
}
