/* What every harness shares: see fuzz.h. */
#include "fuzz.h"

#include <hdf5.h>
#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

void fuzz_init(void) {
  static int done;
  if (done) return;
  done = 1;
  static char *args[] = {"fuzz", "-no_signal_handler", NULL};
  int argc = 2;
  char **argv = args;
  if (PetscInitialize(&argc, &argv, NULL, NULL)) abort();
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/dt-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) abort();

}

const char *fuzz_dir(void) { return dir; }

const char *fuzz_file(const char *name, const uint8_t *data, size_t size) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) abort();
  return path;
}
