/* Convolutions as im2col + GEMM. Both layer kinds are written in terms of one geometry: a
 * "big" image side (conv2d's input, conv-transpose2d's output) and a "small" side (the other
 * one), related by an ordinary strided convolution from big to small. The weights of both are
 * [small channels][big channels][k][k] in memory, so with kc = big channels * k * k:
 *   small = W . im2col(big)            conv2d forward, conv-transpose2d input gradient
 *   big   = col2im(W^T . small)        conv2d input gradient, conv-transpose2d forward
 *   dW   += small . im2col(big)^T      both weight gradients (small, big) = (dy, x) or (x, dy)
 * A group of G images is laid side by side in the column matrix [kc][G * small pixels], and
 * small-side tensors are staged as [channels][G * small pixels] around the GEMM. */
#include "disentangle/conv.h"

#include <stdio.h>
#include <string.h>

#include "disentangle/tensor.h"

typedef struct {
  int cb, hb, wb; /* big side */
  int cs, hs, ws; /* small side */
  int k, stride, pad;
  long pb, ps, kc; /* big pixels, small pixels, rows of the column matrix */
  int group;       /* images per GEMM */
} Geo;

/* Measured with tools/convbench on the dSprites net: fewer columns leave the GEMMs thin, many
 * more push the column matrix out of cache for no gain. */
#define DEFAULT_GEMM_COLUMNS 1024
static long gemm_columns = DEFAULT_GEMM_COLUMNS;

void conv_set_gemm_columns(long n) { gemm_columns = n > 0 ? n : DEFAULT_GEMM_COLUMNS; }
long conv_gemm_columns(void) { return gemm_columns; }

static int check_common(const ConvShape *s, char *why, size_t len) {
  if (s->cin < 1 || s->cout < 1 || s->hin < 1 || s->win < 1)
    return snprintf(why, len, "channels and input sizes must be >= 1 (got cin %d, cout %d, input %dx%d)", s->cin,
                    s->cout, s->hin, s->win),
           -1;
  if (s->k < 1 || s->stride < 1 || s->pad < 0)
    return snprintf(why, len, "need kernel >= 1, stride >= 1, padding >= 0 (got %d, %d, %d)", s->k, s->stride,
                    s->pad),
           -1;
  return 0;
}

int conv2d_shape(ConvShape *s, char *why, size_t len) {
  if (check_common(s, why, len)) return -1;
  if (s->out_pad != 0) return snprintf(why, len, "output padding %d: only a transposed convolution has one", s->out_pad), -1;
  if (s->hin + 2 * s->pad < s->k || s->win + 2 * s->pad < s->k)
    return snprintf(why, len, "kernel %d is larger than the padded input %dx%d", s->k, s->hin + 2 * s->pad,
                    s->win + 2 * s->pad),
           -1;
  s->hout = (s->hin + 2 * s->pad - s->k) / s->stride + 1;
  s->wout = (s->win + 2 * s->pad - s->k) / s->stride + 1;
  return 0;
}

int conv_transpose2d_shape(ConvShape *s, char *why, size_t len) {
  if (check_common(s, why, len)) return -1;
  if (s->out_pad < 0 || s->out_pad >= s->stride)
    return snprintf(why, len, "output padding %d must be in [0, stride %d)", s->out_pad, s->stride), -1;
  s->hout = (s->hin - 1) * s->stride - 2 * s->pad + s->k + s->out_pad;
  s->wout = (s->win - 1) * s->stride - 2 * s->pad + s->k + s->out_pad;
  if (s->hout < 1 || s->wout < 1)
    return snprintf(why, len, "padding %d leaves no output (%dx%d) from a %dx%d input with kernel %d, stride %d",
                    s->pad, s->hout, s->wout, s->hin, s->win, s->k, s->stride),
           -1;
  return 0;
}

