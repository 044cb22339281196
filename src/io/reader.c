/* The archive's readers below archive.c: serial HDF5 reads of rows (each rank on its own, files
 * kept open in an LRU set sized from -io_buffer_mb, compressed ones with chunk caches), and the
 * streamed batches: a prefetch thread reads the rows of the next batch while the current one
 * trains, each file's rows of it in as few reads as there are runs of consecutive samples.
 *
 * Threads: only the main thread calls MPI. The HDF5 library here is not thread-safe, so HDF5 is
 * called by one thread at a time: the prefetch thread while a job runs, the main thread only
 * after reader_quiesce (archive_quiesce for callers outside, e.g. before a checkpoint). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include "archive_impl.h"
#include "disentangle/error.h"
#include "disentangle/log.h"
#include "disentangle/tensor.h"
#include "disentangle/vmath.h"

#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define READER_MAX_OPEN 64 /* files kept open at most: a shuffle window's chunks come from many files */
#define FILE_COST 0.6e6     /* what HDF5 keeps per open file (its metadata cache's tables): 0.55 MB measured */
#define SCRATCH_BYTES (2 << 20) /* fetch reads at most this much (or one row) at a time */
#define STATS_BLOCK 4096 /* rows per unit of the statistics pass: fixed, so the result is too */

typedef struct {
  int64_t g; /* global sample */
  int j;     /* its row in the batch */
} Wanted;

struct Reader {
  const Archive *a;
  hid_t *file, *data;  /* [nfiles], -1 when closed */
  off_t *opened_size;  /* [nfiles] the file's size when opened */
  uint64_t *used;      /* [nfiles] LRU stamps */
  int *open;           /* files open now */
  int nopen, open_max;
  uint64_t clock;
  size_t cache_bytes;  /* HDF5 chunk cache of each open /data */
  /* streamed only: what was skipped on this rank */
  int64_t *bad, nbad, capbad; /* distinct bad samples, in the order found */
  char *dead;                 /* [nfiles] found unreadable mid-run */
  /* the first fatal problem on this rank: 0, DT_ERR_INPUT (a bad record) or PETSC_ERR_FILE_READ */
  int status;
  char msg[1400];
  /* the prefetch thread and its one job: the rows of step pf_step, [pf_off, pf_off + pf_count) */
  int threaded, quit, pending, done;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t pf_step;
  int pf_off, pf_count, pf_cap;
  int64_t *pf_idx, *pf_used;
  float *pf_x;
  /* fetch's own: the batch's samples in file order, and the rows of one read */
  Wanted *wanted;
  int wanted_cap;
  float *scratch;
  int64_t scratch_rows;
};

/* The size of open file `file` now, from its descriptor; -1 if unknown (not the sec2 driver). */
static off_t file_size(hid_t file) {
  int *fd = NULL;
  struct stat st;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) < 0 || !fd || fstat(*fd, &st) != 0) return -1;
  return st.st_size;
}

static void close_file(Reader *r, int f) {
  if (r->data[f] >= 0) H5Dclose(r->data[f]);
  if (r->file[f] >= 0) H5Fclose(r->file[f]);
  r->data[f] = r->file[f] = -1;
}

