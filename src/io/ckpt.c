#include "disentangle/ckpt.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "disentangle/comm.h"
#include "disentangle/error.h"

#define CKPT_FORMAT_VERSION 1

static PetscErrorCode write_string_attr(hid_t obj, const char *name, const char *value) {
  PetscFunctionBeginUser;
  hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
  DT_H5(H5Tset_size(type, strlen(value) + 1));
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  DT_H5(attr);
  DT_H5(H5Awrite(attr, type, value));
  H5Aclose(attr), H5Sclose(space), H5Tclose(type);
  PetscFunctionReturn(0);
}

static PetscErrorCode write_int_attr(hid_t obj, const char *name, long long value) {
  PetscFunctionBeginUser;
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name, H5T_NATIVE_LLONG, space, H5P_DEFAULT, H5P_DEFAULT);
  DT_H5(attr);
  DT_H5(H5Awrite(attr, H5T_NATIVE_LLONG, &value));
  H5Aclose(attr), H5Sclose(space);
  PetscFunctionReturn(0);
}

/* One tensor [rows][cols] (cols 0: a vector), every rank writing its block of rows. */
static PetscErrorCode write_tensor(hid_t group, const char *name, const float *data, int rows, int cols,
                                   MPI_Comm comm, hid_t dxpl) {
  PetscFunctionBeginUser;
  int rank, size, off, cnt, rank_dims = cols ? 2 : 1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  par_slice(rows, rank, size, &off, &cnt);
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols}, start[2] = {(hsize_t)off, 0}, count[2] = {(hsize_t)cnt, (hsize_t)cols};
  hid_t fspace = H5Screate_simple(rank_dims, dims, NULL);
  hid_t dset = H5Dcreate2(group, name, H5T_IEEE_F32LE, fspace, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  DT_H5(dset);
  hid_t mspace = H5Screate_simple(rank_dims, count, NULL);
  if (cnt > 0) DT_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  else H5Sselect_none(fspace), H5Sselect_none(mspace);
  const size_t row = cols ? (size_t)cols : 1;
  DT_H5(H5Dwrite(dset, H5T_NATIVE_FLOAT, mspace, fspace, dxpl, data + (size_t)off * row));
  H5Sclose(mspace), H5Sclose(fspace), H5Dclose(dset);
  PetscFunctionReturn(0);
}

static PetscErrorCode write_net(hid_t params, const Net *net, MPI_Comm comm, hid_t dxpl) {
  PetscFunctionBeginUser;
  hid_t g = H5Gcreate2(params, net->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  DT_H5(g);
  for (int l = 0; l < net->nlayers; l++) {
    const Layer *L = &net->layers[l];
    if (L->kind != LAYER_DENSE) continue;
    char name[64];
    net_tensor_name(net, l, 0, name, sizeof name);
    PetscCall(write_tensor(g, name, net->params + L->w_off, L->out, L->in, comm, dxpl));
    net_tensor_name(net, l, 1, name, sizeof name);
    PetscCall(write_tensor(g, name, net->params + L->b_off, L->out, 0, comm, dxpl));
  }
  H5Gclose(g);
  PetscFunctionReturn(0);
}

/* Make the finished file durable, then publish it under its real name in one atomic step. */
static PetscErrorCode publish(MPI_Comm comm, const char *tmp, const char *path) {
  PetscFunctionBeginUser;
  int rank, ok = 1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    int fd = open(tmp, O_RDONLY);
    ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    ok = ok && rename(tmp, path) == 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY);
    if (dfd >= 0) fsync(dfd), close(dfd);
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_WRITE, "could not publish '%s' as '%s'", tmp, path);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_write_weights(MPI_Comm comm, const char *path, Net *const *nets, int nnets, const CkptMeta *meta) {
  PetscFunctionBeginUser;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  DT_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  DT_H5(H5Pset_all_coll_metadata_ops(fapl, 1));
  DT_H5(H5Pset_coll_metadata_write(fapl, 1));
  hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  PetscCheck(file >= 0, comm, PETSC_ERR_FILE_OPEN, "cannot create '%s': check that the run directory is writable", tmp);
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  DT_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));

  PetscCall(write_string_attr(file, "format", "disentangle-model"));
  PetscCall(write_int_attr(file, "format_version", CKPT_FORMAT_VERSION));
  PetscCall(write_string_attr(file, "version", PACKAGE_VERSION));
  PetscCall(write_string_attr(file, "method", meta->method));
  PetscCall(write_string_attr(file, "options", meta->options));
  PetscCall(write_int_attr(file, "step", meta->step));
  PetscCall(write_int_attr(file, "ranks", meta->ranks));
  hid_t params = H5Gcreate2(file, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  DT_H5(params);
  for (int i = 0; i < nnets; i++) PetscCall(write_net(params, nets[i], comm, dxpl));
  H5Gclose(params), H5Pclose(dxpl);
  DT_H5(H5Fclose(file));
  PetscCall(publish(comm, tmp, path));
  PetscFunctionReturn(0);
}

