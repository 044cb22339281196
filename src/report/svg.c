/* Plot primitives for the HTML report (see svg.h). */
#include "disentangle/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

double svg_map(const SvgScale *s, double v) {
  double a = s->lo, b = s->hi;
  if (s->log10) {
    a = log10(a);
    b = log10(b);
    v = log10(v);
  }
  if (b == a) return 0.5 * (s->p0 + s->p1);
  return s->p0 + (v - a) / (b - a) * (s->p1 - s->p0);
}

void svg_escape(FILE *f, const char *s) {
  if (!s) return;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default:
      /* Control characters are not allowed in XML text; tab and newline are harmless. */
      fputc(c < 0x20 && c != '\t' && c != '\n' ? '?' : c, f);
    }
  }
}

void svg_escapef(FILE *f, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  svg_escape(f, buf);
}

const char *svg_px(char *buf, double v) {
  if (!isfinite(v)) v = 0;
  if (v > 1e9) v = 1e9; /* keeps the integer arithmetic below in range */
  if (v < -1e9) v = -1e9;
  long t = lround(v * 10.0);
  long a = labs(t);
  if (a % 10 == 0)
    snprintf(buf, 32, "%ld", t / 10);
  else
    snprintf(buf, 32, "%s%ld.%ld", t < 0 ? "-" : "", a / 10, a % 10);
  return buf;
}

const char *svg_value(char *buf, size_t len, double v, int sig) {
  if (isnan(v)) {
    snprintf(buf, len, "n/a");
    return buf;
  }
  if (isinf(v)) {
    snprintf(buf, len, "%s", v > 0 ? "inf" : "-inf");
    return buf;
  }
  if (v == 0) v = 0; /* no "-0" */
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.*g", sig, v);
  /* Up to seven digits before the point read better whole than as "5.01e3". */
  if (strchr(tmp, 'e') && fabs(v) >= 1000 && fabs(v) < 1e7) snprintf(tmp, sizeof tmp, "%.0f", v);
  /* "1e-05" -> "1e-5", "2.5e+07" -> "2.5e7": shorter and easier to read. */
  char *e = strchr(tmp, 'e');
  if (e) {
    char *p = e + 1, *q = e + 1;
    if (*p == '+') p++;
    else if (*p == '-') *q++ = *p++;
    while (*p == '0' && p[1]) p++;
    memmove(q, p, strlen(p) + 1);
  }
  snprintf(buf, len, "%s", tmp);
  return buf;
}

/* Ticks k * step inside [lo, hi] (a little tolerance for rounding). */
static int count_ticks(double lo, double hi, double step) {
  return (int)(floor(hi / step + 1e-9) - ceil(lo / step - 1e-9)) + 1;
}

int svg_ticks_linear(double lo, double hi, int target, double *ticks, int max) {
  if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || target < 1) return 0;
  /* Of 1, 2, 5 and 10 times the power of ten below the raw step, the step whose tick count
   * comes closest to target (at least 2 ticks when any step gives them). */
  double mag = pow(10.0, floor(log10((hi - lo) / target)));
  static const double mult[] = {1, 2, 5, 10};
  double step = 0;
  int best = 1 << 30;
  for (int i = 0; i < 4; i++) {
    int c = count_ticks(lo, hi, mult[i] * mag), miss = abs(c - target) + (c < 2 ? 1000 : 0);
    if (miss < best) best = miss, step = mult[i] * mag;
  }
  int n = 0;
  for (double k = ceil(lo / step - 1e-9); n < max; k++) {
    double t = k * step;
    if (t > hi + 1e-9 * step) break;
    ticks[n++] = fabs(t) < 1e-12 * step ? 0.0 : t;
  }
  return n;
}

int svg_ticks_log(double lo, double hi, double *ticks, int max) {
  if (!(hi > lo) || !(lo > 0) || !isfinite(hi)) return 0;
  int e0 = (int)floor(log10(lo)), e1 = (int)ceil(log10(hi));
  int decades = e1 - e0;
  /* Enough decades: powers of ten only, thinned so that at most ~8 remain. */
  if (decades >= 3) {
    int every = (decades + 7) / 8, n = 0;
    for (int e = e0; e <= e1 && n < max; e++) {
      double t = pow(10.0, e);
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9) && e % every == 0) ticks[n++] = t;
    }
    if (n >= 3) return n;
  }
  /* A narrow range: 1, 2, 5 (or every digit) times each power of ten. */
  static const double m125[] = {1, 2, 5}, m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (int pass = 0; pass < 2; pass++) {
    const double *mult = pass ? m19 : m125;
    int nm = pass ? 9 : 3, n = 0;
    for (int e = e0; e <= e1; e++)
      for (int i = 0; i < nm && n < max; i++) {
        double t = mult[i] * pow(10.0, e);
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks[n++] = t;
      }
    if (n >= 3 || pass == 1) return n;
  }
  return 0;
}