/* File f open with its /data, the least recently used one closed to make room. */
static int open_data(Reader *r, int f) {
  const Archive *a = r->a;
  r->used[f] = ++r->clock;
  if (r->file[f] >= 0) return 0;
  if (r->nopen == r->open_max) {
    int oldest = 0;
    for (int i = 1; i < r->nopen; i++)
      if (r->used[r->open[i]] < r->used[r->open[oldest]]) oldest = i;
    close_file(r, r->open[oldest]);
    r->open[oldest] = r->open[--r->nopen];
  }
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  r->file[f] = H5Fopen(a->paths[f], H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (r->file[f] < 0) return -1;
  r->opened_size[f] = file_size(r->file[f]);
  /* Compressed chunks of a shuffle window are revisited batch after batch: keep them decoded.
   * Plain ones are not cached at all: HDF5 then reads just the rows asked for, not the chunk. */
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  H5Pset_chunk_cache(dapl, 12421, a->meta[f].filtered ? r->cache_bytes : 0, 1.0);
  r->data[f] = H5Dopen2(r->file[f], "/data", dapl);
  H5Pclose(dapl);
  if (r->data[f] < 0) {
    close_file(r, f);
    return -1;
  }
  r->open[r->nopen++] = f;
  return 0;
}

/* A file cut short after it was opened (rewritten in place, truncated by a failed copy) reads
 * back as zeros from HDF5, with no error: after each read its size is compared with the size it
 * had when opened. 0 when whole; else -1 and why. */
static int still_whole(Reader *r, const Archive *a, int f, char *err, size_t len) {
  off_t now = file_size(r->file[f]);
  if (now < 0 || r->opened_size[f] < 0 || now >= r->opened_size[f]) return 0;
  if (err) snprintf(err, len, "archive '%s': the file shrank from %lld to %lld bytes while open (truncated or rewritten)",
                    a->paths[f], (long long)r->opened_size[f], (long long)now);
  return -1;
}

/* Rows [lo, lo + cnt) of d. The memory space has the selection's own shape: for any other
 * shape HDF5 1.10 maps the read onto the chunks element by element, several times slower. */
static int read_slab(hid_t d, hid_t memtype, int64_t lo, int64_t cnt, void *buf) {
  hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
  hid_t fs = H5Dget_space(d);
  if (fs < 0) return -1;
  int rank = H5Sget_simple_extent_dims(fs, count, NULL); /* whole samples: every extent but the first */
  start[0] = (hsize_t)lo, count[0] = (hsize_t)cnt;
  hid_t ms = rank > 0 ? H5Screate_simple(rank, count, NULL) : -1;
  int ok = ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
           H5Dread(d, memtype, ms, fs, H5P_DEFAULT, buf) >= 0;
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  return ok ? 0 : -1;
}

int reader_file_rows(Reader *r, const Archive *a, int f, const char *dset, hid_t memtype, int64_t lo, int64_t cnt,
                     void *buf, char *err, size_t len) {
  if (cnt <= 0) return 0;
  int ok;
  if (!strcmp(dset, "/data")) {
    ok = open_data(r, f) == 0 && read_slab(r->data[f], memtype, lo, cnt, buf) == 0;
    if (ok && still_whole(r, a, f, err, len)) return -1;
  } else { /* /factors or /groups: read once, at open */
    ok = open_data(r, f) == 0;
    hid_t d = ok ? H5Dopen2(r->file[f], dset, H5P_DEFAULT) : -1;
    ok = d >= 0 && read_slab(d, memtype, lo, cnt, buf) == 0;
    if (d >= 0) H5Dclose(d);
  }
  if (!ok && cnt == 1)
    snprintf(err, len, "archive '%s': cannot read %s sample %" PRId64 " (unreadable chunk or truncated file)", a->paths[f],
             dset, lo);
  else if (!ok)
    snprintf(err, len, "archive '%s': cannot read %s samples %" PRId64 "..%" PRId64 " (unreadable chunk or truncated file)",
             a->paths[f], dset, lo, lo + cnt - 1);
  return ok ? 0 : -1;
}

static void *prefetch_main(void *arg);

/* -log_view: the time a step waited for its rows (the prefetch not done yet, or read in place) */
static PetscLogEvent wait_event = -1;

PetscErrorCode reader_create(const Archive *a, int prefetch, Reader **out) {
  PetscFunctionBeginUser;
  Reader *r;
  PetscCall(PetscCalloc1(1, &r));
  r->a = a;
  PetscCall(PetscMalloc5(a->nfiles, &r->file, a->nfiles, &r->data, a->nfiles, &r->used, READER_MAX_OPEN, &r->open, a->nfiles,
                         &r->opened_size));
  PetscCall(PetscCalloc1(a->nfiles, &r->dead));
  for (int f = 0; f < a->nfiles; f++) r->file[f] = r->data[f] = -1, r->used[f] = 0;
  /* until reader_check_buffer knows the batch: 8 files, half the buffer for their caches */
  r->open_max = 8;
  r->cache_bytes = (size_t)(a->io.buffer_mb > 0 ? a->io.buffer_mb * 1e6 / 2 / r->open_max : 1 << 20);
  if (prefetch && wait_event < 0) {
    PetscClassId cid;
    PetscCall(PetscClassIdRegister("Archive", &cid));
    PetscCall(PetscLogEventRegister("ArchiveWait", cid, &wait_event));
  }
  if (prefetch) {
    PetscCheck(!pthread_mutex_init(&r->mu, NULL) && !pthread_cond_init(&r->cv, NULL), PETSC_COMM_SELF, PETSC_ERR_SYS,
               "cannot create the prefetch thread's lock");
    PetscCheck(!pthread_create(&r->thread, NULL, prefetch_main, r), PETSC_COMM_SELF, PETSC_ERR_SYS,
               "cannot start the prefetch thread");
    r->threaded = 1;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) == 1) /* rank 0 speaks for all */
      log_info(a->comm, "note: this rank is bound to one core, which its prefetch thread shares with the "
                        "training step; bind two cores per rank (srun -c 2, mpiexec --map-by slot:PE=2, or "
                        "--bind-to none) to hide the reads completely (docs/streaming.md)");
  }
  *out = r;
  PetscFunctionReturn(0);
}

