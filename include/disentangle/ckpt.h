/* Checkpoints and model files through parallel HDF5 (DESIGN.md "Checkpoint"). One layout for
 * both, so `eval` takes either:
 *   /                 attributes format, format_version, version, method, options (the full option
 *                     set used), step, epoch, ranks, seed, global_batch, data_mean, data_std
 *                     (the input normalisation applied), sample_shape ([L] or [C, H, W]
 *                     of the samples trained on), checksum (CRC-32 of every tensor under
 *                     /optim and /params, in the order HDF5 lists them by name, then of
 *                     /history), run_id (the run that wrote it: 32 hex digits), run_log (the
 *                     run log line of the invocation that wrote it: version, git revision,
 *                     rank count, library versions, options; optional, so files without it
 *                     stay readable and older readers of format 3 ignore it)
 *   /params/<net>/<tensor>        every parameter tensor by its ParamSet name, with its N-D shape
 *                                 ([out, in] dense weights, [cout, cin, k, k] conv weights, [out] biases)
 *   /optim/<net>/<tensor>.<state> the state its optimizer declares by name (Adam: .m, .v; Adagrad: .sum);
 *                                 attribute t (steps) on /optim/<net>
 *   /rng [ranks][4]   per rank: seed, stream, step counter, position (the generator is counter-based)
 *   /cursor [ranks][4] per rank: next step, global batch, first row of its slice, rows
 *   /history [steps][columns] attribute `columns` names them: step, the method's losses by name
 *                     (ae: loss, rec; nashae: loss, rec, adv, pred), samples_per_s
 * Format version 3 (2's checksum left /history out and it had no sample_shape; 1 had 2-D
 * tensors only and a fixed 6-column history; both are refused with a line naming the versions).
 * The step must be the last one /history records.
 * Written by rank 0 through serial HDF5 (every rank holds the whole state; the collective write
 * hung now and then in H5Fclose), every rank learning the outcome; first as NAME.tmp, fsync'd,
 * then renamed, so a reader never sees a half-written file. Read collectively. */
#ifndef DISENTANGLE_CKPT_H
#define DISENTANGLE_CKPT_H

#include <mpi.h>
#include <petscsys.h>
#include <stdint.h>
#include <stdio.h>

#define CKPT_NAME_LEN 128
#define CKPT_MAX_DIMS 4
#define CKPT_MAX_HISTORY_COLS 16
#define CKPT_RUN_ID_LEN 32 /* hex digits of a run's identity */

/* One float tensor of the state: group "params/encoder", name "dense0.weight". */
typedef struct {
  char group[CKPT_NAME_LEN];
  char name[CKPT_NAME_LEN];
  float *data;
  int ndim;
  int dims[CKPT_MAX_DIMS];
} CkptTensor;

static inline size_t ckpt_tensor_size(const CkptTensor *t) {
  size_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= (size_t)t->dims[d];
  return n;
}

/* One integer attribute of the state: group "optim/encoder", name "t". */
typedef struct {
  char group[CKPT_NAME_LEN];
  char name[CKPT_NAME_LEN];
  long long *value;
} CkptCount;

/* What a run is at a step, besides its tensors. */
typedef struct {
  long step;
  double epoch;
  char method[64];
  char *options;       /* "-name value" lines; owned by whoever filled it */
  int ranks;
  uint64_t seed;
  int global_batch;
  double data_mean, data_std; /* the input normalisation the model was trained with */
  double *history;     /* [history_rows][history_cols] */
  long history_rows;
  int history_cols;
  char *history_columns; /* their names, comma-separated; owned by whoever filled it */
  uint32_t checksum;   /* filled by ckpt_write / ckpt_read */
  char run_id[CKPT_RUN_ID_LEN + 1]; /* the run that wrote it; "" in files of older versions */
  int sample_ndims;    /* the shape of one sample the model was trained on: [L] or [C, H, W] */
  long long sample_dims[CKPT_MAX_DIMS];
  char *run_log;       /* the run log line of the invocation that wrote it (runlog.h); NULL in older files */
  /* the data cursor: where the next global batch starts (archive.h, sampler_cursor) in an
   * archive of data_samples samples; -1 in files of older versions */
  long long cursor_epoch, cursor_sample, data_samples;
} CkptMeta;

/* The state of a run: its tensors and counts, listed by the method (method_state). */
typedef struct {
  int ntensors, ncounts;
  CkptTensor *tensors;
  CkptCount *counts;
} CkptState;

PetscErrorCode ckpt_write(MPI_Comm comm, const char *path, const CkptState *state, CkptMeta *meta);

/* Read meta (options, step, history...) of a file and check its format and checksum; every
 * problem is an input error naming the file and what is wrong. meta->options and
 * meta->history are allocated (free with ckpt_meta_free). */
PetscErrorCode ckpt_read_meta(MPI_Comm comm, const char *path, CkptMeta *meta);
/* Read the tensors and counts of state from a file (shapes must match: an input error names
 * the tensor that differs) and verify the checksum over what was read. */
PetscErrorCode ckpt_read_state(MPI_Comm comm, const char *path, const CkptState *state, const CkptMeta *meta);
/* Whether the tensors of a file have the shapes of state: what="" when they all do, else what
 * differs first (a valid checkpoint of another model, not a damaged one). Input errors only for
 * a file that cannot be opened. */
PetscErrorCode ckpt_find_mismatch(MPI_Comm comm, const char *path, const CkptState *state, char *what, size_t len);
void ckpt_meta_free(CkptMeta *meta);
/* One process alone (no MPI): the step and run id ("" when it has none) of a checkpoint file;
 * 0, or -1 when it is not readable as one. For listing a run directory. */
int ckpt_peek(const char *path, long *step, char *run_id, size_t len);

/* The value of option `name` in an options text ("-name value" lines), or NULL. */
const char *ckpt_option(const char *options, const char *name, char *buf, size_t len);

uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n);

/* Print every dataset of a file with its shape (when out is not NULL) and compute the checksum
 * of its /params and /optim tensors the way ckpt_write does. */
PetscErrorCode ckpt_list(MPI_Comm comm, const char *path, FILE *out, uint32_t *crc);

#endif
