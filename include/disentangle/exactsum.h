/* Exact, order-independent sums of float and double vectors, locally and over ranks: what
 * -reproducible builds on (docs/reproducible.md).
 *
 * Each added value is cut into three signed 40-bit digits of one fixed-point number whose last
 * bit is 2^-72 and whose range ends at 2^48; the digits are summed as int64, which is exact and
 * associative, so the sum does not depend on how the values are grouped (over chunks, over
 * ranks, in what order MPI combines them): MPI_Allreduce(MPI_INT64_T, MPI_SUM) gives the same
 * bits on any rank count. The scale is fixed, not taken from the data, so no extra reduction
 * is needed and nothing has to be held back until a maximum is known.
 *
 * Precision: a value keeps every bit at or above 2^-72 (a float gradient of magnitude 1e-14 keeps
 * all its 24 bits; double statistics keep 53 bits down to magnitude 2^-19); bits below 2^-72 are
 * truncated. Range: a value of magnitude 2^48 (2.8e14) or more, or a NaN/Inf, marks the whole
 * sum non-finite (its results are NaN), so a diverging step stops as a non-finite loss or
 * gradient would. Headroom: the digits hold the sum of 2^23 values. */
#ifndef DISENTANGLE_EXACTSUM_H
#define DISENTANGLE_EXACTSUM_H

#include <mpi.h>
#include <petscsys.h>
#include <stdint.h>

typedef struct {
  size_t n;
  int64_t *d; /* digits [3][n] (low, middle, high), then the count of values out of range */
} ExactSum;

PetscErrorCode exactsum_create(ExactSum *s, size_t n);
void exactsum_free(ExactSum *s);
void exactsum_zero(ExactSum *s);
/* s[i] += x[i], exactly (to 2^-72), for i < s->n. */
void exactsum_add_floats(ExactSum *s, const float *x);
void exactsum_add_doubles(ExactSum *s, const double *x);
/* Sum over comm in place (MPI_COMM_NULL or one rank: nothing to do). */
PetscErrorCode exactsum_allreduce(ExactSum *s, MPI_Comm comm);
/* The sums, rounded: every rank that holds the same digits gets the same bits. */
void exactsum_floats(const ExactSum *s, float *out);
void exactsum_doubles(const ExactSum *s, double *out);

#endif
