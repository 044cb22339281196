#include "disentangle/tensor.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's own queries, weak: linked against another BLAS they are NULL and the name is
 * "unknown" rather than a link error. */
#pragma weak openblas_get_corename
#pragma weak openblas_get_config
#pragma weak openblas_get_num_threads

/* n elements of size bytes each, zeroed, on a DT_ALIGN boundary. */
static PetscErrorCode aligned_zeroed(size_t n, size_t size, void **out) {
  PetscFunctionBeginUser;
  size_t bytes = ((n * size + DT_ALIGN - 1) / DT_ALIGN) * DT_ALIGN;
  if (bytes == 0) bytes = DT_ALIGN;
  *out = aligned_alloc(DT_ALIGN, bytes);
  PetscCheck(*out, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory allocating %zu bytes", bytes);
  memset(*out, 0, bytes);
  PetscFunctionReturn(0);
}

PetscErrorCode tensor_alloc(size_t n, float **out) { return aligned_zeroed(n, sizeof **out, (void **)out); }

PetscErrorCode tensor_alloc_double(size_t n, double **out) { return aligned_zeroed(n, sizeof **out, (void **)out); }

void tensor_free(float **p) {
  free(*p);
  *p = NULL;
}

void tensor_free_double(double **p) {
  free(*p);
  *p = NULL;
}

static GemmLedger *active_ledger;

void tensor_ledger_start(GemmLedger *ledger) {
  memset(ledger, 0, sizeof *ledger);
  ledger->recording = 1;
  active_ledger = ledger;
}

void tensor_ledger_stop(void) {
  if (active_ledger) active_ledger->recording = 0;
  active_ledger = NULL;
}

static void ledger_count(int ta, int tb, int m, int n, int k) {
  GemmLedger *l = active_ledger;
  for (int i = 0; i < l->nshapes; i++) {
    GemmShape *s = &l->shapes[i];
    if (s->trans_a == ta && s->trans_b == tb && s->m == m && s->n == n && s->k == k) {
      s->calls++;
      return;
    }
  }
  if (l->nshapes < GEMM_LEDGER_MAX) l->shapes[l->nshapes++] = (GemmShape){ta, tb, m, n, k, 1};
  else l->dropped++;
}

void tensor_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc) {
  if (active_ledger) ledger_count(trans_a, trans_b, m, n, k);
  (void)PetscLogFlops(2.0 * m * n * k); /* into whichever -log_view event is running */
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *tensor_blas_corename(void) {
  const char *name = openblas_get_corename ? openblas_get_corename() : NULL;
  return name && *name ? name : "unknown";
}

const char *tensor_blas_description(void) {
  static char text[256];
  const char *config = openblas_get_config ? openblas_get_config() : NULL;
  int threads = openblas_get_num_threads ? openblas_get_num_threads() : 0;
  const char *forced = getenv("OPENBLAS_CORETYPE");
  if (!config) snprintf(text, sizeof text, "not OpenBLAS (core type unknown)");
  else
    snprintf(text, sizeof text, "%s; core %s, %d thread%s%s%s%s", config, tensor_blas_corename(), threads, threads == 1 ? "" : "s",
             forced ? " (OPENBLAS_CORETYPE=" : " (OPENBLAS_CORETYPE picks another)", forced ? forced : "", forced ? ")" : "");
  return text;
}
