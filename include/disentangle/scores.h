/* Supervised disentanglement scores of the latents of an archive, after google-research's
 * disentanglement_lib (evaluation/metrics/ and the unsupervised-study gin configs), plus the
 * BetaVAE score as the NashAE paper's beam-data notebooks compute it.
 *
 * Sampling: where the lib draws factor vectors and renders observations, we draw stored samples
 * (factors.h). "A random sample" is a uniform archive index (with replacement), which is the
 * lib's uniform factor draw when the archive is a full factor grid. Every draw is a counter-based
 * rng draw from (seed, a stream private to the metric and purpose, point index, draw index), so a
 * score is a pure function of (latents, factors, params, seed): every MPI rank holding the same
 * latents computes the same bits, with no communication.
 *
 * All functions return 0, or -1 when out of memory; results go through the out pointers. */
#ifndef DISENTANGLE_SCORES_H
#define DISENTANGLE_SCORES_H

#include <stdint.h>

#include "disentangle/factors.h"

/* BetaVAE score (Higgins et al. 2017), the lib's beta_vae_sklearn. */
typedef struct {
  int batch_size, num_train, num_eval; /* 64, 10000, 5000 */
  double C;                            /* logistic regression's inverse penalty: 1.0 */
} BetaVaeParams;

/* BetaVAE score, NashAE protocol (ericyeats/nashae-beamsynthesis, ae_script_beamsynthesis). */
typedef struct {
  int batch_size, iterations, num_eval; /* 20, 10000, 1000 */
  double lr;                            /* Adagrad learning rate: 1.0 */
} NashBetaVaeParams;

/* FactorVAE score (Kim & Mnih 2018), the lib's factor_vae_score with prune_dims. */
typedef struct {
  int batch_size, num_train, num_eval, num_variance_estimate; /* 64, 10000, 5000, 10000 */
  double prune_threshold;                                     /* std below which a latent is dead: 0.05 */
} FactorVaeParams;

/* MIG (Chen et al. 2018) and the MI matrix it shares with modularity. */
typedef struct {
  int num_train, bins; /* 10000, 20 */
} MigParams;

/* Modularity and explicitness (Ridgeway & Mozer 2018), the lib's modularity_explicitness. */
typedef struct {
  int num_train, num_test, bins; /* 10000, 5000, 20 */
  double C;                      /* 1.0 */
} ModExplParams;

typedef struct {
  BetaVaeParams beta_vae;
  NashBetaVaeParams nash;
  FactorVaeParams factor_vae;
  MigParams mig;
  ModExplParams modexpl;
} ScoreParams;

/* disentanglement_lib's defaults (unsupervised_study_v1 metric configs), NashAE's for nash. */
ScoreParams scores_default_params(void);

typedef struct {
  double train_accuracy, eval_accuracy;
} AccuracyPair;

typedef struct {
  double train_accuracy, eval_accuracy;
  int num_active; /* latents kept by prune_dims (the lib reports len(mask), i.e. all latents) */
} FactorVaeResult;

typedef struct {
  double train, test; /* mean over factors of the mean one-vs-rest ROC-AUC over factor values */
} ExplicitnessResult;

/* Scores with a training and an evaluation part draw their training points from `train` and
 * their evaluation points from `test` (eval passes two disjoint parts of the archive, see
 * factors_split; passing the same data twice gives the lib's draws with replacement). */
int score_beta_vae(const FactorData *train, const FactorData *test, const BetaVaeParams *p, uint64_t seed,
                   AccuracyPair *out);
int score_beta_vae_nashae(const FactorData *train, const FactorData *test, const NashBetaVaeParams *p, uint64_t seed,
                          double *accuracy);
/* FactorVAE: global variances and training votes from train, evaluation votes from test. */
int score_factor_vae(const FactorData *train, const FactorData *test, const FactorVaeParams *p, uint64_t seed,
                     FactorVaeResult *out);
int score_mig(const FactorData *fd, const MigParams *p, uint64_t seed, double *mig);
/* modularity as the lib; normalised (may be NULL): the same formula on MI[j][k] / H(factor k),
 * so that a factor with many values (large entropy) does not dominate every latent's template */
int score_modularity(const FactorData *fd, const ModExplParams *p, uint64_t seed, double *modularity,
                     double *normalised);
