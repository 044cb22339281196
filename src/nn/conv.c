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
#include "disentangle/vmath.h"

typedef struct {
  int cb, hb, wb; /* big side */
  int cs, hs, ws; /* small side */
  int k, stride, pad;
  int hp, wp;      /* the big side with its zero padding on all four edges */
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
  g.hp = g.hb + 2 * g.pad, g.wp = g.wb + 2 * g.pad; /* holds every window: (hs - 1) stride + k <= hb + 2 pad */
  /* enough images for gemm_columns columns, then spread B evenly over the groups */
  long want = (gemm_columns + g.ps - 1) / g.ps;
  if (want > B) want = B;
  if (want < 1) want = 1;
  long groups = (B + want - 1) / want;
  g.group = (int)((B + groups - 1) / (groups ? groups : 1));
  if (g.group < 1) g.group = 1;
  return g;
}

/* Scratch: the column matrix [kc][group * ps], then the stage (small side [cs][group * ps], only
 * when a group holds more than one image), then one padded big-side image (when pad > 0). */
static size_t col_floats(const Geo *g) { return (size_t)g->kc * g->group * g->ps; }
static size_t stage_floats(const Geo *g) { return g->group > 1 ? (size_t)g->cs * g->group * g->ps : 0; }
static size_t scratch_floats(const Geo *g) {
  return col_floats(g) + stage_floats(g) + (g->pad ? (size_t)g->cb * g->hp * g->wp : 0);
}
static float *stage_of(const Geo *g, float *scratch) { return scratch + col_floats(g); }
static float *padded_of(const Geo *g, float *scratch) { return scratch + col_floats(g) + stage_floats(g); }

size_t conv2d_scratch_floats(const ConvShape *s, int B) {
  Geo g = geo_of(s, 0, B);
  return scratch_floats(&g);
}

size_t conv_transpose2d_scratch_floats(const ConvShape *s, int B) {
  Geo g = geo_of(s, 1, B);
  return scratch_floats(&g);
}

/* The big-side image with `pad` zeros around each channel, so that no window needs a bounds
 * check: one cheap copy of the input (1/4 of the column matrix for k 4 stride 2, less for
 * larger k/stride ratios) buys branch-free, vectorisable gathers and scatters. */
static void pad_image(float *restrict p, const float *restrict img, const Geo *g) {
  const int pad = g->pad, wp = g->wp;
  for (int c = 0; c < g->cb; c++) {
    float *restrict pc = p + (long)c * g->hp * wp;
    memset(pc, 0, sizeof *pc * pad * wp);
    for (int y = 0; y < g->hb; y++) {
      float *restrict row = pc + (long)(pad + y) * wp;
      memset(row, 0, sizeof *row * pad);
      memcpy(row + pad, img + ((long)c * g->hb + y) * g->wb, sizeof *row * g->wb);
      memset(row + pad + g->wb, 0, sizeof *row * (wp - pad - g->wb));
    }
    memset(pc + (long)(pad + g->hb) * wp, 0, sizeof *pc * (g->hp - pad - g->hb) * wp);
  }
}

/* The inner loops, inlined with the stride as a constant so 1 and 2 get their own vector code. */
static inline __attribute__((always_inline)) void gather(float *restrict row, const float *restrict base,
                                                         const Geo *g, const int st) {
  for (int oy = 0; oy < g->hs; oy++) {
    const float *restrict in = base + (long)oy * st * g->wp;
    float *restrict out = row + (long)oy * g->ws;
    for (int ox = 0; ox < g->ws; ox++) out[ox] = in[(long)ox * st];
  }
}

/* Stride 2, kernel columns kj and kj + 1 together: one pass over the input row fills both. */
static inline __attribute__((always_inline)) void gather_pair(float *restrict r0, float *restrict r1,
                                                              const float *restrict base, const Geo *g) {
  for (int oy = 0; oy < g->hs; oy++) {
    const float *restrict in = base + (long)oy * 2 * g->wp;
    float *restrict a = r0 + (long)oy * g->ws, *restrict b = r1 + (long)oy * g->ws;
    for (int ox = 0; ox < g->ws; ox++) a[ox] = in[2 * ox], b[ox] = in[2 * ox + 1];
  }
}

