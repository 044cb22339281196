#include "testing.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/layers.h"

int test_failures = 0, test_passes = 0;

void test_report(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s ", ok ? "PASS" : "FAIL");
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  test_failures += !ok, test_passes += ok;
}

int test_mpi_finish(void) {
  int failures = test_failures, rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  if (rank == 0) printf(failures ? "FAILED: %d check(s)\n" : "PASS\n", failures);
  if (PetscFinalize()) return 1;
  return failures != 0;
}

double ref_activation(const LayerOps *ops, double x) {
  if (ops == &layer_selu) return x > 0 ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * (exp(x) - 1.0);
  if (ops == &layer_relu) return x > 0 ? x : 0.0;
  if (ops == &layer_leaky_relu) return x > 0 ? x : 0.2 * x;
  if (ops == &layer_sigmoid) return 1.0 / (1.0 + exp(-x));
  if (ops == &layer_tanh) return tanh(x);
  return x;
}

/* Direct (loop) convolutions in double, one output or input pixel at a time: nothing shared
 * with the im2col kernels under test. w is conv2d's [cout][cin][k][k] or the transpose's
 * [cin][cout][k][k]. */
static void ref_conv(const Layer *L, const double *w, const double *bias, const double *x, int B, double *y) {
  const int ci = L->in.d[0], hi = L->in.d[1], wi = L->in.d[2], co = L->out.d[0], ho = L->out.d[1], wo = L->out.d[2];
  const int k = L->arg[1], st = L->arg[2], pad = L->arg[3], transposed = L->ops == &layer_conv_transpose2d;
  for (int r = 0; r < B; r++) {
    const double *xr = x + (size_t)r * ci * hi * wi;
    double *yr = y + (size_t)r * co * ho * wo;
    for (int o = 0; o < co; o++)
      for (long p = 0; p < (long)ho * wo; p++) yr[(long)o * ho * wo + p] = bias[o];
    for (int c = 0; c < ci; c++)
      for (int o = 0; o < co; o++)
        for (int ki = 0; ki < k; ki++)
          for (int kj = 0; kj < k; kj++) {
            double wv = transposed ? w[(((size_t)c * co + o) * k + ki) * k + kj] : w[(((size_t)o * ci + c) * k + ki) * k + kj];
            if (!transposed) /* y[o][oy][ox] += w x[c][oy st - pad + ki][ox st - pad + kj] */
              for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                  int iy = oy * st - pad + ki, ix = ox * st - pad + kj;
                  if (iy >= 0 && iy < hi && ix >= 0 && ix < wi)
                    yr[((size_t)o * ho + oy) * wo + ox] += wv * xr[((size_t)c * hi + iy) * wi + ix];
                }
            else /* every input pixel spreads into y[o][iy st - pad + ki][ix st - pad + kj] */
              for (int iy = 0; iy < hi; iy++)
                for (int ix = 0; ix < wi; ix++) {
                  int oy = iy * st - pad + ki, ox = ix * st - pad + kj;
                  if (oy >= 0 && oy < ho && ox >= 0 && ox < wo)
                    yr[((size_t)o * ho + oy) * wo + ox] += wv * xr[((size_t)c * hi + iy) * wi + ix];
                }
          }
  }
}

static void ref_layer(const Layer *L, const double *params, const double *a, int B, double *b) {
  long in = shape_size(&L->in), out = shape_size(&L->out);
  if (L->ops == &layer_conv2d || L->ops == &layer_conv_transpose2d) {
    ref_conv(L, params + L->offset[0], params + L->offset[1], a, B, b);
    return;
  }
  for (int r = 0; r < B; r++)
    for (long o = 0; o < out; o++) {
      if (L->ops == &layer_dense) {
        double s = params[L->b_off + o];
        for (long i = 0; i < in; i++) s += params[L->w_off + (size_t)o * in + i] * a[(size_t)r * in + i];
        b[(size_t)r * out + o] = s;
      } else if (L->ops == &layer_reshape) {
        b[(size_t)r * out + o] = a[(size_t)r * in + o];
      } else {
        b[(size_t)r * out + o] = ref_activation(L->ops, a[(size_t)r * in + o]);
      }
    }
}

void ref_net_forward(const Net *net, const double *params, const double *x, int B, double *y) {
  long widest = net_in(net);
  for (int l = 0; l < net->nlayers; l++) {
    long o = shape_size(&net->layers[l].out);
    widest = widest > o ? widest : o;
  }
  double *a = malloc(sizeof(double) * B * widest), *b = malloc(sizeof(double) * B * widest);
  memcpy(a, x, sizeof(double) * B * net_in(net));
  for (int l = 0; l < net->nlayers; l++) {
    ref_layer(&net->layers[l], params, a, B, b);
    double *t = a;
    a = b, b = t;
  }
  memcpy(y, a, sizeof(double) * B * net_out(net));
  free(a), free(b);
}

double rel_error(const float *a, const double *b, long n, double abs_floor, long *where) {
  double worst = 0.0;
  if (where) *where = -1;
  for (long i = 0; i < n; i++) {
    double e = fabs((double)a[i] - b[i]) / (abs_floor + fabs(b[i]));
    if (e > worst || isnan(e)) {
      worst = isnan(e) ? INFINITY : e;
      if (where) *where = i;
    }
  }
  return worst;
}
