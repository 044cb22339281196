/* `disentangle inspect FILE`: what a checkpoint or model file holds, and whether it is intact. */
#include <stdio.h>
#include <string.h>

#include "disentangle/ckpt.h"
#include "disentangle/driver.h"
#include "disentangle/error.h"

PetscErrorCode inspect_main(int help, int *code, const char *path) {
  PetscFunctionBeginUser;
  *code = DT_EXIT_OK;
  if (help || !path) {
    printf("usage: disentangle inspect FILE\n\nPrints the step, method, options, every tensor with its shape and whether the\n"
           "checksum matches; exits 2 when the file is not a valid checkpoint.\n");
    if (!help) *code = DT_EXIT_INPUT;
    PetscFunctionReturn(0);
  }
  MPI_Comm comm = PETSC_COMM_WORLD;
  CkptMeta meta;
  PetscCall(ckpt_read_meta(comm, path, &meta));
  PetscErrorCode ierr = run_check_method(comm, path, &meta, NULL);
  if (ierr) ckpt_meta_free(&meta);
  PetscCall(ierr);
  PetscCall(PetscPrintf(comm, "%s\n  method %s, step %ld, epoch %.3f, written by %d rank(s), seed %llu, global batch %d\n",
                        path, meta.method, meta.step, meta.epoch, meta.ranks, (unsigned long long)meta.seed,
                        meta.global_batch));
  PetscCall(PetscPrintf(comm, "  history: %ld rows of %s\n", meta.history_rows, meta.history_columns));
  PetscCall(PetscPrintf(comm, "run log: %s\noptions:\n", meta.run_log ? meta.run_log : "none (written before the run log existed)"));
  for (const char *line = meta.options; line && *line;) {
    const char *end = strchr(line, '\n');
    int len = end ? (int)(end - line) : (int)strlen(line);
    PetscCall(PetscPrintf(comm, "  %.*s\n", len, line));
    line = end ? end + 1 : NULL;
  }
  PetscCall(PetscPrintf(comm, "datasets:\n"));
  uint32_t crc;
  int rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(ckpt_list(comm, path, rank == 0 ? stdout : NULL, &crc));
  fflush(stdout);
  DT_INPUT_CHECK(crc == meta.checksum, comm,
                 "checkpoint '%s': checksum mismatch (file says %08x, its tensors and /history give %08x): damaged",
                 path, meta.checksum, crc);
  PetscCall(PetscPrintf(comm, "checksum %08x: OK\n", crc));
  ckpt_meta_free(&meta);
  PetscFunctionReturn(0);
}
