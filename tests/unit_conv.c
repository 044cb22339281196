/* conv2d and conv-transpose2d (src/nn/conv.c) against a direct double-precision convolution
 * written from the definitions: forward values, backward (dx, dw, db) against central
 * differences, the adjoint identity between the two, the accumulate/overwrite conventions,
 * the scratch size (guard words past its end), and the shape rules. Each case runs with one
 * image per GEMM, with uneven groups of images, and with the default grouping. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/conv.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"
#include "testing.h"

#define FD_STEP 1e-6
#define GRAD_TOL 1e-4 /* float32 against double; fan-ins <= 48 here */
#define GUARD 64
#define GUARD_VALUE 12345.0f

typedef struct {
  const char *what;
  int transposed, B;
  ConvShape s;
} Case;

/* The definitions. conv2d: y[co][oy][ox] = b[co] + sum x[ci][oy s - p + ki][ox s - p + kj] w[co][ci][ki][kj];
 * the transposed one scatters every input pixel: y[co][iy s - p + ki][ix s - p + kj] += x[ci][iy][ix] w[ci][co][ki][kj]. */
static void ref_forward(const Case *c, const double *x, const double *w, const double *b, double *y) {
  const ConvShape *s = &c->s;
  long in = (long)s->cin * s->hin * s->win, out = (long)s->cout * s->hout * s->wout;
  for (int n = 0; n < c->B; n++) {
    const double *xi = x + n * in;
    double *yo = y + n * out;
    for (int co = 0; co < s->cout; co++)
      for (long p = 0; p < (long)s->hout * s->wout; p++) yo[co * (long)s->hout * s->wout + p] = b ? b[co] : 0.0;
    for (int ci = 0; ci < s->cin; ci++)
      for (int co = 0; co < s->cout; co++)
        for (int ki = 0; ki < s->k; ki++)
          for (int kj = 0; kj < s->k; kj++) {
            double wv = c->transposed ? w[((ci * s->cout + co) * s->k + ki) * s->k + kj]
                                      : w[((co * s->cin + ci) * s->k + ki) * s->k + kj];
            if (!c->transposed) {
              for (int oy = 0; oy < s->hout; oy++)
                for (int ox = 0; ox < s->wout; ox++) {
                  int iy = oy * s->stride - s->pad + ki, ix = ox * s->stride - s->pad + kj;
                  if (iy < 0 || iy >= s->hin || ix < 0 || ix >= s->win) continue;
                  yo[((long)co * s->hout + oy) * s->wout + ox] += wv * xi[((long)ci * s->hin + iy) * s->win + ix];
                }
            } else {
              for (int iy = 0; iy < s->hin; iy++)
                for (int ix = 0; ix < s->win; ix++) {
                  int oy = iy * s->stride - s->pad + ki, ox = ix * s->stride - s->pad + kj;
                  if (oy < 0 || oy >= s->hout || ox < 0 || ox >= s->wout) continue;
                  yo[((long)co * s->hout + oy) * s->wout + ox] += wv * xi[((long)ci * s->hin + iy) * s->win + ix];
                }
            }
          }
  }
}

typedef struct {
  long nx, ny, nw, nb;
  double *x, *w, *b, *r, *y; /* double copies; r: the weights of the scalar loss L = sum r . y */
} Ref;

static double ref_loss(const Case *c, Ref *d) {
  ref_forward(c, d->x, d->w, d->b, d->y);
  double L = 0.0;
  for (long i = 0; i < d->ny; i++) L += d->r[i] * d->y[i];
  return L;
}

/* Central differences of L with respect to every entry of v[n]. */
static void fd_grad(const Case *c, Ref *d, double *v, long n, double *g) {
  for (long i = 0; i < n; i++) {
    double keep = v[i];
    v[i] = keep + FD_STEP;
    double lp = ref_loss(c, d);
    v[i] = keep - FD_STEP;
    double lm = ref_loss(c, d);
    v[i] = keep;
    g[i] = (lp - lm) / (2 * FD_STEP);
  }
}