void reader_destroy(Reader **rp) {
  Reader *r = rp ? *rp : NULL;
  if (!r) return;
  if (r->threaded) {
    pthread_mutex_lock(&r->mu);
    r->quit = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
  }
  for (int i = 0; i < r->nopen; i++) close_file(r, r->open[i]);
  (void)PetscFree5(r->file, r->data, r->used, r->open, r->opened_size);
  (void)PetscFree(r->dead);
  free(r->bad);
  free(r->pf_idx);
  free(r->pf_used);
  free(r->pf_x);
  free(r->wanted);
  free(r->scratch);
  (void)PetscFree(r);
  *rp = NULL;
}

static void note_bad(Reader *r, int64_t g) {
  for (int64_t i = 0; i < r->nbad; i++)
    if (r->bad[i] == g) return;
  if (r->nbad == r->capbad) {
    int64_t cap = r->capbad ? 2 * r->capbad : 64, *grown = realloc(r->bad, sizeof *grown * (size_t)cap);
    if (!grown) return;
    r->bad = grown, r->capbad = cap;
  }
  r->bad[r->nbad++] = g;
}

static void fatal(Reader *r, int status, const char *msg) {
  if (r->status) return;
  r->status = status;
  snprintf(r->msg, sizeof r->msg, "%s", msg);
}

/* One sample, normalised, into x: sample g, or (skipping) the next good one; its index. */
static int64_t fetch_row(Reader *r, int64_t g, float *x) {
  const Archive *a = r->a;
  for (int64_t tries = 0; tries < a->n && !r->status; tries++) {
    int f = archive_file_of(a, g);
    char why[1024];
    if (r->dead[f]) { /* skipped already: on to the next file */
      g = a->file_first[f + 1] % a->n;
      continue;
    }
    if (reader_file_rows(r, a, f, "/data", H5T_NATIVE_FLOAT, g - a->file_first[f], 1, x, why, sizeof why)) {
      if (!a->io.skip_bad) {
        char m[1100];
        snprintf(m, sizeof m, "%s, during the run; give -on_bad_record skip to go on without it", why);
        fatal(r, PETSC_ERR_FILE_READ, m);
        break;
      }
      r->dead[f] = 1;
      close_file(r, f);
      fprintf(stderr, "disentangle: %s, during the run: its %" PRId64 " samples are skipped (-on_bad_record skip)\n", why,
              a->meta[f].n);
      g = a->file_first[f + 1] % a->n;
      continue;
    }
    int64_t v = 0;
    while (v < a->features && isfinite(x[v])) v++;
    if (v == a->features) {
      for (int64_t k = 0; k < a->features; k++) x[k] = (float)(((double)x[k] - a->mean) / a->std);
      return g;
    }
    char what[1200];
    snprintf(what, sizeof what, "archive '%s': /data sample %" PRId64 " (global sample %" PRId64 ") holds %s at value %" PRId64,
             a->paths[f], g - a->file_first[f], g,
             isinf(x[v]) ? (a->meta[f].is_f64 ? "Inf (or a value beyond the float32 range)" : "Inf") : "NaN", v);
    if (!a->io.skip_bad) {
      char m[1300];
      snprintf(m, sizeof m, "%s; fix or remove the sample (or give -on_bad_record skip)", what);
      fatal(r, DT_ERR_INPUT, m);
      break;
    }
    int64_t before = r->nbad;
    note_bad(r, g);
    if (r->nbad > before) fprintf(stderr, "disentangle: skipped bad record (-on_bad_record skip): %s\n", what);
    g = (g + 1) % a->n;
  }
  return g;
}

