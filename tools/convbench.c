/* convbench: the conv layers of the published NashAE dSprites net (encoder conv 4x4 stride 2
 * pad 1, 1 -> 32 -> 32 -> 64 channels, 64x64 -> 32 -> 16 -> 8; the mirrored transposed-conv
 * decoder 64 -> 32 -> 32 -> 1, 8 -> 16 -> 32 -> 64), forward and backward over one batch, timed
 * against the sgemm rate of the very GEMM shapes the pass runs (recorded with the ledger in
 * tensor.c, each timed alone) and against one large square sgemm. The backward computes dw, db
 * for every layer and dx for all but the first (its input is data), as training does.
 * Dense layers and activations are not included. Run it with OPENBLAS_NUM_THREADS=1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disentangle/conv.h"
#include "disentangle/tensor.h"

enum { NL = 6 };

typedef struct {
  const char *name;
  int transposed;
  ConvShape s;
  float *w, *b, *dw, *db, *y, *dy; /* y/dy: this layer's output and its gradient */
  double fwd_s, bwd_s;
  double fwd_floor, bwd_floor; /* seconds of the layer's sgemm calls at their measured rates */
} Layer;

/* CPU time of this process by default: on a shared machine it leaves out the time other
 * processes hold the core (not their effect on the caches). -wall 1 for wall-clock time.
 * With OPENBLAS_NUM_THREADS=1 the process time is the one thread's. */
static clockid_t clock_id = CLOCK_PROCESS_CPUTIME_ID;

