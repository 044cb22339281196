/* Inside the archive module (src/io/archive*.c, reader.c): the Archive itself, the list of
 * input files, and the reader that fetches rows from them. */
#ifndef DISENTANGLE_ARCHIVE_IMPL_H
#define DISENTANGLE_ARCHIVE_IMPL_H

#include "disentangle/archive.h"
#include <hdf5.h>
#include <pthread.h>

/* How the samples are held in memory: integer data as stored (converted to normalised float32
 * per batch, so uint8 images take a quarter of the memory), anything else as float32. */
typedef enum { STORE_FLOAT, STORE_U8, STORE_I16, STORE_U16 } Store;

/* What inspection learnt about one file (rank 0 inspects, every rank gets it). */
typedef struct {
  int64_t n;
  int ndims; /* of one sample */
  int64_t dims[3];
  int is_f64;    /* /data stored as float64: an Inf may be an out-of-range finite value */
  int store;     /* Store: how its /data would be held */
  int filtered;  /* /data passes through filters (compressed): the streamed reader caches its chunks */
  int64_t k;     /* factors; 0 when /factors is absent */
  int has_groups; /* /groups present (and of a good type and shape) */
  int has_norm;  /* both `mean` and `std` attributes found */
  double mean, std;
  int norm_where; /* 0: on /data, 1: on / */
} FileMeta;

typedef struct Reader Reader;

struct Archive {
  MPI_Comm comm;
  int nfiles;
  char **paths;
  FileMeta *meta;        /* [nfiles] */
  int64_t *file_first;   /* [nfiles + 1] global index of each file's first sample; the last is n */
  int64_t n;             /* samples in all files */
  int ndims;             /* of one sample: 1 ([L]) or 3 ([C, H, W]) */
  int64_t dims[3];
  int64_t features;      /* values per sample: product of dims */
  double mean, std;      /* normalisation applied to every value: (x - mean) / std */
  Store store;
  float *x;              /* [n][features], normalised (STORE_FLOAT, in memory) */
  void *raw;             /* [n][features] as stored (the integer stores, in memory) */
  int nfactors;          /* 0 when the archive has no /factors */
  char *factor_names[ARCHIVE_MAX_FACTORS];
  int factor_kinds[ARCHIVE_MAX_FACTORS]; /* ARCHIVE_KIND_* from /factors attribute kinds */
  double *factors;       /* [n][nfactors] or NULL */
  int64_t *groups;       /* [n] group ids (/groups), or NULL */
  int64_t ngroups;       /* distinct ids */
  int64_t *group_ids;    /* [ngroups] ascending */
  int64_t *group_start;  /* [ngroups + 1] CSR into group_members */
  int64_t *group_members; /* [n] the samples of each group, ascending */
  ArchiveIO io;
  int64_t *bad;          /* in memory, -on_bad_record skip: the bad samples, sorted */
  int64_t nbad;
  Reader *reader;        /* streamed */
};

/* Expand -data (files, DIR/, globs, @manifests) on rank 0; every rank gets the list. */
PetscErrorCode archive_expand_paths(MPI_Comm comm, const char *csv, int *nfiles, char ***paths);
/* Run fn(ctx) on rank 0 only and raise its error, if any, on every rank of comm as the same
 * one-line error (input errors stay input errors). */
PetscErrorCode archive_rank0(MPI_Comm comm, PetscErrorCode (*fn)(void *), void *ctx);
#define NAMES_LEN 2048
/* A string-list attribute attr of file `path`'s /factors (`names`, `kinds`) as one
 * comma-separated list of trimmed words in out[NAMES_LEN]; "" when it gives none. */
PetscErrorCode archive_read_names(MPI_Comm comm, const char *path, hid_t file, const char *attr, char *out);
/* File of global sample i. */
int archive_file_of(const Archive *a, int64_t i);

/* Serial reads (each rank on its own, no MPI): rows [lo, lo + cnt) of file f's dataset
 * (`/data`, `/factors` or `/groups`) into buf as memtype. 0 when read; else -1 and why in err. */
int reader_file_rows(Reader *r, const Archive *a, int f, const char *dset, hid_t memtype, int64_t lo, int64_t cnt,
                     void *buf, char *err, size_t len);
PetscErrorCode reader_create(const Archive *a, int prefetch, Reader **r);
void reader_destroy(Reader **r);
/* Streamed reads: normalised rows for the global samples idx[0..count) (bad ones replaced by the
 * next good sample, recorded in used[]); status 0, or an error kind with its message. */
PetscErrorCode reader_batch(const Archive *a, const int64_t *idx, int count, float *x, int64_t *used);
PetscErrorCode reader_range(const Archive *a, int64_t first, int count, float *x);
void reader_quiesce(Reader *r);
PetscErrorCode reader_next_batch(const Archive *a, Sampler *s, Batch *b);
PetscErrorCode reader_stats(const Archive *a, double *mean, double *std);
PetscErrorCode reader_skipped(const Archive *a, long *records, long *files);
PetscErrorCode reader_check_buffer(const Archive *a, int rows);

#endif
