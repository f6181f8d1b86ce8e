// Plain scalar versions of the kernels in vector_ops.h: one loop each, written to be read and
// trusted. The tests use them as the oracle for the SIMD kernels, so they follow the same
// numerical formulas (noted where a formula is chosen for accuracy) but no SIMD, no threads.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "attn/core/random.h"
#include "attn/kernels/vector_ops.h"

namespace attn::kernels::reference {

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;      // 1 / sqrt(2)
constexpr double kInvSqrtTwoPi = 0.39894228040143267794;  // 1 / sqrt(2 pi)

template <typename T>
constexpr T kMinusInfinity = -std::numeric_limits<T>::infinity();

template <typename T>
T row_max(const T* x, std::int64_t cols) {
  T max = kMinusInfinity<T>;
  for (std::int64_t j = 0; j < cols; ++j) max = std::max(max, x[j]);
  return max;
}

// Standard normal cumulative distribution Phi(x) = 0.5 erfc(-x / sqrt 2); the erfc form
// stays accurate for negative x, where 0.5 (1 + erf(x / sqrt 2)) cancels.
template <typename T>
T normal_cdf(T x) {
  return T(0.5) * std::erfc(x * T(-kSqrtHalf));
}

}  // namespace

template <typename T>
void add(const T* a, const T* b, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename T>
void sub(const T* a, const T* b, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
}

template <typename T>
void mul(const T* a, const T* b, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

template <typename T>
void div(const T* a, const T* b, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] / b[i];
}

template <typename T>
void affine(const T* a, T scale, T shift, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] * scale + shift;
}

template <typename T>
void axpy(T alpha, const T* x, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] += alpha * x[i];
}

template <typename T>
T sum(const T* x, std::int64_t n) {
  T total = 0;
  for (std::int64_t i = 0; i < n; ++i) total += x[i];
  return total;
}

// relu(x) = 0 for x < 0, else x (NaN passes through, as in PyTorch).
template <typename T>
void relu(const T* x, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] < 0 ? T(0) : x[i];
}

template <typename T>
void relu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) grad_in[i] = x[i] > 0 ? grad_out[i] : T(0);
}

template <typename T>
void gelu(const T* x, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] * normal_cdf(x[i]);
}

// gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
template <typename T>
void gelu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T pdf = std::exp(x[i] * x[i] * T(-0.5)) * T(kInvSqrtTwoPi);
    grad_in[i] = grad_out[i] * (normal_cdf(x[i]) + x[i] * pdf);
  }
}

template <typename T>
void tanh(const T* x, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
}

template <typename T>
void tanh_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) grad_in[i] = grad_out[i] * (T(1) - y[i] * y[i]);
}

template <typename T>
void sigmoid(const T* x, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = T(1) / (T(1) + std::exp(-x[i]));
}

template <typename T>
void sigmoid_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) grad_in[i] = grad_out[i] * (y[i] * (T(1) - y[i]));
}

template <typename T>
void exp(const T* x, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i]);
}

// Subtracting the row maximum keeps every exponent <= 0. A row of only -inf gives zeros
// (PyTorch gives NaN), see vector_ops_rows.cpp.
template <typename T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const T* x_row = x + row * cols;
    T* y_row = y + row * cols;
    const T max = row_max(x_row, cols);
    if (max == kMinusInfinity<T>) {
      std::fill(y_row, y_row + cols, T(0));
      continue;
    }
    T total = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      y_row[j] = std::exp(x_row[j] - max);
      total += y_row[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) y_row[j] /= total;
  }
}

// (x - max) - log(sum exp(x - max)); a row of only -inf gives -inf.
template <typename T>
void log_softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const T* x_row = x + row * cols;
    T* y_row = y + row * cols;
    const T max = row_max(x_row, cols);
    if (max == kMinusInfinity<T>) {
      std::fill(y_row, y_row + cols, kMinusInfinity<T>);
      continue;
    }
    T total = 0;
    for (std::int64_t j = 0; j < cols; ++j) total += std::exp(x_row[j] - max);
    const T log_total = std::log(total);
    for (std::int64_t j = 0; j < cols; ++j) y_row[j] = (x_row[j] - max) - log_total;
  }
}

template <typename T>
void softmax_backward_rows(const T* y, const T* grad_out, T* grad_in, std::int64_t rows,
                           std::int64_t cols) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t offset = row * cols;
    T dot = 0;
    for (std::int64_t j = 0; j < cols; ++j) dot += grad_out[offset + j] * y[offset + j];
    for (std::int64_t j = 0; j < cols; ++j) {
      grad_in[offset + j] = y[offset + j] * (grad_out[offset + j] - dot);
    }
  }
}

template <typename T>
void log_softmax_backward_rows(const T* y, const T* grad_out, T* grad_in, std::int64_t rows,
                               std::int64_t cols) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t offset = row * cols;
    T total = 0;
    for (std::int64_t j = 0; j < cols; ++j) total += grad_out[offset + j];
    for (std::int64_t j = 0; j < cols; ++j) {
      grad_in[offset + j] = grad_out[offset + j] - std::exp(y[offset + j]) * total;
    }
  }
}

