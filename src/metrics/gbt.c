/* Gradient-boosted classification trees as scikit-learn's GradientBoostingClassifier() (see
 * gbt.h for what is reproduced and where it differs).
 *
 * Trees are grown level by level rather than node by node: every feature is sorted once per fit,
 * and at each depth one pass over each sorted feature updates the running left-hand sums of
 * whichever node each sample sits in. That finds, for every node of the level, the same best
 * split a per-node sort would, at a cost of O(depth * m * n) per tree without any re-sorting.
 * The trees of one stage (one per class) only depend on the gradient at the start of the stage,
 * so they are grown together: the pass serves all of them, which also keeps it busy (their sums
 * are independent chains). Without max_leaf_nodes, scikit-learn's depth-first builder makes
 * the same trees as this breadth-first one. */
#include "disentangle/gbt.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disentangle/rng.h"

enum { GBT_MAX_DEPTH = 16 };
#define FEATURE_THRESHOLD 1e-7 /* sklearn/tree/_splitter.pyx: closer values are never split apart */
#define NODE_PURE DBL_EPSILON  /* sklearn/tree/_tree.pyx EPSILON: a node this pure is a leaf */

struct Gbt {
  int m, n_classes, n_scores, n_stages, n_nodes; /* n_scores trees per stage, n_nodes per tree */
  double learning_rate;
  int *classes;       /* [n_classes] the training labels, increasing */
  double *init;       /* [n_scores] initial raw score */
  int *feature;       /* [n_stages][n_scores][n_nodes]: split feature, -1 leaf, -2 no such node */
  double *threshold;  /* split: x <= threshold goes left (child 2i+1), else right (2i+2) */
  double *value;      /* leaf value (already the Newton step, before the learning rate) */
  double *importance; /* [m] normalised */
};

/* Samples, sums of the residual and of its square, and the variance of one node. */
typedef struct {
  int count;
  double sum, sumsq, impurity;
} NodeStats;

/* Running state of the scan of one node over one feature, and the best split found so far. */
typedef struct {
  int active, count_left;
  double sum_left;
  float last; /* value of the latest sample of this node in sorted order */
  int best_feature;
  double best_proxy, best_threshold;
} NodeScan;

/* Everything one fit works on. The n_scores trees of a stage are grown together, level by level:
 * one pass over a sorted feature serves every node of every tree of the stage. */
typedef struct {
  const GbtParams *p;
  int n, m, n_classes, n_scores, n_nodes, width; /* width: nodes of the deepest split level */
  float *sorted_val;    /* [m][n] each feature's values in increasing order */
  int *sorted_idx;      /* [m][n] the samples in that order */
  float *xf;            /* [n][m] features as float32, as scikit-learn's trees see them */
  int *cls;             /* [n] class index */
  double *raw;          /* [n][n_scores] F */
  double *prob;         /* [n][n_scores] probabilities at the start of the stage */
  double *residual;     /* [n][n_scores] negative gradient of each tree of the stage */
  int *node_of;         /* [n][n_scores] node each sample is in, in each tree */
  NodeStats *stats;     /* [n_scores][n_nodes] */
  NodeScan *scan;       /* [n_scores][width] nodes of one level */
  uint64_t *order_key;  /* [n_scores][width][m] random visiting rank of each feature */
  double *sum_imp;      /* [m] unnormalised importances summed over trees */
  double *leaf_num, *leaf_den; /* [n_scores][n_nodes] Newton step parts */
} Fit;

GbtParams gbt_default_params(void) {
  GbtParams p = {.n_estimators = 100,
                 .learning_rate = 0.1,
                 .max_depth = 3,
                 .min_samples_split = 2,
                 .min_samples_leaf = 1,
                 .seed = 0,
                 .stream = GBT_RNG_STREAM};
  return p;
}

/* ---- data preparation ------------------------------------------------------------------ */

typedef struct {
  float v;
  int i;
} ValIdx;

