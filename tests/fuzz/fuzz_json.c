/* The JSON readers: the bytes as RUN_DIR/metrics.json read as `aggregate` and `report` read it
 * (an object; "method" a string; every other member a number or null), and as RUN_DIR/run.json
 * read for the run's identity. */
#include <jansson.h>
#include <string.h>

#include "disentangle/jsonio.h"
#include "disentangle/run.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("metrics.json", data, size);
  json_t *doc = NULL;
  if (!jsonio_read(PETSC_COMM_SELF, path, &doc) && doc) {
    char method[64];
    jsonio_get_string(PETSC_COMM_SELF, path, doc, "method", method, sizeof method);
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value) {
      double v;
      if (strcmp(key, "method")) jsonio_to_number(PETSC_COMM_SELF, path, key, value, &v);
    }
    jsonio_get_number(PETSC_COMM_SELF, path, doc, "active_latents", &(double){0});
  }
  json_decref(doc);
  fuzz_file("run.json", data, size);
  static Run run;
  run.par.world = PETSC_COMM_SELF, run.par.rank = 0, run.par.size = 1;
  snprintf(run.cfg.run_dir, sizeof run.cfg.run_dir, "%s", fuzz_dir());
  char owner[CKPT_RUN_ID_LEN + 1];
  run_dir_owner(&run, owner);
  return 0;
}
