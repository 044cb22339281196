/* Samplers: which global sample each row of each global batch is (archive.h). Both are pure
 * functions of (seed, step, row) and the archive's size, so ranks agree without talking and a
 * restart needs nothing but the step. */
#include "disentangle/archive.h"
#include "disentangle/rng.h"

#include <stdlib.h>

/* The epoch sampler's working memory: one epoch's chunk order and one window's samples,
 * recomputed when a position leaves them. Mutable behind a const Sampler: a cache. */
struct SamplerCache {
  int64_t nchunks, last_size; /* chunks of the archive; samples in the last (short) one */
  int64_t epoch;              /* whose order `order` holds; -1 none */
  int64_t *order;             /* [nchunks] chunk at each slot */
  int64_t short_slot;         /* slot of the last chunk in `order` */
  int64_t win;                /* window held in `samples`; -1 none */
  int64_t win_first, win_len; /* its first position in the epoch, its samples */
  int64_t *samples;           /* [window * chunk] */
};

void sampler_init(Sampler *s, SamplerKind kind, uint64_t seed, int64_t step, int global_batch, int64_t n) {
  *s = (Sampler){.kind = kind, .seed = seed, .step = step, .global_batch = global_batch, .n = n};
}

PetscErrorCode sampler_init_epoch(Sampler *s, uint64_t seed, int64_t step, int global_batch, int64_t n, int64_t chunk,
                                  int64_t window) {
  PetscFunctionBeginUser;
  sampler_init(s, SAMPLER_EPOCH, seed, step, global_batch, n);
  s->chunk = chunk < 1 ? 1 : chunk > n ? n : chunk;
  s->window = window < 1 ? 1 : window;
  SamplerCache *c;
  PetscCall(PetscCalloc1(1, &c));
  c->nchunks = (n + s->chunk - 1) / s->chunk;
  c->last_size = n - (c->nchunks - 1) * s->chunk;
  if (s->window > c->nchunks) s->window = c->nchunks;
  c->epoch = -1, c->win = -1;
  PetscCall(PetscMalloc1(c->nchunks, &c->order));
  PetscCall(PetscMalloc1(s->window * s->chunk, &c->samples));
  s->cache = c;
  PetscFunctionReturn(0);
}

void sampler_free(Sampler *s) {
  if (!s->cache) return;
  (void)PetscFree(s->cache->order);
  (void)PetscFree(s->cache->samples);
  (void)PetscFree(s->cache);
}

/* Position in the epoch where slot k starts: every chunk is full but the last. */
static int64_t slot_start(const Sampler *s, int64_t k) {
  const SamplerCache *c = s->cache;
  return k * s->chunk - (k > c->short_slot ? s->chunk - c->last_size : 0);
}

static void load_epoch(const Sampler *s, int64_t e) {
  SamplerCache *c = s->cache;
  for (int64_t i = 0; i < c->nchunks; i++) c->order[i] = i;
  for (int64_t i = c->nchunks - 1; i > 0; i--) { /* Fisher-Yates, each swap from (seed, e, i) */
    int64_t j = (int64_t)rng_below(s->seed, RNG_STREAM_EPOCH, (uint64_t)e, (uint64_t)i, (uint64_t)i + 1);
    int64_t t = c->order[i];
    c->order[i] = c->order[j], c->order[j] = t;
  }
  for (int64_t i = 0; i < c->nchunks; i++)
    if (c->order[i] == c->nchunks - 1) c->short_slot = i;
  c->epoch = e, c->win = -1;
}

static void load_window(const Sampler *s, int64_t w) {
  SamplerCache *c = s->cache;
  int64_t first = w * s->window, end = first + s->window < c->nchunks ? first + s->window : c->nchunks, m = 0;
  for (int64_t k = first; k < end; k++) {
    int64_t lo = c->order[k] * s->chunk, hi = lo + s->chunk < s->n ? lo + s->chunk : s->n;
    for (int64_t i = lo; i < hi; i++) c->samples[m++] = i;
  }
  for (int64_t i = m - 1; i > 0; i--) {
    uint64_t b = ((uint64_t)w << 32) | (uint64_t)i;
    int64_t j = (int64_t)rng_below(s->seed, RNG_STREAM_EPOCH, (uint64_t)c->epoch, b, (uint64_t)i + 1);
    int64_t t = c->samples[i];
    c->samples[i] = c->samples[j], c->samples[j] = t;
  }
  c->win = w, c->win_first = slot_start(s, first), c->win_len = m;
}

int64_t sampler_index(const Sampler *s, int j) {
  if (s->kind == SAMPLER_IID)
    return (int64_t)rng_below(s->seed, RNG_STREAM_BATCH, (uint64_t)s->step, (uint64_t)j, (uint64_t)s->n);
  const SamplerCache *c = s->cache;
  int64_t p = s->step * s->global_batch + j, e = p / s->n, q = p % s->n;
  if (c->epoch != e) load_epoch(s, e);
  if (c->win < 0 || q < c->win_first || q >= c->win_first + c->win_len) {
    int64_t k = q / s->chunk; /* the slot holding q: slot_start is k * chunk or up to one chunk less */
    while (k + 1 < c->nchunks && slot_start(s, k + 1) <= q) k++;
    while (k > 0 && slot_start(s, k) > q) k--;
    load_window(s, k / s->window);
  }
  return c->samples[q - c->win_first];
}

void sampler_cursor(const Sampler *s, int64_t *epoch, int64_t *sample_in_epoch) {
  int64_t p = s->step * s->global_batch;
  *epoch = p / s->n, *sample_in_epoch = p % s->n;
}