static int cmp_validx(const void *a, const void *b) {
  const ValIdx *x = a, *y = b;
  if (x->v != y->v) return x->v < y->v ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i); /* deterministic order among equal values */
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The distinct labels, increasing, and each sample's index among them. */
static int encode_classes(const int *y, int n, int **classes, int *n_classes, int *cls) {
  int *sorted = malloc(sizeof(int) * n);
  if (!sorted) return -1;
  memcpy(sorted, y, sizeof(int) * n);
  qsort(sorted, n, sizeof(int), cmp_int);
  int k = 0;
  for (int i = 0; i < n; i++)
    if (i == 0 || sorted[i] != sorted[i - 1]) sorted[k++] = sorted[i];
  for (int i = 0; i < n; i++) {
    int lo = 0, hi = k - 1;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (sorted[mid] < y[i]) lo = mid + 1;
      else hi = mid;
    }
    cls[i] = lo;
  }
  *classes = realloc(sorted, sizeof(int) * k);
  if (!*classes) *classes = sorted;
  *n_classes = k;
  return 0;
}

/* float32 copy and per-feature sort order; -1 for a value that is not finite in float32
 * (scikit-learn refuses those too). */
static int prepare_features(Fit *f, const double *x) {
  int n = f->n, m = f->m;
  ValIdx *col = malloc(sizeof *col * n);
  if (!col) return -1;
  for (size_t e = 0; e < (size_t)n * m; e++) {
    if (!isfinite(x[e]) || fabs(x[e]) > FLT_MAX) {
      free(col);
      return -1;
    }
    f->xf[e] = (float)x[e];
  }
  for (int j = 0; j < m; j++) {
    for (int i = 0; i < n; i++) col[i].v = f->xf[(size_t)i * m + j], col[i].i = i;
    qsort(col, n, sizeof *col, cmp_validx);
    for (int r = 0; r < n; r++)
      f->sorted_val[(size_t)j * n + r] = col[r].v, f->sorted_idx[(size_t)j * n + r] = col[r].i;
  }
  free(col);
  return 0;
}

/* ---- growing the trees of one stage on f->residual ------------------------------------------ */

static double variance(int count, double sum, double sumsq) {
  double mean = sum / count;
  return sumsq / count - mean * mean; /* scikit-learn's MSE node_impurity, same formula */
}

static int splittable(const Fit *f, const NodeStats *s) {
  return s->count >= f->p->min_samples_split && s->count >= 2 * f->p->min_samples_leaf &&
         s->impurity > NODE_PURE;
}

/* A split of node scan s before a sample of value v (its predecessor in the node: s->last). */
static inline void consider_split(const Fit *f, NodeScan *s, const NodeStats *node, const uint64_t *key, int feat,
                                  float v) {
  int nl = s->count_left, nr = node->count - nl;
  if (nl < f->p->min_samples_leaf || nr < f->p->min_samples_leaf) return;
  /* friedman_mse proxy: (n_r s_l - n_l s_r)^2 / (n_l n_r) = n_l n_r (mean_l - mean_r)^2 */
  double diff = (double)nr * s->sum_left - (double)nl * (node->sum - s->sum_left), pairs = (double)nl * (double)nr;
  if (diff * diff < s->best_proxy * pairs * (1.0 - 1e-12)) return; /* clearly worse: skip the division */
  double proxy = diff * diff / pairs;
  /* scikit-learn keeps the first of equal splits in its random feature order: emulate it with
   * a random key per feature (smaller key = visited earlier); within a feature, the first. */
  int better = proxy > s->best_proxy || (proxy == s->best_proxy && s->best_feature >= 0 && feat != s->best_feature &&
                                         key[feat] < key[s->best_feature]);
  if (!better) return;
  double thr = (double)s->last / 2.0 + (double)v / 2.0; /* halves: no overflow */
  if (thr == (double)v) thr = s->last;                   /* midpoint rounded up onto v */
  s->best_proxy = proxy, s->best_feature = feat, s->best_threshold = thr;
}

/* One pass over each sorted feature finds the best split of every active node of the level, in
 * every tree of the stage (their running sums interleave, which keeps the pass busy). */
