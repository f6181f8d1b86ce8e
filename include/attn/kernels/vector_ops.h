// Hot elementwise, softmax and layer-norm kernels on contiguous arrays.
//
// Each function has a SIMD version (Highway, dispatched at run time to the best instruction
// set of the CPU) in namespace attn::kernels and a plain scalar version with the same
// signature in attn::kernels::reference, which the tests use as the oracle.
// Each template is instantiated for float and double. Row kernels work on `rows` rows of `cols` elements.
// Output pointers may alias inputs of the same length unless stated otherwise.
#pragma once

#include <cstdint>

namespace attn::kernels {

// binary, elementwise
template <typename T>
void add(const T* a, const T* b, T* out, std::int64_t n);
template <typename T>
void sub(const T* a, const T* b, T* out, std::int64_t n);
template <typename T>
void mul(const T* a, const T* b, T* out, std::int64_t n);
template <typename T>
void div(const T* a, const T* b, T* out, std::int64_t n);
// out = a * scale + shift
template <typename T>
void affine(const T* a, T scale, T shift, T* out, std::int64_t n);
// out += alpha * x
template <typename T>
void axpy(T alpha, const T* x, T* out, std::int64_t n);
template <typename T>
T sum(const T* x, std::int64_t n);
// unary activations and their backward rules
template <typename T>
void relu(const T* x, T* out, std::int64_t n);
template <typename T>
void relu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void gelu(const T* x, T* out, std::int64_t n); // exact, 0.5 x (1 + erf(x / sqrt 2))
template <typename T>
void gelu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void tanh(const T* x, T* out, std::int64_t n);
template <typename T>
void tanh_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void sigmoid(const T* x, T* out, std::int64_t n);
template <typename T>
void sigmoid_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void exp(const T* x, T* out, std::int64_t n);
// rows: softmax along the last dimension
template <typename T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols);
template <typename T>
void log_softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols);
// grad_in = y * (grad_out - sum(grad_out * y))
template <typename T>
void softmax_backward_rows(const T* y, const T* grad_out, T* grad_in, std::int64_t rows,
                           std::int64_t cols);
// y holds log-probabilities: grad_in = grad_out - exp(y) * sum(grad_out)
template <typename T>
void log_softmax_backward_rows(const T* y, const T* grad_out, T* grad_in,
                               std::int64_t rows, std::int64_t cols);
// y = (x - mean) * rstd * gamma + beta; gamma/beta may be null (1 and 0).
// mean and rstd (one per row) are written for the backward pass; either may be null when
// not needed (inference). rstd = 1 / sqrt(var + epsilon) with the biased variance.
template <typename T>
void layer_norm_rows(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                     std::int64_t rows, std::int64_t cols, T epsilon);
// grad_x is written; grad_gamma and grad_beta (length cols, may be null) are
// accumulated into (+=). grad_x must not alias x.
template <typename T>
void layer_norm_backward_rows(const T* x, const T* gamma, const T* mean, const T* rstd,
                              const T* grad_y, T* grad_x, T* grad_gamma, T* grad_beta,
                              std::int64_t rows, std::int64_t cols);

// ---- training-step kernels (vector_ops_training.cpp) -----------------------------------

// Inverted dropout with the Philox stream (seed, offset) in philox_uniform's numbering:
// keep[i] = 1 when the uniform of position offset + i is >= p, else 0, and
//   out[i] = x[i] * (keep[i] ? scale : 0)                 (residual null)
//   out[i] = residual[i] + x[i] * (keep[i] ? scale : 0)   (residual given)
// with scale = 1 / (1 - p) from the caller. The mask depends only on (seed, offset + i), never
// on the thread count. out may alias x or residual.
template <typename T>
void dropout(const T* x, const T* residual, T* out, std::uint8_t* keep, std::int64_t n,
             std::uint64_t seed, std::uint64_t offset, double p, T scale);
// grad_in[i] = grad_out[i] * (keep[i] ? scale : 0); grad_in may alias grad_out.
template <typename T>
void dropout_backward(const T* grad_out, const std::uint8_t* keep, T scale, T* grad_in,
                      std::int64_t n);

// Cross-entropy of each row of logits [rows, cols] against the class targets[i], with label
// smoothing e, as log_softmax followed by the loss, without storing the log-probabilities:
//   loss[i] = (1 - e) (-log p_i[t_i]) + e (-(1/cols) sum_c log p_i[c])
// with log p_i[c] = (z_ic - row_max[i]) - log_total[i] and log_total[i] = log sum_c
// e^(z_ic - row_max[i]); row_max and log_total are written for the backward. Rows whose
// target is ignore_index get loss, row_max and log_total 0 (nothing is computed for them).
// Other targets must lie in [0, cols).
template <typename T>
void cross_entropy_rows(const T* logits, const std::int64_t* targets, T* loss, T* row_max,
                        T* log_total, std::int64_t rows, std::int64_t cols,
                        std::int64_t ignore_index, double smoothing);
