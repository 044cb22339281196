/* Layers as forward/backward pairs over plain row-major arrays.
 * Shapes: B = rows of the batch, in/out = features. Weights are stored [out][in] (the
 * PyTorch layout, so published weights map one to one), bias [out].
 * Backward functions ACCUMULATE parameter gradients (+=) and OVERWRITE input gradients. */
#ifndef DISENTANGLE_LAYERS_H
#define DISENTANGLE_LAYERS_H

#define SELU_SCALE 1.0507009873554805
#define SELU_ALPHA 1.6732632423543772
#define LEAKY_RELU_SLOPE 0.2f

/* y[B][out] = x[B][in] W^T + b */
void dense_forward(float *y, const float *x, const float *w, const float *b, int B, int in, int out);
/* dw += dy^T x, db += sum_rows dy, dx = dy W (dx may be NULL; dw/db may be NULL to skip them) */
void dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                    int B, int in, int out);

/* Element-wise activations; every backward works from the forward OUTPUT y, so the
 * pre-activation never has to be stored. dx and dy may alias. */
void selu_forward(float *y, const float *x, long n);
void selu_backward(float *dx, const float *dy, const float *y, long n);
/* Fused passes of a dense layer followed by SELU, over [rows][width]:
 *   selu_bias_forward:  y = selu(y + b), b [width] (the GEMM ran with beta = 0);
 *   selu_backward_bias: dx = dy selu'(y) and, when db is not NULL, db += its column sums.
 * Each element's arithmetic is that of the separate bias, activation and sum_rows passes. */
void selu_bias_forward(float *y, const float *b, int rows, int width);
void selu_backward_bias(float *dx, const float *dy, const float *y, float *db, int rows, int width);
void relu_forward(float *y, const float *x, long n);
void relu_backward(float *dx, const float *dy, const float *y, long n);
void leaky_relu_forward(float *y, const float *x, long n); /* slope LEAKY_RELU_SLOPE below 0 */
void leaky_relu_backward(float *dx, const float *dy, const float *y, long n);
void sigmoid_forward(float *y, const float *x, long n);
void sigmoid_backward(float *dx, const float *dy, const float *y, long n);
void tanh_forward(float *y, const float *x, long n);
void tanh_backward(float *dx, const float *dy, const float *y, long n);

/* Squared error, the local part of a global MSE: returns sum (pred - target)^2 in double,
 * and sets d = scale * (pred - target) when d is not NULL. The caller picks scale, e.g.
 * 1/(global rows * features) for d(MSE/2). */
double mse_forward_backward(float *d, const float *pred, const float *target, long n, float scale);
/* Bernoulli cross-entropy on logits l against targets x in [0,1], the local part of a global
 * one: returns sum over n of max(l,0) - l x + log1p(e^-|l|) (= -x log sigmoid(l) - (1-x)
 * log(1 - sigmoid(l)), computed without overflow) in double, and sets d = scale * (sigmoid(l) - x)
 * when d is not NULL. */
double bernoulli_forward_backward(float *d, const float *logits, const float *target, long n, float scale);

#endif
