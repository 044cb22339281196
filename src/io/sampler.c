/* Samplers: which global sample each row of each global batch is (archive.h). All are pure
 * functions of (seed, step, row) and the archive (its size; its groups), so ranks agree without
 * talking and a restart needs nothing but the step. */
#include "archive_impl.h"
#include "disentangle/error.h"
#include "disentangle/rng.h"

#include <inttypes.h>
#include <stdio.h>
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
  /* grouped */
  int64_t ntrain;             /* training groups (not held out) */
  int64_t *train;             /* [ntrain] their places in the archive's group list */
  int64_t *perm;              /* [ntrain] identity between steps: the draw's partial shuffle is undone */
  int64_t *swapped;           /* [groups per batch] where each slot's swap went */
  int64_t *chosen;            /* [group_size] one group's members drawn */
  int64_t step;               /* whose rows `rows` holds; -1 none */
  int64_t *rows;              /* [global_batch] */
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

int sampler_group_held_out(uint64_t seed, int64_t group_id, double share) {
  return rng_uniform(seed, RNG_STREAM_GROUP_HOLDOUT, (uint64_t)group_id, 0) < share;
}

int64_t sampler_groups_held_out(const Archive *a, uint64_t seed, double share) {
  int64_t held = 0;
  for (int64_t g = 0; g < a->ngroups; g++) held += sampler_group_held_out(seed, a->group_ids[g], share);
  return held;
}

PetscErrorCode sampler_init_grouped(Sampler *s, const Archive *a, uint64_t seed, int64_t step, int global_batch,
                                    int group_size, double holdout) {
  PetscFunctionBeginUser;
  MPI_Comm comm = a->comm;
  DT_INPUT_CHECK(a->groups, comm,
                 "archive '%s': no dataset /groups; -sampler grouped needs the samples' group ids there (int64 [N])",
                 a->paths[0]);
  DT_INPUT_CHECK(group_size >= 1 && global_batch % group_size == 0, comm,
                 "option -batch: %d is not a multiple of -group_size %d; a batch is whole groups of -group_size samples",
                 global_batch, group_size);
  DT_INPUT_CHECK(!a->io.skip_bad, comm,
                 "option -on_bad_record: skip cannot go with -sampler grouped (a skipped sample's stand-in would be of "
                 "another group); give -on_bad_record fail");
  const int G = global_batch / group_size;
  const int64_t held = sampler_groups_held_out(a, seed, holdout);
  char share[32]; /* formatted here: PETSc's own %g would print "0." for 0 */
  snprintf(share, sizeof share, "%g", holdout);
  DT_INPUT_CHECK(a->ngroups - held >= G, comm,
                 "archive '%s'%s: dataset /groups has %" PRId64 " groups, %" PRId64 " of them held out (-holdout_groups "
                 "%s), which leaves %" PRId64 " for training; a batch needs %d (-batch %d / -group_size %d)",
                 a->paths[0], a->nfiles > 1 ? " and the others" : "", a->ngroups, held, share, a->ngroups - held, G,
                 global_batch, group_size);
  sampler_init(s, SAMPLER_GROUPED, seed, step, global_batch, a->n);
  s->group_size = group_size, s->group_start = a->group_start, s->group_members = a->group_members;
  SamplerCache *c;
  PetscCall(PetscCalloc1(1, &c));
  c->ntrain = a->ngroups - held, c->step = -1, c->epoch = -1, c->win = -1;
  PetscCall(PetscMalloc5(c->ntrain, &c->train, c->ntrain, &c->perm, G, &c->swapped, group_size, &c->chosen, global_batch,
                         &c->rows));
  for (int64_t g = 0, t = 0; g < a->ngroups; g++)
    if (!sampler_group_held_out(seed, a->group_ids[g], holdout)) c->train[t++] = g;
  for (int64_t t = 0; t < c->ntrain; t++) c->perm[t] = t;
  s->cache = c;
  PetscFunctionReturn(0);
}

void sampler_free(Sampler *s) {
  if (!s->cache) return;
  (void)PetscFree(s->cache->order);
  (void)PetscFree(s->cache->samples);
  if (s->kind == SAMPLER_GROUPED) (void)PetscFree5(s->cache->train, s->cache->perm, s->cache->swapped, s->cache->chosen, s->cache->rows);
  (void)PetscFree(s->cache);
}

/* The rows of the batch of `step`: G distinct training groups by a partial Fisher-Yates shuffle
 * (each swap from (seed, step, slot), undone afterwards so the next step starts from the
 * identity again), then S members of each: Floyd's algorithm (S distinct from S draws, each from
 * (seed, step, row)) when the group has >= S members, else S draws with replacement. */
static void load_step(const Sampler *s, int64_t step) {
  SamplerCache *c = s->cache;
  const int S = s->group_size, G = s->global_batch / S;
  for (int k = 0; k < G; k++) {
    int64_t r = k + (int64_t)rng_below(s->seed, RNG_STREAM_GROUP_DRAW, (uint64_t)step, (uint64_t)k, (uint64_t)(c->ntrain - k));
    int64_t t = c->perm[k];
    c->perm[k] = c->perm[r], c->perm[r] = t, c->swapped[k] = r;
  }
  for (int k = 0; k < G; k++) {
    int64_t g = c->train[c->perm[k]], first = s->group_start[g], m = s->group_start[g + 1] - first;
    int64_t *rows = c->rows + (size_t)k * S;
    if (m < S) {
      for (int i = 0; i < S; i++)
        rows[i] = s->group_members[first + (int64_t)rng_below(s->seed, RNG_STREAM_GROUP_MEMBER, (uint64_t)step,
                                                              (uint64_t)k * S + i, (uint64_t)m)];
      continue;
    }
    for (int i = 0; i < S; i++) { /* Floyd: t runs over m - S .. m - 1 */
      int64_t t = m - S + i, r = (int64_t)rng_below(s->seed, RNG_STREAM_GROUP_MEMBER, (uint64_t)step, (uint64_t)k * S + i,
                                                  (uint64_t)t + 1);
      for (int q = 0; q < i; q++)
        if (c->chosen[q] == r) { r = t; break; }
      c->chosen[i] = r;
    }
    for (int i = 0; i < S; i++) rows[i] = s->group_members[first + c->chosen[i]];
  }
  for (int k = G - 1; k >= 0; k--) { /* undo, last swap first */
    int64_t r = c->swapped[k], t = c->perm[k];
    c->perm[k] = c->perm[r], c->perm[r] = t;
  }
  c->step = step;
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
  if (s->kind == SAMPLER_GROUPED) {
    if (c->step != s->step) load_step(s, s->step);
    return c->rows[j];
  }
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
