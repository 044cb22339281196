/* Every layer, the MSE loss and whole nets against finite differences of a double-precision
 * reference (tests/testing.c), plus the initialisation the published NashAE code uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/layers.h"
#include "disentangle/net.h"
#include "disentangle/rng.h"
#include "disentangle/tensor.h"
#include "disentangle/vmath.h"
#include "testing.h"

#define FD_STEP 1e-6
/* Float32 forward/backward against a double reference: errors of a few ulps times the fan-in
 * (<= 16 here) stay below 1e-5 relative; 1e-4 leaves room and still catches any wrong term. */
#define GRAD_TOL 1e-4

static double loss_of(const Net *net, const double *p, const double *x, int B, const double *r) {
  int out = net_out(net);
  double *y = malloc(sizeof(double) * B * out), L = 0.0;
  ref_net_forward(net, p, x, B, y);
  for (long i = 0; i < (long)B * out; i++) L += r[i] * y[i];
  free(y);
  return L;
}

/* L = sum r . net(x): compare the analytic parameter and input gradients with central
 * differences of the double reference; x values avoid |x| < margin (kinks). */
static void fd_check(const char *what, Net *net, int B, double margin, uint64_t seed) {
  int in = net_in(net), out = net_out(net);
  float *params, *grads, *x, *r, *dx;
  ParamSet ps;
  int group;
  paramset_init(&ps);
  paramset_group(&ps, "test", &group);
  net_register(net, &ps, group);
  paramset_allocate(&ps);
  net_bind(net, &ps, B);
  params = ps.groups[group].params, grads = ps.groups[group].grads;
  CHECK(net->nparams == ps.groups[group].n && (net->nparams == 0 || net->params == params),
        "%s: the net's tensors are not its group's block", what);
  tensor_alloc((size_t)B * in, &x), tensor_alloc((size_t)B * out, &r), tensor_alloc((size_t)B * in, &dx);
  net_init_params(net, seed, 0);
  double *pd = malloc(sizeof(double) * (net->nparams + 1)), *xd = malloc(sizeof(double) * B * in);
  double *rd = malloc(sizeof(double) * B * out), *gp = malloc(sizeof(double) * (net->nparams + 1));
  double *gx = malloc(sizeof(double) * B * in);
  for (long i = 0; i < (long)B * in; i++) {
    double v = 4.0 * rng_uniform(seed, 7, 0, i) - 2.0;
    if (fabs(v) < margin) v = v < 0 ? -margin : margin;
    x[i] = (float)v, xd[i] = x[i];
  }
  for (long i = 0; i < (long)B * out; i++) r[i] = (float)rng_normal(seed, 8, 0, i), rd[i] = r[i];
  for (size_t i = 0; i < net->nparams; i++) pd[i] = params[i];

  const float *y = net_forward(net, x, B);
  double *yd = malloc(sizeof(double) * B * out);
  ref_net_forward(net, pd, xd, B, yd);
  CHECK(rel_error(y, yd, (long)B * out, 1e-3, NULL) < 1e-5, "%s: forward differs from the double reference", what);
  net_backward(net, x, r, B, 1, dx);

  for (size_t k = 0; k < net->nparams; k++) {
    double keep = pd[k];
    pd[k] = keep + FD_STEP;
    double lp = loss_of(net, pd, xd, B, rd);
    pd[k] = keep - FD_STEP;
    double lm = loss_of(net, pd, xd, B, rd);
    pd[k] = keep;
    gp[k] = (lp - lm) / (2 * FD_STEP);
  }
  for (long k = 0; k < (long)B * in; k++) {
    double keep = xd[k];
    xd[k] = keep + FD_STEP;
    double lp = loss_of(net, pd, xd, B, rd);
    xd[k] = keep - FD_STEP;
    double lm = loss_of(net, pd, xd, B, rd);
    xd[k] = keep;
    gx[k] = (lp - lm) / (2 * FD_STEP);
  }
  long where;
  double ep = net->nparams ? rel_error(grads, gp, (long)net->nparams, 1e-2, &where) : 0.0;
  CHECK(ep < GRAD_TOL, "%s: parameter gradient off by %.3g (relative) at %ld: %g vs %g", what, ep, where,
        where >= 0 ? grads[where] : 0.f, where >= 0 ? gp[where] : 0.0);
  double ex = rel_error(dx, gx, (long)B * in, 1e-2, &where);
  CHECK(ex < GRAD_TOL, "%s: input gradient off by %.3g (relative) at %ld", what, ex, where);
  printf("%-28s params %6zu  max rel err: params %.2e  input %.2e\n", what, net->nparams, ep, ex);

  /* Backward accumulates parameter gradients: a second call doubles them. */
  if (net->nparams) {
    float *once = malloc(sizeof(float) * net->nparams);
    memcpy(once, grads, sizeof(float) * net->nparams);
    net_backward(net, x, r, B, 1, dx);
    int doubled = 1;
    for (size_t k = 0; k < net->nparams; k++) doubled &= fabsf(grads[k] - 2 * once[k]) <= 1e-6f * (1 + fabsf(once[k]));
    CHECK(doubled, "%s: parameter gradients are not accumulated", what);
    free(once);
  }
  net_free(net);
  paramset_free(&ps);
  tensor_free(&x), tensor_free(&r), tensor_free(&dx);
  free(pd), free(xd), free(rd), free(gp), free(gx), free(yd);
}