// Two-pass mean and biased variance (PyTorch semantics); an empty row has mean 0, variance 0.
template <typename T>
void layer_norm_rows(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                     std::int64_t rows, std::int64_t cols, T epsilon) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const T* x_row = x + row * cols;
    T* y_row = y + row * cols;
    T row_mean = 0;
    for (std::int64_t j = 0; j < cols; ++j) row_mean += x_row[j];
    row_mean = cols == 0 ? T(0) : row_mean / T(cols);
    T variance = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      variance += (x_row[j] - row_mean) * (x_row[j] - row_mean);
    }
    variance = cols == 0 ? T(0) : variance / T(cols);
    const T row_rstd = T(1) / std::sqrt(variance + epsilon);
    if (mean != nullptr) mean[row] = row_mean;
    if (rstd != nullptr) rstd[row] = row_rstd;
    for (std::int64_t j = 0; j < cols; ++j) {
      T value = (x_row[j] - row_mean) * row_rstd;
      if (gamma != nullptr) value *= gamma[j];
      if (beta != nullptr) value += beta[j];
      y_row[j] = value;
    }
  }
}

// xhat = (x - mean) rstd, g = grad_y gamma:
//   grad_x = rstd (g - mean(g) - xhat mean(g xhat)), grad_gamma += grad_y xhat, grad_beta += grad_y
template <typename T>
void layer_norm_backward_rows(const T* x, const T* gamma, const T* mean, const T* rstd,
                              const T* grad_y, T* grad_x, T* grad_gamma, T* grad_beta,
                              std::int64_t rows, std::int64_t cols) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t offset = row * cols;
    const auto xhat = [&](std::int64_t j) { return (x[offset + j] - mean[row]) * rstd[row]; };
    const auto g = [&](std::int64_t j) {
      return gamma == nullptr ? grad_y[offset + j] : grad_y[offset + j] * gamma[j];
    };
    T sum_g = 0;
    T sum_g_xhat = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      sum_g += g(j);
      sum_g_xhat += g(j) * xhat(j);
    }
    const T mean_g = sum_g / T(cols);
    const T mean_g_xhat = sum_g_xhat / T(cols);
    for (std::int64_t j = 0; j < cols; ++j) {
      if (grad_gamma != nullptr) grad_gamma[j] += grad_y[offset + j] * xhat(j);
      if (grad_beta != nullptr) grad_beta[j] += grad_y[offset + j];
      grad_x[offset + j] = rstd[row] * (g(j) - mean_g - xhat(j) * mean_g_xhat);
    }
  }
}

// ---- training-step kernels ----------------------------------------------------------------

// One philox_uniform call per element: the definition of the mask.
template <typename T>
void dropout(const T* x, const T* residual, T* out, std::uint8_t* keep, std::int64_t n,
             std::uint64_t seed, std::uint64_t offset, double p, T scale) {
  for (std::int64_t i = 0; i < n; ++i) {
    keep[i] = philox_uniform(seed, offset, static_cast<std::uint64_t>(i)) >= p ? 1 : 0;
    const T dropped = x[i] * (keep[i] != 0 ? scale : T(0));
    out[i] = residual == nullptr ? dropped : residual[i] + dropped;
  }
}

template <typename T>
void dropout_backward(const T* grad_out, const std::uint8_t* keep, T scale, T* grad_in,
                      std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) grad_in[i] = grad_out[i] * (keep[i] != 0 ? scale : T(0));
}

// The row's maximum, or 0 when every entry is -inf; then log_total is +inf, so that every
// log-probability (z - max) - log_total is -inf, as log_softmax gives for such a row.
template <typename T>
void cross_entropy_row_statistics(const T* z, std::int64_t cols, T& max, T& log_total) {
  max = row_max(z, cols);
  if (max == kMinusInfinity<T>) {
    max = T(0);
    log_total = std::numeric_limits<T>::infinity();
    return;
  }
  T total = 0;
  for (std::int64_t j = 0; j < cols; ++j) total += std::exp(z[j] - max);
  log_total = std::log(total);
}

template <typename T>
void cross_entropy_rows(const T* logits, const std::int64_t* targets, T* loss, T* row_max_out,
                        T* log_total_out, std::int64_t rows, std::int64_t cols,
                        std::int64_t ignore_index, double smoothing) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const T* z = logits + row * cols;
    if (targets[row] == ignore_index) {
      loss[row] = row_max_out[row] = log_total_out[row] = T(0);
      continue;
    }
    T max, log_total;
    cross_entropy_row_statistics(z, cols, max, log_total);
    row_max_out[row] = max;
    log_total_out[row] = log_total;
    T sum_log_p = 0;
    for (std::int64_t j = 0; j < cols; ++j) sum_log_p += (z[j] - max) - log_total;
    const T log_p_target = (z[targets[row]] - max) - log_total;
    const T smooth = -sum_log_p / T(cols);
    loss[row] = T(1 - smoothing) * -log_p_target + T(smoothing) * smooth;
  }
}

