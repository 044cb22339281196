/* What a model will cost before it is created: `-latents 4096` or `-hidden 1000000` used to
 * allocate and initialise for minutes in silence and then die, or not. Estimated from the
 * options (the MLP autoencoder, and NashAE's regressors, which dominate at many latents), then
 * refused when the node cannot hold it, or announced when it is large. An estimate: a method's
 * other nets and the convolutional -arch nets (a few MB) are not counted.
 * The right home of the method's part would be a MethodOps hook next to create(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/log.h"
#include "disentangle/run.h"

#define MAX_WIDTHS 64

typedef struct {
  double params; /* trainable floats */
  double acts;   /* floats of activations and scratch, batch rows */
} NetCost;

/* An MLP of widths w[0..n-1] bound for `batch` rows (net_bind): dense weights and biases; the
 * dense outputs (activations run in place) and two scratch blocks of the widest layer. */
static NetCost mlp_cost(const int *w, int n, double batch) {
  NetCost c = {0, 0};
  double widest = w[0], outs = 0;
  for (int i = 0; i + 1 < n; i++) {
    c.params += (double)w[i] * w[i + 1] + w[i + 1];
    outs += w[i + 1], widest = PetscMax(widest, (double)w[i + 1]);
  }
  c.acts = batch * (outs + 2 * widest);
  return c;
}

/* Widths from a "-hidden"-like list, without its input errors (the method's own parsing gives
 * those): 0 widths when the text is not a plain list. */
static int parse_widths(const char *text, int *w, int max) {
  int n = 0;
  for (const char *p = text; *p && n < max;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 1000000 || (*end && *end != ',')) return 0;
    w[n++] = (int)v;
    p = *end ? end + 1 : end;
  }
  return n;
}

static void human_count(double n, char *buf, size_t len) {
  if (n >= 1e9) snprintf(buf, len, "%.3g G", n / 1e9);
  else if (n >= 1e6) snprintf(buf, len, "%.3g M", n / 1e6);
  else snprintf(buf, len, "%.0f", n);
}

PetscErrorCode run_check_model_cost(MPI_Comm comm, const Config *cfg, const MethodOps *ops, const void *opts, int features) {
  PetscFunctionBeginUser;
  const double batch = (double)cfg->batch; /* every net is bound for the global batch */
  const int m = (int)cfg->latents;
  int w[MAX_WIDTHS + 2], nh = 0;
  NetCost ae = {0, 0}, adv = {0, 0};
  if (!strcmp(cfg->arch, "mlp") && (nh = parse_widths(cfg->hidden, w + 1, MAX_WIDTHS)) > 0) {
    w[0] = features, w[nh + 1] = m;
    ae = mlp_cost(w, nh + 2, batch); /* the decoder mirrors the encoder: the same count */
    ae.params *= 2, ae.acts = 2 * ae.acts + batch * ((double)m + features);
  }
  if (!strcmp(ops->name, "nashae")) { /* m regressors [m, -nashae_reg_hidden..., 1] */
    char *text, reg[256] = "";
    PetscCall(options_format(ops->options, ops->noptions, opts, &text));
    ckpt_option(text, "-nashae_reg_hidden", reg, sizeof reg);
    PetscCall(PetscFree(text));
    int r[MAX_WIDTHS + 2], nr = parse_widths(reg, r + 1, MAX_WIDTHS);
    if (nr > 0) {
      r[0] = m, r[nr + 1] = 1;
      NetCost one = mlp_cost(r, nr + 2, batch);
      adv.params = one.params * m, adv.acts = one.acts * m + 5.0 * batch * m;
    }
  }
  /* a parameter comes with its gradient and Adam's two moments; NashAE shares its regressors
   * through one more block as large */
  double param_bytes = 16.0 * ae.params + 20.0 * adv.params, act_bytes = 4.0 * (ae.acts + adv.acts);
  double need = param_bytes + act_bytes, params = ae.params + adv.params, have;
  int on_node;
  PetscCall(node_memory(comm, &have, &on_node));
  char count[32];
  human_count(params, count, sizeof count);
  if (have > 0 && need * on_node > 0.9 * have) {
    const char *help = act_bytes > param_bytes                          ? "a smaller -batch"
                       : adv.params > ae.params && !strcmp(ops->name, "nashae") ? "fewer -latents or a smaller -nashae_reg_hidden"
                                                                         : "smaller -hidden widths (or fewer -latents)";
    DT_INPUT_ERROR(comm,
                   "model: %s with -latents %d, -hidden %s, -batch %d needs about %.3g GB per rank (%s parameters with "
                   "their gradients and Adam state %.3g GB, activations %.3g GB), %.3g GB for the %d rank(s) on this node, "
                   "and %.3g GB are available; use %s%s",
                   ops->name, m, cfg->hidden, (int)cfg->batch, need / 1e9, count, param_bytes / 1e9, act_bytes / 1e9,
                   need * on_node / 1e9, on_node, have / 1e9, help, on_node > 1 ? ", or fewer ranks per node" : "");
  }
  /* the random initialisation takes about 0.4 us a parameter: say so when it takes seconds */
  if (need > 256e6 || params > 10e6)
    log_info(comm, "initialising %s parameters, about %.3g GB per rank with gradients, optimizer state and activations "
             "(set-up roughly %.0f s)...", count, need / 1e9, 0.4e-6 * params + 0.5);
  PetscFunctionReturn(0);
}