static int by_sample(const void *p, const void *q) {
  const Wanted *a = p, *b = q;
  return a->g < b->g ? -1 : a->g > b->g ? 1 : a->j - b->j;
}

/* The distinct samples w[0..n) of file f (sorted) into r->scratch in file order (a repeated
 * sample once): one H5Dread per run of consecutive samples. Each run is one regular hyperslab;
 * HDF5 1.10 maps a union of them onto the chunks element by element, far slower than this. */
static int read_runs(Reader *r, int f, const Wanted *w, int n) {
  const Archive *a = r->a;
  int ok = 1;
  for (int i = 0, at = 0; i < n && ok;) {
    int k = i + 1;
    while (k < n && w[k].g <= w[k - 1].g + 1) k++;
    int64_t rows = w[k - 1].g - w[i].g + 1;
    ok = read_slab(r->data[f], H5T_NATIVE_FLOAT, w[i].g - a->file_first[f], rows, r->scratch + (size_t)at * (size_t)a->features) == 0;
    at += (int)rows, i = k;
  }
  return ok && still_whole(r, a, f, NULL, 0) == 0 ? 0 : -1;
}

/* dst = (src - mean) / std, the arithmetic of every other path (so streamed and in-memory runs
 * agree to the bit); 1 if every value was finite. One branch-free pass that vectorises. */
VMATH_CLONES static int normalise_row(const float *restrict src, float *restrict dst, size_t n, double mean, double std) {
  unsigned bad = 0;
#pragma omp simd reduction(| : bad)
  for (size_t v = 0; v < n; v++) {
    union {
      float f;
      unsigned u;
    } bits = {.f = src[v]};
    bad |= (bits.u & 0x7f800000u) == 0x7f800000u; /* exponent all ones: Inf or NaN */
    dst[v] = (float)(((double)src[v] - mean) / std);
  }
  return !bad;
}

/* The samples idx[0..count) into x, normalised; used[j] is the sample row j holds (another one
 * only where a bad record was skipped). Each file's samples of the batch are read together, as
 * many as r->scratch holds at a time; a row that fails (unreadable, NaN/Inf) goes through
 * fetch_row, which names it, skips it or stops, exactly as a row read alone. */
static void fetch(Reader *r, const int64_t *idx, int count, float *x, int64_t *used) {
  const Archive *a = r->a;
  const size_t row = (size_t)a->features;
  Wanted *w = r->wanted;
  for (int j = 0; j < count; j++) w[j] = (Wanted){idx[j], j};
  qsort(w, (size_t)count, sizeof *w, by_sample);
  for (int i = 0; i < count && !r->status;) {
    int f = archive_file_of(a, w[i].g), k = i + 1;
    /* one read: the next samples of file f, at most scratch_rows distinct ones */
    int64_t distinct = 1;
    while (k < count && w[k].g < a->file_first[f + 1]) {
      int fresh = w[k].g != w[k - 1].g;
      if (distinct + fresh > r->scratch_rows) break;
      distinct += fresh, k++;
    }
    int whole = !r->dead[f] && open_data(r, f) == 0 && read_runs(r, f, w + i, k - i) == 0;
    for (int64_t at = 0, q = i; q < k && !r->status; q++) {
      if (q > i) at += w[q].g != w[q - 1].g;
      const float *src = r->scratch + (size_t)at * row;
      float *dst = x + (size_t)w[q].j * row;
      if (whole && normalise_row(src, dst, row, a->mean, a->std)) used[w[q].j] = w[q].g;
      else used[w[q].j] = fetch_row(r, w[q].g, dst);
    }
    i = k;
  }
}

