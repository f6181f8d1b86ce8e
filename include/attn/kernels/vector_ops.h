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

}  // namespace attn::kernels::reference
