/* Encoding an archive with a run's model: every sample's latents on every rank. */
#include "disentangle/run.h"
#include "disentangle/tensor.h"

/* Latents of every sample on every rank: each rank encodes its block, then all blocks are shared. */
PetscErrorCode run_encode_all(Run *run, double *z) {
  PetscFunctionBeginUser;
  const Archive *a = run->archive;
  const int m = run->method->ae.latents, chunk = run->method->ae.max_batch;
  int rank = run->par.rank, size = run->par.size, off, cnt;
  par_slice_chunks(archive_samples(a), chunk, rank, size, &off, &cnt);
  float *x;
  PetscCall(tensor_alloc((size_t)chunk * archive_features(a), &x));
  for (int start = off; start < off + cnt; start += chunk) {
    int rows = PetscMin(chunk, off + cnt - start);
    PetscCall(archive_read(a, start, rows, x));
    method_encode(run->method, x, rows, run->method->ae.z);
    for (long i = 0; i < (long)rows * m; i++) z[(size_t)start * m + i] = run->method->ae.z[i];
  }
  tensor_free(&x);
  int *counts, *displs;
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  for (int p = 0; p < size; p++) {
    par_slice_chunks(archive_samples(a), chunk, p, size, &displs[p], &counts[p]);
    counts[p] *= m, displs[p] *= m;
  }
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, z, counts, displs, MPI_DOUBLE, run->par.world));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}

PetscErrorCode run_load_encoded(MPI_Comm comm, const char *run_dir, char *model, size_t model_len, const char *data,
                                Run *run, double **z) {
  PetscFunctionBeginUser;
  if (!model[0]) snprintf(model, model_len, "%.4000s/model.h5", run_dir);
  PetscCall(run_load_model(comm, model, data, run));
  PetscCall(PetscMalloc1((size_t)archive_samples(run->archive) * run->method->ae.latents, z));
  PetscCall(run_encode_all(run, *z));
  PetscFunctionReturn(0);
}