static void scan_level(Fit *f, int first, int width) {
  const int n = f->n, m = f->m, T = f->n_scores, W = f->width, nn = f->n_nodes;
  for (int feat = 0; feat < m; feat++) {
    for (int t = 0; t < T * W; t++) f->scan[t].count_left = 0, f->scan[t].sum_left = 0.0;
    const float *val = f->sorted_val + (size_t)feat * n;
    const int *idx = f->sorted_idx + (size_t)feat * n;
    for (int r = 0; r < n; r++) {
      const int i = idx[r];
      const float v = val[r];
      const int *node = f->node_of + (size_t)i * T;
      const double *g = f->residual + (size_t)i * T;
      for (int k = 0; k < T; k++) {
        int w = node[k] - first;
        if (w < 0 || w >= width) continue; /* in a leaf above this level */
        NodeScan *s = &f->scan[k * W + w];
        if (!s->active) continue;
        if (s->count_left > 0 && (double)v > (double)s->last + FEATURE_THRESHOLD)
          consider_split(f, s, &f->stats[k * nn + first + w], f->order_key + ((size_t)k * W + w) * m, feat, v);
        s->count_left++, s->sum_left += g[k], s->last = v;
      }
    }
  }
}

/* Move the samples of every candidate split into its children, summing the children's counts
 * and residuals over their samples (as scikit-learn's children_impurity does). */
static void descend(Fit *f, int first, int width) {
  const int T = f->n_scores, nn = f->n_nodes;
  for (int k = 0; k < T; k++) memset(&f->stats[k * nn + 2 * first + 1], 0, 2 * width * sizeof(NodeStats));
  for (int i = 0; i < f->n; i++)
    for (int k = 0; k < T; k++) {
      int *node = &f->node_of[(size_t)i * T + k], w = *node - first;
      if (w < 0 || w >= width) continue;
      const NodeScan *s = &f->scan[k * f->width + w];
      if (!s->active || s->best_feature < 0) continue;
      *node = 2 * *node + 1 + (f->xf[(size_t)i * f->m + s->best_feature] > s->best_threshold);
      NodeStats *c = &f->stats[k * nn + *node];
      double g = f->residual[(size_t)i * T + k];
      c->count++, c->sum += g, c->sumsq += g * g;
    }
}

/* Back into their parent, the samples of children whose split was refused. */
static void ascend(Fit *f, int first, int width, const int *feature) {
  const int T = f->n_scores;
  for (int i = 0; i < f->n; i++)
    for (int k = 0; k < T; k++) {
      int *node = &f->node_of[(size_t)i * T + k], parent = (*node - 1) / 2;
      if (parent >= first && parent < first + width && feature[k * f->n_nodes + *node] == -2) *node = parent;
    }
}

/* Make the candidate splits (scikit-learn drops one whose improvement + EPSILON < 0) and book
 * their weighted variance decrease as importance: compute_feature_importances(normalize=False).
 * Returns how many were refused. */
static int commit_splits(Fit *f, int first, int width, int *feature, double *threshold) {
  const int T = f->n_scores, nn = f->n_nodes;
  int refused = 0;
  for (int k = 0; k < T; k++)
    for (int w = 0; w < width; w++) {
      NodeScan *s = &f->scan[k * f->width + w];
      if (!s->active || s->best_feature < 0) continue;
      int node = first + w, at = k * nn;
      NodeStats *p = &f->stats[at + node], *l = &f->stats[at + 2 * node + 1], *r = l + 1;
      l->impurity = variance(l->count, l->sum, l->sumsq), r->impurity = variance(r->count, r->sum, r->sumsq);
      double decrease = p->count * p->impurity - l->count * l->impurity - r->count * r->impurity;
      if (decrease / f->n + NODE_PURE < 0.0) {
        refused++; /* stays a leaf; its children stay absent (-2) */
        continue;
      }
      feature[at + node] = s->best_feature, threshold[at + node] = s->best_threshold;
      feature[at + 2 * node + 1] = feature[at + 2 * node + 2] = -1;
      f->sum_imp[s->best_feature] += decrease / f->n;
    }
  return refused;
}