static inline __attribute__((always_inline)) void scatter(float *restrict base, const float *restrict row,
                                                          const Geo *g, const int st) {
  for (int oy = 0; oy < g->hs; oy++) {
    float *restrict out = base + (long)oy * st * g->wp;
    const float *restrict in = row + (long)oy * g->ws;
    for (int ox = 0; ox < g->ws; ox++) out[(long)ox * st] += in[ox];
  }
}

/* Stride 2, kernel columns kj and kj + 1 together: their targets interleave into one contiguous
 * run, which vectorises (a stride-2 scatter alone does not). */
static inline __attribute__((always_inline)) void scatter_pair(float *restrict base, const float *restrict r0,
                                                               const float *restrict r1, const Geo *g) {
  for (int oy = 0; oy < g->hs; oy++) {
    float *restrict out = base + (long)oy * 2 * g->wp;
    const float *restrict a = r0 + (long)oy * g->ws, *restrict b = r1 + (long)oy * g->ws;
    for (int ox = 0; ox < g->ws; ox++) out[2 * ox] += a[ox], out[2 * ox + 1] += b[ox];
  }
}

/* col[(c k + ki) k + kj][oy ws + ox] (row stride ld) = img[c][oy s - pad + ki][ox s - pad + kj], 0 outside */
static VMATH_CLONES void im2col(float *restrict col, long ld, const float *img, const Geo *g, float *padded) {
  const int k = g->k, st = g->stride;
  const float *p = img;
  if (g->pad) pad_image(padded, img, g), p = padded;
  for (int c = 0; c < g->cb; c++)
    for (int ki = 0; ki < k; ki++) {
      float *rows = col + (long)(c * k + ki) * k * ld;
      const float *base = p + ((long)c * g->hp + ki) * g->wp;
      int kj = 0;
      if (st == 2)
        for (; kj + 1 < k; kj += 2) gather_pair(rows + kj * ld, rows + (kj + 1) * ld, base + kj, g);
      for (; kj < k; kj++) {
        if (st == 1) gather(rows + kj * ld, base + kj, g, 1);
        else if (st == 2) gather(rows + kj * ld, base + kj, g, 2);
        else gather(rows + kj * ld, base + kj, g, st);
      }
    }
}

/* The adjoint of im2col, overwriting: img[c][iy][ix] = bias[c] (or 0) + every column entry
 * that im2col would have read from it. */