static Geo geo_of(const ConvShape *s, int transposed, int B) {
  Geo g = {.k = s->k, .stride = s->stride, .pad = s->pad};
  if (!transposed) g.cb = s->cin, g.hb = s->hin, g.wb = s->win, g.cs = s->cout, g.hs = s->hout, g.ws = s->wout;
  else g.cb = s->cout, g.hb = s->hout, g.wb = s->wout, g.cs = s->cin, g.hs = s->hin, g.ws = s->win;
  g.pb = (long)g.hb * g.wb, g.ps = (long)g.hs * g.ws, g.kc = (long)g.cb * g.k * g.k;
  /* enough images for gemm_columns columns, then spread B evenly over the groups */
  long want = (gemm_columns + g.ps - 1) / g.ps;
  if (want > B) want = B;
  if (want < 1) want = 1;
  long groups = (B + want - 1) / want;
  g.group = (int)((B + groups - 1) / (groups ? groups : 1));
  if (g.group < 1) g.group = 1;
  return g;
}

/* Stage (small-side [cs][n * ps]) is needed only when a group holds more than one image. */
static size_t scratch_floats(const Geo *g) {
  size_t cols = (size_t)g->group * g->ps;
  return (size_t)g->kc * cols + (g->group > 1 ? (size_t)g->cs * cols : 0);
}

size_t conv2d_scratch_floats(const ConvShape *s, int B) {
  Geo g = geo_of(s, 0, B);
  return scratch_floats(&g);
}

size_t conv_transpose2d_scratch_floats(const ConvShape *s, int B) {
  Geo g = geo_of(s, 1, B);
  return scratch_floats(&g);
}

/* Output positions o in [*lo, *hi) whose input coordinate o * stride - pad + kk lies in [0, n). */
static void valid_range(int kk, int n, int outs, const Geo *g, int *lo, int *hi) {
  int a = 0, b = outs;
  while (a < b && a * g->stride - g->pad + kk < 0) a++;
  while (b > a && (b - 1) * g->stride - g->pad + kk >= n) b--;
  *lo = a, *hi = b;
}

/* col[(c k + ki) k + kj][oy ws + ox] (row stride ld) = img[c][oy s - pad + ki][ox s - pad + kj], 0 outside */
static void im2col(float *restrict col, long ld, const float *restrict img, const Geo *g) {
  const int k = g->k, st = g->stride, ws = g->ws;
  for (int c = 0; c < g->cb; c++)
    for (int ki = 0; ki < k; ki++) {
      int ylo, yhi;
      valid_range(ki, g->hb, g->hs, g, &ylo, &yhi);
      for (int kj = 0; kj < k; kj++) {
        float *restrict row = col + ((long)(c * k + ki) * k + kj) * ld;
        int xlo, xhi;
        valid_range(kj, g->wb, ws, g, &xlo, &xhi);
        for (int oy = 0; oy < g->hs; oy++) {
          float *restrict out = row + (long)oy * ws;
          if (oy < ylo || oy >= yhi || xlo >= xhi) {
            memset(out, 0, sizeof *out * ws);
            continue;
          }
          const float *restrict in = img + ((long)c * g->hb + oy * st - g->pad + ki) * g->wb - g->pad + kj;
          for (int ox = 0; ox < xlo; ox++) out[ox] = 0.0f;
          if (st == 1) memcpy(out + xlo, in + xlo, sizeof *out * (xhi - xlo));
          else
            for (int ox = xlo; ox < xhi; ox++) out[ox] = in[(long)ox * st];
          for (int ox = xhi; ox < ws; ox++) out[ox] = 0.0f;
        }
      }
    }
}

/* The adjoint of im2col: img[c][iy][ix] += every column entry that im2col read from it. */
static void col2im(float *restrict img, const float *restrict col, long ld, const Geo *g) {
  const int k = g->k, st = g->stride, ws = g->ws;
  for (int c = 0; c < g->cb; c++)
    for (int ki = 0; ki < k; ki++) {
      int ylo, yhi;
      valid_range(ki, g->hb, g->hs, g, &ylo, &yhi);
      for (int kj = 0; kj < k; kj++) {
        const float *restrict row = col + ((long)(c * k + ki) * k + kj) * ld;
        int xlo, xhi;
        valid_range(kj, g->wb, ws, g, &xlo, &xhi);
        for (int oy = ylo; oy < yhi; oy++) {
          const float *restrict src = row + (long)oy * ws;
          float *restrict dst = img + ((long)c * g->hb + oy * st - g->pad + ki) * g->wb - g->pad + kj;
          if (st == 1)
            for (int ox = xlo; ox < xhi; ox++) dst[ox] += src[ox];
          else
            for (int ox = xlo; ox < xhi; ox++) dst[(long)ox * st] += src[ox];
        }
      }
    }
}