static double now(void) {
  struct timespec t;
  clock_gettime(clock_id, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static long in_size(const Layer *l, int B) { return (long)B * l->s.cin * l->s.hin * l->s.win; }
static long out_size(const Layer *l, int B) { return (long)B * l->s.cout * l->s.hout * l->s.wout; }

static void fill(float *v, long n, unsigned seed) {
  for (long i = 0; i < n; i++) v[i] = (float)(((i * 2654435761u + seed) >> 8) % 2001) / 1000.0f - 1.0f;
}

static float *alloc(long n) {
  float *p;
  if (tensor_alloc((size_t)n, &p)) exit(1);
  return p;
}

static void forward(Layer *L, int i, const float *x, int B, float *scratch) {
  const float *in = i ? L[i - 1].y : x;
  if (L[i].transposed) conv_transpose2d_forward(L[i].y, in, L[i].w, L[i].b, B, &L[i].s, scratch);
  else conv2d_forward(L[i].y, in, L[i].w, L[i].b, B, &L[i].s, scratch);
}

/* no input gradient for the first layer: its input is data */
static void backward(Layer *L, int i, const float *x, int B, float *scratch) {
  const float *in = i ? L[i - 1].y : x;
  float *din = i ? L[i - 1].dy : NULL;
  if (L[i].transposed) conv_transpose2d_backward(din, L[i].dw, L[i].db, L[i].dy, in, L[i].w, B, &L[i].s, scratch);
  else conv2d_backward(din, L[i].dw, L[i].db, L[i].dy, in, L[i].w, B, &L[i].s, scratch);
}

/* Forward through all layers, then backward; per-layer times added to the layers. */
static void pass(Layer *L, const float *x, int B, float *scratch) {
  for (int i = 0; i < NL; i++) {
    double t = now();
    forward(L, i, x, B, scratch);
    L[i].fwd_s += now() - t;
  }
  for (int i = NL - 1; i >= 0; i--) {
    double t = now();
    backward(L, i, x, B, scratch);
    L[i].bwd_s += now() - t;
  }
}

static double time_shape(const GemmShape *s, double min_seconds) {
  float *a = alloc((long)s->m * s->k), *b = alloc((long)s->k * s->n), *c = alloc((long)s->m * s->n);
  fill(a, (long)s->m * s->k, 1), fill(b, (long)s->k * s->n, 2);
  int lda = s->trans_a ? s->m : s->k, ldb = s->trans_b ? s->k : s->n;
  for (int w = 0; w < 3; w++) tensor_sgemm(s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
  long reps = 0;
  double t0 = now(), t;
  do {
    for (int r = 0; r < 8; r++) tensor_sgemm(s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
    reps += 8;
    t = now() - t0;
  } while (t < min_seconds);
  tensor_free(&a), tensor_free(&b), tensor_free(&c);
  return t / reps;
}

static int usage(int rc) {
  fprintf(rc ? stderr : stdout,
          "usage: convbench [-batch 64] [-passes 20] [-columns N] [-wall 0|1]\n"
          "Times the conv layers of the dSprites NashAE net (forward + backward) at the given batch and compares\n"
          "with the sgemm rate of the same GEMM shapes. -columns sets the minimum GEMM width (images are\n"
          "grouped to reach it; default %ld). Times are CPU time of the process unless -wall 1.\n",
          conv_gemm_columns());
  return rc;
}

int main(int argc, char **argv) {
  int B = 64, passes = 20;
  long columns = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-help") || !strcmp(argv[i], "-h")) return usage(0);
    if (i + 1 >= argc) return usage(2);
    char *end;
    long v = strtol(argv[i + 1], &end, 10);
    if (*end || v < 0 || v > 1000000) {
      fprintf(stderr, "convbench: option %s: '%s' is not valid; expected a positive integer\n", argv[i], argv[i + 1]);
      return 2;
    }
    if (!strcmp(argv[i], "-batch")) B = (int)v;
    else if (!strcmp(argv[i], "-passes")) passes = (int)v;
    else if (!strcmp(argv[i], "-columns")) columns = v;
    else if (!strcmp(argv[i], "-wall")) clock_id = v ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID;
    else {
      fprintf(stderr, "convbench: unknown option '%s'; see convbench -help\n", argv[i]);
      return 2;
    }
    i++;
  }
  conv_set_gemm_columns(columns);
  Layer L[NL] = {
      {.name = "conv 1->32, 64->32", .transposed = 0, .s = {.cin = 1, .hin = 64, .win = 64, .cout = 32}},
      {.name = "conv 32->32, 32->16", .transposed = 0, .s = {.cin = 32, .hin = 32, .win = 32, .cout = 32}},
      {.name = "conv 32->64, 16->8", .transposed = 0, .s = {.cin = 32, .hin = 16, .win = 16, .cout = 64}},
      {.name = "conv^T 64->32, 8->16", .transposed = 1, .s = {.cin = 64, .hin = 8, .win = 8, .cout = 32}},
      {.name = "conv^T 32->32, 16->32", .transposed = 1, .s = {.cin = 32, .hin = 16, .win = 16, .cout = 32}},
      {.name = "conv^T 32->1, 32->64", .transposed = 1, .s = {.cin = 32, .hin = 32, .win = 32, .cout = 1}},
  };
  size_t nscratch = 0;
  for (int i = 0; i < NL; i++) {
    char why[200];
    Layer *l = &L[i];
    l->s.k = 4, l->s.stride = 2, l->s.pad = 1;
    int rc = l->transposed ? conv_transpose2d_shape(&l->s, why, sizeof why) : conv2d_shape(&l->s, why, sizeof why);
    if (rc) return fprintf(stderr, "convbench: layer %s: %s\n", l->name, why), 1;
    long nw = (long)l->s.cin * l->s.cout * l->s.k * l->s.k;
    l->w = alloc(nw), l->dw = alloc(nw), l->b = alloc(l->s.cout), l->db = alloc(l->s.cout);
    l->y = alloc(out_size(l, B)), l->dy = alloc(out_size(l, B));
    fill(l->w, nw, 3 + i), fill(l->b, l->s.cout, 4 + i), fill(l->dy, out_size(l, B), 5 + i);
    for (long j = 0; j < nw; j++) l->w[j] *= 0.1f;
    size_t n = l->transposed ? conv_transpose2d_scratch_floats(&l->s, B) : conv2d_scratch_floats(&l->s, B);
    if (n > nscratch) nscratch = n;
  }
  float *x = alloc(in_size(&L[0], B)), *scratch = alloc((long)nscratch);
  fill(x, in_size(&L[0], B), 99);

  /* the GEMM shapes of each layer and direction, then of the whole pass */
  GemmLedger ledger, one;
  for (int i = 0; i < NL; i++)
    for (int dir = 0; dir < 2; dir++) {
      tensor_ledger_start(&one);
      if (dir) backward(L, i, x, B, scratch);
      else forward(L, i, x, B, scratch);
      tensor_ledger_stop();
      double fl = 0;
      for (int j = 0; j < one.nshapes; j++) fl += one.shapes[j].calls * time_shape(&one.shapes[j], 0.02);
      *(dir ? &L[i].bwd_floor : &L[i].fwd_floor) = fl;
    }
  tensor_ledger_start(&ledger);
  pass(L, x, B, scratch);
  tensor_ledger_stop();
  for (int w = 0; w < 3; w++) pass(L, x, B, scratch);
  for (int i = 0; i < NL; i++) L[i].fwd_s = L[i].bwd_s = 0;
  double best = 1e30, t0 = now();
  for (int p = 0; p < passes; p++) {
    double t = now();
    pass(L, x, B, scratch);
    t = now() - t;
    best = t < best ? t : best;
  }
  double mean = (now() - t0) / passes;

  printf("dSprites conv layers, batch %d, %d passes (forward + backward), GEMM columns >= %ld, scratch %.1f MB, %s time\n\n",
         B, passes, conv_gemm_columns(), nscratch * 4e-6, clock_id == CLOCK_MONOTONIC ? "wall-clock" : "CPU");
  printf("  %-24s %9s %9s %9s %9s   (floor: the layer's sgemm calls alone)\n", "layer", "fwd ms", "floor", "bwd ms",
         "floor");
  for (int i = 0; i < NL; i++)
    printf("  %-24s %9.3f %9.3f %9.3f %9.3f\n", L[i].name, 1e3 * L[i].fwd_s / passes, 1e3 * L[i].fwd_floor,
           1e3 * L[i].bwd_s / passes, 1e3 * L[i].bwd_floor);

  double floor_s = 0, flops = 0;
  printf("\n  sgemm shapes of one pass:\n  %-4s %-4s %6s %6s %6s %6s %10s %9s\n", "opA", "opB", "M", "N", "K", "calls",
         "us/call", "GFLOP/s");
  for (int i = 0; i < ledger.nshapes; i++) {
    const GemmShape *s = &ledger.shapes[i];
    double per = time_shape(s, 0.05), f = 2.0 * s->m * s->n * s->k;
    floor_s += s->calls * per, flops += s->calls * f;
    printf("  %-4s %-4s %6d %6d %6d %6ld %10.1f %9.1f\n", s->trans_a ? "T" : "N", s->trans_b ? "T" : "N", s->m, s->n,
           s->k, s->calls, 1e6 * per, f / per * 1e-9);
  }
  GemmShape big = {0, 0, 1024, 1024, 1024, 1};
  double per_big = time_shape(&big, 0.3), rate_big = 2.0 * 1024 * 1024 * 1024 / per_big * 1e-9;

  printf("\npass                 %8.2f ms mean, %.2f ms best  (%.3f GFLOP in sgemm per pass)\n", 1e3 * mean, 1e3 * best,
         flops * 1e-9);
  printf("achieved             %8.1f GFLOP/s (mean pass)\n", flops / mean * 1e-9);
  printf("GEMM floor           %8.2f ms  (the same shapes timed alone: %.1f GFLOP/s)\n", 1e3 * floor_s,
         flops / floor_s * 1e-9);
  printf("pass / floor         %8.2f x   (the cost of im2col, col2im, staging and bias on top of the GEMMs)\n",
         mean / floor_s);
  printf("sgemm 1024^3         %8.1f GFLOP/s; the pass reaches %.0f%% of it, its own shapes %.0f%%\n", rate_big,
         100 * flops / mean * 1e-9 / rate_big, 100 * (flops / floor_s * 1e-9) / rate_big);
  for (int i = 0; i < NL; i++) {
    tensor_free(&L[i].w), tensor_free(&L[i].dw), tensor_free(&L[i].b), tensor_free(&L[i].db);
    tensor_free(&L[i].y), tensor_free(&L[i].dy);
  }
  tensor_free(&x), tensor_free(&scratch);
  return 0;
}
