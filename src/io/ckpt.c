/* Checkpoint files: see ckpt.h for the layout. */
#include "disentangle/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "disentangle/comm.h"
#include "disentangle/error.h"

#define CKPT_FORMAT "disentangle-checkpoint"
#define CKPT_FORMAT_VERSION 1

static PetscErrorCode open_checkpoint(MPI_Comm comm, const char *path, hid_t *file);

/* ---- CRC-32 (IEEE 802.3, the zlib one) ------------------------------------------------------ */

uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* The checksum runs over the tensors in the order HDF5 lists them (group by group, names in
 * increasing order), so `inspect` can verify a file without knowing which method wrote it. */
static int by_path(const void *a, const void *b) {
  const CkptTensor *x = *(const CkptTensor *const *)a, *y = *(const CkptTensor *const *)b;
  int c = strcmp(x->group, y->group);
  return c ? c : strcmp(x->name, y->name);
}

static uint32_t state_checksum(const CkptState *s) {
  const CkptTensor **order = malloc(sizeof *order * (s->ntensors + 1));
  for (int i = 0; i < s->ntensors; i++) order[i] = &s->tensors[i];
  qsort(order, s->ntensors, sizeof *order, by_path);
  uint32_t crc = 0;
  for (int i = 0; i < s->ntensors; i++)
    crc = ckpt_crc32(crc, order[i]->data, (size_t)order[i]->rows * (order[i]->cols ? order[i]->cols : 1) * sizeof(float));
  free(order);
  return crc;
}

typedef struct {
  uint32_t crc;
  FILE *out;
  int bad;
} Listing;

static herr_t list_dataset(hid_t root, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  Listing *l = data;
  H5O_info_t oi;
  if (H5Oget_info_by_name2(root, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET) return 0;
  hid_t d = H5Dopen2(root, name, H5P_DEFAULT), s = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  int nd = H5Sget_simple_extent_dims(s, dims, NULL);
  hssize_t n = H5Sget_simple_extent_npoints(s);
  if (l->out) {
    if (nd == 2) fprintf(l->out, "  /%-40s [%llu, %llu]\n", name, (unsigned long long)dims[0], (unsigned long long)dims[1]);
    else fprintf(l->out, "  /%-40s [%llu]\n", name, (unsigned long long)dims[0]);
  }
  if (!strncmp(name, "params/", 7) || !strncmp(name, "optim/", 6)) {
    float *v = malloc(sizeof(float) * (n > 0 ? n : 1));
    if (!v || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) l->bad = 1;
    else l->crc = ckpt_crc32(l->crc, v, sizeof(float) * n);
    free(v);
  }
  H5Sclose(s), H5Dclose(d);
  return 0;
}

PetscErrorCode ckpt_list(MPI_Comm comm, const char *path, FILE *out, uint32_t *crc) {
  PetscFunctionBeginUser;
  hid_t file;
  PetscCall(open_checkpoint(comm, path, &file));
  Listing l = {.crc = 0, .out = out, .bad = 0};
  herr_t r = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, list_dataset, &l);
  H5Fclose(file);
  DT_INPUT_CHECK(r >= 0 && !l.bad, comm, "checkpoint '%s': a tensor cannot be read (damaged file?)", path);
  *crc = l.crc;
  PetscFunctionReturn(0);
}

/* ---- attributes ------------------------------------------------------------------------------ */

static PetscErrorCode put_attr(hid_t obj, const char *name, hid_t type, const void *value) {
  PetscFunctionBeginUser;
  hid_t space = H5Screate(H5S_SCALAR), attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  DT_H5(attr);
  DT_H5(H5Awrite(attr, type, value));
  H5Aclose(attr), H5Sclose(space);
  PetscFunctionReturn(0);
}

static PetscErrorCode put_string_attr(hid_t obj, const char *name, const char *value) {
  PetscFunctionBeginUser;
  hid_t type = H5Tcopy(H5T_C_S1);
  DT_H5(H5Tset_size(type, strlen(value) + 1));
  PetscCall(put_attr(obj, name, type, value));
  H5Tclose(type);
  PetscFunctionReturn(0);
}

static int get_attr(hid_t obj, const char *name, hid_t type, void *value) {
  if (H5Aexists(obj, name) <= 0) return -1;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  int ok = attr >= 0 && H5Aread(attr, type, value) >= 0;
  if (attr >= 0) H5Aclose(attr);
  return ok ? 0 : -1;
}

