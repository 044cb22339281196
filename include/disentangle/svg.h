/* Plot primitives for the HTML report: inline SVG written straight to a FILE.
 *
 * Everything here is plain C with no state beyond the FILE (and a small SvgPath cursor), so
 * the same input always gives byte-identical output. Coordinates are CSS pixels (the <svg>
 * carries width = viewBox width), printed rounded to 0.1 px to keep files small. Styling is
 * by CSS classes that report.c defines once in the page's <style>; the few colors that
 * depend on data (heat map cells, curves) are written inline. Write errors are not checked
 * call by call: the caller checks ferror() once before it renames the finished file. */
#ifndef DISENTANGLE_SVG_H
#define DISENTANGLE_SVG_H

#include <stddef.h>
#include <stdio.h>

/* A map from data values on one axis to pixel positions. */
typedef struct {
  double lo, hi; /* data range shown; for a log axis both > 0 */
  double p0, p1; /* pixel position of lo and of hi (p1 < p0 on a y axis: up is smaller y) */
  int log10;     /* 1: position is linear in log10(value) */
} SvgScale;

/* Pixel position of v (values outside [lo, hi] map outside [p0, p1]; no clamping). */
double svg_map(const SvgScale *s, double v);

/* Write s with &, <, >, " and ' escaped, control characters replaced by '?'. */
void svg_escape(FILE *f, const char *s);
/* printf into a buffer, then write it escaped (texts built from user data). */
void svg_escapef(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A pixel coordinate rounded to 0.1 px without a trailing ".0": "12", "12.5", "-3.1".
 * Returns buf, which must hold 32 bytes. */
const char *svg_px(char *buf, double v);
/* A data value for people: `sig` significant digits, exponent written "1e-5" not "1e-05",
 * NaN as "n/a", infinities as "inf" / "-inf". Returns buf. */
const char *svg_value(char *buf, size_t len, double v, int sig);

/* Tick positions, ascending, written to ticks[] (at most max); returns their count.
 * Linear: steps of 1, 2 or 5 times a power of ten, about `target` ticks inside [lo, hi].
 * Log: powers of ten (every second or third when there are many decades), or 1-2-5 multiples
 * when [lo, hi] spans less than about two decades. */
int svg_ticks_linear(double lo, double hi, int target, double *ticks, int max);
int svg_ticks_log(double lo, double hi, double *ticks, int max);

/* Blue-white-red colour for v in [-1, 1] (ColorBrewer RdBu, interpolated; clamped outside;
 * NaN gives light grey) as "#rrggbb" in out[8]. */
void svg_color_diverging(double v, char out[8]);

/* <svg> element of size w x h px; id for tests and links, label read by screen readers. */
void svg_open(FILE *f, const char *id, int w, int h, const char *label);
void svg_close(FILE *f);

/* <text> at (x, y); anchor "start", "middle" or "end"; cls a CSS class or NULL; text escaped. */
void svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, const char *text);
/* The same, rotated -90 degrees about (x, y): a y-axis title reading bottom to top. */
void svg_text_vertical(FILE *f, double x, double y, const char *cls, const char *text);
void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *cls);
/* Rectangle; id and style may be NULL (style is a CSS declaration list such as "fill:#abc"). */
void svg_rect(FILE *f, const char *id, double x, double y, double w, double h, const char *cls,
              const char *style);

/* <image> showing a PNG (len bytes, embedded base64 as a data: URI, so the page stays
 * self-contained) stretched over (x, y, w, h) with crisp pixels (no smoothing when scaled up).
 * id and attrs (raw attribute text, e.g. data-grid="2 7 16 16 1") may be NULL. */
void svg_image_png(FILE *f, const char *id, double x, double y, double w, double h, const unsigned char *png,
                   size_t len, const char *attrs);

/* An axis: ticks on the outside of the plot box [x0, x1] x [y0, y1] (y0 the top edge), tick
 * labels from svg_value, and light grid lines across the box when grid is set. */
void svg_axis_bottom(FILE *f, const SvgScale *sx, const double *ticks, int nt, double y0, double y1,
                     int grid);
void svg_axis_left(FILE *f, const SvgScale *sy, const double *ticks, int nt, double x0, double x1,
                   int grid);

/* A <path> built point by point: a polyline that can break into pieces (for gaps). */
typedef struct {
  FILE *f;
  int pen; /* 0: the next point starts a new piece (M); 1: it continues the piece */
} SvgPath;

/* Starts <path class=cls style=style d="..."; either may be NULL. */
void svg_path_begin(SvgPath *p, FILE *f, const char *cls, const char *style);
void svg_path_to(SvgPath *p, double x, double y);
/* Lift the pen: the next point starts a new piece. */
void svg_path_break(SvgPath *p);
/* A dot at (x, y): a zero-length piece that a round line cap turns into a disc. */
void svg_path_dot(SvgPath *p, double x, double y);
void svg_path_end(SvgPath *p);

/* Draw y[0..n) (stride `stride` between values) as a line across pixel columns [x0, x0 + w]
 * with scale sy. When there are more than two values per pixel column, each column keeps only
 * its first-in-time and last-in-time of (min, max), which preserves the envelope of a
 * fast-oscillating waveform at a few points per pixel. Non-finite values break the line. */
void svg_series(FILE *f, const float *y, long n, long stride, double x0, double w, const SvgScale *sy,
                const char *cls, const char *style);

#endif
