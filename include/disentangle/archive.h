/* Input archives (HDF5, DESIGN.md "Files"): /data [N, L] or [N, C, H, W] (uint8, float32 or
 * float64), optional /factors float64 [N, K] with attribute `names`, optional attributes
 * `mean`, `std` on /data or on the file root. Several archives make one data set.
 *
 * The interface is the streaming one: a cursor says which global batch comes next, and
 * archive_next_batch fills this rank's slice of it. Today the samples are held in memory
 * (read once with parallel HDF5, each rank a block of rows, then shared). */
#ifndef DISENTANGLE_ARCHIVE_H
#define DISENTANGLE_ARCHIVE_H

#include <mpi.h>
#include <petscsys.h>
#include <stdint.h>

#define ARCHIVE_MAX_FILES 256
#define ARCHIVE_MAX_FACTORS 32

typedef struct {
  int nfiles;
  char **paths;
  int64_t *file_first;   /* global index of each file's first sample */
  int64_t n;             /* samples in all files */
  int ndims;             /* of one sample: 1 ([L]) or 3 ([C, H, W]) */
  int64_t dims[3];
  int64_t features;      /* values per sample: product of dims */
  double mean, std;      /* normalisation applied to every value: (x - mean) / std */
  float *x;              /* [n][features], normalised */
  int nfactors;          /* 0 when the archive has no /factors */
  char *factor_names[ARCHIVE_MAX_FACTORS];
  double *factors;       /* [n][nfactors] or NULL */
} Archive;

typedef struct {
  double mean, std;      /* used when set (std > 0), else the archives' attributes, else computed */
  int have_mean, have_std;
} ArchiveNorm;

/* Open a comma-separated list of archives collectively. Every problem with the input is an
 * input error naming the file, dataset and, for bad values, the sample index. */
PetscErrorCode archive_open(MPI_Comm comm, const char *paths_csv, const ArchiveNorm *norm, Archive **out);
void archive_close(Archive **a);

/* Which global batch comes next: the sample indices are drawn from (seed, step), with
 * replacement, so they do not depend on the number of ranks. */
typedef struct {
  uint64_t seed;
  int64_t step;
  int global_batch;
} BatchCursor;

/* Global index of row j of the batch for cursor->step. */
int64_t archive_batch_index(const Archive *a, const BatchCursor *cur, int j);
/* Fill rows [offset, offset + count) of the cursor's global batch into x[count][features]
 * and advance the cursor by one step. */
PetscErrorCode archive_next_batch(const Archive *a, BatchCursor *cur, int offset, int count, float *x);

#endif
