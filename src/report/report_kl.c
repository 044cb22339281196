/* The per-latent KL figure of the report (Gaussian heads): one bar per latent, its mean
 * KL(q(z_j|x) || N(0,1)) over the data, the standard way VAE users see which latents carry
 * information (a collapsed latent has a posterior equal to the prior: KL ~ 0). */
#include <math.h>
#include <stdio.h>

#include "disentangle/svg.h"
#include "report_page.h"

#define KL_L 78 /* plot box */
#define KL_R 16
#define KL_TOP 22 /* room for the value labels above the bars */
#define KL_H 220
#define KL_BOTTOM 30

int report_kl_height(const ReportData *d) { return d->kl && d->m > 0 ? KL_TOP + KL_H + KL_BOTTOM : 0; }

static int kl_used(const ReportData *d, int j) {
  return isfinite(d->kl_threshold) ? d->kl[j] > d->kl_threshold : 1;
}

static void kl_bars(Report *r, const SvgScale *sy, double slot) {
  const ReportData *d = r->d;
  char id[32], lab[32], name[16];
  double y0 = svg_map(sy, 0);
  for (int j = 0; j < d->m; j++) {
    double x = KL_L + j * slot, w = slot * 0.7, v = isfinite(d->kl[j]) && d->kl[j] > 0 ? d->kl[j] : 0;
    double y = svg_map(sy, v);
    snprintf(id, sizeof id, "kl-%d", j);
    svg_rect(r->f, id, x + 0.15 * slot, y, w, y0 - y, NULL, kl_used(d, j) ? "fill:#9467bd" : "fill:#bbbbbb");
    if (slot >= 28) svg_text(r->f, x + slot / 2, y - 5, "middle", "s", svg_value(lab, sizeof lab, d->kl[j], 3));
    svg_text(r->f, x + slot / 2, y0 + 18, "middle", kl_used(d, j) ? "t" : "off", report_latent_label(name, sizeof name, j));
  }
}

int report_kl_section(Report *r) {
  const ReportData *d = r->d;
  if (!d->kl || d->m < 1) return 0; /* a deterministic head: no section at all */
  report_section_begin(r, "kl", "KL per latent");
  double hi = 0, ticks[16];
  for (int j = 0; j < d->m; j++)
    if (isfinite(d->kl[j]) && d->kl[j] > hi) hi = d->kl[j];
  if (isfinite(d->kl_threshold) && d->kl_threshold > hi) hi = d->kl_threshold;
  if (!(hi > 0)) hi = 1;
  hi *= 1.08;
  SvgScale sy = {0, hi, KL_TOP + KL_H, KL_TOP, 0};
  double slot = (PAGE_W - KL_L - KL_R) / (double)d->m;
  if (slot > 80) slot = 80;
  int nt = svg_ticks_linear(0, hi, 5, ticks, 16);
  fputs("<figure>\n", r->f);
  svg_open(r->f, "fig-kl", PAGE_W, report_kl_height(d), "mean KL divergence of each latent's posterior from the prior");
  svg_axis_left(r->f, &sy, ticks, nt, KL_L, KL_L + d->m * slot, 1);
  svg_line(r->f, KL_L, KL_TOP + KL_H, KL_L + d->m * slot, KL_TOP + KL_H, "tk");
  if (isfinite(d->kl_threshold) && d->kl_threshold > 0) {
    double y = svg_map(&sy, d->kl_threshold);
    svg_line(r->f, KL_L, y, KL_L + d->m * slot, y, "z0");
  }
  svg_text_vertical(r->f, 18, KL_TOP + KL_H / 2.0, "t", "KL (nats)");
  kl_bars(r, &sy, slot);
  svg_close(r->f);
  char cap[768], a[32];
  int used = 0;
  for (int j = 0; j < d->m; j++) used += kl_used(d, j);
  if (isfinite(d->kl_threshold))
    snprintf(cap, sizeof cap,
             "Each latent's KL(q(z<sub>j</sub>|x) &#8214; N(0,1)) averaged over the data, in nats. A latent the "
             "model does not use has a posterior equal to the prior and a bar near zero (grey, at or below the "
             "dashed line at %s nats); <b>%d of %d</b> latents are above it.",
             svg_value(a, sizeof a, d->kl_threshold, 3), used, d->m);
  else
    snprintf(cap, sizeof cap,
             "Each latent's KL(q(z<sub>j</sub>|x) &#8214; N(0,1)) averaged over the data, in nats. A latent the "
             "model does not use has a posterior equal to the prior and a bar near zero.");
  report_figure_end(r, cap);
  return 0;
}
