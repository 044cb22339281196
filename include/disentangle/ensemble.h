/* NashAE's regressors run as one ensemble: m MLPs [m, hidden..., 1] with SELU between the
 * dense layers, member i predicting z_i from the latents z with element i zeroed. The members
 * stay separate nets in the ParamSet (own tensors, own slice of the group, checkpointed by
 * name); the ensemble only computes with them, all selected members at once:
 *   - the first layer of all of them is ONE sgemm over z (a packed copy of their first-layer
 *     weights with member i's column i zeroed replaces m masked copies of the input);
 *   - the hidden and output layers are per-member sgemms on column blocks of shared
 *     activation buffers (strided, no copies);
 *   - bias + SELU is one pass over all members' activations, and so is SELU' + bias gradient;
 *   - the first layer's weight gradient is ONE sgemm; the output layer's input gradient is an
 *     outer product done inside the SELU' pass.
 * Every member's arithmetic is the same as a lone net's (dense_forward / dense_backward and
 * the activation layers), operation for operation, so results match them bit for bit. */
#ifndef DISENTANGLE_ENSEMBLE_H
#define DISENTANGLE_ENSEMBLE_H

#include <petscsys.h>

#include "disentangle/net.h"

#define ENSEMBLE_MAX_DENSE 10

typedef struct {
  int m, ndense;                  /* members (= inputs); dense layers per member */
  int w[ENSEMBLE_MAX_DENSE + 1];  /* widths: w[0] = m, w[ndense] = 1 */
  size_t per;                     /* parameters per member; member i's block starts at i * per */
  size_t woff[ENSEMBLE_MAX_DENSE], boff[ENSEMBLE_MAX_DENSE];
  int max_rows;
  int nsel, *sel;                 /* the members of the last forward, in column-block order */
  const float **wout;             /* [nsel] their output weights (backward) */
  float *w1;                      /* [nsel * w[1]][m] packed first-layer weights, own input masked */
  float *bias;                    /* [nsel * widest] packed biases of one layer */
  float *dbias;                   /* [nsel * widest] their gradient */
  float *act[ENSEMBLE_MAX_DENSE]; /* dense layer l's activated output [rows][nsel * w[l+1]] */
  float *g[2];                    /* gradient w.r.t. a hidden layer's output, same layout */
  float *dw1;                     /* [nsel * w[1]][m] first-layer weight gradient */
} Ensemble;

/* The ensemble of m members shaped like `member` (dense/SELU alternating, one output), for
 * up to max_rows rows. */
PetscErrorCode ensemble_create(Ensemble *e, const Net *member, int m, int max_rows);
void ensemble_free(Ensemble *e);

/* Predictions [rows][nsel] of members sel[0..nsel) on z [rows][m] (column k: member sel[k]);
 * params: the group's block (member i at i * per). The activations stay for a backward. */
const float *ensemble_forward(Ensemble *e, const float *params, const float *z, int rows, const int *sel, int nsel);

/* Backward of the last forward, given dout [rows][nsel]. grads (NULL: none wanted): member
 * i's parameter gradients ACCUMULATE into its block. dz (NULL: none): the input gradients of
 * all selected members are ADDED to dz [rows][m] (member i's own masked input gets none). */
void ensemble_backward(Ensemble *e, const float *params, float *grads, const float *z, const float *dout, int rows,
                       float *dz);

#endif
