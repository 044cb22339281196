/* A head sits between the encoder and the decoder: it turns the encoder's output (the code) into
 * the latents z the decoder reads, and carries their gradient back (DESIGN.md "Heads").
 *   sigmoid, identity: deterministic, z = act(code), one code value per latent;
 *   gaussian: code = [mu | log sigma^2] (2 m values a row), z = mu + exp(log sigma^2 / 2) eps in
 *             training, z = mu when encoding; eps ~ N(0, 1) is drawn from (seed, step, GLOBAL row,
 *             latent), so a 1-rank and a P-rank run draw the same noise for the same batch.
 * Terms that need the posterior's parameters (KL, total correlation) read them from the code
 * and add their gradient at the code (SITE_CODE). */
#ifndef DISENTANGLE_HEAD_H
#define DISENTANGLE_HEAD_H

#include <petscsys.h>
#include <stdint.h>

typedef struct Head Head;

typedef struct {
  const char *name;
  int code_per_latent; /* code values per latent */
  int stochastic;      /* training draws noise */
  /* Training: z[n][m] from code[n][code width], rows row0.. of the global batch of step. */
  void (*forward)(Head *h, const float *code, int n, float *z);
  /* dcode (overwritten) from dz, for the rows of the last forward. */
  void (*backward)(Head *h, const float *code, const float *z, const float *dz, int n, float *dcode);
  /* Encoding, no noise: the posterior's mean (or the deterministic z). */
  void (*encode)(const Head *h, const float *code, int n, float *z);
  /* A head that also maps the latents back to the decoder's input (St-RKM: U h in feature
   * space): y[n][dec_width] from z; NULL: the decoder reads z. Its backward OVERWRITES dz from
   * dy and accumulates the gradients of the head's own tensors (through ctx). */
  void (*lift)(const Head *h, const float *z, int n, float *y);
  void (*lift_backward)(Head *h, const float *z, const float *dy, int n, float *dz);
} HeadOps;

struct Head {
  const HeadOps *ops;
  int latents, max_batch;
  uint64_t seed;
  int64_t step, row0; /* noise coordinates of the rows now forwarded: the step, the global row of row 0 */
  float *eps;         /* [max_batch][latents], gaussian */
  int code_width;     /* the encoder's output and, with a lift, the decoder's input; 0: the
                       * ops' code_per_latent * latents (and the decoder reads the latents) */
  void *ctx;          /* the method's, for heads that read its trained tensors (St-RKM's U) */
};

extern const HeadOps head_sigmoid, head_identity, head_gaussian;

/* The head called `name` (sigmoid | identity | gaussian), or NULL. */
const HeadOps *head_find(const char *name);

/* width: the code width when the method fixes it (St-RKM's feature width), 0: the ops'. */
PetscErrorCode head_create(Head *h, const HeadOps *ops, int latents, int width, int max_batch, uint64_t seed);
void head_free(Head *h);
static inline int head_code_width(const Head *h) { return h->code_width ? h->code_width : h->latents * h->ops->code_per_latent; }
/* Values per row the decoder reads: the lift's output, or the latents. */
static inline int head_decoder_width(const Head *h) { return h->ops->lift ? head_code_width(h) : h->latents; }
/* The code is a diagonal Gaussian posterior [mu | log sigma^2] per sample (the Gaussian head's, and
 * ML-VAE's, whose encoding is the same mean): per-latent KLs of q(z|x) can be read from it. */
static inline int head_code_is_gaussian(const HeadOps *ops) { return ops->stochastic && ops->code_per_latent == 2; }
/* Where the noise of the next forward comes from. */
static inline void head_set_rows(Head *h, int64_t step, int64_t row0) { h->step = step, h->row0 = row0; }

#endif