/* NCHW images [n][cs][ps] <-> staged [cs][n * ps]; bias (may be NULL) added on the way out. */
static void stage_in(float *restrict st, const float *restrict t, int n, const Geo *g) {
  for (int i = 0; i < n; i++)
    for (int c = 0; c < g->cs; c++)
      memcpy(st + (long)c * n * g->ps + (long)i * g->ps, t + ((long)i * g->cs + c) * g->ps, sizeof *st * g->ps);
}

static void stage_out(float *restrict t, const float *restrict st, const float *restrict bias, int n, const Geo *g) {
  for (int i = 0; i < n; i++)
    for (int c = 0; c < g->cs; c++) {
      const float *restrict src = st + (long)c * n * g->ps + (long)i * g->ps;
      float *restrict dst = t + ((long)i * g->cs + c) * g->ps;
      const float add = bias ? bias[c] : 0.0f;
      for (long p = 0; p < g->ps; p++) dst[p] = src[p] + add;
    }
}

static void add_bias(float *restrict t, const float *restrict bias, int n, int channels, long pixels) {
  for (int i = 0; i < n; i++)
    for (int c = 0; c < channels; c++) {
      float *restrict row = t + ((long)i * channels + c) * pixels;
      for (long p = 0; p < pixels; p++) row[p] += bias[c];
    }
}

/* db[c] += sum over images and pixels of dy[b][c][.] (double partial sums: pixels can be many) */
static void bias_grad(float *restrict db, const float *restrict dy, int B, int channels, long pixels) {
  for (int c = 0; c < channels; c++) {
    double s = 0.0;
    for (int i = 0; i < B; i++) {
      const float *restrict row = dy + ((long)i * channels + c) * pixels;
      float part = 0.0f;
      for (long p = 0; p < pixels; p++) part += row[p];
      s += part;
    }
    db[c] += (float)s;
  }
}

/* small[n images] = W . im2col(big): into `small` directly (one image) or through the stage. */
static void small_from_big(float *small, const float *big, const float *w, const float *bias, int n, const Geo *g,
                           float *scratch) {
  long ld = (long)n * g->ps;
  float *col = scratch, *stage = scratch + (size_t)g->kc * g->group * g->ps;
  for (int i = 0; i < n; i++) im2col(col + (long)i * g->ps, ld, big + (long)i * g->cb * g->pb, g);
  float *out = n == 1 ? small : stage;
  tensor_sgemm(0, 0, g->cs, (int)ld, (int)g->kc, 1.0f, w, (int)g->kc, col, (int)ld, 0.0f, out, (int)ld);
  if (n > 1) stage_out(small, stage, bias, n, g);
  else if (bias) add_bias(small, bias, 1, g->cs, g->ps);
}

/* big[n images] = bias + col2im(W^T . small) (big is overwritten). */
static void big_from_small(float *big, const float *small, const float *w, const float *bias, int n, const Geo *g,
                           float *scratch) {
  long ld = (long)n * g->ps;
  float *col = scratch, *stage = scratch + (size_t)g->kc * g->group * g->ps;
  const float *in = small;
  if (n > 1) stage_in(stage, small, n, g), in = stage;
  tensor_sgemm(1, 0, (int)g->kc, (int)ld, g->cs, 1.0f, w, (int)g->kc, in, (int)ld, 0.0f, col, (int)ld);
  for (int i = 0; i < n; i++) {
    float *img = big + (long)i * g->cb * g->pb;
    if (bias)
      for (int c = 0; c < g->cb; c++)
        for (long p = 0; p < g->pb; p++) img[(long)c * g->pb + p] = bias[c];
    else memset(img, 0, sizeof *img * g->cb * g->pb);
    col2im(img, col + (long)i * g->ps, ld, g);
  }
}