static size_t scratch_of(const Case *c) {
  return c->transposed ? conv_transpose2d_scratch_floats(&c->s, c->B) : conv2d_scratch_floats(&c->s, c->B);
}

static void fwd(const Case *c, float *y, const float *x, const float *w, const float *b, float *scr) {
  if (c->transposed) conv_transpose2d_forward(y, x, w, b, c->B, &c->s, scr);
  else conv2d_forward(y, x, w, b, c->B, &c->s, scr);
}

static void bwd(const Case *c, float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                float *scr) {
  if (c->transposed) conv_transpose2d_backward(dx, dw, db, dy, x, w, c->B, &c->s, scr);
  else conv2d_backward(dx, dw, db, dy, x, w, c->B, &c->s, scr);
}

static float *filled(long n, uint64_t seed, uint64_t stream, double *copy) {
  float *v;
  tensor_alloc((size_t)n, &v);
  for (long i = 0; i < n; i++) {
    v[i] = (float)(2.0 * rng_uniform(seed, stream, 0, (uint64_t)i) - 1.0);
    if (copy) copy[i] = v[i];
  }
  return v;
}

static int guard_intact(const float *scr, size_t n) {
  for (size_t i = 0; i < GUARD; i++)
    if (scr[n + i] != GUARD_VALUE) return 0;
  return 1;
}

static void check_case(const Case *c, const char *grouping, uint64_t seed) {
  const ConvShape *s = &c->s;
  Ref d;
  d.nx = (long)c->B * s->cin * s->hin * s->win, d.ny = (long)c->B * s->cout * s->hout * s->wout;
  d.nw = (long)s->cin * s->cout * s->k * s->k, d.nb = s->cout;
  d.x = malloc(sizeof(double) * d.nx), d.w = malloc(sizeof(double) * d.nw), d.b = malloc(sizeof(double) * d.nb);
  d.r = malloc(sizeof(double) * d.ny), d.y = malloc(sizeof(double) * d.ny);
  float *x = filled(d.nx, seed, 1, d.x), *w = filled(d.nw, seed, 2, d.w), *b = filled(d.nb, seed, 3, d.b);
  float *r = filled(d.ny, seed, 4, d.r), *y = filled(d.ny, seed, 5, NULL);
  size_t ns = scratch_of(c);
  float *scr;
  tensor_alloc(ns + GUARD, &scr);
  for (size_t i = 0; i < GUARD; i++) scr[ns + i] = GUARD_VALUE;
  char what[160];
  snprintf(what, sizeof what, "%s [%s]", c->what, grouping);

  fwd(c, y, x, w, b, scr);
  ref_loss(c, &d);
  /* outputs are sums of up to 48 products of values in [-1, 1]: float32 rounding is ~1e-6 of
   * that scale, so errors are taken relative to max(|y|, 0.1) */
  double ef = rel_error(y, d.y, d.ny, 0.1, NULL);
  CHECK(ef < 1e-5, "%s: forward differs from the direct convolution by %.3g", what, ef);

  /* dx prefilled with junk (must be overwritten), dw/db with values (must be added to) */
  float *dx = filled(d.nx, seed, 6, NULL), *dw = filled(d.nw, seed, 7, NULL), *db = filled(d.nb, seed, 8, NULL);
  float *dw0 = filled(d.nw, seed, 7, NULL), *db0 = filled(d.nb, seed, 8, NULL);
  for (long i = 0; i < d.nx; i++) dx[i] = 1e30f;
  bwd(c, dx, dw, db, r, x, w, scr);
  for (long i = 0; i < d.nw; i++) dw[i] -= dw0[i];
  for (long i = 0; i < d.nb; i++) db[i] -= db0[i];
  double *gx = malloc(sizeof(double) * d.nx), *gw = malloc(sizeof(double) * d.nw), *gb = malloc(sizeof(double) * d.nb);
  fd_grad(c, &d, d.x, d.nx, gx), fd_grad(c, &d, d.w, d.nw, gw), fd_grad(c, &d, d.b, d.nb, gb);
  long where;
  double ex = rel_error(dx, gx, d.nx, 1e-2, &where);
  CHECK(ex < GRAD_TOL, "%s: dx off by %.3g at %ld", what, ex, where);
  double ew = rel_error(dw, gw, d.nw, 1e-2, &where);
  CHECK(ew < GRAD_TOL, "%s: dw off by %.3g at %ld", what, ew, where);
  double eb = rel_error(db, gb, d.nb, 1e-2, &where);
  CHECK(eb < GRAD_TOL, "%s: db off by %.3g at %ld", what, eb, where);

  /* each output alone (the others NULL) gives the same numbers */
  float *dx1 = filled(d.nx, seed, 9, NULL), *dw1, *db1;
  tensor_alloc((size_t)d.nw, &dw1), tensor_alloc((size_t)d.nb, &db1);
  bwd(c, dx1, NULL, NULL, r, x, w, scr);
  bwd(c, NULL, dw1, NULL, r, x, w, scr);
  bwd(c, NULL, NULL, db1, r, x, w, scr);
  CHECK(!memcmp(dx1, dx, sizeof(float) * d.nx), "%s: dx alone differs from dx with dw, db", what);
  double aw = 0, ab = 0;
  for (long i = 0; i < d.nw; i++) aw = fmax(aw, fabs(dw1[i] - dw[i]));
  for (long i = 0; i < d.nb; i++) ab = fmax(ab, fabs(db1[i] - db[i]));
  CHECK(aw < 1e-5 && ab < 1e-5, "%s: dw or db alone differ (by %.2g, %.2g)", what, aw, ab);
  CHECK(guard_intact(scr, ns), "%s: wrote past the %zu floats of scratch it asked for", what, ns);
  printf("%-58s fwd %.1e  dx %.1e  dw %.1e  db %.1e  scratch %zu\n", what, ef, ex, ew, eb, ns);

  free(d.x), free(d.w), free(d.b), free(d.r), free(d.y), free(gx), free(gw), free(gb);
  tensor_free(&x), tensor_free(&w), tensor_free(&b), tensor_free(&r), tensor_free(&y), tensor_free(&scr);
  tensor_free(&dx), tensor_free(&dw), tensor_free(&db), tensor_free(&dw0), tensor_free(&db0);
  tensor_free(&dx1), tensor_free(&dw1), tensor_free(&db1);
}