static PetscErrorCode read_tensor(hid_t group, const char *path, const char *net, const char *name, float *data,
                                  int rows, int cols) {
  PetscFunctionBeginUser;
  hid_t dset = H5Dopen2(group, name, H5P_DEFAULT);
  DT_INPUT_CHECK(dset >= 0, PETSC_COMM_WORLD, "model '%s': tensor /params/%s/%s is missing", path, net, name);
  hid_t space = H5Dget_space(dset);
  hsize_t dims[2] = {0, 0};
  int nd = H5Sget_simple_extent_dims(space, dims, NULL);
  int want = cols ? 2 : 1;
  DT_INPUT_CHECK(nd == want && dims[0] == (hsize_t)rows && (!cols || dims[1] == (hsize_t)cols), PETSC_COMM_WORLD,
                 "model '%s': tensor /params/%s/%s has shape [%llu, %llu]; this run expects [%d, %d] (other architecture?)",
                 path, net, name, (unsigned long long)dims[0], nd > 1 ? (unsigned long long)dims[1] : 0ULL, rows, cols);
  DT_H5(H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  H5Sclose(space), H5Dclose(dset);
  PetscFunctionReturn(0);
}

PetscErrorCode ckpt_read_weights(MPI_Comm comm, const char *path, Net *const *nets, int nnets) {
  PetscFunctionBeginUser;
  DT_INPUT_CHECK(access(path, R_OK) == 0, comm, "model '%s': cannot open for reading", path);
  DT_INPUT_CHECK(H5Fis_hdf5(path) > 0, comm, "model '%s': not an HDF5 file", path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  DT_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  DT_INPUT_CHECK(file >= 0, comm, "model '%s': HDF5 cannot open it", path);
  for (int i = 0; i < nnets; i++) {
    char gname[128];
    snprintf(gname, sizeof gname, "/params/%s", nets[i]->name);
    hid_t g = H5Gopen2(file, gname, H5P_DEFAULT);
    DT_INPUT_CHECK(g >= 0, comm, "model '%s': group %s is missing (other method?)", path, gname);
    for (int l = 0; l < nets[i]->nlayers; l++) {
      const Layer *L = &nets[i]->layers[l];
      if (L->kind != LAYER_DENSE) continue;
      char name[64];
      net_tensor_name(nets[i], l, 0, name, sizeof name);
      PetscCall(read_tensor(g, path, nets[i]->name, name, nets[i]->params + L->w_off, L->out, L->in));
      net_tensor_name(nets[i], l, 1, name, sizeof name);
      PetscCall(read_tensor(g, path, nets[i]->name, name, nets[i]->params + L->b_off, L->out, 0));
    }
    H5Gclose(g);
  }
  H5Fclose(file);
  PetscFunctionReturn(0);
}
