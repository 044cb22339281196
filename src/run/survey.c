/* The latents of a trained model over its whole archive: ranges and reconstruction error, both
 * without noise (a Gaussian head's mean), the error in the data's units (a Bernoulli decoder's
 * logits as probabilities). */
#include "disentangle/run.h"

#include <float.h>
#include <string.h>

#include "disentangle/comm.h"
#include "disentangle/layers.h"
#include "disentangle/tensor.h"

PetscErrorCode latents_survey(Method *m, const Archive *a, double *zmin, double *zmax, double *rec, int *stopped) {
  PetscFunctionBeginUser;
  const Par *par = m->par;
  const int nl = m->ae.latents, chunk = m->ae.max_batch;
  int off, cnt, rounds = 0;
  par_slice_chunks(archive_samples(a), chunk, par->rank, par->size, &off, &cnt);
  /* every rank takes as many rounds as the busiest one, so that all look at the stop flag together */
  for (int p = 0, o, c; p < par->size; p++) {
    par_slice_chunks(archive_samples(a), chunk, p, par->size, &o, &c);
    rounds = PetscMax(rounds, (c + chunk - 1) / chunk);
  }
  double sq = 0.0;
  const int logits = !strcmp(m->cfg->rec_loss, "bernoulli");
  const long width = archive_features(a);
  float *x, *prob = NULL;
  PetscCall(tensor_alloc((size_t)chunk * width, &x));
  if (logits) PetscCall(tensor_alloc((size_t)chunk * width, &prob));
  for (int j = 0; j < nl; j++) zmin[j] = DBL_MAX, zmax[j] = -DBL_MAX;
  if (stopped) *stopped = 0;
  for (int round = 0; round < rounds; round++) {
    if (stopped) {
      char why[64];
      PetscCall(stop_check(par->world, NULL, stopped, why, sizeof why));
      if (*stopped) break;
    }
    int start = off + round * chunk;
    if (start >= off + cnt) continue;
    int n = PetscMin(chunk, off + cnt - start);
    const float *z, *xhat;
    PetscCall(archive_read(a, start, n, x));
    autoencoder_reconstruct(&m->ae, x, n, &z, &xhat);
    if (logits) {
      sigmoid_forward(prob, xhat, (long)n * width);
      xhat = prob;
    }
    sq += mse_forward_backward(NULL, xhat, x, (long)n * width, 0.0f);
    for (int r = 0; r < n; r++)
      for (int j = 0; j < nl; j++) {
        double v = z[(size_t)r * nl + j];
        zmin[j] = PetscMin(zmin[j], v), zmax[j] = PetscMax(zmax[j], v);
      }
  }
  tensor_free(&x);
  tensor_free(&prob);
  if (stopped && *stopped) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, zmin, nl, MPI_DOUBLE, MPI_MIN, par->world));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, zmax, nl, MPI_DOUBLE, MPI_MAX, par->world));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &sq, 1, MPI_DOUBLE, MPI_SUM, par->world));
  if (rec) *rec = 0.5 * sq / ((double)archive_samples(a) * archive_features(a));
  PetscFunctionReturn(0);
}