static void single_layer(const LayerOps *ops, int width, Net *net) {
  net_create(net, ops->kind, shape_vector(width));
  net_add(net, ops, NULL, 0);
}

/* A loss on an inner layer: L = sum r . net(x) + sum q . h(x), h the output of hidden layer
 * "selu1". Its gradient injected there (net->inject) must give the parameter and input
 * gradients of the whole L, by central differences of the double reference. */
static double injected_loss(const Net *net, int at, const double *p, const double *x, int B, const double *r,
                            const double *q) {
  Net head = *net;
  head.nlayers = at + 1;
  long hw = shape_size(&net->layers[at].out);
  double *h = malloc(sizeof(double) * B * hw), L = loss_of(net, p, x, B, r);
  ref_net_forward(&head, p, x, B, h);
  for (long i = 0; i < (long)B * hw; i++) L += q[i] * h[i];
  free(h);
  return L;
}

/* Inject q at layer `name` of net (already described, not yet registered) and compare the
 * parameter and input gradients of the whole L with central differences. */
static void check_injection_at(Net *net, const char *name, int B, uint64_t seed) {
  ParamSet ps;
  int group;
  int at = net_find_layer(net, name);
  CHECK(at >= 0, "net_find_layer: no layer %s", name);
  if (at < 0) return;
  paramset_init(&ps);
  paramset_group(&ps, "g", &group);
  net_register(net, &ps, group);
  paramset_allocate(&ps);
  net_bind(net, &ps, B);
  net_init_params(net, seed, 0);
  long in = net_in(net), out = net_out(net), hw = shape_size(&net->layers[at].out);
  float *x = malloc(sizeof(float) * B * in), *r = malloc(sizeof(float) * B * out), *dx = malloc(sizeof(float) * B * in);
  float *q = malloc(sizeof(float) * B * hw);
  double *xd = malloc(sizeof(double) * B * in), *rd = malloc(sizeof(double) * B * out), *qd = malloc(sizeof(double) * B * hw);
  double *pd = malloc(sizeof(double) * (net->nparams + 1));
  for (long i = 0; i < B * in; i++) x[i] = (float)rng_normal(seed, 1, 0, i), xd[i] = x[i];
  for (long i = 0; i < B * out; i++) r[i] = (float)rng_normal(seed, 2, 0, i), rd[i] = r[i];
  for (long i = 0; i < B * hw; i++) q[i] = (float)rng_normal(seed, 3, 0, i), qd[i] = q[i];
  for (size_t k = 0; k < net->nparams; k++) pd[k] = net->params[k];
  net_forward(net, x, B);
  net->inject[at] = q;
  net_backward(net, x, r, B, 1, dx);
  net->inject[at] = NULL;
  double worst = 0.0;
  for (size_t k = 0; k < net->nparams; k++) {
    double keep = pd[k];
    pd[k] = keep + FD_STEP;
    double lp = injected_loss(net, at, pd, xd, B, rd, qd);
    pd[k] = keep - FD_STEP;
    double lm = injected_loss(net, at, pd, xd, B, rd, qd);
    pd[k] = keep;
    double fd = (lp - lm) / (2 * FD_STEP);
    worst = fmax(worst, fabs(net->grads[k] - fd) / (1e-2 + fabs(fd)));
  }
  for (long k = 0; k < B * in; k++) {
    double keep = xd[k];
    xd[k] = keep + FD_STEP;
    double lp = injected_loss(net, at, pd, xd, B, rd, qd);
    xd[k] = keep - FD_STEP;
    double lm = injected_loss(net, at, pd, xd, B, rd, qd);
    xd[k] = keep;
    double fd = (lp - lm) / (2 * FD_STEP);
    worst = fmax(worst, fabs(dx[k] - fd) / (1e-2 + fabs(fd)));
  }
  CHECK(worst < GRAD_TOL, "%s: injection at %s: gradient off by %.3g (relative)", net->name, name, worst);
  char what[80];
  snprintf(what, sizeof what, "injected at %s/%s", net->name, name);
  printf("%-28s max rel err %.2e\n", what, worst);
  free(x), free(r), free(dx), free(q), free(xd), free(rd), free(qd), free(pd);
  net_free(net);
  paramset_free(&ps);
}