void conv2d_forward(float *y, const float *x, const float *w, const float *b, int B, const ConvShape *s,
                    float *scratch) {
  Geo g = geo_of(s, 0, B);
  for (int b0 = 0; b0 < B; b0 += g.group) {
    int n = B - b0 < g.group ? B - b0 : g.group;
    small_from_big(y + (long)b0 * g.cs * g.ps, x + (long)b0 * g.cb * g.pb, w, b, n, &g, scratch);
  }
}

void conv_transpose2d_forward(float *y, const float *x, const float *w, const float *b, int B, const ConvShape *s,
                              float *scratch) {
  Geo g = geo_of(s, 1, B);
  for (int b0 = 0; b0 < B; b0 += g.group) {
    int n = B - b0 < g.group ? B - b0 : g.group;
    big_from_small(y + (long)b0 * g.cb * g.pb, x + (long)b0 * g.cs * g.ps, w, b, n, &g, scratch);
  }
}

void conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int B,
                     const ConvShape *s, float *scratch) {
  Geo g = geo_of(s, 0, B);
  if (db) bias_grad(db, dy, B, g.cs, g.ps);
  if (!dw && !dx) return;
  float *col = scratch, *stage = scratch + (size_t)g.kc * g.group * g.ps;
  for (int b0 = 0; b0 < B; b0 += g.group) {
    int n = B - b0 < g.group ? B - b0 : g.group;
    long ld = (long)n * g.ps;
    const float *dys = dy + (long)b0 * g.cs * g.ps;
    if (n > 1) stage_in(stage, dys, n, &g), dys = stage;
    if (dw) {
      for (int i = 0; i < n; i++) im2col(col + (long)i * g.ps, ld, x + (long)(b0 + i) * g.cb * g.pb, &g);
      tensor_sgemm(0, 1, g.cs, (int)g.kc, (int)ld, 1.0f, dys, (int)ld, col, (int)ld, 1.0f, dw, (int)g.kc);
    }
    if (dx) {
      tensor_sgemm(1, 0, (int)g.kc, (int)ld, g.cs, 1.0f, w, (int)g.kc, dys, (int)ld, 0.0f, col, (int)ld);
      for (int i = 0; i < n; i++) {
        float *img = dx + (long)(b0 + i) * g.cb * g.pb;
        memset(img, 0, sizeof *img * g.cb * g.pb);
        col2im(img, col + (long)i * g.ps, ld, &g);
      }
    }
  }
}

void conv_transpose2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int B, const ConvShape *s, float *scratch) {
  Geo g = geo_of(s, 1, B);
  if (db) bias_grad(db, dy, B, g.cb, g.pb);
  if (!dw && !dx) return;
  float *col = scratch, *stage = scratch + (size_t)g.kc * g.group * g.ps;
  for (int b0 = 0; b0 < B; b0 += g.group) {
    int n = B - b0 < g.group ? B - b0 : g.group;
    long ld = (long)n * g.ps;
    /* one im2col of dy serves both products */
    for (int i = 0; i < n; i++) im2col(col + (long)i * g.ps, ld, dy + (long)(b0 + i) * g.cb * g.pb, &g);
    if (dx) {
      float *out = n == 1 ? dx + (long)b0 * g.cs * g.ps : stage;
      tensor_sgemm(0, 0, g.cs, (int)ld, (int)g.kc, 1.0f, w, (int)g.kc, col, (int)ld, 0.0f, out, (int)ld);
      if (n > 1) stage_out(dx + (long)b0 * g.cs * g.ps, stage, NULL, n, &g);
    }
    if (dw) {
      const float *xs = x + (long)b0 * g.cs * g.ps;
      if (n > 1) stage_in(stage, xs, n, &g), xs = stage;
      tensor_sgemm(0, 1, g.cs, (int)g.kc, (int)ld, 1.0f, xs, (int)ld, col, (int)ld, 1.0f, dw, (int)g.kc);
    }
  }
}
