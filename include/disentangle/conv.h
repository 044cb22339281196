/* 2-D convolution and transposed convolution over NCHW batches, as forward/backward pairs over
 * plain arrays. Every product is an im2col/col2im rearrangement followed by tensor_sgemm.
 *
 * Layouts (PyTorch's, so published weights map one to one):
 *   activations  [B][C][H][W]                   (a flatten to [B][C*H*W] is a no-op on memory)
 *   conv2d       weights [cout][cin][k][k], bias [cout]
 *   conv-transpose2d weights [cin][cout][k][k], bias [cout]
 * Conventions as in layers.h: backward ACCUMULATES dw and db (+=), OVERWRITES dx, and any of
 * dx, dw, db may be NULL to skip it; forward's bias may be NULL (no bias).
 *
 * A transposed convolution with weights W is the adjoint of the convolution with the same W
 * read as [cout][cin] of the convolution the other way round: conv_transpose2d_forward is
 * conv2d's input gradient and vice versa, which is how both are implemented.
 *
 * Several images are rearranged side by side into one column matrix so that each GEMM has at
 * least conv_gemm_columns() columns (the layers of a 64x64 dSprites net have 64..1024 output
 * pixels per image: one image per GEMM would leave OpenBLAS with thin matrices). The scratch a
 * call needs depends on that choice: size it with *_scratch_floats for the batch size used. */
#ifndef DISENTANGLE_CONV_H
#define DISENTANGLE_CONV_H

#include <stddef.h>

typedef struct {
  int cin, hin, win;    /* input channels, height, width */
  int cout, hout, wout; /* output; hout and wout are computed by conv2d_shape / conv_transpose2d_shape */
  int k, stride, pad;   /* a k x k kernel, the same stride and zero padding along both axes */
  int out_pad;          /* transposed only (0 for conv2d): rows/columns added at the bottom/right */
} ConvShape;

/* Compute s->hout and s->wout from the other fields and validate them. Returns 0, or -1 with
 * one line saying what is wrong in why[len] (e.g. a kernel larger than the padded input).
 *   conv2d:           hout = (hin + 2 pad - k) / stride + 1 (floor)
 *   conv_transpose2d: hout = (hin - 1) stride - 2 pad + k + out_pad, with out_pad < stride */
int conv2d_shape(ConvShape *s, char *why, size_t len);
int conv_transpose2d_shape(ConvShape *s, char *why, size_t len);

/* Floats of scratch one forward or backward call over B images needs (the same for both). */
size_t conv2d_scratch_floats(const ConvShape *s, int B);
size_t conv_transpose2d_scratch_floats(const ConvShape *s, int B);

/* y[B][cout][hout][wout] = conv(x[B][cin][hin][win], w) + b */
void conv2d_forward(float *y, const float *x, const float *w, const float *b, int B, const ConvShape *s,
                    float *scratch);
/* dw += dL/dw, db += dL/db, dx = dL/dx from dy = dL/dy; x is only read when dw is wanted */
void conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int B,
                     const ConvShape *s, float *scratch);

void conv_transpose2d_forward(float *y, const float *x, const float *w, const float *b, int B, const ConvShape *s,
                              float *scratch);
void conv_transpose2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int B, const ConvShape *s, float *scratch);

/* The minimum number of GEMM columns (output pixels of several images) per call; a tuning knob
 * for tests and benchmarks. Setting it changes what *_scratch_floats return: size scratch after.
 * n <= 0 restores the default. */
void conv_set_gemm_columns(long n);
long conv_gemm_columns(void);

#endif