/* <conv(x), y> = <x, conv^T(y)> with the same weights: conv2d cin -> cout, the transposed one
 * cout -> cin, output padding chosen to give back the conv's input size. */
static void check_adjoint(int B, int cin, int cout, int h, int w, int k, int stride, int pad, uint64_t seed) {
  char why[200];
  ConvShape c = {.cin = cin, .hin = h, .win = w, .cout = cout, .k = k, .stride = stride, .pad = pad};
  CHECK(!conv2d_shape(&c, why, sizeof why), "adjoint: conv2d shape: %s", why);
  int op = (h + 2 * pad - k) % stride;
  CHECK(op == (w + 2 * pad - k) % stride, "adjoint: test shape needs equal remainders along both axes");
  ConvShape t = {.cin = cout, .hin = c.hout, .win = c.wout, .cout = cin, .k = k, .stride = stride, .pad = pad,
                 .out_pad = op};
  CHECK(!conv_transpose2d_shape(&t, why, sizeof why), "adjoint: transposed shape: %s", why);
  CHECK(t.hout == h && t.wout == w, "adjoint: transposed output %dx%d, want %dx%d", t.hout, t.wout, h, w);
  long nx = (long)B * cin * h * w, ny = (long)B * cout * c.hout * c.wout, nw = (long)cin * cout * k * k;
  float *x = filled(nx, seed, 11, NULL), *y = filled(ny, seed, 12, NULL), *wt = filled(nw, seed, 13, NULL);
  float *cx, *ty, *s1, *s2;
  tensor_alloc((size_t)ny, &cx), tensor_alloc((size_t)nx, &ty);
  tensor_alloc(conv2d_scratch_floats(&c, B), &s1), tensor_alloc(conv_transpose2d_scratch_floats(&t, B), &s2);
  conv2d_forward(cx, x, wt, NULL, B, &c, s1);
  conv_transpose2d_forward(ty, y, wt, NULL, B, &t, s2);
  double lhs = 0, rhs = 0, scale = 0;
  for (long i = 0; i < ny; i++) lhs += (double)cx[i] * y[i], scale += fabs((double)cx[i] * y[i]);
  for (long i = 0; i < nx; i++) rhs += (double)x[i] * ty[i];
  double err = fabs(lhs - rhs) / scale;
  CHECK(err < 1e-6, "adjoint %dx%d k%d s%d p%d op%d: <conv x, y> = %.9g but <x, conv^T y> = %.9g", h, w, k, stride, pad,
        op, lhs, rhs);
  printf("adjoint %2dx%-2d c%d->%d k%d s%d p%d op%d: <conv x,y> %+.6e  <x,convT y> %+.6e  rel %.1e\n", h, w, cin, cout,
         k, stride, pad, op, lhs, rhs, err);
  tensor_free(&x), tensor_free(&y), tensor_free(&wt), tensor_free(&cx), tensor_free(&ty);
  tensor_free(&s1), tensor_free(&s2);
}

