/* The options-file reader: the bytes as an options file given with -options_file (nested
 * -options_file lines included), then the options read and validated against train's table
 * and the method's, as `train` does before any work. */
#include <string.h>

#include "disentangle/cmdline.h"
#include "disentangle/method.h"
#include "disentangle/run.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = (char *)fuzz_file("fuzz.opts", data, size);
  char *args[] = {"disentangle", "-options_file", path, NULL};
  int argc = 3;
  CmdLine cl;
  cmdline_split(&argc, args, &cl);
  if (!cmdline_load(PETSC_COMM_SELF, &cl)) {
    int nspec;
    const OptSpec *spec = train_options(&nspec);
    static Config cfg;
    const MethodOps *ops;
    void *own = NULL;
    if (!options_read(PETSC_COMM_SELF, spec, nspec, &cfg) && !method_find(PETSC_COMM_SELF, cfg.method, &ops) &&
        !method_options_read(PETSC_COMM_SELF, ops, &own))
      options_reject_unknown(PETSC_COMM_SELF, spec, nspec);
    PetscFree(own);
  }
  cmdline_free(&cl);
  PetscOptionsClear(NULL);
  PetscOptionsSetValue(NULL, "-no_signal_handler", NULL);
  return 0;
}