int score_explicitness(const FactorData *train, const FactorData *test, const ModExplParams *p, uint64_t seed,
                       ExplicitnessResult *out);

/* The same scores in pieces, for eval's ranks. Each piece is a pure function of its arguments,
 * and the pieces combined as below give the whole score's bits, whichever rank computed which
 * piece and in whatever blocks of points.
 *
 * BetaVAE: beta_vae_points gives points [first, first + n) of the training draw (eval = 0, from
 * the training part) or of the evaluation draw (eval = 1, from the test part): features x[n][m],
 * labels y[n]; beta_vae_fit fits on all p->num_train training points and scores both draws. */
void beta_vae_points(const FactorData *fd, const BetaVaeParams *p, uint64_t seed, int eval, int first, int n, double *x,
                     int *y);
int beta_vae_fit(const double *x_train, const int *y_train, const double *x_eval, const int *y_eval, int m, int k,
                 const BetaVaeParams *p, AccuracyPair *out);
/* FactorVAE: factor_vae_active gives the global variances global_var[m] and the latents kept by
 * prune_dims active[m] from the training part, and returns how many are kept (-1: out of memory);
 * factor_vae_count adds the votes of points [first, first + n) of the training (eval = 0) or
 * evaluation draw to votes[k][m] (counts, so blocks add up in any order); factor_vae_finish
 * scores the majority classifier of the training votes. */
int factor_vae_active(const FactorData *train, const FactorVaeParams *p, uint64_t seed, double *global_var, int *active);
int factor_vae_count(const FactorData *fd, const FactorVaeParams *p, uint64_t seed, int eval, const double *global_var,
                     const int *active, int first, int n, long *votes);
void factor_vae_finish(const long *train_votes, const long *eval_votes, int k, int m, int num_active,
                       FactorVaeResult *out);
/* Explicitness: factor f's mean AUC on the training and test draws, auc[2] (NaN when f has a
 * single value in training: not measurable); explicitness_finish averages auc[k][2] over the
 * measurable factors in factor order. */
int explicitness_factor(const FactorData *train, const FactorData *test, const ModExplParams *p, uint64_t seed, int f,
                        double auc[2]);
void explicitness_finish(const double *auc, int k, ExplicitnessResult *out);

/* Factor capture. eta2[m][k]: the correlation ratio of latent j with factor k over all of fd's
 * samples, grouped by k's codes (a continuous factor's bins): the share of the latent's variance
 * that the factor's value explains (0 for a constant latent). A factor is captured cleanly by
 * latent j when j is active (active NULL: all are), eta2[j][k] >= SCORES_CAPTURE_HIGH and
 * eta2[j][g] <= SCORES_CAPTURE_LOW for every other factor g. captured_by[k]: the first such
 * latent, or -1. Returns the number of cleanly captured factors. */
#define SCORES_CAPTURE_HIGH 0.8
#define SCORES_CAPTURE_LOW 0.2
void scores_eta2(const FactorData *fd, double *eta2);
int scores_capture(const double *eta2, const int *active, int m, int k, int *captured_by);

/* The random samples MIG, modularity and explicitness use: idx[n], uniform with replacement;
 * part 0 is the training draw, part 1 the test draw (so for one seed MIG, modularity and
 * explicitness see the same training samples, as modularity and explicitness do in the lib). */
void scores_draw_samples(const FactorData *fd, int n, uint64_t seed, int part, int *idx);

/* mi[m][k]: mutual information (nats, sklearn's mutual_info_score) between each latent, cut into
 * `bins` equal-width bins over its range in the samples idx[n] (np.histogram edges with
 * np.digitize, as the lib's histogram discretizer), and each factor's codes; entropy[k] (may be
 * NULL): each factor's entropy over the same samples. */
int scores_mutual_info(const FactorData *fd, const int *idx, int n, int bins, double *mi, double *entropy);
/* MIG from mi[m][k] and entropy[k]: mean over factors of (top - second MI) / entropy. */
double scores_mig_from_mi(const double *mi, const double *entropy, int m, int k);
/* Modularity from mi[m][k]: mean over latents of 1 - delta_j (0 for latents with no MI). */
double scores_modularity_from_mi(const double *mi, int m, int k);

#endif
