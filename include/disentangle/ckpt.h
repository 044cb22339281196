/* Model files through parallel HDF5 (DESIGN.md "Checkpoint"): attributes on `/`,
 * `/params/<net>/<tensor>` for every parameter tensor. Written collectively: every rank
 * writes its slice of the rows of every tensor; first to NAME.tmp, then renamed. */
#ifndef DISENTANGLE_CKPT_H
#define DISENTANGLE_CKPT_H

#include <mpi.h>
#include <petscsys.h>

#include "disentangle/net.h"

typedef struct {
  long step;
  const char *method;
  const char *options; /* the full option set used, "-name value" lines */
  int ranks;
} CkptMeta;

PetscErrorCode ckpt_write_weights(MPI_Comm comm, const char *path, Net *const *nets, int nnets,
                                  const CkptMeta *meta);
/* Read the tensors of nets (same architecture) back from a file written above. */
PetscErrorCode ckpt_read_weights(MPI_Comm comm, const char *path, Net *const *nets, int nnets);

#endif