/* A string attribute of any length, malloc'd; NULL when missing. */
static char *get_string_attr(hid_t obj, const char *name) {
  if (H5Aexists(obj, name) <= 0) return NULL;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT), ftype = H5Aget_type(attr);
  size_t n = H5Tget_size(ftype);
  hid_t mtype = H5Tcopy(H5T_C_S1);
  H5Tset_size(mtype, n + 1);
  char *s = calloc(n + 2, 1);
  if (s && H5Aread(attr, mtype, s) < 0) free(s), s = NULL;
  H5Tclose(mtype), H5Tclose(ftype), H5Aclose(attr);
  return s;
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* rows x cols (cols 0: a vector) from every rank's full copy: each writes its block of rows. */
static PetscErrorCode write_rows(hid_t file, const char *path, hid_t ftype, hid_t mtype, const void *data, size_t esize,
                                 int rows, int cols, int first, int count, hid_t lcpl, hid_t dxpl) {
  PetscFunctionBeginUser;
  int nd = cols ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols}, start[2] = {(hsize_t)first, 0}, cnt[2] = {(hsize_t)count, (hsize_t)cols};
  hid_t fspace = H5Screate_simple(nd, dims, NULL), mspace = H5Screate_simple(nd, cnt, NULL);
  hid_t dset = H5Dcreate2(file, path, ftype, fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  DT_H5(dset);
  if (count > 0) DT_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL));
  else H5Sselect_none(fspace), H5Sselect_none(mspace);
  const char *from = (const char *)data + (size_t)first * (cols ? cols : 1) * esize;
  DT_H5(H5Dwrite(dset, mtype, mspace, fspace, dxpl, from));
  H5Sclose(mspace), H5Sclose(fspace), H5Dclose(dset);
  PetscFunctionReturn(0);
}

static PetscErrorCode write_root_attrs(hid_t file, const CkptMeta *m) {
  PetscFunctionBeginUser;
  long long step = m->step, ranks = m->ranks, fv = CKPT_FORMAT_VERSION, batch = m->global_batch;
  unsigned long long seed = m->seed;
  PetscCall(put_string_attr(file, "format", CKPT_FORMAT));
  PetscCall(put_attr(file, "format_version", H5T_NATIVE_LLONG, &fv));
  PetscCall(put_string_attr(file, "version", PACKAGE_VERSION));
  PetscCall(put_string_attr(file, "method", m->method));
  PetscCall(put_string_attr(file, "options", m->options ? m->options : ""));
  PetscCall(put_attr(file, "step", H5T_NATIVE_LLONG, &step));
  PetscCall(put_attr(file, "epoch", H5T_NATIVE_DOUBLE, &m->epoch));
  PetscCall(put_attr(file, "ranks", H5T_NATIVE_LLONG, &ranks));
  PetscCall(put_attr(file, "seed", H5T_NATIVE_ULLONG, &seed));
  PetscCall(put_attr(file, "global_batch", H5T_NATIVE_LLONG, &batch));
  PetscCall(put_attr(file, "data_mean", H5T_NATIVE_DOUBLE, &m->data_mean));
  PetscCall(put_attr(file, "data_std", H5T_NATIVE_DOUBLE, &m->data_std));
  PetscCall(put_attr(file, "checksum", H5T_NATIVE_UINT32, &m->checksum));
  PetscFunctionReturn(0);
}

/* /rng, /cursor (a row per rank) and /history (rank 0 writes it all). */
static PetscErrorCode write_run_position(hid_t file, const CkptMeta *m, int rank, int size, hid_t lcpl, hid_t dxpl) {
  PetscFunctionBeginUser;
  int off, cnt;
  par_slice(m->global_batch, rank, size, &off, &cnt);
  long long *rows;
  PetscCall(PetscCalloc1(8 * (size_t)size, &rows));
  rows[4 * rank + 0] = (long long)m->seed, rows[4 * rank + 1] = 1 /* RNG_STREAM_BATCH */;
  rows[4 * rank + 2] = m->step, rows[4 * rank + 3] = 0;
  long long *cursor = rows + 4 * size;
  cursor[4 * rank + 0] = m->step, cursor[4 * rank + 1] = m->global_batch;
  cursor[4 * rank + 2] = off, cursor[4 * rank + 3] = cnt;
  PetscCall(write_rows(file, "rng", H5T_STD_I64LE, H5T_NATIVE_LLONG, rows, sizeof *rows, size, 4, rank, 1, lcpl, dxpl));
  PetscCall(write_rows(file, "cursor", H5T_STD_I64LE, H5T_NATIVE_LLONG, cursor, sizeof *cursor, size, 4, rank, 1, lcpl, dxpl));
  PetscCall(PetscFree(rows));
  int hrows = (int)m->history_rows;
  PetscCall(write_rows(file, "history", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->history, sizeof(double), hrows,
                       CKPT_HISTORY_COLS, 0, rank == 0 ? hrows : 0, lcpl, dxpl));
  PetscFunctionReturn(0);
}

