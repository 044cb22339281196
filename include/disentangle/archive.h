/* Input archives (HDF5, DESIGN.md "Files"): /data [N, L] or [N, C, H, W] (uint8, float32 or
 * float64), optional /factors float64 [N, K] with attribute `names`, optional /groups int64 [N]
 * (group ids, see below), optional attributes `mean`, `std` on /data or on the file root. Several archives make one data set: the list
 * names files, directories (written with a trailing '/': every *.h5 / *.hdf5 in it), glob
 * patterns and manifests ('@FILE': one path a line, relative to the manifest), in that order,
 * without a limit on their number.
 *
 * A Sampler says which global batch comes next, and archive_next_batch fills this rank's rows
 * of it. Two readers stand behind the interface:
 *  - in memory (the default): every rank holds the whole data set (each rank reads a block of
 *    rows, then they are shared); integer data stays as stored and is converted per batch;
 *  - streamed (ArchiveIO.buffer_mb > 0): each rank reads only its rows of each batch, from
 *    disk, in a prefetch thread one batch ahead (double buffered), with HDF5's chunk caches
 *    sized so that the data held per rank stays within the buffer. Only the main thread calls
 *    MPI; the prefetch thread is the only one calling HDF5 while it runs (archive_quiesce
 *    waits for it before anything else may). */
#ifndef DISENTANGLE_ARCHIVE_H
#define DISENTANGLE_ARCHIVE_H

#include <mpi.h>
#include <petscsys.h>
#include <stdint.h>

#define ARCHIVE_MAX_FACTORS 32

/* Opaque: callers read it through the functions below, so the reader behind them can change
 * (in memory today; streamed from disk next). */
typedef struct Archive Archive;

typedef struct {
  double mean, std;      /* used when set (std > 0), else the archives' attributes, else computed */
  int have_mean, have_std;
} ArchiveNorm;

/* How to read: in memory or streamed, and what a bad record does. */
typedef struct {
  double buffer_mb; /* > 0: streamed, at most this much sample data held per rank; 0: in memory */
  int skip_bad;     /* a bad record (NaN/Inf, unreadable) is skipped (counted, named in the log) instead of fatal */
} ArchiveIO;

/* Open a comma-separated list of archives collectively. Every problem with the input is an
 * input error naming the file, dataset and, for bad values, the sample index. io NULL: in
 * memory, bad records fatal. */
PetscErrorCode archive_open(MPI_Comm comm, const char *paths_csv, const ArchiveNorm *norm, Archive **out);
PetscErrorCode archive_open_io(MPI_Comm comm, const char *paths_csv, const ArchiveNorm *norm, const ArchiveIO *io,
                               Archive **out);
void archive_close(Archive **a);
int archive_streamed(const Archive *a);
/* Streamed: refuse (input error) a buffer that cannot hold two batches of `rows` samples. Collective. */
PetscErrorCode archive_check_buffer(const Archive *a, int rows);
/* Wait for the prefetch thread (streamed); after it, the caller may use HDF5. */
void archive_quiesce(const Archive *a);
/* Distinct bad records skipped so far over all ranks, and files found unreadable. Collective. */
PetscErrorCode archive_skipped(const Archive *a, long *records, long *files);

/* What callers may know of an archive. */
int64_t archive_samples(const Archive *a);
int64_t archive_features(const Archive *a);           /* values per sample */
int archive_sample_dims(const Archive *a, int64_t *dims); /* 1 ([L]) or 3 ([C, H, W]); dims[3] */
void archive_normalisation(const Archive *a, double *mean, double *std);
int archive_nfactors(const Archive *a);
const double *archive_factors(const Archive *a);      /* [n][nfactors], or NULL */
const char *const *archive_factor_names(const Archive *a);
/* Per factor, what /factors attribute `kinds` says ("discrete", "continuous" or "auto", one per
 * factor, as for `names`; every archive must agree): ARCHIVE_KIND_AUTO where it says nothing.
 * eval's -factor_kinds overrides it. */
enum { ARCHIVE_KIND_AUTO = 0, ARCHIVE_KIND_DISCRETE = 1, ARCHIVE_KIND_CONTINUOUS = 2 };
const int *archive_factor_kinds(const Archive *a);
/* The ARCHIVE_KIND_* a word names ("auto", "discrete", "continuous"), or -1: the one reading of
 * the attribute, eval's -factor_kinds and import's -kinds. */
int archive_kind_of(const char *word);

/* Groups (ML-VAE's grouped observations): /groups int64 [N] gives each sample a group id, any
 * int64 value (stored as any integer type HDF5 converts to int64 without loss: int8..int64,
 * uint8..uint32). Ids are global across the archives: the same id in two files is one group.
 * Either every archive has /groups or none. The ids are held in memory on every rank, in memory
 * and streamed alike (8 bytes a sample, plus 8 for the membership below). */