static void expect_shape(int transposed, ConvShape s, int ok, int hout, int wout, const char *what) {
  char why[200] = "";
  int rc = transposed ? conv_transpose2d_shape(&s, why, sizeof why) : conv2d_shape(&s, why, sizeof why);
  if (ok) {
    CHECK(rc == 0, "shape %s: refused: %s", what, why);
    CHECK(rc != 0 || (s.hout == hout && s.wout == wout), "shape %s: got %dx%d, want %dx%d", what, s.hout, s.wout,
          hout, wout);
  } else {
    CHECK(rc != 0 && why[0], "shape %s: accepted, or refused without a reason", what);
    if (rc) printf("refused %-34s %s\n", what, why);
  }
}

static void check_shapes(void) {
  /* the dSprites net: 64 -> 32 -> 16 -> 8 and back */
  ConvShape e = {.cin = 1, .hin = 64, .win = 64, .cout = 32, .k = 4, .stride = 2, .pad = 1};
  expect_shape(0, e, 1, 32, 32, "dsprites conv 64->32");
  e.hin = e.win = 16, e.cin = 32, e.cout = 64;
  expect_shape(0, e, 1, 8, 8, "dsprites conv 16->8");
  ConvShape d = {.cin = 64, .hin = 8, .win = 8, .cout = 32, .k = 4, .stride = 2, .pad = 1};
  expect_shape(1, d, 1, 16, 16, "dsprites conv^T 8->16");
  d.hin = d.win = 32, d.cin = 32, d.cout = 1;
  expect_shape(1, d, 1, 64, 64, "dsprites conv^T 32->64");
  expect_shape(0, (ConvShape){.cin = 1, .hin = 7, .win = 5, .cout = 1, .k = 3, .stride = 2, .pad = 1}, 1, 4, 3,
               "7x5 k3 s2 p1");
  expect_shape(1, (ConvShape){.cin = 1, .hin = 4, .win = 3, .cout = 1, .k = 3, .stride = 2, .pad = 1, .out_pad = 1}, 1,
               8, 6, "transposed 4x3 k3 s2 p1 op1");
  expect_shape(0, (ConvShape){.cin = 1, .hin = 3, .win = 3, .cout = 1, .k = 6, .stride = 1, .pad = 1}, 0, 0, 0,
               "kernel larger than padded input");
  expect_shape(0, (ConvShape){.cin = 1, .hin = 8, .win = 8, .cout = 1, .k = 3, .stride = 0, .pad = 1}, 0, 0, 0,
               "stride 0");
  expect_shape(0, (ConvShape){.cin = 0, .hin = 8, .win = 8, .cout = 1, .k = 3, .stride = 1}, 0, 0, 0, "no channels");
  expect_shape(0, (ConvShape){.cin = 1, .hin = 8, .win = 8, .cout = 1, .k = 3, .stride = 2, .out_pad = 1}, 0, 0, 0,
               "conv2d with output padding");
  expect_shape(1, (ConvShape){.cin = 1, .hin = 4, .win = 4, .cout = 1, .k = 3, .stride = 2, .out_pad = 2}, 0, 0, 0,
               "output padding = stride");
  expect_shape(1, (ConvShape){.cin = 1, .hin = 1, .win = 1, .cout = 1, .k = 1, .stride = 1, .pad = 1}, 0, 0, 0,
               "transposed with no output");
}

