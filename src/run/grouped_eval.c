/* What eval measures of a model with content and style latents on a grouped archive (run.h,
 * GroupedScores): is the factor the groups share in the content latents rather than in the
 * style latents, and does that hold, and does reconstruction hold, for groups held out of
 * training (-holdout_groups)? The accuracies are logistic-regression fits (grouped.h) on the
 * latents every rank holds, so they are the same on every rank; the reconstruction error of
 * each sample comes from the rank that holds it, and the sums run in sample order, so they too
 * are the same on any rank count. */
#include <math.h>
#include <string.h>

#include "disentangle/factors.h"
#include "disentangle/grouped.h"
#include "disentangle/layers.h"
#include "disentangle/run.h"
#include "disentangle/tensor.h"

/* Squared error summed over the values of training-group and held-out rows (normalised units;
 * a Bernoulli decoder's probabilities): each rank its block of samples, every sample's error
 * shared (one rank contributes each, so the allreduce is exact), then summed in sample order. */
static PetscErrorCode reconstruction(Run *run, const char *heldout, double sum[2]) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  Autoencoder *ae = &run->method->ae;
  const int chunk = ae->max_batch, L = ae->features;
  int off, cnt;
  par_slice_chunks(archive_samples(a), chunk, run->par.rank, run->par.size, &off, &cnt);
  const int logits = !strcmp(run->cfg.rec_loss, "bernoulli");
  float *x, *prob = NULL;
  PetscCall(tensor_alloc((size_t)chunk * L, &x));
  if (logits) PetscCall(tensor_alloc((size_t)chunk * L, &prob));
  const int64_t n = archive_samples(a);
  double *err;
  PetscCall(PetscCalloc1(n, &err));
  for (int start = off; start < off + cnt; start += chunk) {
    const int rows = PetscMin(chunk, off + cnt - start);
    const float *xhat;
    PetscCall(archive_read(a, start, rows, x));
    autoencoder_reconstruct(ae, x, rows, NULL, &xhat);
    if (logits) {
      sigmoid_forward(prob, xhat, (long)rows * L);
      xhat = prob;
    }
    for (int r = 0; r < rows; r++) {
      double e = 0;
      for (int t = 0; t < L; t++) {
        double d = (double)xhat[(size_t)r * L + t] - x[(size_t)r * L + t];
        e += d * d;
      }
      err[start + r] = e;
    }
  }
  tensor_free(&x);
  tensor_free(&prob);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, err, (int)n, MPI_DOUBLE, MPI_SUM, run->par.world));
  sum[0] = sum[1] = 0;
  for (int64_t i = 0; i < n; i++) sum[heldout[i] ? 1 : 0] += err[i];
  PetscCall(PetscFree(err));
  PetscFunctionReturn(0);
}

PetscErrorCode run_grouped_scores(Run *run, const double *z, uint64_t seed, double test_share, int max_values, int bins,
                                  GroupedScores *gs) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  const int64_t *groups = archive_groups(a);
  const int n = (int)archive_samples(a), k = archive_nfactors(a), m = run->method->ae.latents;
  const int content = run->method->ops->content_latents ? run->method->ops->content_latents(run->method_opts) : 0;
  *gs = (GroupedScores){.factor = -1, .content = content};
  gs->acc_content = gs->acc_style = gs->chance = NAN;
  gs->acc_content_heldout = gs->acc_style_heldout = gs->chance_heldout = gs->rec_train = gs->rec_heldout = NAN;
  if (!groups || content < 1 || content >= m) PetscFunctionReturn(0);

  char *heldout;
  int *codes, *train_rows, *heldout_rows, *part_a, *part_b, *train, *test;
  PetscCall(PetscCalloc1(n, &heldout));
  PetscCall(PetscMalloc4(n, &codes, n, &train_rows, n, &heldout_rows, n, &train));
  PetscCall(PetscMalloc3(n, &test, n, &part_a, n, &part_b));
  int ntr = 0, nho = 0;
  for (int i = 0; i < n; i++) {
    heldout[i] = (char)sampler_group_held_out((uint64_t)run->cfg.seed, groups[i], run->cfg.holdout_groups);
    if (heldout[i]) heldout_rows[nho++] = i;
    else train_rows[ntr++] = i;
  }
  gs->train_rows = ntr, gs->heldout_rows = nho;

  double sum[2];
  PetscCall(reconstruction(run, heldout, sum));
  const double L = (double)run->method->ae.features;
  if (ntr) gs->rec_train = sum[0] / (ntr * L);
  if (nho) gs->rec_heldout = sum[1] / (nho * L);

  if (k > 0) gs->factor = grouped_shared_factor(archive_factors(a), n, k, groups);
  if (gs->factor >= 0 && ntr >= 2) {
    double *col;
    int continuous;
    PetscCall(PetscMalloc1(n, &col));
    for (int i = 0; i < n; i++) col[i] = archive_factors(a)[(size_t)i * k + gs->factor];
    const int classes = factors_discretise(col, n, FACTOR_AUTO, max_values, bins, codes, &continuous);
    PetscCall(PetscFree(col));
    PetscCheck(classes > 0, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory discretising a factor");
    /* training groups: disjoint train/test rows among them */
    int na, nb;
    PetscCheck(!factors_split(ntr, test_share, seed, part_a, &na, part_b, &nb), PETSC_COMM_SELF, PETSC_ERR_MEM,
               "out of memory splitting rows");
    for (int i = 0; i < na; i++) train[i] = train_rows[part_a[i]];
    for (int i = 0; i < nb; i++) test[i] = train_rows[part_b[i]];
    gs->acc_content = grouped_accuracy(z, m, 0, content, codes, classes, train, na, test, nb, &gs->chance);
    gs->acc_style = grouped_accuracy(z, m, content, m, codes, classes, train, na, test, nb, &gs->chance);
    gs->split_train = na, gs->split_test = nb;
    /* held-out groups: fitted on every training-group row, scored on the held-out rows */
    if (nho) {
      gs->acc_content_heldout = grouped_accuracy(z, m, 0, content, codes, classes, train_rows, ntr, heldout_rows, nho,
                                                 &gs->chance_heldout);
      gs->acc_style_heldout = grouped_accuracy(z, m, content, m, codes, classes, train_rows, ntr, heldout_rows, nho,
                                               &gs->chance_heldout);
    }
  }
  PetscCall(PetscFree(heldout));
  PetscCall(PetscFree4(codes, train_rows, heldout_rows, train));
  PetscCall(PetscFree3(test, part_a, part_b));
  PetscFunctionReturn(0);
}