/* Prepare the scans of tree k's nodes of the level; returns how many can be split. */
static int open_level(Fit *f, int k, int first, int width, const int *feature, uint64_t tree_id) {
  int active = 0;
  for (int w = 0; w < width; w++) {
    NodeScan *s = &f->scan[k * f->width + w];
    s->active = feature[first + w] == -1 && splittable(f, &f->stats[k * f->n_nodes + first + w]);
    s->best_proxy = -INFINITY, s->best_feature = -1;
    if (!s->active) continue;
    active++;
    for (int j = 0; j < f->m; j++) {
      uint32_t out[4];
      rng_block(f->p->seed, f->p->stream, tree_id, (uint64_t)(first + w) * f->m + j, out);
      f->order_key[((size_t)k * f->width + w) * f->m + j] = (uint64_t)out[0] << 32 | out[1];
    }
  }
  return active;
}

/* Grow the stage's trees (tree k: feature/threshold + k * n_nodes) on f->residual, at most
 * max_depth levels; leaves f->node_of at the leaves. */
static void grow_stage(Fit *f, int stage, int *feature, double *threshold) {
  const int n = f->n, T = f->n_scores, nn = f->n_nodes;
  for (int t = 0; t < T * nn; t++) feature[t] = -2, threshold[t] = 0.0;
  for (int k = 0; k < T; k++) {
    NodeStats root = {n, 0.0, 0.0, 0.0};
    for (int i = 0; i < n; i++) {
      double g = f->residual[(size_t)i * T + k];
      root.sum += g, root.sumsq += g * g;
    }
    root.impurity = variance(n, root.sum, root.sumsq);
    f->stats[k * nn] = root, feature[k * nn] = -1;
  }
  memset(f->node_of, 0, sizeof(int) * (size_t)n * T);
  for (int depth = 0; depth < f->p->max_depth; depth++) {
    int first = (1 << depth) - 1, width = 1 << depth, active = 0;
    for (int k = 0; k < T; k++)
      active += open_level(f, k, first, width, feature + k * nn, (uint64_t)stage * T + k);
    if (!active) break;
    scan_level(f, first, width);
    descend(f, first, width);
    if (commit_splits(f, first, width, feature, threshold)) ascend(f, first, width, feature);
  }
}

/* ---- boosting ---------------------------------------------------------------------------- */

/* Probabilities of the current F: softmax over classes, or the sigmoid for two classes. */
static void stage_probabilities(Fit *f) {
  const int T = f->n_scores;
  for (int i = 0; i < f->n; i++) {
    const double *F = f->raw + (size_t)i * T;
    double *p = f->prob + (size_t)i * T;
    if (f->n_classes == 2) {
      p[0] = 1.0 / (1.0 + exp(-F[0]));
      continue;
    }
    double top = F[0], total = 0.0;
    for (int k = 1; k < T; k++) top = fmax(top, F[k]);
    for (int k = 0; k < T; k++) total += p[k] = exp(F[k] - top);
    for (int k = 0; k < T; k++) p[k] /= total;
  }
}

/* Leaf values of the stage's trees by one Newton step of the log-loss, then
 * F += learning_rate * value. */
static void set_leaf_values(Fit *f, const int *feature, double *value) {
  const int T = f->n_scores, nn = f->n_nodes;
  memset(f->leaf_num, 0, sizeof(double) * T * nn);
  memset(f->leaf_den, 0, sizeof(double) * T * nn);
  for (int i = 0; i < f->n; i++)
    for (int k = 0; k < T; k++) {
      size_t e = (size_t)i * T + k;
      int leaf = k * nn + f->node_of[e];
      f->leaf_num[leaf] += f->residual[e];
      f->leaf_den[leaf] += f->prob[e] * (1.0 - f->prob[e]);
    }
  /* (K - 1) / K: Friedman's multi-class step, kept by scikit-learn */
  double factor = f->n_classes > 2 ? (f->n_classes - 1.0) / f->n_classes : 1.0;
  for (int t = 0; t < T * nn; t++)
    value[t] = feature[t] == -1 && fabs(f->leaf_den[t]) >= 1e-150 ? factor * f->leaf_num[t] / f->leaf_den[t] : 0.0;
  for (int i = 0; i < f->n; i++)
    for (int k = 0; k < T; k++) {
      size_t e = (size_t)i * T + k;
      f->raw[e] += f->p->learning_rate * value[k * nn + f->node_of[e]];
    }
}