/* Make the finished file durable, then publish it under its real name in one atomic step. */
static PetscErrorCode publish(MPI_Comm comm, const char *tmp, const char *path) {
  PetscFunctionBeginUser;
  int rank, err = 0;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) err = errno;
    if (fd >= 0) close(fd);
    if (!err && rename(tmp, path) != 0) err = errno;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY);
    if (dfd >= 0) fsync(dfd), close(dfd);
    if (err) unlink(tmp);
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE, "could not publish checkpoint '%s': %s", path, strerror(err));
  PetscFunctionReturn(0);
}

static PetscErrorCode write_body(hid_t file, MPI_Comm comm, const CkptState *s, CkptMeta *m) {
  PetscFunctionBeginUser;
  int rank, size;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER), lcpl = H5Pcreate(H5P_LINK_CREATE);
  DT_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  DT_H5(H5Pset_create_intermediate_group(lcpl, 1));
  PetscCall(write_root_attrs(file, m));
  for (int i = 0; i < s->ntensors; i++) {
    const CkptTensor *t = &s->tensors[i];
    char path[2 * CKPT_NAME_LEN + 2];
    int off, cnt;
    snprintf(path, sizeof path, "%s/%s", t->group, t->name);
    par_slice(t->rows, rank, size, &off, &cnt);
    PetscCall(write_rows(file, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->data, sizeof(float), t->rows, t->cols, off,
                         cnt, lcpl, dxpl));
  }
  for (int i = 0; i < s->ncounts; i++) {
    hid_t g = H5Oopen(file, s->counts[i].group, H5P_DEFAULT);
    DT_H5(g);
    PetscCall(put_attr(g, s->counts[i].name, H5T_NATIVE_LLONG, s->counts[i].value));
    H5Oclose(g);
  }
  PetscCall(write_run_position(file, m, rank, size, lcpl, dxpl));
  H5Pclose(lcpl), H5Pclose(dxpl);
  PetscFunctionReturn(0);
}

/* Room for the file, checked before writing: parallel HDF5 cannot always get out of a write
 * that fails on a full disk (ranks can stop in different collective calls and wait forever). */
static PetscErrorCode check_space(MPI_Comm comm, const char *path, const CkptState *s, const CkptMeta *m) {
  PetscFunctionBeginUser;
  int rank;
  double need = 1 << 20, have = 0; /* 1 MiB for metadata and the small datasets */
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (int i = 0; i < s->ntensors; i++) need += 4.0 * s->tensors[i].rows * (s->tensors[i].cols ? s->tensors[i].cols : 1);
  need += 8.0 * CKPT_HISTORY_COLS * m->history_rows;
  if (rank == 0) {
    char dir[4096];
    struct statvfs fs;
    snprintf(dir, sizeof dir, "%s", path);
    have = statvfs(dirname(dir), &fs) == 0 ? (double)fs.f_bavail * fs.f_frsize : -1.0;
  }
  PetscCallMPI(MPI_Bcast(&have, 1, MPI_DOUBLE, 0, comm));
  PetscCheck(have < 0 || have >= need, comm, PETSC_ERR_FILE_WRITE,
             "no room for checkpoint '%s': it needs %.1f MB, %.1f MB are free; free space or lower -checkpoint_keep "
             "(older checkpoints are intact)", path, need / 1e6, have / 1e6);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_write(MPI_Comm comm, const char *path, const CkptState *s, CkptMeta *m) {
  PetscFunctionBeginUser;
  char tmp[4200];
  int rank, ok, all_ok;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(check_space(comm, path, s, m));
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  m->checksum = state_checksum(s); /* every rank holds the whole state: all agree */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  DT_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  DT_H5(H5Pset_all_coll_metadata_ops(fapl, 1));
  DT_H5(H5Pset_coll_metadata_write(fapl, 1));
  hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  ok = file >= 0;
  PetscCallMPI(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm));
  if (!all_ok && file >= 0) H5Fclose(file);
  PetscCheck(all_ok, comm, PETSC_ERR_FILE_WRITE, "cannot create '%s': is the run directory there and writable?", tmp);
  /* A failed write (full disk) is reported once, below, for the whole checkpoint. */
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  PetscErrorCode ierr = write_body(file, comm, s, m);
  PetscCall(PetscPopErrorHandler());
  herr_t closed = H5Fclose(file); /* flushes: a full disk shows here at the latest */
  ok = !ierr && closed >= 0;
  PetscCallMPI(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm));
  if (!all_ok && rank == 0) unlink(tmp); /* nothing half-written stays behind */
  PetscCheck(all_ok, comm, PETSC_ERR_FILE_WRITE,
             "writing checkpoint '%s' failed (disk full?); the partial file was removed, older checkpoints are intact", path);
  PetscCall(publish(comm, tmp, path));
  PetscFunctionReturn(0);
}