static VMATH_CLONES void col2im(float *img, const float *restrict col, long ld, const Geo *g, float *padded,
                                const float *restrict bias) {
  const int k = g->k, st = g->stride;
  float *p = g->pad ? padded : img;
  if (g->pad) memset(p, 0, sizeof *p * g->cb * g->hp * g->wp);
  else
    for (int c = 0; c < g->cb; c++)
      for (long i = 0; i < g->pb; i++) p[(long)c * g->pb + i] = bias ? bias[c] : 0.0f;
  for (int c = 0; c < g->cb; c++)
    for (int ki = 0; ki < k; ki++) {
      const float *rows = col + (long)(c * k + ki) * k * ld;
      float *base = p + ((long)c * g->hp + ki) * g->wp;
      int kj = 0;
      if (st == 2)
        for (; kj + 1 < k; kj += 2) scatter_pair(base + kj, rows + kj * ld, rows + (kj + 1) * ld, g);
      for (; kj < k; kj++) {
        if (st == 1) scatter(base + kj, rows + kj * ld, g, 1);
        else if (st == 2) scatter(base + kj, rows + kj * ld, g, 2);
        else scatter(base + kj, rows + kj * ld, g, st);
      }
    }
  if (!g->pad) return;
  for (int c = 0; c < g->cb; c++)
    for (int y = 0; y < g->hb; y++) {
      const float *restrict src = p + ((long)c * g->hp + g->pad + y) * g->wp + g->pad;
      float *restrict dst = img + ((long)c * g->hb + y) * g->wb;
      const float add = bias ? bias[c] : 0.0f;
      for (int x = 0; x < g->wb; x++) dst[x] = src[x] + add;
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

/* db[c] += sum over images and pixels of dy[b][c][.]: a vector reduction per image (a serial
 * float sum would be latency-bound: milliseconds for a 64-image batch), images summed in double. */
static VMATH_CLONES void bias_grad(float *restrict db, const float *restrict dy, int B, int channels, long pixels) {
  for (int c = 0; c < channels; c++) {
    double s = 0.0;
    for (int i = 0; i < B; i++) {
      const float *restrict row = dy + ((long)i * channels + c) * pixels;
      float part = 0.0f;
#pragma omp simd reduction(+ : part)
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
  float *col = scratch, *stage = stage_of(g, scratch), *padded = padded_of(g, scratch);
  for (int i = 0; i < n; i++) im2col(col + (long)i * g->ps, ld, big + (long)i * g->cb * g->pb, g, padded);
  float *out = n == 1 ? small : stage;
  tensor_sgemm(0, 0, g->cs, (int)ld, (int)g->kc, 1.0f, w, (int)g->kc, col, (int)ld, 0.0f, out, (int)ld);
  if (n > 1) stage_out(small, stage, bias, n, g);
  else if (bias) add_bias(small, bias, 1, g->cs, g->ps);
}

/* big[n images] = bias + col2im(W^T . small) (big is overwritten). */
static void big_from_small(float *big, const float *small, const float *w, const float *bias, int n, const Geo *g,
                           float *scratch) {
  long ld = (long)n * g->ps;
  float *col = scratch, *stage = stage_of(g, scratch), *padded = padded_of(g, scratch);
  const float *in = small;
  if (n > 1) stage_in(stage, small, n, g), in = stage;
  tensor_sgemm(1, 0, (int)g->kc, (int)ld, g->cs, 1.0f, w, (int)g->kc, in, (int)ld, 0.0f, col, (int)ld);
  for (int i = 0; i < n; i++) col2im(big + (long)i * g->cb * g->pb, col + (long)i * g->ps, ld, g, padded, bias);
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
  float *col = scratch, *stage = stage_of(&g, scratch), *padded = padded_of(&g, scratch);
  for (int b0 = 0; b0 < B; b0 += g.group) {
    int n = B - b0 < g.group ? B - b0 : g.group;
    long ld = (long)n * g.ps;
    const float *dys = dy + (long)b0 * g.cs * g.ps;
    if (n > 1) stage_in(stage, dys, n, &g), dys = stage;
    if (dw) {
      for (int i = 0; i < n; i++) im2col(col + (long)i * g.ps, ld, x + (long)(b0 + i) * g.cb * g.pb, &g, padded);
      tensor_sgemm(0, 1, g.cs, (int)g.kc, (int)ld, 1.0f, dys, (int)ld, col, (int)ld, 1.0f, dw, (int)g.kc);
    }
    if (dx) {
      tensor_sgemm(1, 0, (int)g.kc, (int)ld, g.cs, 1.0f, w, (int)g.kc, dys, (int)ld, 0.0f, col, (int)ld);
      for (int i = 0; i < n; i++) col2im(dx + (long)(b0 + i) * g.cb * g.pb, col + (long)i * g.ps, ld, &g, padded, NULL);
    }
  }
}

void conv_transpose2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int B, const ConvShape *s, float *scratch) {
  Geo g = geo_of(s, 1, B);
  if (db) bias_grad(db, dy, B, g.cb, g.pb);
  if (!dw && !dx) return;
  float *col = scratch, *stage = stage_of(&g, scratch), *padded = padded_of(&g, scratch);
  for (int b0 = 0; b0 < B; b0 += g.group) {
    int n = B - b0 < g.group ? B - b0 : g.group;
    long ld = (long)n * g.ps;
    /* one im2col of dy serves both products */
    for (int i = 0; i < n; i++) im2col(col + (long)i * g.ps, ld, dy + (long)(b0 + i) * g.cb * g.pb, &g, padded);
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
