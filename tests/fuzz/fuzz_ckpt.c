/* The checkpoint reader: the bytes as a checkpoint file, read as `inspect` and `-restart FILE`
 * read it: its metadata (attributes, /history, the step against it), then every dataset listed
 * and the checksum computed, and the run directory's peek at it. The seeds are real checkpoints
 * (tests/fuzz/seeds.sh), so mutations land in attribute values, shapes and names. */
#include "disentangle/ckpt.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("ckpt.h5", data, size);
  long step;
  char id[CKPT_RUN_ID_LEN + 1];
  ckpt_peek(path, &step, id, sizeof id);
  CkptMeta meta;
  if (!ckpt_read_meta(PETSC_COMM_SELF, path, &meta)) {
    uint32_t crc;
    ckpt_list(PETSC_COMM_SELF, path, NULL, &crc);
    char buf[64];
    ckpt_option(meta.options, "-latents", buf, sizeof buf);
    ckpt_meta_free(&meta);
  }
  return 0;
}