static void check_injection(void) {
  int w[4] = {6, 8, 7, 3};
  Net net;
  net_init_mlp(&net, "inject", w, 4, &layer_selu, &layer_sigmoid);
  int at = net_find_layer(&net, "selu1");
  CHECK(at == 3, "net_find_layer: selu1 is layer %d, want 3", at);
  check_injection_at(&net, "selu1", 5, 31);
}

/* conv -> relu -> conv_transpose on an image input. */
static void conv_relu_convt(Net *net, const char *name) {
  net_create(net, name, (Shape){3, {2, 6, 5}});
  net_add_conv2d(net, 3, 3, 2, 1);                    /* [2,6,5] -> [3,3,3] */
  net_add(net, &layer_relu, NULL, 0);
  net_add_conv_transpose2d(net, 2, 3, 2, 1, 1);       /* [3,3,3] -> [2,6,6] */
}

/* A vector input through reshape, conv, flatten, dense, and back up through reshape and a
 * transposed convolution: every shape change of the dSprites nets, small. */
static void conv_autoencoder(Net *net, const char *name) {
  net_create(net, name, shape_vector(2 * 6 * 6));
  net_add_reshape(net, 2, 6, 6);
  net_add_conv2d(net, 3, 4, 2, 1);                    /* -> [3,3,3] */
  net_add(net, &layer_selu, NULL, 0);
  net_add_flatten(net);
  net_add_dense(net, 4);
  net_add(net, &layer_selu, NULL, 0);
  net_add_dense(net, 3 * 3 * 3);
  net_add(net, &layer_selu, NULL, 0);
  net_add_reshape(net, 3, 3, 3);
  net_add_conv_transpose2d(net, 2, 4, 2, 1, 0);       /* -> [2,6,6] */
  net_add(net, &layer_sigmoid, NULL, 0);
}

/* Strides and paddings the dSprites nets do not use: stride 1 with padding 2 (windows hanging
 * over every edge), and a transpose with stride 3 > k (gaps) and out_pad 2. */
static void conv_odd_geometry(Net *net, const char *name) {
  net_create(net, name, (Shape){3, {1, 4, 5}});
  net_add_conv2d(net, 2, 2, 1, 2);                    /* -> [2,7,8] */
  net_add(net, &layer_tanh, NULL, 0);
  net_add_conv_transpose2d(net, 3, 2, 3, 0, 2);       /* -> [3,22,25] */
}

/* Conv weights: std 1/sqrt(fan_in), fan_in = weight.size(1) k k (cin k k for conv2d, cout k k
 * for the transpose, as PyTorch counts it); biases inside +-1/sqrt(fan_in). */
