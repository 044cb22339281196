/* Exact fixed-point sums (exactsum.h). A value v, |v| < 2^48, is q = v 2^72 in units of the last
 * bit; q is split by truncation toward zero into q = a2 2^80 + a1 2^40 + a0 with every digit of
 * v's sign and below 2^40 in magnitude. Each step is exact in double arithmetic: the scalings are
 * powers of two, and each remainder is made of the low bits of q's significand. */
#include "disentangle/exactsum.h"

#include <math.h>
#include <string.h>

#include "disentangle/phase.h"
#include "disentangle/phases.h"

#define DIGIT_BITS 40
#define LSB_EXP 72  /* the last bit is 2^-LSB_EXP */
#define TOP 0x1p48  /* values must stay below this in magnitude */

PetscErrorCode exactsum_create(ExactSum *s, size_t n) {
  PetscFunctionBeginUser;
  s->n = n;
  PetscCall(PetscCalloc1(3 * n + 1, &s->d));
  PetscFunctionReturn(0);
}

void exactsum_free(ExactSum *s) {
  PetscFree(s->d);
  s->n = 0;
}

void exactsum_zero(ExactSum *s) { memset(s->d, 0, (3 * s->n + 1) * sizeof *s->d); }

static inline int add_one(int64_t *d0, int64_t *d1, int64_t *d2, double v) {
  if (!(fabs(v) < TOP)) return 1;
  double q = v * 0x1p72;
  int64_t a2 = (int64_t)(q * 0x1p-80);
  q -= (double)a2 * 0x1p80;
  int64_t a1 = (int64_t)(q * 0x1p-40);
  q -= (double)a1 * 0x1p40;
  *d0 += (int64_t)q, *d1 += a1, *d2 += a2;
  return 0;
}

void exactsum_add_doubles(ExactSum *s, const double *x) {
  const size_t n = s->n;
  int64_t *d0 = s->d, *d1 = d0 + n, *d2 = d1 + n, bad = 0;
  for (size_t i = 0; i < n; i++) bad += add_one(&d0[i], &d1[i], &d2[i], x[i]);
  s->d[3 * n] += bad;
}

PetscErrorCode exactsum_allreduce(ExactSum *s, MPI_Comm comm) {
  PetscFunctionBeginUser;
  int size = 1;
  if (comm != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_size(comm, &size));
  if (size == 1) PetscFunctionReturn(0);
  size_t total = 3 * s->n + 1;
  PetscCheck(total <= (size_t)INT32_MAX, comm, PETSC_ERR_SUP, "exact sum of %zu digits exceeds one MPI count", total);
  Phase was = phase_switch(PHASE_ALLREDUCE);
  PetscCall(PetscLogEventBegin(dt_events.grad_reduce, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s->d, (int)total, MPI_INT64_T, MPI_SUM, comm));
  PetscCall(PetscLogEventEnd(dt_events.grad_reduce, 0, 0, 0, 0));
  phase_switch(was);
  PetscFunctionReturn(0);
}

/* The digits as one double, rounded once: as a 128-bit integer (in units of 2^-72) while it fits,
 * which is every sum below 2^54 in magnitude; beyond, the high digit dominates and the parts
 * are added in one fixed order. (Adding rounded parts of mixed signs would cancel: a sum of
 * -0.46 as -256 + 255.54 loses the low bits.) */
static double value(int64_t d0, int64_t d1, int64_t d2) {
  if (d2 > -((int64_t)1 << 46) && d2 < ((int64_t)1 << 46)) {
    __int128 t = (__int128)d2 * ((__int128)1 << 2 * DIGIT_BITS) + (__int128)d1 * ((__int128)1 << DIGIT_BITS) + (__int128)d0;
    return ldexp((double)t, -LSB_EXP);
  }
  return (double)d2 * 0x1p8 + ((double)d1 * 0x1p-32 + (double)d0 * 0x1p-72);
}

void exactsum_doubles(const ExactSum *s, double *out) {
  const size_t n = s->n;
  const int64_t *d0 = s->d, *d1 = d0 + n, *d2 = d1 + n;
  for (size_t i = 0; i < n; i++) out[i] = s->d[3 * n] ? NAN : value(d0[i], d1[i], d2[i]);
}

/* ---- one int64 per value: held parts, a global power-of-two scale per block ---------------- */