void svg_color_diverging(double v, char out[8]) {
  /* ColorBrewer RdBu (11 classes), from -1 (dark blue) through white to +1 (dark red). */
  static const unsigned char rdbu[11][3] = {
      {5, 48, 97},     {33, 102, 172},  {67, 147, 195},  {146, 197, 222}, {209, 229, 240}, {247, 247, 247},
      {253, 219, 199}, {244, 165, 130}, {214, 96, 77},   {178, 24, 43},   {103, 0, 31}};
  if (isnan(v)) {
    snprintf(out, 8, "#dddddd");
    return;
  }
  if (v < -1) v = -1;
  if (v > 1) v = 1;
  double pos = (v + 1) * 5.0; /* 0 .. 10 */
  int i = (int)floor(pos);
  if (i > 9) i = 9;
  double t = pos - i;
  int rgb[3];
  for (int c = 0; c < 3; c++) rgb[c] = (int)lround(rdbu[i][c] + t * (rdbu[i + 1][c] - rdbu[i][c]));
  snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

void svg_open(FILE *f, const char *id, int w, int h, const char *label) {
  /* Inline in HTML5 the svg namespace is implied: no xmlns, and so no URL in the page at all. */
  fprintf(f, "<svg id=\"%s\" width=\"%d\" height=\"%d\" ", id, w, h);
  fprintf(f, "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", w, h);
  svg_escape(f, label);
  fputs("\">\n", f);
}

void svg_close(FILE *f) { fputs("</svg>\n", f); }

static void text_open(FILE *f, double x, double y, const char *anchor, const char *cls) {
  char a[32], b[32];
  fprintf(f, "<text x=\"%s\" y=\"%s\"", svg_px(a, x), svg_px(b, y));
  if (anchor && strcmp(anchor, "start") != 0) fprintf(f, " text-anchor=\"%s\"", anchor);
  if (cls) fprintf(f, " class=\"%s\"", cls);
}

void svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, const char *text) {
  text_open(f, x, y, anchor, cls);
  fputc('>', f);
  svg_escape(f, text);
  fputs("</text>\n", f);
}

void svg_text_vertical(FILE *f, double x, double y, const char *cls, const char *text) {
  char a[32], b[32];
  text_open(f, x, y, "middle", cls);
  fprintf(f, " transform=\"rotate(-90 %s %s)\">", svg_px(a, x), svg_px(b, y));
  svg_escape(f, text);
  fputs("</text>\n", f);
}

void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *cls) {
  char a[32], b[32], c[32], d[32];
  fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"", svg_px(a, x1), svg_px(b, y1), svg_px(c, x2),
          svg_px(d, y2));
  if (cls) fprintf(f, " class=\"%s\"", cls);
  fputs("/>\n", f);
}

void svg_rect(FILE *f, const char *id, double x, double y, double w, double h, const char *cls,
              const char *style) {
  char a[32], b[32], c[32], d[32];
  fputs("<rect", f);
  if (id) fprintf(f, " id=\"%s\"", id);
  fprintf(f, " x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"", svg_px(a, x), svg_px(b, y), svg_px(c, w),
          svg_px(d, h));
  if (cls) fprintf(f, " class=\"%s\"", cls);
  if (style) fprintf(f, " style=\"%s\"", style);
  fputs("/>\n", f);
}

static void base64(FILE *f, const unsigned char *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    fputc(tab[v >> 18 & 63], f);
    fputc(tab[v >> 12 & 63], f);
    fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
    fputc(i + 2 < n ? tab[v & 63] : '=', f);
  }
}