static void check_conv_init(void) {
  Net net;
  ParamSet ps;
  int group;
  net_create(&net, "init", (Shape){3, {16, 16, 16}});
  net_add_conv2d(&net, 64, 4, 2, 1);                  /* fan_in 16*16 = 256 */
  net_add_conv_transpose2d(&net, 8, 4, 2, 1, 0);      /* weight [64][8][4][4]: fan_in 8*16 = 128 */
  paramset_init(&ps);
  paramset_group(&ps, "g", &group);
  net_register(&net, &ps, group);
  paramset_allocate(&ps);
  net_bind(&net, &ps, 1);
  net_init_params(&net, 5, 0);
  int wi = paramset_find(&ps, "init/conv_transpose2d0.weight");
  CHECK(wi >= 0 && ps.tensors[wi].ndim == 4 && ps.tensors[wi].dims[0] == 64 && ps.tensors[wi].dims[1] == 8,
        "conv init: the transpose's weight is not registered as [cin][cout][k][k]");
  const double fan[2] = {256, 128};
  for (int l = 0; l < 2; l++) {
    const Layer *L = &net.layers[l];
    long n = (long)L->tensor_dims[0][0] * L->tensor_dims[0][1] * 16;
    double s = 0, s2 = 0, bmax = 0, want = 1.0 / sqrt(fan[l]);
    for (long i = 0; i < n; i++) s += net.params[L->offset[0] + i], s2 += (double)net.params[L->offset[0] + i] * net.params[L->offset[0] + i];
    for (int o = 0; o < L->tensor_dims[1][0]; o++) bmax = fmax(bmax, fabs(net.params[L->offset[1] + o]));
    double mean = s / n, sd = sqrt(s2 / n - mean * mean);
    /* 16384 and 8192 draws: the sample sd is within 3% of the true one with overwhelming probability */
    CHECK(fabs(sd / want - 1.0) < 0.03, "conv init %s: weight sd %.5f, want %.5f", L->ops->kind, sd, want);
    CHECK(bmax <= want && bmax > 0.5 * want, "conv init %s: max |bias| %.4f, want within %.4f", L->ops->kind, bmax, want);
    printf("%-28s sd %.5f (want %.5f), max |bias| %.5f\n", L->ops->kind, sd, want, bmax);
  }
  net_free(&net);
  paramset_free(&ps);
}

static void check_mse(void) {
  const long n = 37;
  float p[37], t[37], d[37];
  for (long i = 0; i < n; i++) p[i] = (float)rng_normal(3, 1, 0, i), t[i] = (float)rng_normal(3, 2, 0, i);
  const float scale = 0.25f;
  double sq = mse_forward_backward(d, p, t, n, scale), ref = 0.0;
  for (long i = 0; i < n; i++) ref += ((double)p[i] - t[i]) * ((double)p[i] - t[i]);
  /* the difference is taken in float32, as in training: agreement to float precision */
  CHECK(fabs(sq - ref) < 1e-6 * ref, "mse: sum of squares %g vs %g", sq, ref);
  /* d/dp of (scale/2) sum (p - t)^2, by central differences in double */
  double worst = 0.0;
  for (long i = 0; i < n; i++) {
    double fd = 0.5 * scale * ((p[i] + FD_STEP - t[i]) * (p[i] + FD_STEP - t[i]) - (p[i] - FD_STEP - t[i]) * (p[i] - FD_STEP - t[i])) /
                (2 * FD_STEP);
    worst = fmax(worst, fabs(d[i] - fd) / (1e-2 + fabs(fd)));
  }
  CHECK(worst < GRAD_TOL, "mse: gradient off by %.3g", worst);
  printf("%-28s max rel err %.2e\n", "mse", worst);
}

/* Bernoulli cross-entropy on logits, against the textbook -x log s - (1-x) log(1-s) in double
 * (where that is finite) and its gradient against central differences; logits up to +-60, where
 * a naive log(sigmoid) overflows in float. */
static double ref_bernoulli(double l, double x) { return fmax(l, 0.0) - l * x + log1p(exp(-fabs(l))); }