const int64_t *archive_groups(const Archive *a);        /* [n] group id of each sample, or NULL */
int64_t archive_ngroups(const Archive *a);               /* distinct ids; 0 without /groups */
const int64_t *archive_group_ids(const Archive *a);      /* [ngroups] the distinct ids, ascending */
/* Membership (CSR): group g (its place in archive_group_ids) holds the samples
 * members[start[g] .. start[g + 1]), ascending. */
const int64_t *archive_group_start(const Archive *a);    /* [ngroups + 1] */
const int64_t *archive_group_members(const Archive *a);  /* [n] */
int64_t archive_group_index(const Archive *a, int64_t id); /* place of id in archive_group_ids; -1 if absent */
/* Normalised samples [first, first + count) into x[count][features]. */
PetscErrorCode archive_read(const Archive *a, int64_t first, int count, float *x);
int archive_nfiles(const Archive *a);
const char *archive_path(const Archive *a, int f);
int64_t archive_file_first(const Archive *a, int f); /* global index of file f's first sample */

/* Which samples make each global batch. The indices depend on (seed, step) and the archive's
 * sample count (and, grouped, its /groups) only, never on the number of ranks, so a 1-rank and a P-rank run see the same
 * global batches and a restart needs only the step. Kinds:
 *  - SAMPLER_IID draws with replacement (rng_below per row);
 *  - SAMPLER_EPOCH reads the archive as a stream of epochs: global position p = step * B + j is
 *    sample q = p mod N of epoch e = p / N. Epoch e is the chunks of `chunk` consecutive samples
 *    in a permutation drawn from (seed, e), cut into shuffle windows of `window` chunks, and the
 *    samples of each window shuffled from (seed, e, window): a shuffle buffer whose contents are
 *    a function of the position, so every sample comes once per epoch, whatever the ranks or
 *    the restarts. A batch may straddle two epochs (every rank has the same rows every step);
 *  - SAMPLER_GROUPED (ML-VAE) makes each global batch of G = B / S whole groups (S = group_size)
 *    in group-major order: global row j is member j % S of the batch's group j / S. Per step it
 *    draws G distinct groups among the training groups (those not held out, see
 *    sampler_group_held_out) from (seed, step), and S samples of each from (seed, step, row):
 *    without replacement when the group has at least S members, with replacement otherwise.
 *    As for the others the batches do not depend on the ranks: a rank's rows are a slice of the
 *    global batch (par_slice), so a group may span ranks and the method combines its evidence
 *    across them. Not with -on_bad_record skip (a skipped sample's stand-in, the next good
 *    sample, may be of another group): an input error. */
typedef enum { SAMPLER_IID, SAMPLER_EPOCH, SAMPLER_GROUPED } SamplerKind;

typedef struct SamplerCache SamplerCache;
typedef struct {
  SamplerKind kind;
  uint64_t seed;
  int64_t step;     /* the batch that comes next */
  int global_batch;
  int64_t n;        /* samples to draw from */
  int64_t chunk, window; /* SAMPLER_EPOCH: samples per chunk, chunks per shuffle window */
  SamplerCache *cache;   /* SAMPLER_EPOCH: the current epoch's chunk order and window's samples;
                          * SAMPLER_GROUPED: the training groups and the current step's rows */
  int group_size;        /* SAMPLER_GROUPED: S, samples per group (global_batch is a multiple of it) */
  const int64_t *group_start, *group_members; /* SAMPLER_GROUPED: the archive's membership (not owned) */
} Sampler;

void sampler_init(Sampler *s, SamplerKind kind, uint64_t seed, int64_t step, int global_batch, int64_t n);
PetscErrorCode sampler_init_epoch(Sampler *s, uint64_t seed, int64_t step, int global_batch, int64_t n, int64_t chunk,
                                  int64_t window);
/* The grouped sampler over archive a's /groups; holdout: share of the groups held out (0 <= h < 1).
 * Input errors (collective over a's communicator, raised identically on every rank): no /groups,
 * global_batch not a multiple of group_size, fewer training groups than a batch needs. */
PetscErrorCode sampler_init_grouped(Sampler *s, const Archive *a, uint64_t seed, int64_t step, int global_batch,
                                    int group_size, double holdout);
/* Whether group `id` is held out of training with -seed `seed` and -holdout_groups `share`: a
 * pure function (each id on its own, u(seed, id) < share), so a group keeps its verdict in any
 * archive that holds it, and eval finds the held-out groups from the seed alone. About `share`
 * of the groups; with few groups the count varies (sampler_groups_held_out counts them). */
int sampler_group_held_out(uint64_t seed, int64_t group_id, double share);
/* How many of archive a's groups are held out (0 without /groups). */
int64_t sampler_groups_held_out(const Archive *a, uint64_t seed, double share);
void sampler_free(Sampler *s);
/* Global sample index of row j of the batch of s->step. */
int64_t sampler_index(const Sampler *s, int j);
/* Where the batch of s->step starts: epoch and sample within it (iid: position / n). */
void sampler_cursor(const Sampler *s, int64_t *epoch, int64_t *sample_in_epoch);

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