/* F before the first stage: the class priors as log-odds (two classes) or logs. */
static int initial_scores(Fit *f, Gbt *g) {
  double *prior = calloc(f->n_classes, sizeof(double));
  if (!prior) return -1;
  for (int i = 0; i < f->n; i++) prior[f->cls[i]] += 1.0 / f->n;
  for (int c = 0; c < f->n_classes; c++) /* scikit-learn clips at float32 eps */
    prior[c] = fmin(fmax(prior[c], FLT_EPSILON), 1.0 - FLT_EPSILON);
  if (f->n_classes == 2) g->init[0] = log(prior[1] / (1.0 - prior[1]));
  else /* log priors (scikit-learn >= 1.1 centres them: same probabilities) */
    for (int c = 0; c < f->n_scores; c++) g->init[c] = log(prior[c]);
  free(prior);
  for (int i = 0; i < f->n; i++) memcpy(f->raw + (size_t)i * f->n_scores, g->init, sizeof(double) * f->n_scores);
  return 0;
}

static int boost(Fit *f, Gbt *g) {
  const int T = f->n_scores;
  if (initial_scores(f, g)) return -1;
  for (int stage = 0; stage < g->n_stages; stage++) {
    stage_probabilities(f); /* every tree of the stage sees the gradient of the same F */
    for (int i = 0; i < f->n; i++)
      for (int k = 0; k < T; k++) {
        int target = f->n_classes == 2 ? 1 : k; /* two classes: one tree, for the second */
        f->residual[(size_t)i * T + k] = (f->cls[i] == target) - f->prob[(size_t)i * T + k];
      }
    size_t at = (size_t)stage * T * g->n_nodes;
    grow_stage(f, stage, g->feature + at, g->threshold + at);
    set_leaf_values(f, g->feature + at, g->value + at);
  }
  double total = 0.0;
  for (int j = 0; j < f->m; j++) total += f->sum_imp[j];
  for (int j = 0; j < f->m; j++) g->importance[j] = total > 0.0 ? f->sum_imp[j] / total : 0.0;
  return 0;
}

/* ---- allocation and the public functions -------------------------------------------------- */

static void fit_free(Fit *f) {
  free(f->sorted_val), free(f->sorted_idx), free(f->xf), free(f->cls), free(f->raw), free(f->prob);
  free(f->residual), free(f->node_of), free(f->stats), free(f->scan), free(f->order_key);
  free(f->sum_imp), free(f->leaf_num), free(f->leaf_den);
}

static int fit_alloc(Fit *f, Gbt *g) {
  size_t n = f->n, m = f->m, T = f->n_scores ? f->n_scores : 1, nodes = g->n_nodes, W = f->width;
  size_t tree_nodes = (size_t)g->n_stages * T * nodes + 1;
  f->sorted_val = malloc(sizeof(float) * n * m), f->sorted_idx = malloc(sizeof(int) * n * m);
  f->xf = malloc(sizeof(float) * n * m), f->raw = malloc(sizeof(double) * n * T);
  f->prob = malloc(sizeof(double) * n * T), f->residual = malloc(sizeof(double) * n * T);
  f->node_of = malloc(sizeof(int) * n * T), f->stats = calloc(T * nodes, sizeof(NodeStats));
  f->scan = calloc(T * W, sizeof(NodeScan)), f->order_key = calloc(T * W * m, sizeof(uint64_t));
  f->sum_imp = calloc(m, sizeof(double));
  f->leaf_num = calloc(T * nodes, sizeof(double)), f->leaf_den = calloc(T * nodes, sizeof(double));
  g->init = calloc(T, sizeof(double)), g->importance = calloc(m, sizeof(double));
  g->feature = malloc(sizeof(int) * tree_nodes), g->threshold = malloc(sizeof(double) * tree_nodes);
  g->value = malloc(sizeof(double) * tree_nodes);
  return f->sorted_val && f->sorted_idx && f->xf && f->raw && f->prob && f->residual && f->node_of && f->stats &&
                 f->scan && f->order_key && f->sum_imp && f->leaf_num && f->leaf_den && g->init && g->importance &&
                 g->feature && g->threshold && g->value
             ? 0
             : -1;
}