static void *prefetch_main(void *arg) {
  Reader *r = arg;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    while (!r->quit && !(r->pending && !r->done)) pthread_cond_wait(&r->cv, &r->mu);
    if (r->quit) break;
    pthread_mutex_unlock(&r->mu);
    fetch(r, r->pf_idx, r->pf_count, r->pf_x, r->pf_used);
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

void reader_quiesce(Reader *r) {
  if (!r || !r->threaded) return;
  pthread_mutex_lock(&r->mu);
  while (r->pending && !r->done) pthread_cond_wait(&r->cv, &r->mu);
  pthread_mutex_unlock(&r->mu);
}

/* Every rank learns whether any rank's reader failed; the lowest failing rank's message is
 * raised everywhere, so all ranks stop together with one line. */
static PetscErrorCode agree_status(const Archive *a) {
  PetscFunctionBeginUser;
  Reader *r = a->reader;
  int rank, size;
  PetscCallMPI(MPI_Comm_rank(a->comm, &rank));
  PetscCallMPI(MPI_Comm_size(a->comm, &size));
  int who = r->status ? rank : size;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, a->comm));
  if (who == size) PetscFunctionReturn(0);
  int status = r->status;
  char msg[sizeof r->msg];
  memcpy(msg, r->msg, sizeof msg);
  PetscCallMPI(MPI_Bcast(&status, 1, MPI_INT, who, a->comm));
  PetscCallMPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, who, a->comm));
  SETERRQ(a->comm, status, "%s", msg);
}