/* ---- reading ---------------------------------------------------------------------------------- */

static PetscErrorCode open_checkpoint(MPI_Comm comm, const char *path, hid_t *file) {
  PetscFunctionBeginUser;
  int rank, state = 0; /* 0 ok, 1 missing, 2 not HDF5 */
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) state = access(path, R_OK) != 0 ? 1 : H5Fis_hdf5(path) > 0 ? 0 : 2;
  PetscCallMPI(MPI_Bcast(&state, 1, MPI_INT, 0, comm));
  DT_INPUT_CHECK(state != 1, comm, "checkpoint '%s': cannot open: %s", path, "no such readable file");
  DT_INPUT_CHECK(state != 2, comm, "checkpoint '%s': not an HDF5 file (truncated or overwritten?)", path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  DT_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  int ok = *file >= 0, all;
  PetscCallMPI(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm));
  if (!all && *file >= 0) H5Fclose(*file);
  DT_INPUT_CHECK(all, comm, "checkpoint '%s': HDF5 cannot open it (truncated?)", path);
  PetscFunctionReturn(0);
}

static PetscErrorCode read_history(hid_t file, const char *path, CkptMeta *m) {
  PetscFunctionBeginUser;
  hid_t d = H5Dopen2(file, "history", H5P_DEFAULT);
  DT_INPUT_CHECK(d >= 0, PETSC_COMM_WORLD, "checkpoint '%s': no /history", path);
  hid_t s = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  int nd = H5Sget_simple_extent_dims(s, dims, NULL);
  DT_INPUT_CHECK(nd == 2 && dims[1] == CKPT_HISTORY_COLS, PETSC_COMM_WORLD,
                 "checkpoint '%s': /history is not [steps][%d]", path, CKPT_HISTORY_COLS);
  m->history_rows = (long)dims[0];
  PetscCall(PetscMalloc1(dims[0] * CKPT_HISTORY_COLS + 1, &m->history));
  herr_t r = dims[0] ? H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->history) : 0;
  H5Sclose(s), H5Dclose(d);
  DT_INPUT_CHECK(r >= 0, PETSC_COMM_WORLD, "checkpoint '%s': /history cannot be read (damaged file?)", path);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_read_meta(MPI_Comm comm, const char *path, CkptMeta *m) {
  PetscFunctionBeginUser;
  memset(m, 0, sizeof *m);
  hid_t file;
  PetscCall(open_checkpoint(comm, path, &file));
  char *format = get_string_attr(file, "format"), *method = get_string_attr(file, "method");
  long long step = -1, ranks = 0, fv = 0, batch = 0;
  unsigned long long seed = 0;
  int bad = !format || strcmp(format, CKPT_FORMAT) || !method || get_attr(file, "step", H5T_NATIVE_LLONG, &step) ||
            get_attr(file, "format_version", H5T_NATIVE_LLONG, &fv) || get_attr(file, "ranks", H5T_NATIVE_LLONG, &ranks) ||
            get_attr(file, "seed", H5T_NATIVE_ULLONG, &seed) || get_attr(file, "epoch", H5T_NATIVE_DOUBLE, &m->epoch) ||
            get_attr(file, "global_batch", H5T_NATIVE_LLONG, &batch) ||
            get_attr(file, "checksum", H5T_NATIVE_UINT32, &m->checksum) ||
            get_attr(file, "data_mean", H5T_NATIVE_DOUBLE, &m->data_mean) ||
            get_attr(file, "data_std", H5T_NATIVE_DOUBLE, &m->data_std);
  if (!bad) snprintf(m->method, sizeof m->method, "%s", method);
  free(format), free(method);
  m->options = bad ? NULL : get_string_attr(file, "options");
  if (bad || !m->options) H5Fclose(file);
  DT_INPUT_CHECK(!bad && m->options, comm,
                 "checkpoint '%s': not a disentangle checkpoint (attributes format/method/step/checksum missing)", path);
  if (fv != CKPT_FORMAT_VERSION) H5Fclose(file);
  DT_INPUT_CHECK(fv == CKPT_FORMAT_VERSION, comm, "checkpoint '%s': format version %lld; this program reads %d", path, fv,
                 CKPT_FORMAT_VERSION);
  m->step = (long)step, m->ranks = (int)ranks, m->seed = seed, m->global_batch = (int)batch;
  PetscErrorCode ierr = read_history(file, path, m);
  H5Fclose(file);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

static PetscErrorCode read_tensor(hid_t file, const char *path, const CkptTensor *t) {
  PetscFunctionBeginUser;
  char name[2 * CKPT_NAME_LEN + 2];
  snprintf(name, sizeof name, "%s/%s", t->group, t->name);
  htri_t exists = H5Lexists(file, t->group, H5P_DEFAULT) > 0 ? H5Lexists(file, name, H5P_DEFAULT) : 0;
  DT_INPUT_CHECK(exists > 0, PETSC_COMM_WORLD, "checkpoint '%s': tensor /%s is missing (another method or architecture?)",
                 path, name);
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT), s = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  int nd = H5Sget_simple_extent_dims(s, dims, NULL), want = t->cols ? 2 : 1;
  int same = nd == want && dims[0] == (hsize_t)t->rows && (!t->cols || dims[1] == (hsize_t)t->cols);
  H5Sclose(s);
  if (!same) H5Dclose(d);
  DT_INPUT_CHECK(same, PETSC_COMM_WORLD, "checkpoint '%s': /%s is [%llu, %llu] there but [%d, %d] in this run (another architecture?)",
                 path, name, (unsigned long long)dims[0], (unsigned long long)dims[1], t->rows, t->cols);
  herr_t r = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data);
  H5Dclose(d);
  DT_INPUT_CHECK(r >= 0, PETSC_COMM_WORLD, "checkpoint '%s': /%s cannot be read (damaged file?)", path, name);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_read_state(MPI_Comm comm, const char *path, const CkptState *s, const CkptMeta *m) {
  PetscFunctionBeginUser;
  hid_t file;
  PetscCall(open_checkpoint(comm, path, &file));
  PetscErrorCode ierr = 0;
  for (int i = 0; i < s->ntensors && !ierr; i++) ierr = read_tensor(file, path, &s->tensors[i]);
  for (int i = 0; i < s->ncounts && !ierr; i++) {
    hid_t g = H5Oopen(file, s->counts[i].group, H5P_DEFAULT);
    int bad = g < 0 || get_attr(g, s->counts[i].name, H5T_NATIVE_LLONG, s->counts[i].value);
    if (g >= 0) H5Oclose(g);
    if (bad) {
      H5Fclose(file);
      DT_INPUT_ERROR(comm, "checkpoint '%s': attribute %s of /%s is missing", path, s->counts[i].name, s->counts[i].group);
    }
  }
  H5Fclose(file);
  PetscCall(ierr);
  uint32_t crc = state_checksum(s);
  DT_INPUT_CHECK(crc == m->checksum, comm, "checkpoint '%s': checksum mismatch (file says %08x, its tensors give %08x): damaged",
                 path, m->checksum, crc);
  PetscFunctionReturn(0);
}

void ckpt_meta_free(CkptMeta *m) {
  free(m->options);
  PetscFree(m->history);
  m->options = NULL;
}

const char *ckpt_option(const char *options, const char *name, char *buf, size_t len) {
  size_t n = strlen(name);
  for (const char *line = options; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t ll = end ? (size_t)(end - line) : strlen(line);
    if (ll > n && !strncmp(line, name, n) && line[n] == ' ') {
      size_t vl = PetscMin(ll - n - 1, len - 1);
      memcpy(buf, line + n + 1, vl);
      buf[vl] = 0;
      return buf;
    }
    line = end ? end + 1 : NULL;
  }
  return NULL;
}