void svg_image_png(FILE *f, const char *id, double x, double y, double w, double h, const unsigned char *png,
                   size_t len, const char *attrs) {
  char a[32], b[32], c[32], d[32];
  fputs("<image", f);
  if (id) fprintf(f, " id=\"%s\"", id);
  fprintf(f, " x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"", svg_px(a, x), svg_px(b, y), svg_px(c, w),
          svg_px(d, h));
  if (attrs) fprintf(f, " %s", attrs);
  fputs(" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,", f);
  base64(f, png, len);
  fputs("\"/>\n", f);
}

void svg_axis_bottom(FILE *f, const SvgScale *sx, const double *ticks, int nt, double y0, double y1,
                     int grid) {
  char lab[48];
  for (int i = 0; i < nt; i++) {
    double x = svg_map(sx, ticks[i]);
    if (grid) svg_line(f, x, y0, x, y1, "gd");
    svg_line(f, x, y1, x, y1 + 5, "tk");
    svg_text(f, x, y1 + 18, "middle", NULL, svg_value(lab, sizeof lab, ticks[i], 6));
  }
}

void svg_axis_left(FILE *f, const SvgScale *sy, const double *ticks, int nt, double x0, double x1,
                   int grid) {
  char lab[48];
  for (int i = 0; i < nt; i++) {
    double y = svg_map(sy, ticks[i]);
    if (grid) svg_line(f, x0, y, x1, y, "gd");
    svg_line(f, x0 - 5, y, x0, y, "tk");
    svg_text(f, x0 - 8, y + 4, "end", NULL, svg_value(lab, sizeof lab, ticks[i], 6));
  }
}

void svg_path_begin(SvgPath *p, FILE *f, const char *cls, const char *style) {
  p->f = f;
  p->pen = 0;
  fputs("<path", f);
  if (cls) fprintf(f, " class=\"%s\"", cls);
  if (style) fprintf(f, " style=\"%s\"", style);
  fputs(" d=\"", f);
}

void svg_path_to(SvgPath *p, double x, double y) {
  char a[32], b[32];
  /* Coordinate pairs after a moveto are implicit line-tos: no letter needed. */
  fprintf(p->f, "%s%s %s", p->pen ? " " : "M", svg_px(a, x), svg_px(b, y));
  p->pen = 1;
}

void svg_path_break(SvgPath *p) { p->pen = 0; }

void svg_path_dot(SvgPath *p, double x, double y) {
  char a[32], b[32];
  fprintf(p->f, "M%s %sh0", svg_px(a, x), svg_px(b, y));
  p->pen = 0;
}

void svg_path_end(SvgPath *p) { fputs("\"/>\n", p->f); }

/* Emit the extremes of one pixel column in the order they occurred. */
static void series_column(SvgPath *p, double x, const SvgScale *sy, double vmin, long imin, double vmax,
                          long imax) {
  if (imin <= imax) {
    svg_path_to(p, x, svg_map(sy, vmin));
    if (imax != imin) svg_path_to(p, x, svg_map(sy, vmax));
  } else {
    svg_path_to(p, x, svg_map(sy, vmax));
    svg_path_to(p, x, svg_map(sy, vmin));
  }
}

void svg_series(FILE *f, const float *y, long n, long stride, double x0, double w, const SvgScale *sy,
                const char *cls, const char *style) {
  SvgPath p;
  svg_path_begin(&p, f, cls, style);
  double dx = n > 1 ? w / (double)(n - 1) : 0;
  long cols = (long)w + 1;
  if (n <= 2 * cols) {
    for (long i = 0; i < n; i++) {
      double v = y[i * stride];
      if (!isfinite(v)) svg_path_break(&p);
      else svg_path_to(&p, x0 + (double)i * dx, svg_map(sy, v));
    }
    svg_path_end(&p);
    return;
  }
  long i = 0;
  for (long c = 0; c < cols; c++) {
    long end = (c + 1) * n / cols;
    double vmin = INFINITY, vmax = -INFINITY;
    long imin = -1, imax = -1;
    for (; i < end; i++) {
      double v = y[i * stride];
      if (!isfinite(v)) continue;
      if (v < vmin) vmin = v, imin = i;
      if (v > vmax) vmax = v, imax = i;
    }
    if (imin < 0) svg_path_break(&p);
    else series_column(&p, x0 + w * (double)c / (double)(cols - 1), sy, vmin, imin, vmax, imax);
  }
  svg_path_end(&p);
}