/* fetch's space for a batch of count rows: the sort, and the rows of one read */
static PetscErrorCode fetch_space(Reader *r, int count) {
  PetscFunctionBeginUser;
  const size_t row_bytes = sizeof(float) * (size_t)r->a->features;
  int64_t rows = PetscMax(1, PetscMin(count, (int64_t)(SCRATCH_BYTES / row_bytes)));
  if (count > r->wanted_cap) {
    free(r->wanted);
    r->wanted = malloc(sizeof *r->wanted * (size_t)count);
    PetscCheck(r->wanted, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate the reader's batch order");
    r->wanted_cap = count;
  }
  if (rows > r->scratch_rows) {
    free(r->scratch);
    r->scratch = NULL;
    PetscCheck(posix_memalign((void **)&r->scratch, 64, row_bytes * (size_t)rows) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM,
               "cannot allocate the reader's read buffer");
    r->scratch_rows = rows;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode reader_next_batch(const Archive *a, Sampler *s, Batch *b) {
  PetscFunctionBeginUser;
  Reader *r = a->reader;
  size_t row = (size_t)a->features;
  PetscCall(PetscLogEventBegin(wait_event, 0, 0, 0, 0));
  reader_quiesce(r);
  PetscCall(fetch_space(r, b->count)); /* for this batch if not prefetched, and for the next */
  if (r->pending && r->pf_step == s->step && r->pf_off == b->offset && r->pf_count == b->count) {
    float *x = b->x; /* both hold at least count rows and come from aligned_alloc/posix_memalign: swapped, not copied */
    b->x = r->pf_x, r->pf_x = x, r->pf_cap = b->count;
    memcpy(b->index, r->pf_used, sizeof *b->index * (size_t)b->count);
  } else {
    for (int j = 0; j < b->count; j++) b->index[j] = sampler_index(s, b->offset + j);
    fetch(r, b->index, b->count, b->x, b->index);
  }
  PetscCall(PetscLogEventEnd(wait_event, 0, 0, 0, 0));
  r->pending = 0;
  b->step = s->step++;
  PetscCall(agree_status(a));
  /* the next batch, read while this one trains */
  if (b->count > r->pf_cap) {
    free(r->pf_idx), free(r->pf_used), free(r->pf_x);
    r->pf_idx = malloc(sizeof *r->pf_idx * (size_t)b->count);
    r->pf_used = malloc(sizeof *r->pf_used * (size_t)b->count);
    PetscCheck(posix_memalign((void **)&r->pf_x, 64, sizeof(float) * row * (size_t)b->count) == 0 && r->pf_idx &&
                   r->pf_used, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate the prefetch buffer");
    r->pf_cap = b->count;
  }
  for (int j = 0; j < b->count; j++) r->pf_idx[j] = sampler_index(s, b->offset + j);
  pthread_mutex_lock(&r->mu);
  r->pf_step = s->step, r->pf_off = b->offset, r->pf_count = b->count;
  r->pending = 1, r->done = 0;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  PetscFunctionReturn(0);
}

/* Rows read outside training (eval, the final survey): on this rank alone, so a fatal problem
 * ends the job from here, with its one line. */
PetscErrorCode reader_range(const Archive *a, int64_t first, int count, float *x) {
  PetscFunctionBeginUser;
  Reader *r = a->reader;
  reader_quiesce(r);
  r->pending = 0;
  const size_t row = (size_t)a->features;
  for (int64_t at = first; at < first + count && !r->status;) { /* one read per file, row by row where that fails */
    int f = archive_file_of(a, at);
    int64_t rows = PetscMin(a->file_first[f + 1], first + count) - at;
    float *into = x + (size_t)(at - first) * row;
    char why[1024];
    int whole = !r->dead[f] && !reader_file_rows(r, a, f, "/data", H5T_NATIVE_FLOAT, at - a->file_first[f], rows, into, why,
                                                 sizeof why);
    for (int64_t j = 0; j < rows && !r->status; j++) {
      float *v = into + (size_t)j * row;
      int64_t k = 0;
      while (whole && k < a->features && isfinite(v[k])) k++;
      if (whole && k == a->features)
        for (k = 0; k < a->features; k++) v[k] = (float)(((double)v[k] - a->mean) / a->std);
      else fetch_row(r, at + j, v); /* names, skips or stops, as for a batch */
    }
    at += rows;
  }
  if (r->status) {
    fprintf(stderr, "disentangle: error: %s\n", r->msg);
    fflush(stderr);
    MPI_Abort(a->comm, r->status == DT_ERR_INPUT ? DT_EXIT_INPUT : DT_EXIT_OUTPUT);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode reader_check_buffer(const Archive *a, int rows) {
  PetscFunctionBeginUser;
  Reader *r = a->reader;
  const double row_bytes = (double)a->features * sizeof(float);
  double budget = a->io.buffer_mb * 1e6, batches = 2.0 * rows * row_bytes;
  /* fetch's read buffer counts with the caches: at most SCRATCH_BYTES, at least one row */
  double scratch = row_bytes * PetscMax(1, PetscMin(rows, floor(SCRATCH_BYTES / row_bytes)));
  char num[3][32]; /* formatted here: PETSc's own %g would print "1." for 1 */
  snprintf(num[0], sizeof num[0], "%g", a->io.buffer_mb), snprintf(num[1], sizeof num[1], "%.3g", batches / 1e6);
  snprintf(num[2], sizeof num[2], "%.0f", ceil((batches + scratch) / 0.75 / 1e6));
  DT_INPUT_CHECK(batches + scratch <= 0.75 * budget, a->comm,
                 "option -io_buffer_mb: %s MB cannot hold two batches of %d samples of %lld values (%s MB) and the "
                 "read caches; give at least %s", num[0], rows, (long long)a->features, num[1], num[2]);
  reader_quiesce(r);
  /* the rest: open files, each costing FILE_COST plus (compressed) a chunk cache of the same
   * size. A shuffle window's chunks come from many files, and reopening a file costs more than
   * reading a row from it, so a larger buffer buys open files first. */
  double left = budget - batches - scratch;
  r->open_max = (int)PetscMax(2, PetscMin(READER_MAX_OPEN, floor(left / (2 * FILE_COST))));
  r->cache_bytes = (size_t)PetscMax(0, left / r->open_max - FILE_COST);
  for (int i = 0; i < r->nopen; i++) close_file(r, r->open[i]); /* reopened with the new cache size */
  r->nopen = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode reader_skipped(const Archive *a, long *records, long *files) {
  PetscFunctionBeginUser;
  Reader *r = a->reader;
  int size, n = (int)r->nbad, *counts, *displs, total = 0;
  reader_quiesce(r);
  PetscCallMPI(MPI_Comm_size(a->comm, &size));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, a->comm));
  for (int p = 0; p < size; p++) displs[p] = total, total += counts[p];
  int64_t *all;
  PetscCall(PetscMalloc1(total + 1, &all));
  PetscCallMPI(MPI_Allgatherv(r->bad, n, MPI_INT64_T, all, counts, displs, MPI_INT64_T, a->comm));
  PetscCall(PetscSortInt64(total, all));
  long distinct = 0;
  for (int i = 0; i < total; i++) distinct += i == 0 || all[i] != all[i - 1];
  *records = distinct;
  char *dead;
  PetscCall(PetscMalloc1(a->nfiles, &dead));
  PetscCallMPI(MPI_Allreduce(r->dead, dead, a->nfiles, MPI_CHAR, MPI_MAX, a->comm));
  *files = 0;
  for (int f = 0; f < a->nfiles; f++) *files += dead[f] != 0;
  PetscCall(PetscFree(dead));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}

/* One streaming pass for the mean and std: the archive in units of STATS_BLOCK rows of one file
 * (fixed by the data, not by the ranks), each unit's count, mean and M2 by Welford on the rank
 * that reads it, the units combined in their order by Chan et al.'s rule on every rank: the
 * same bits on any rank count. Non-finite samples are left out (skipped) or fatal. */
PetscErrorCode reader_stats(const Archive *a, double *mean, double *std) {
  PetscFunctionBeginUser;
  Reader *r = a->reader;
  int rank, size;
  PetscCallMPI(MPI_Comm_rank(a->comm, &rank));
  PetscCallMPI(MPI_Comm_size(a->comm, &size));
  int64_t units = 0;
  for (int f = 0; f < a->nfiles; f++) units += (a->meta[f].n + STATS_BLOCK - 1) / STATS_BLOCK;
  double *u;
  float *x;
  PetscCall(PetscCalloc1(3 * units, &u));
  PetscCall(PetscMalloc1((size_t)STATS_BLOCK * a->features, &x));
  reader_quiesce(r);
  for (int64_t k = 0, f = 0, lo = 0; k < units && !r->status; k++) {
    if (k % size == rank) {
      int64_t cnt = PetscMin(STATS_BLOCK, a->meta[f].n - lo);
      char why[1024];
      if (reader_file_rows(r, a, (int)f, "/data", H5T_NATIVE_FLOAT, lo, cnt, x, why, sizeof why)) fatal(r, DT_ERR_INPUT, why);
      double n = 0, m = 0, m2 = 0;
      for (int64_t i = 0; i < cnt && !r->status; i++) {
        const float *row = x + (size_t)i * a->features;
        int64_t v = 0;
        while (v < a->features && isfinite(row[v])) v++;
        if (v < a->features) { /* found here; named (or fatal) as when read for training */
          if (!a->io.skip_bad) {
            char m[1200];
            snprintf(m, sizeof m, "archive '%s': /data sample %" PRId64 " (global sample %" PRId64 ") holds %s at value %" PRId64
                     "; fix or remove the sample (or give -on_bad_record skip)", a->paths[f], lo + i,
                     a->file_first[f] + lo + i, isinf(row[v]) ? "Inf" : "NaN", v);
            fatal(r, DT_ERR_INPUT, m);
          } else note_bad(r, a->file_first[f] + lo + i);
          continue;
        }
        for (int64_t k2 = 0; k2 < a->features; k2++) {
          double d = row[k2] - m;
          n += 1, m += d / n, m2 += d * (row[k2] - m);
        }
      }
      u[3 * k] = n, u[3 * k + 1] = m, u[3 * k + 2] = m2;
    }
    lo += STATS_BLOCK;
    if (lo >= a->meta[f].n) f++, lo = 0;
  }
  PetscCall(PetscFree(x));
  PetscErrorCode err = agree_status(a);
  if (!err) err = MPI_Allreduce(MPI_IN_PLACE, u, (int)(3 * units), MPI_DOUBLE, MPI_SUM, a->comm);
  double n = 0, m = 0, m2 = 0;
  for (int64_t k = 0; k < units && !err; k++) {
    double nb = u[3 * k], mb = u[3 * k + 1], d = mb - m, nn = n + nb;
    if (nb == 0) continue;
    m += d * nb / nn, m2 += u[3 * k + 2] + d * d * n * nb / nn, n = nn;
  }
  PetscCall(PetscFree(u));
  PetscCall(err);
  *mean = m, *std = n > 0 ? sqrt(m2 / n) : 0;
  PetscFunctionReturn(0);
}
