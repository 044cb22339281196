/* What the C tests share: a check macro that counts failures, and a double-precision
 * reference forward pass of a Net, written independently of src/nn so that gradients can be
 * checked against finite differences of something that is not the code under test. */
#ifndef DISENTANGLE_TESTING_H
#define DISENTANGLE_TESTING_H

#include <stdio.h>

#include "disentangle/net.h"

extern int test_failures, test_passes;

/* Print "PASS what" or "FAIL what" and count it: for tests that show every check's verdict. */
void test_report(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      test_failures++;                                                                             \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

/* The end of an MPI test's main: failures summed over the ranks, "PASS" or "FAILED: N check(s)"
 * from rank 0, PetscFinalize; returns the exit code. */
int test_mpi_finish(void);

/* y[B][out] from x[B][in] with the net's layer list and params given in double: dense, the
 * activations, conv2d, conv_transpose2d (direct loops, not im2col) and reshape. */
void ref_net_forward(const Net *net, const double *params, const double *x, int B, double *y);
double ref_activation(const LayerOps *ops, double x);

/* Largest |a - b| / (abs_floor + |b|) over n entries, and where it happens. */
double rel_error(const float *a, const double *b, long n, double abs_floor, long *where);

#endif
