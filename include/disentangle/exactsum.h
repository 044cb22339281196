/* Exact, order-independent sums of float and double vectors, locally and over ranks: what
 * -reproducible builds on (docs/reproducible.md). ExactSum (fixed scale, three digits a value)
 * for statistics and other doubles; ExactFloats (below: a scale per tensor from the global
 * maximum, one int64 a value) for gradients.
 *
 * Each added value is cut into three signed 40-bit digits of one fixed-point number whose last
 * bit is 2^-72 and whose range ends at 2^48; the digits are summed as int64, which is exact and
 * associative, so the sum does not depend on how the values are grouped (over chunks, over
 * ranks, in what order MPI combines them): MPI_Allreduce(MPI_INT64_T, MPI_SUM) gives the same
 * bits on any rank count. The scale is fixed, not taken from the data, so no extra reduction
 * is needed and nothing has to be held back until a maximum is known.
 *
 * Precision: a value keeps every bit at or above 2^-72 (a double keeps all 53 bits down to
 * magnitude 2^-19); bits below 2^-72 are truncated. Range: a value of magnitude 2^48 (2.8e14)
 * or more, or a NaN/Inf, marks the whole sum non-finite (its results are NaN), so a diverging
 * step stops as a non-finite loss or gradient would. Headroom: the digits hold the sum of 2^23
 * values. */
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
void exactsum_add_doubles(ExactSum *s, const double *x);
/* Sum over comm in place (MPI_COMM_NULL or one rank: nothing to do). */
PetscErrorCode exactsum_allreduce(ExactSum *s, MPI_Comm comm);
/* The sums, rounded: every rank that holds the same digits gets the same bits. */
void exactsum_doubles(const ExactSum *s, double *out);

/* Exact sums of float vectors (gradients) that cost one int64 per value instead of three: the
 * parts are held until every part on every rank is known, then each block (a tensor) is scaled
 * by a power of two from its largest magnitude over all parts and ranks (an MPI_MAX of float
 * bits, order-independent) so that the sum of all parts fits in int64, converted once, summed
 * as int64 locally and over ranks, and scaled back. Per block, every part keeps its bits down to
 * 2^(E - 62 + ceil(log2 parts)), E the exponent of the block's largest part: 24 bits for every
 * value within 2^-30 of that maximum (with up to 256 parts). A NaN or Inf in a block makes the
 * whole block NaN. Memory: the held parts, parts x n floats. */
typedef struct {
  size_t n;
  int nblocks;
  size_t *start;     /* [nblocks + 1] block boundaries */
  int cap, held;     /* parts held / room for */
  float *parts;      /* [cap][n] */
  uint32_t *maxbits; /* [nblocks] largest |bits| of a part, per block */
  int64_t *sum;      /* [n] */
} ExactFloats;

/* n floats in nblocks blocks starting at start[0] = 0 < start[1] < ... (n the end). */
PetscErrorCode exactfloats_create(ExactFloats *s, size_t n, int nblocks, const size_t *start);
void exactfloats_free(ExactFloats *s);
/* A new sum: nothing held. */
void exactfloats_begin(ExactFloats *s);
/* Hold one part x[n] (copied). */
PetscErrorCode exactfloats_add(ExactFloats *s, const float *x);
/* The sum over the held parts of every rank of comm (MPI_COMM_NULL: this rank's), of at most
 * total_parts parts in all, rounded to float into out[n]: the same bits on any rank count. */
PetscErrorCode exactfloats_finish(ExactFloats *s, MPI_Comm comm, long total_parts, float *out);

#endif