// The gradient of weight[i] · loss[i] with respect to the logits, from the forward's row_max
// and log_total: grad[i, c] = w_i (p_ic - e / cols) - w_i (1 - e) [c = t_i], and 0 on rows whose
// target is ignore_index. w_i = weights[i * weight_stride] (stride 0: one weight for all).
template <typename T>
void cross_entropy_backward_rows(const T* logits, const std::int64_t* targets, const T* row_max,
                                 const T* log_total, const double* weights,
                                 std::int64_t weight_stride, T* grad, std::int64_t rows,
                                 std::int64_t cols, std::int64_t ignore_index, double smoothing);

// sums[j] = sum over rows i of x[i, j] (the gradient of a bias added to every row). The sum
// order depends on rows only, so the result does not depend on the thread count.
template <typename T>
void column_sums(const T* x, T* sums, std::int64_t rows, std::int64_t cols);
// y[i, j] = relu(y[i, j] + bias[j]) in place (bias may be null: relu alone), with relu as
// above (NaN passes through): the bias and activation of a linear layer in one pass.
template <typename T>
void bias_relu_rows(T* y, const T* bias, std::int64_t rows, std::int64_t cols);

// Numerics shared by both namespaces:
// - softmax_rows / log_softmax_rows subtract the row maximum, so logits of any magnitude
//   are safe. A row whose entries are all -inf (fully masked) gives zeros from softmax and
//   -inf from log_softmax (PyTorch gives NaN).
// - gelu is exact: erfc-based, accurate to a few ulp also for negative inputs.
// - Results do not depend on the number of OpenMP threads: reductions (sum, grad_gamma,
//   grad_beta) add fixed blocks in a fixed order. They may differ in the last bits between
//   instruction sets (AVX-512 vs AVX2 ...), whose vector widths set the summation order.

}  // namespace attn::kernels

namespace attn::kernels::reference {

// binary, elementwise
template <typename T>
void add(const T* a, const T* b, T* out, std::int64_t n);
template <typename T>
void sub(const T* a, const T* b, T* out, std::int64_t n);
template <typename T>
void mul(const T* a, const T* b, T* out, std::int64_t n);
template <typename T>
void div(const T* a, const T* b, T* out, std::int64_t n);
// out = a * scale + shift
template <typename T>
void affine(const T* a, T scale, T shift, T* out, std::int64_t n);
// out += alpha * x
template <typename T>
void axpy(T alpha, const T* x, T* out, std::int64_t n);
template <typename T>
T sum(const T* x, std::int64_t n);
// unary activations and their backward rules
template <typename T>
void relu(const T* x, T* out, std::int64_t n);
template <typename T>
void relu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void gelu(const T* x, T* out, std::int64_t n); // exact, 0.5 x (1 + erf(x / sqrt 2))
template <typename T>
void gelu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void tanh(const T* x, T* out, std::int64_t n);
template <typename T>
void tanh_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void sigmoid(const T* x, T* out, std::int64_t n);
template <typename T>
void sigmoid_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n);
template <typename T>
void exp(const T* x, T* out, std::int64_t n);
// rows: softmax along the last dimension
template <typename T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols);
template <typename T>
void log_softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols);
// grad_in = y * (grad_out - sum(grad_out * y))
template <typename T>
void softmax_backward_rows(const T* y, const T* grad_out, T* grad_in, std::int64_t rows,
                           std::int64_t cols);
// y holds log-probabilities: grad_in = grad_out - exp(y) * sum(grad_out)
template <typename T>
void log_softmax_backward_rows(const T* y, const T* grad_out, T* grad_in,
                               std::int64_t rows, std::int64_t cols);
// y = (x - mean) * rstd * gamma + beta; gamma/beta may be null (1 and 0).
// mean and rstd (one per row) are written for the backward pass.
template <typename T>
void layer_norm_rows(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                     std::int64_t rows, std::int64_t cols, T epsilon);
// grad_x is written; grad_gamma and grad_beta (length cols, may be null) are
// accumulated into (+=). grad_x must not alias x.
template <typename T>
void layer_norm_backward_rows(const T* x, const T* gamma, const T* mean, const T* rstd,
                              const T* grad_y, T* grad_x, T* grad_gamma, T* grad_beta,
                              std::int64_t rows, std::int64_t cols);

// training-step kernels: one element, or one row, at a time
template <typename T>
void dropout(const T* x, const T* residual, T* out, std::uint8_t* keep, std::int64_t n,
             std::uint64_t seed, std::uint64_t offset, double p, T scale);
template <typename T>
void dropout_backward(const T* grad_out, const std::uint8_t* keep, T scale, T* grad_in,
                      std::int64_t n);
template <typename T>
void cross_entropy_rows(const T* logits, const std::int64_t* targets, T* loss, T* row_max,
                        T* log_total, std::int64_t rows, std::int64_t cols,
                        std::int64_t ignore_index, double smoothing);
template <typename T>
void cross_entropy_backward_rows(const T* logits, const std::int64_t* targets, const T* row_max,
                                 const T* log_total, const double* weights,
                                 std::int64_t weight_stride, T* grad, std::int64_t rows,
                                 std::int64_t cols, std::int64_t ignore_index, double smoothing);
template <typename T>
void column_sums(const T* x, T* sums, std::int64_t rows, std::int64_t cols);
template <typename T>
void bias_relu_rows(T* y, const T* bias, std::int64_t rows, std::int64_t cols);

}  // namespace attn::kernels::reference
