/* Encoding an archive with a run's model: every sample's latents on every rank. */
#include "disentangle/run.h"
#include "disentangle/tensor.h"
#include "disentangle/terms.h"

/* Every rank gets all the rows [n][width] of which it computed its block (the rows of
 * par_slice_chunks). */
static PetscErrorCode share_rows(Run *run, double *rows, int width) {
  PetscFunctionBeginUser;
  const int size = run->par.size, chunk = run->method->ae.max_batch;
  int *counts, *displs;
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  for (int p = 0; p < size; p++) {
    par_slice_chunks(archive_samples(run->archive), chunk, p, size, &displs[p], &counts[p]);
    counts[p] *= width, displs[p] *= width;
  }
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, rows, counts, displs, MPI_DOUBLE, run->par.world));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}

/* Latents of every sample on every rank: each rank encodes its block, then all blocks are shared.
 * kl (NULL: not wanted; a Gaussian head only): each latent's KL(q(z_j|x) || N(0,1)), averaged
 * over the archive. It is summed per sample first and in sample order on every rank, so it is
 * the same to the last bit on any rank count, like the other metrics of eval. */
PetscErrorCode run_encode_all(Run *run, double *z, double *kl) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  const int m = run->method->ae.latents, chunk = run->method->ae.max_batch;
  const long n = archive_samples(a);
  int rank = run->par.rank, size = run->par.size, off, cnt;
  PetscCheck(!kl || head_code_is_gaussian(run->method->ae.head.ops), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "per-latent KL of a non-Gaussian head");
  par_slice_chunks(n, chunk, rank, size, &off, &cnt);
  float *x;
  double *klrows = NULL;
  PetscCall(tensor_alloc((size_t)chunk * archive_features(a), &x));
  if (kl) PetscCall(PetscMalloc1((size_t)n * m, &klrows));
  for (int start = off; start < off + cnt; start += chunk) {
    int rows = PetscMin(chunk, off + cnt - start);
    PetscCall(archive_read(a, start, rows, x));
    method_encode(run->method, x, rows, run->method->ae.z);
    for (long i = 0; i < (long)rows * m; i++) z[(size_t)start * m + i] = run->method->ae.z[i];
    const float *code = autoencoder_code(&run->method->ae); /* [mu | log sigma^2] of the forward just done */
    for (int r = 0; kl && r < rows; r++) kl_per_latent(code + (size_t)r * 2 * m, 1, m, klrows + (size_t)(start + r) * m);
  }
  tensor_free(&x);
  PetscCall(share_rows(run, z, m));
  if (kl) {
    PetscCall(share_rows(run, klrows, m));
    for (int j = 0; j < m; j++) kl[j] = 0.0;
    for (long r = 0; r < n; r++)
      for (int j = 0; j < m; j++) kl[j] += klrows[(size_t)r * m + j];
    for (int j = 0; j < m; j++) kl[j] /= (double)n;
    PetscCall(PetscFree(klrows));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode run_load_encoded(MPI_Comm comm, const char *run_dir, char *model, size_t model_len, const char *data,
                                double io_buffer_mb, Run *run, double **z, double **kl) {
  PetscFunctionBeginUser;
  if (!model[0]) snprintf(model, model_len, "%.4000s/model.h5", run_dir);
  PetscCall(run_load_model(comm, model, data, io_buffer_mb, run));
  const int m = run->method->ae.latents;
  *kl = NULL;
  PetscCall(PetscMalloc1((size_t)archive_samples(run->archive) * m, z));
  if (head_code_is_gaussian(run->method->ae.head.ops)) PetscCall(PetscMalloc1(m, kl));
  PetscCall(run_encode_all(run, *z, *kl));
  PetscFunctionReturn(0);
}