template <typename T>
void cross_entropy_backward_rows(const T* logits, const std::int64_t* targets, const T* row_max_in,
                                 const T* log_total, const double* weights,
                                 std::int64_t weight_stride, T* grad, std::int64_t rows,
                                 std::int64_t cols, std::int64_t ignore_index, double smoothing) {
  for (std::int64_t row = 0; row < rows; ++row) {
    const T* z = logits + row * cols;
    T* g = grad + row * cols;
    if (targets[row] == ignore_index) {
      std::fill(g, g + cols, T(0));
      continue;
    }
    const double weight = weights[row * weight_stride];
    const T scale = T(weight), shift = T(-weight * smoothing / double(cols));
    for (std::int64_t j = 0; j < cols; ++j) {
      g[j] = std::exp((z[j] - row_max_in[row]) - log_total[row]) * scale + shift;
    }
    g[targets[row]] -= T(weight * (1.0 - smoothing));
  }
}

template <typename T>
void column_sums(const T* x, T* sums, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j) sums[j] = T(0);
  for (std::int64_t row = 0; row < rows; ++row) {
    for (std::int64_t j = 0; j < cols; ++j) sums[j] += x[row * cols + j];
  }
}

template <typename T>
void bias_relu_rows(T* y, const T* bias, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t row = 0; row < rows; ++row) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const T value = y[row * cols + j] + (bias == nullptr ? T(0) : bias[j]);
      y[row * cols + j] = value < T(0) ? T(0) : value;
    }
  }
}

#define ATTN_INSTANTIATE_REFERENCE(T)                                                             \
  template void add<T>(const T*, const T*, T*, std::int64_t);                                     \
  template void sub<T>(const T*, const T*, T*, std::int64_t);                                     \
  template void mul<T>(const T*, const T*, T*, std::int64_t);                                     \
  template void div<T>(const T*, const T*, T*, std::int64_t);                                     \
  template void affine<T>(const T*, T, T, T*, std::int64_t);                                      \
  template void axpy<T>(T, const T*, T*, std::int64_t);                                           \
  template T sum<T>(const T*, std::int64_t);                                                      \
  template void relu<T>(const T*, T*, std::int64_t);                                              \
  template void relu_backward<T>(const T*, const T*, T*, std::int64_t);                           \
  template void gelu<T>(const T*, T*, std::int64_t);                                              \
  template void gelu_backward<T>(const T*, const T*, T*, std::int64_t);                           \
  template void tanh<T>(const T*, T*, std::int64_t);                                              \
  template void tanh_backward<T>(const T*, const T*, T*, std::int64_t);                           \
  template void sigmoid<T>(const T*, T*, std::int64_t);                                           \
  template void sigmoid_backward<T>(const T*, const T*, T*, std::int64_t);                        \
  template void exp<T>(const T*, T*, std::int64_t);                                               \
  template void softmax_rows<T>(const T*, T*, std::int64_t, std::int64_t);                        \
  template void log_softmax_rows<T>(const T*, T*, std::int64_t, std::int64_t);                    \
  template void softmax_backward_rows<T>(const T*, const T*, T*, std::int64_t, std::int64_t);     \
  template void log_softmax_backward_rows<T>(const T*, const T*, T*, std::int64_t, std::int64_t); \
  template void layer_norm_rows<T>(const T*, const T*, const T*, T*, T*, T*, std::int64_t,        \
                                   std::int64_t, T);                                              \
  template void layer_norm_backward_rows<T>(const T*, const T*, const T*, const T*, const T*, T*, \
                                            T*, T*, std::int64_t, std::int64_t);               \
  template void dropout<T>(const T*, const T*, T*, std::uint8_t*, std::int64_t, std::uint64_t,   \
                           std::uint64_t, double, T);                                            \
  template void dropout_backward<T>(const T*, const std::uint8_t*, T, T*, std::int64_t);         \
  template void cross_entropy_rows<T>(const T*, const std::int64_t*, T*, T*, T*, std::int64_t,   \
                                      std::int64_t, std::int64_t, double);                       \
  template void cross_entropy_backward_rows<T>(const T*, const std::int64_t*, const T*, const T*, \
                                               const double*, std::int64_t, T*, std::int64_t,     \
                                               std::int64_t, std::int64_t, double);               \
  template void column_sums<T>(const T*, T*, std::int64_t, std::int64_t);                         \
  template void bias_relu_rows<T>(T*, const T*, std::int64_t, std::int64_t);

ATTN_INSTANTIATE_REFERENCE(float)
ATTN_INSTANTIATE_REFERENCE(double)

}  // namespace attn::kernels::reference
