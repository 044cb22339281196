/* float32 buffers, 64-byte aligned so that every row of a parameter or activation block
 * starts on a cache line and the BLAS kernels see aligned data. */
#ifndef DISENTANGLE_TENSOR_H
#define DISENTANGLE_TENSOR_H

#include <petscsys.h>
#include <stddef.h>

#define DT_ALIGN 64

PetscErrorCode tensor_alloc(size_t n, float **out);  /* zero-filled */
PetscErrorCode tensor_alloc_double(size_t n, double **out);
void tensor_free(float **p);
void tensor_free_double(double **p);

/* All matrix products go through here: row-major C = alpha*op(A)*op(B) + beta*C via cblas_sgemm.
 * When a ledger is recording, the shape is counted (the benchmark uses it to find the GEMM floor). */
void tensor_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc);

/* The BLAS kernels in use: OpenBLAS's core type ("Haswell", "SkylakeX"; "unknown" for
 * another BLAS), and a line for logs: version, core, threads, OPENBLAS_CORETYPE if set. */
const char *tensor_blas_corename(void);
const char *tensor_blas_description(void);

typedef struct {
  int trans_a, trans_b, m, n, k;
  long calls;
} GemmShape;

/* A NashAE step on the dSprites conv net runs ~60 distinct shapes (the regressors' alone are a
 * dozen per slice size); room for several times that. */
#define GEMM_LEDGER_MAX 256
typedef struct {
  int recording;
  int nshapes;
  GemmShape shapes[GEMM_LEDGER_MAX];
  long dropped; /* calls of shapes that found the ledger full (then the floor is an underestimate) */
} GemmLedger;

void tensor_ledger_start(GemmLedger *ledger); /* records until tensor_ledger_stop */
void tensor_ledger_stop(void);

#endif
