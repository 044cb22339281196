/* A harness without libFuzzer: runs each file given through LLVMFuzzerTestOneInput, so the
 * regression cases found by fuzzing stay checked in every build (`make check`). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) return fprintf(stderr, "replay: cannot open %s\n", argv[i]), 2;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) return fprintf(stderr, "replay: cannot read %s\n", argv[i]), 2;
    fclose(f);
    LLVMFuzzerTestOneInput(b, (size_t)n);
    free(b);
    printf("replay: %s: ok\n", argv[i]);
  }
  return 0;
}
