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

double ref_activation(LayerKind kind, double x) {
  switch (kind) {
  case LAYER_SELU: return x > 0 ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * (exp(x) - 1.0);
  case LAYER_RELU: return x > 0 ? x : 0.0;
  case LAYER_SIGMOID: return 1.0 / (1.0 + exp(-x));
  case LAYER_TANH: return tanh(x);
  default: return x;
  }
}

void ref_net_forward(const Net *net, const double *params, const double *x, int B, double *y) {
  int widest = 1;
  for (int l = 0; l < net->nlayers; l++) widest = widest > net->layers[l].out ? widest : net->layers[l].out;
  widest = widest > net->layers[0].in ? widest : net->layers[0].in;
  double *a = malloc(sizeof(double) * B * widest), *b = malloc(sizeof(double) * B * widest);
  memcpy(a, x, sizeof(double) * B * net->layers[0].in);
  for (int l = 0; l < net->nlayers; l++) {
    const Layer *L = &net->layers[l];
    for (int r = 0; r < B; r++)
      for (int o = 0; o < L->out; o++) {
        if (L->kind == LAYER_DENSE) {
          double s = params[L->b_off + o];
          for (int i = 0; i < L->in; i++) s += params[L->w_off + (size_t)o * L->in + i] * a[(size_t)r * L->in + i];
          b[(size_t)r * L->out + o] = s;
        } else {
          b[(size_t)r * L->out + o] = ref_activation(L->kind, a[(size_t)r * L->in + o]);
        }
      }
    double *t = a;
    a = b, b = t;
  }
  memcpy(y, a, sizeof(double) * B * net->layers[net->nlayers - 1].out);
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
