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

double ref_activation(const LayerOps *ops, double x) {
  if (ops == &layer_selu) return x > 0 ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * (exp(x) - 1.0);
  if (ops == &layer_relu) return x > 0 ? x : 0.0;
  if (ops == &layer_sigmoid) return 1.0 / (1.0 + exp(-x));
  if (ops == &layer_tanh) return tanh(x);
  return x;
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
    const Layer *L = &net->layers[l];
    long in = shape_size(&L->in), out = shape_size(&L->out);
    for (int r = 0; r < B; r++)
      for (long o = 0; o < out; o++) {
        if (L->ops == &layer_dense) {
          double s = params[L->b_off + o];
          for (long i = 0; i < in; i++) s += params[L->w_off + (size_t)o * in + i] * a[(size_t)r * in + i];
          b[(size_t)r * out + o] = s;
        } else {
          b[(size_t)r * out + o] = ref_activation(L->ops, a[(size_t)r * in + o]);
        }
      }
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