static int valid_params(const GbtParams *p, const double *x, int n, int m, const int *y) {
  return p && x && y && n > 0 && m > 0 && p->n_estimators >= 0 && p->learning_rate > 0.0 && p->max_depth >= 1 &&
         p->max_depth <= GBT_MAX_DEPTH && p->min_samples_split >= 2 && p->min_samples_leaf >= 1;
}

int gbt_fit(Gbt **out, const GbtParams *p, const double *x, int n, int m, const int *y) {
  *out = NULL;
  if (!valid_params(p, x, n, m, y)) return -1;
  Gbt *g = calloc(1, sizeof *g);
  Fit f = {.p = p, .n = n, .m = m};
  if (!g || !(f.cls = malloc(sizeof(int) * n)) || encode_classes(y, n, &g->classes, &g->n_classes, f.cls)) goto fail;
  f.n_classes = g->n_classes;
  f.n_scores = g->n_classes == 1 ? 0 : g->n_classes == 2 ? 1 : g->n_classes; /* one class: constant model */
  g->m = m, g->n_scores = f.n_scores, g->learning_rate = p->learning_rate;
  g->n_stages = f.n_scores ? p->n_estimators : 0, g->n_nodes = (2 << p->max_depth) - 1;
  f.n_nodes = g->n_nodes, f.width = 1 << (p->max_depth - 1);
  if (fit_alloc(&f, g) || prepare_features(&f, x) || boost(&f, g)) goto fail;
  fit_free(&f);
  *out = g;
  return 0;
fail:
  fit_free(&f);
  gbt_free(g);
  return -1;
}

int gbt_decision_function(const Gbt *g, const double *x, int n, double *score) {
  if (!g || (!x && n > 0) || !score) return -1;
  const int T = g->n_scores, m = g->m;
  for (int i = 0; i < n; i++) {
    double *F = score + (size_t)i * T;
    memcpy(F, g->init, sizeof(double) * T);
    for (int stage = 0; stage < g->n_stages; stage++)
      for (int k = 0; k < T; k++) {
        size_t at = ((size_t)stage * T + k) * g->n_nodes;
        const int *feature = g->feature + at;
        int node = 0;
        while (feature[node] >= 0) /* compared in float32, as scikit-learn does */
          node = 2 * node + 1 + ((float)x[(size_t)i * m + feature[node]] > g->threshold[at + node]);
        F[k] += g->learning_rate * g->value[at + node];
      }
  }
  return 0;
}

int gbt_predict(const Gbt *g, const double *x, int n, int *label) {
  if (!g || !label) return -1;
  const int T = g->n_scores;
  if (T == 0) {
    for (int i = 0; i < n; i++) label[i] = g->classes[0];
    return 0;
  }
  double *F = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1) * T);
  if (!F || gbt_decision_function(g, x, n, F)) {
    free(F);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    const double *s = F + (size_t)i * T;
    int best = 0;
    if (T == 1) best = s[0] > 0.0; /* scikit-learn: the second class only when F > 0 */
    else
      for (int k = 1; k < T; k++)
        if (s[k] > s[best]) best = k; /* argmax: the first of equal scores */
    label[i] = g->classes[best];
  }
  free(F);
  return 0;
}

int gbt_num_scores(const Gbt *g) { return g->n_scores; }
int gbt_num_classes(const Gbt *g) { return g->n_classes; }

void gbt_importances(const Gbt *g, double *importance) { memcpy(importance, g->importance, sizeof(double) * g->m); }

void gbt_free(Gbt *g) {
  if (!g) return;
  free(g->classes), free(g->init), free(g->feature), free(g->threshold), free(g->value), free(g->importance);
  free(g);
}
