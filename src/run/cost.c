/* What a model will cost before it is created: `-latents 4096` or `-hidden 1000000` used to
 * allocate and initialise for minutes in silence and then die, or not. Estimated from the
 * options (the MLP autoencoder, and the method's own nets through MethodOps.cost: NashAE's
 * regressors, which dominate at many latents, FactorVAE's discriminator), then refused when the
 * node cannot hold it, or announced when it is large. An estimate: the convolutional -arch nets
 * (a few MB) are not counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/error.h"
#include "disentangle/log.h"
#include "disentangle/run.h"

#define MAX_WIDTHS 64

typedef struct {
  double params; /* trainable floats */
  double acts;   /* floats of activations, scratch and other buffers, batch rows */
} NetCost;

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
  if (!strcmp(cfg->arch, "mlp") && (nh = net_parse_widths(cfg->hidden, w + 1, MAX_WIDTHS)) > 0) {
    w[0] = features, w[nh + 1] = m;
    net_mlp_cost(w, nh + 2, batch, &ae.params, &ae.acts); /* the decoder mirrors the encoder: the same count */
    ae.params *= 2, ae.acts = 2 * ae.acts + batch * ((double)m + features);
  }
  const char *shrink = NULL;
  if (ops->cost) ops->cost(cfg, opts, &adv.params, &adv.acts, &shrink);
  /* a parameter comes with its gradient and Adam's two moments */
  double param_bytes = 16.0 * (ae.params + adv.params), act_bytes = 4.0 * (ae.acts + adv.acts);
  double need = param_bytes + act_bytes, params = ae.params + adv.params, have;
  int on_node;
  PetscCall(node_memory(comm, &have, &on_node));
  char count[32];
  human_count(params, count, sizeof count);
  if (have > 0 && need * on_node > 0.9 * have) {
    /* the option of the part that costs most: the method's own nets, else the batch or the widths */
    const char *help = shrink && 16.0 * adv.params + 4.0 * adv.acts > 16.0 * ae.params + 4.0 * ae.acts ? shrink
                       : act_bytes > param_bytes ? "a smaller -batch"
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