int main(void) {
  check_shapes();
  Case cases[] = {
      {"conv2d 3x7x5 -> 4, k3 s2 p1, B3", 0, 3, {.cin = 3, .hin = 7, .win = 5, .cout = 4, .k = 3, .stride = 2, .pad = 1}},
      {"conv2d 2x6x6 -> 3, k4 s2 p1, B3", 0, 3, {.cin = 2, .hin = 6, .win = 6, .cout = 3, .k = 4, .stride = 2, .pad = 1}},
      {"conv2d 1x5x4 -> 2, k2 s1 p0, B2", 0, 2, {.cin = 1, .hin = 5, .win = 4, .cout = 2, .k = 2, .stride = 1}},
      {"conv2d 2x8x7 -> 2, k3 s3 p2, B1", 0, 1, {.cin = 2, .hin = 8, .win = 7, .cout = 2, .k = 3, .stride = 3, .pad = 2}},
      {"conv^T 3x4x3 -> 2, k3 s2 p1 op1, B3", 1, 3,
       {.cin = 3, .hin = 4, .win = 3, .cout = 2, .k = 3, .stride = 2, .pad = 1, .out_pad = 1}},
      {"conv^T 4x3x3 -> 2, k4 s2 p1, B3", 1, 3, {.cin = 4, .hin = 3, .win = 3, .cout = 2, .k = 4, .stride = 2, .pad = 1}},
      {"conv^T 2x3x4 -> 3, k2 s1 p0, B2", 1, 2, {.cin = 2, .hin = 3, .win = 4, .cout = 3, .k = 2, .stride = 1}},
      {"conv^T 2x3x2 -> 2, k3 s3 p1 op2, B2", 1, 2,
       {.cin = 2, .hin = 3, .win = 2, .cout = 2, .k = 3, .stride = 3, .pad = 1, .out_pad = 2}},
  };
  int ncases = (int)(sizeof cases / sizeof cases[0]);
  for (int i = 0; i < ncases; i++) {
    Case *c = &cases[i];
    char why[200];
    int rc = c->transposed ? conv_transpose2d_shape(&c->s, why, sizeof why) : conv2d_shape(&c->s, why, sizeof why);
    CHECK(rc == 0, "%s: shape refused: %s", c->what, why);
    if (rc) continue;
    long small = c->transposed ? (long)c->s.hin * c->s.win : (long)c->s.hout * c->s.wout;
    conv_set_gemm_columns(1); /* one image per GEMM */
    check_case(c, "1 image/GEMM", 100 + i);
    conv_set_gemm_columns(2 * small); /* groups of 2: with B = 3, one group of 2 and one of 1 */
    check_case(c, "2 images/GEMM", 200 + i);
    conv_set_gemm_columns(0); /* the default: the whole batch of these small images at once */
    check_case(c, "default grouping", 300 + i);
  }
  check_adjoint(2, 3, 4, 8, 6, 3, 2, 1, 1);  /* remainder 1 on both axes: output padding 1 */
  check_adjoint(3, 2, 5, 7, 9, 3, 2, 1, 2);  /* remainder 0 */
  check_adjoint(2, 1, 3, 10, 10, 4, 2, 1, 3); /* the dSprites kernel */
  check_adjoint(1, 2, 2, 9, 6, 3, 3, 0, 4);  /* stride 3 */
  check_adjoint(2, 2, 3, 12, 9, 3, 3, 1, 5); /* stride 3, output padding 2 */
  conv_set_gemm_columns(1);
  check_adjoint(3, 3, 4, 8, 6, 3, 2, 1, 6); /* one image per GEMM */
  conv_set_gemm_columns(0);
  if (test_failures) printf("FAILED: %d check(s)\n", test_failures);
  else printf("PASS\n");
  return test_failures ? 1 : 0;
}