static void check_bernoulli(void) {
  const long n = 3000;
  float *l = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n);
  for (long i = 0; i < n; i++) {
    l[i] = (float)(i < 20 ? (i % 2 ? 1 : -1) * 3.0 * i : 4.0 * rng_normal(4, 1, 0, i));
    x[i] = (float)(i % 3 == 0 ? (i % 2) : rng_uniform(4, 2, 0, i)); /* binary and grey targets */
  }
  const float scale = 0.5f;
  double sum = bernoulli_forward_backward(d, l, x, n, scale), ref = 0.0, textbook = 0.0, worst = 0.0;
  for (long i = 0; i < n; i++) {
    ref += ref_bernoulli(l[i], x[i]);
    if (fabs(l[i]) < 20) {
      double s = 1.0 / (1.0 + exp(-(double)l[i]));
      textbook += -x[i] * log(s) - (1 - x[i]) * log(1 - s) - ref_bernoulli(l[i], x[i]);
    }
    double fd = scale * (ref_bernoulli(l[i] + FD_STEP, x[i]) - ref_bernoulli(l[i] - FD_STEP, x[i])) / (2 * FD_STEP);
    worst = fmax(worst, fabs(d[i] - fd) / (1e-2 + fabs(fd)));
  }
  CHECK(fabs(textbook) < 1e-9 * n, "bernoulli: the stable form differs from the textbook one by %g", textbook);
  CHECK(fabs(sum - ref) < 1e-6 * ref, "bernoulli: sum %.9g vs %.9g", sum, ref);
  CHECK(worst < GRAD_TOL, "bernoulli: gradient off by %.3g", worst);
  CHECK(bernoulli_forward_backward(NULL, l, x, n, scale) == sum, "bernoulli: the sum depends on whether d is wanted");
  printf("%-28s sum rel err %.2e, gradient max rel err %.2e\n", "bernoulli on logits", fabs(sum - ref) / ref, worst);
  free(l), free(x), free(d);
}

static void check_init(void) {
  int w[3] = {1000, 200, 80};
  Net a, b;
  float *pa, *pb;
  ParamSet ps;
  int ga, gb;
  paramset_init(&ps);
  net_init_mlp(&a, "a", w, 3, &layer_selu, NULL);
  net_init_mlp(&b, "b", w, 3, &layer_selu, NULL);
  paramset_group(&ps, "ga", &ga), paramset_group(&ps, "gb", &gb);
  net_register(&a, &ps, ga), net_register(&b, &ps, gb);
  paramset_allocate(&ps);
  net_bind(&a, &ps, 1), net_bind(&b, &ps, 1);
  pa = a.params, pb = b.params;
  CHECK(paramset_find(&ps, "a/dense1.bias") >= 0 && ps.tensors[paramset_find(&ps, "a/dense0.weight")].dims[1] == 1000,
        "init: tensors are not registered by name and shape");
  net_init_params(&a, 42, 0);
  net_init_params(&b, 42, 0);
  CHECK(!memcmp(pa, pb, a.nparams * sizeof *pa), "init: same seed gave different parameters");
  net_init_params(&b, 43, 0);
  CHECK(memcmp(pa, pb, a.nparams * sizeof *pa), "init: another seed gave the same parameters");
  const Layer *L = &a.layers[0];
  int lout = (int)shape_size(&L->out);
  double s = 0, s2 = 0, n = (double)shape_size(&L->in) * lout, bmax = 0;
  for (size_t i = 0; i < (size_t)n; i++) s += pa[L->w_off + i], s2 += (double)pa[L->w_off + i] * pa[L->w_off + i];
  for (int o = 0; o < lout; o++) bmax = fmax(bmax, fabs(pa[L->b_off + o]));
  double mean = s / n, sd = sqrt(s2 / n - mean * mean), want = 1.0 / sqrt(1000.0);
  /* 200000 draws: the sample sd is within 0.5% of the true one with overwhelming probability */
  CHECK(fabs(sd / want - 1.0) < 0.01, "init: weight sd %.5f, want 1/sqrt(fan_in) = %.5f", sd, want);
  CHECK(fabs(mean) < 5 * want / sqrt(n), "init: weight mean %.2e is not ~0", mean);
  CHECK(bmax <= want && bmax > 0.8 * want, "init: biases must fill +-1/sqrt(fan_in) = %.4f; max |b| = %.4f", want, bmax);
  printf("%-28s sd %.5f (want %.5f), max |bias| %.5f\n", "kaiming-normal, linear gain", sd, want, bmax);
  net_free(&a), net_free(&b);
  paramset_free(&ps);
}

