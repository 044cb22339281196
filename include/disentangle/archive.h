/* Input archives (HDF5, DESIGN.md "Files"): /data [N, L] or [N, C, H, W] (uint8, float32 or
 * float64), optional /factors float64 [N, K] with attribute `names`, optional attributes
 * `mean`, `std` on /data or on the file root. Several archives make one data set.
 *
 * The interface is the streaming one: a Sampler says which global batch comes next, and
 * archive_next_batch fills this rank's rows of it. Today the samples are held in memory (read
 * once with parallel HDF5, each rank a block of rows, then shared); uint8 data stays uint8 in
 * memory and is converted to normalised float32 per batch. */
#ifndef DISENTANGLE_ARCHIVE_H
#define DISENTANGLE_ARCHIVE_H

#include <mpi.h>
#include <petscsys.h>
#include <stdint.h>

#define ARCHIVE_MAX_FILES 256
#define ARCHIVE_MAX_FACTORS 32

/* Opaque: callers read it through the functions below, so the reader behind them can change
 * (in memory today; streamed from disk next). */
typedef struct Archive Archive;

typedef struct {
  double mean, std;      /* used when set (std > 0), else the archives' attributes, else computed */
  int have_mean, have_std;
} ArchiveNorm;

/* Open a comma-separated list of archives collectively. Every problem with the input is an
 * input error naming the file, dataset and, for bad values, the sample index. */
PetscErrorCode archive_open(MPI_Comm comm, const char *paths_csv, const ArchiveNorm *norm, Archive **out);
void archive_close(Archive **a);

/* What callers may know of an archive. */
int64_t archive_samples(const Archive *a);
int64_t archive_features(const Archive *a);           /* values per sample */
int archive_sample_dims(const Archive *a, int64_t *dims); /* 1 ([L]) or 3 ([C, H, W]); dims[3] */
void archive_normalisation(const Archive *a, double *mean, double *std);
int archive_nfactors(const Archive *a);
const double *archive_factors(const Archive *a);      /* [n][nfactors], or NULL */
const char *const *archive_factor_names(const Archive *a);
/* Normalised samples [first, first + count) into x[count][features]. */
PetscErrorCode archive_read(const Archive *a, int64_t first, int count, float *x);
int archive_nfiles(const Archive *a);
const char *archive_path(const Archive *a, int f);
int64_t archive_file_first(const Archive *a, int f); /* global index of file f's first sample */

/* Which samples make each global batch. The indices depend on (seed, step) only, never on the
 * number of ranks. Kinds: SAMPLER_IID draws with replacement (rng_below per row). */
typedef enum { SAMPLER_IID } SamplerKind;

typedef struct {
  SamplerKind kind;
  uint64_t seed;
  int64_t step;     /* the batch that comes next */
  int global_batch;
  int64_t n;        /* samples to draw from */
} Sampler;

void sampler_init(Sampler *s, SamplerKind kind, uint64_t seed, int64_t step, int global_batch, int64_t n);
/* Global sample index of row j of the batch of s->step. */
int64_t sampler_index(const Sampler *s, int j);

/* This rank's rows [offset, offset + count) of a global batch: the samples and their indices. */
typedef struct {
  int64_t step;   /* the global step it belongs to (the noise of stochastic heads is keyed by it) */
  int offset, count;
  float *x;       /* [count][features] */
  int64_t *index; /* [count] */
} Batch;

/* Buffers for `count` rows of this archive's samples. */
PetscErrorCode batch_create(const Archive *a, int offset, int count, Batch *b);
void batch_free(Batch *b);
/* Fill b with its rows of the sampler's next global batch and advance the sampler one step. */
PetscErrorCode archive_next_batch(const Archive *a, Sampler *s, Batch *b);

/* The memory this node has for the job: MemAvailable of /proc/meminfo (bytes, -1 when unknown;
 * rank 0 reads it, every rank gets it) and how many ranks of comm share the node, for estimates
 * that refuse what cannot fit before allocating it. Collective. */
PetscErrorCode node_memory(MPI_Comm comm, double *available, int *ranks_on_node);

#endif
