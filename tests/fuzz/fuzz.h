/* libFuzzer harnesses of the readers of user files (issue 17): each takes the fuzzer's bytes as
 * the file, calls the reader as the program does on one rank, and throws the outcome away. A
 * refusal (an input error) is a correct answer; a crash, a sanitizer report, a hang or a huge
 * allocation is a finding. The same harnesses built without libFuzzer (replay.c) run the
 * regression cases of tests/fuzz/regress/ in `make check`. */
#ifndef DISENTANGLE_FUZZ_H
#define DISENTANGLE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once per process: MPI and PETSc on one rank, errors returned quietly (no line per input, no
 * traceback; PETSc's signal handler off so the sanitizers report crashes), HDF5's stack silent,
 * and a scratch directory. */
void fuzz_init(void);
/* Write the bytes to the scratch file NAME (a path in the scratch directory, returned). */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);
/* The scratch directory. */
const char *fuzz_dir(void);

#endif