/* The vectorisable exp/expm1 against libm in double over the ranges the activations see. */
static void check_vmath(void) {
  double worst_exp = 0, worst_expm1 = 0;
  for (int i = 0; i <= 200000; i++) {
    double x = -87.0 + 175.0 * i / 200000.0;
    worst_exp = fmax(worst_exp, fabs(vmath_exp((float)x) - exp((float)x)) / exp((float)x));
    if (x < 20) {
      double want = expm1((float)x);
      worst_expm1 = fmax(worst_expm1, fabs(vmath_expm1((float)x) - want) / fmax(fabs(want), 1e-30));
    }
  }
  for (int i = 1; i <= 1000; i++) { /* the cancellation zone of e^x - 1 */
    double x = (i % 2 ? -1.0 : 1.0) * 1e-6 * i;
    worst_expm1 = fmax(worst_expm1, fabs(vmath_expm1((float)x) - expm1((float)x)) / fabs(expm1((float)x)));
  }
  CHECK(worst_exp < 5e-7 && worst_expm1 < 5e-7, "vmath: exp rel err %.2e, expm1 rel err %.2e", worst_exp, worst_expm1);
  printf("%-28s exp %.2e  expm1 %.2e (max relative error vs libm)\n", "vmath", worst_exp, worst_expm1);
}

int main(void) {
  Net net;
  check_vmath();
  int dense_w[2] = {7, 5};
  net_init_mlp(&net, "dense", dense_w, 2, NULL, NULL);
  fd_check("dense 7->5", &net, 6, 0.0, 11);
  const LayerOps *acts[] = {&layer_selu, &layer_relu, &layer_sigmoid, &layer_tanh, &layer_identity, &layer_leaky_relu};
  for (int i = 0; i < 6; i++) {
    single_layer(acts[i], 9, &net);
    fd_check(acts[i]->kind, &net, 4, 1e-2, 12 + i);
  }
  int mlp_w[5] = {12, 9, 7, 5, 3};
  net_init_mlp(&net, "mlp selu/sigmoid", mlp_w, 5, &layer_selu, &layer_sigmoid);
  fd_check("mlp 12-9-7-5-3 selu,sigmoid", &net, 8, 0.0, 20);
  net_init_mlp(&net, "mlp tanh/linear", mlp_w, 5, &layer_tanh, NULL);
  fd_check("mlp 12-9-7-5-3 tanh,linear", &net, 8, 0.0, 21);
  net_init_mlp(&net, "mlp leaky_relu/linear", mlp_w, 5, &layer_leaky_relu, NULL); /* FactorVAE's discriminator */
  fd_check("mlp 12-9-7-5-3 leaky_relu,linear", &net, 8, 0.0, 25);
  check_injection();
  conv_relu_convt(&net, "convnet");
  fd_check("conv-relu-convT [2,6,5]", &net, 3, 0.0, 22);
  conv_autoencoder(&net, "convae");
  fd_check("reshape-conv-dense-convT", &net, 2, 0.0, 23);
  conv_odd_geometry(&net, "odd");
  fd_check("conv s1 p2, convT s3 op2", &net, 2, 0.0, 24);
  conv_relu_convt(&net, "convnet");
  check_injection_at(&net, "conv2d0", 3, 32);
  conv_autoencoder(&net, "convae");
  check_injection_at(&net, "conv2d0", 2, 33);
  conv_autoencoder(&net, "convae");
  check_injection_at(&net, "reshape2", 2, 34);
  check_mse();
  check_bernoulli();
  check_init();
  check_conv_init();
  if (test_failures) printf("FAILED: %d check(s)\n", test_failures);
  else printf("PASS\n");
  return test_failures ? 1 : 0;
}