PetscErrorCode exactfloats_create(ExactFloats *s, size_t n, int nblocks, const size_t *start) {
  PetscFunctionBeginUser;
  memset(s, 0, sizeof *s);
  s->n = n, s->nblocks = nblocks;
  PetscCall(PetscMalloc1(nblocks + 1, &s->start));
  for (int b = 0; b < nblocks; b++) s->start[b] = start[b];
  s->start[nblocks] = n;
  PetscCall(PetscCalloc1(nblocks + 1, &s->maxbits));
  PetscCall(PetscMalloc1(n + 1, &s->sum));
  PetscFunctionReturn(0);
}

void exactfloats_free(ExactFloats *s) {
  PetscFree(s->start);
  PetscFree(s->maxbits);
  PetscFree(s->sum);
  PetscFree(s->parts);
  memset(s, 0, sizeof *s);
}

void exactfloats_begin(ExactFloats *s) {
  s->held = 0;
  memset(s->maxbits, 0, (size_t)s->nblocks * sizeof *s->maxbits);
}

PetscErrorCode exactfloats_add(ExactFloats *s, const float *x) {
  PetscFunctionBeginUser;
  if (s->held == s->cap) { /* grows to the most parts a step has held, then stays */
    int cap = s->cap ? 2 * s->cap : 4;
    float *grown;
    PetscCall(PetscMalloc1((size_t)cap * s->n + 1, &grown));
    if (s->held) PetscCall(PetscArraycpy(grown, s->parts, (size_t)s->held * s->n));
    PetscCall(PetscFree(s->parts));
    s->parts = grown, s->cap = cap;
  }
  float *to = s->parts + (size_t)s->held++ * s->n;
  memcpy(to, x, s->n * sizeof *to);
  const uint32_t *u = (const uint32_t *)(const void *)to; /* |x| ordered as its bits; NaN/Inf above all */
  for (int b = 0; b < s->nblocks; b++) {
    uint32_t m = s->maxbits[b];
    for (size_t i = s->start[b]; i < s->start[b + 1]; i++) {
      uint32_t a = u[i] & 0x7fffffffu;
      m = a > m ? a : m;
    }
    s->maxbits[b] = m;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode exactfloats_finish(ExactFloats *s, MPI_Comm comm, long total_parts, float *out) {
  PetscFunctionBeginUser;
  int size = 1;
  if (comm != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_size(comm, &size));
  Phase was = phase_switch(PHASE_ALLREDUCE);
  if (size > 1) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s->maxbits, s->nblocks, MPI_UINT32_T, MPI_MAX, comm));
  phase_switch(was);
  int head = 0; /* bits of headroom for the sum of total_parts parts */
  while (head < 62 && (1L << head) < total_parts) head++;
  for (int b = 0; b < s->nblocks; b++) {
    const size_t lo = s->start[b], hi = s->start[b + 1];
    /* every part of the block is below 2^E in magnitude; scaled by 2^(P - E) it is below 2^P */
    const int E = (int)(s->maxbits[b] >> 23) - 126, P = 62 - head;
    const double scale = ldexp(1.0, P - E);
    memset(s->sum + lo, 0, (hi - lo) * sizeof *s->sum);
    if (s->maxbits[b] >= 0x7f800000u) continue; /* NaN or Inf: the block is NaN below */
    for (int k = 0; k < s->held; k++) {
      const float *x = s->parts + (size_t)k * s->n;
      for (size_t i = lo; i < hi; i++) s->sum[i] += (int64_t)((double)x[i] * scale);
    }
  }
  if (size > 1) {
    PetscCheck(s->n <= (size_t)INT32_MAX, comm, PETSC_ERR_SUP, "exact sum of %zu values exceeds one MPI count", s->n);
    was = phase_switch(PHASE_ALLREDUCE);
    PetscCall(PetscLogEventBegin(dt_events.grad_reduce, 0, 0, 0, 0));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s->sum, (int)s->n, MPI_INT64_T, MPI_SUM, comm));
    PetscCall(PetscLogEventEnd(dt_events.grad_reduce, 0, 0, 0, 0));
    phase_switch(was);
  }
  for (int b = 0; b < s->nblocks; b++) {
    const size_t lo = s->start[b], hi = s->start[b + 1];
    const int E = (int)(s->maxbits[b] >> 23) - 126, P = 62 - head;
    const double unscale = ldexp(1.0, E - P);
    if (s->maxbits[b] >= 0x7f800000u)
      for (size_t i = lo; i < hi; i++) out[i] = NAN;
    else
      for (size_t i = lo; i < hi; i++) out[i] = (float)((double)s->sum[i] * unscale);
  }
  s->held = 0;
  PetscFunctionReturn(0);
}
