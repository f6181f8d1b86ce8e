// SIMD row kernels: softmax, log-softmax and layer norm with their backward rules. Each row
// of `cols` contiguous elements is independent; see vector_ops.cpp for how the per-target
// section and the HWY_ONCE section divide the work.

#undef HWY_TARGET_INCLUDE
// Relative to the include directory (include/), the only project path on the include path.
#define HWY_TARGET_INCLUDE "../src/kernels/vector_ops_rows.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/highway.h>

#include "vector_ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {

template <typename T>
HWY_INLINE T SumOf(const T* x, size_t n) {
  return SumOfTerms<T>(n, [&](auto d, size_t i) { return hn::LoadU(d, x + i); });
}

// ---- softmax ----------------------------------------------------------------------------
//
// Subtracting the row maximum keeps every exponent <= 0, so e^(x - max) cannot overflow
// however large the logits (|x| ~ 1e4 is fine) and the largest term is exactly 1, so the
// sum is >= 1. A row whose entries are all -inf has no finite maximum; PyTorch returns NaN
// there, we return zeros from softmax and -inf from log_softmax (log of those zeros), which
// is what a fully masked attention row should contribute.

template <typename T>
void SoftmaxRow(const T* x, T* y, size_t cols) {
  const T max = MaxOf(x, cols);
  if (max == -std::numeric_limits<T>::infinity()) {
    std::fill(y, y + cols, T(0));
    return;
  }
  // First pass stores the exponentials in y and sums them; the second normalises.
  const T total = SumOfTerms<T>(cols, [&](auto d, size_t i) {
    const auto e = ExpAnyInput(d, hn::Sub(hn::LoadU(d, x + i), hn::Set(d, max)));
    hn::StoreU(e, d, y + i);
    return e;
  });
  const T inverse = T(1) / total;
  Map1(y, y, cols, [&](auto d, auto e) { return hn::Mul(e, hn::Set(d, inverse)); });
}

// log_softmax = (x - max) - log(sum e^(x - max)). Subtracting in this order, rather than
// x - (max + log sum), avoids rounding max + log sum at the magnitude of max.
template <typename T>
void LogSoftmaxRow(const T* x, T* y, size_t cols) {
  const T max = MaxOf(x, cols);
  if (max == -std::numeric_limits<T>::infinity()) {
    std::fill(y, y + cols, -std::numeric_limits<T>::infinity());
    return;
  }
  const T total = SumOfTerms<T>(cols, [&](auto d, size_t i) {
    return ExpAnyInput(d, hn::Sub(hn::LoadU(d, x + i), hn::Set(d, max)));
  });
  const T log_total = std::log(total);
  Map1(x, y, cols,
       [&](auto d, auto v) { return hn::Sub(hn::Sub(v, hn::Set(d, max)), hn::Set(d, log_total)); });
}

// grad_in = y * (grad_out - sum(grad_out * y))
template <typename T>
void SoftmaxBackwardRow(const T* y, const T* grad_out, T* grad_in, size_t cols) {
  const T dot = SumOfTerms<T>(cols, [&](auto d, size_t i) {
    return hn::Mul(hn::LoadU(d, grad_out + i), hn::LoadU(d, y + i));
  });
  Map2(y, grad_out, grad_in, cols,
       [&](auto d, auto vy, auto grad) { return hn::Mul(vy, hn::Sub(grad, hn::Set(d, dot))); });
}

// grad_in = grad_out - exp(y) * sum(grad_out), with y = log-probabilities (<= 0, so the
// exponential is in range; -inf entries give probability 0).
template <typename T>
void LogSoftmaxBackwardRow(const T* y, const T* grad_out, T* grad_in, size_t cols) {
  const T total = SumOf(grad_out, cols);
  Map2(y, grad_out, grad_in, cols, [&](auto d, auto vy, auto grad) {
    return hn::NegMulAdd(ExpAnyInput(d, vy), hn::Set(d, total), grad);
  });
}

// ---- layer norm -------------------------------------------------------------------------

// Two passes, the mean and then the mean squared deviation, rather than E[x^2] - E[x]^2,
// which cancels catastrophically when |mean| >> std. The variance is biased (divides by
// cols), as in PyTorch. An empty row has mean 0 and variance 0.
template <typename T>
void LayerNormRow(const T* x, const T* gamma, const T* beta, T* y, T* mean_out, T* rstd_out,
                  size_t cols, T epsilon) {
  const T count = static_cast<T>(cols);
  const T mean = cols == 0 ? T(0) : SumOf(x, cols) / count;
  const T squares = SumOfTerms<T>(cols, [&](auto d, size_t i) {
    const auto deviation = hn::Sub(hn::LoadU(d, x + i), hn::Set(d, mean));
    return hn::Mul(deviation, deviation);
  });
  const T variance = cols == 0 ? T(0) : squares / count;
  const T rstd = T(1) / std::sqrt(variance + epsilon);
  if (mean_out != nullptr) *mean_out = mean;
  if (rstd_out != nullptr) *rstd_out = rstd;
  ForEachVector<T>(cols, [&](auto d, size_t i) {
    auto v = hn::Mul(hn::Sub(hn::LoadU(d, x + i), hn::Set(d, mean)), hn::Set(d, rstd));
    if (gamma != nullptr) v = hn::Mul(v, hn::LoadU(d, gamma + i));
    if (beta != nullptr) v = hn::Add(v, hn::LoadU(d, beta + i));
    hn::StoreU(v, d, y + i);
  });
}

// With xhat = (x - mean) * rstd and g = grad_y * gamma (the gradient with respect to xhat):
//   grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   grad_gamma += grad_y * xhat,  grad_beta += grad_y   (either may be null)
// grad_x may alias grad_y: each vector is read before its slot is written.
template <typename T>
void LayerNormBackwardRow(const T* x, const T* gamma, T mean, T rstd, const T* grad_y, T* grad_x,
                          T* grad_gamma, T* grad_beta, size_t cols) {
  if (cols == 0) return;
  const auto xhat = [&](auto d, size_t i) {
    return hn::Mul(hn::Sub(hn::LoadU(d, x + i), hn::Set(d, mean)), hn::Set(d, rstd));
  };
  const auto g = [&](auto d, size_t i) {
    const auto grad = hn::LoadU(d, grad_y + i);
    return gamma == nullptr ? grad : hn::Mul(grad, hn::LoadU(d, gamma + i));
  };
  const T count = static_cast<T>(cols);
  const T mean_g = SumOfTerms<T>(cols, g) / count;
  const T mean_g_xhat =
      SumOfTerms<T>(cols, [&](auto d, size_t i) { return hn::Mul(g(d, i), xhat(d, i)); }) / count;
  ForEachVector<T>(cols, [&](auto d, size_t i) {
    const auto xhat_i = xhat(d, i);
    const auto grad_y_i = hn::LoadU(d, grad_y + i);
    const auto centered = hn::Sub(g(d, i), hn::Set(d, mean_g));
    const auto inner = hn::NegMulAdd(xhat_i, hn::Set(d, mean_g_xhat), centered);
    if (grad_gamma != nullptr) {
      hn::StoreU(hn::MulAdd(grad_y_i, xhat_i, hn::LoadU(d, grad_gamma + i)), d, grad_gamma + i);
    }
    if (grad_beta != nullptr) {
      hn::StoreU(hn::Add(hn::LoadU(d, grad_beta + i), grad_y_i), d, grad_beta + i);
    }
    hn::StoreU(hn::Mul(hn::Set(d, rstd), inner), d, grad_x + i);
  });
}

// ---- kernels on a block of consecutive rows ---------------------------------------------

template <typename T>
void SoftmaxRows(bool log, const T* x, T* y, size_t rows, size_t cols) {
  for (size_t row = 0; row < rows; ++row) {
    const size_t offset = row * cols;
    if (log) {
      LogSoftmaxRow(x + offset, y + offset, cols);
    } else {
      SoftmaxRow(x + offset, y + offset, cols);
    }
  }
}

template <typename T>
void SoftmaxBackwardRows(bool log, const T* y, const T* grad_out, T* grad_in, size_t rows,
                         size_t cols) {
  for (size_t row = 0; row < rows; ++row) {
    const size_t offset = row * cols;
    if (log) {
      LogSoftmaxBackwardRow(y + offset, grad_out + offset, grad_in + offset, cols);
    } else {
      SoftmaxBackwardRow(y + offset, grad_out + offset, grad_in + offset, cols);
    }
  }
}

template <typename T>
void LayerNormRows(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, size_t rows,
                   size_t cols, T epsilon) {
  for (size_t row = 0; row < rows; ++row) {
    LayerNormRow(x + row * cols, gamma, beta, y + row * cols,
                 mean == nullptr ? nullptr : mean + row, rstd == nullptr ? nullptr : rstd + row,
                 cols, epsilon);
  }
}

// grad_gamma and grad_beta accumulate over the rows of the block, in row order.
template <typename T>
void LayerNormBackwardRows(const T* x, const T* gamma, const T* mean, const T* rstd,
                           const T* grad_y, T* grad_x, T* grad_gamma, T* grad_beta, size_t rows,
                           size_t cols) {
  for (size_t row = 0; row < rows; ++row) {
    const size_t offset = row * cols;
    LayerNormBackwardRow(x + offset, gamma, mean[row], rstd[row], grad_y + offset, grad_x + offset,
                         grad_gamma, grad_beta, cols);
  }
}

// Highway exports plain functions only: a float and a double instance of each kernel.
void SoftmaxRowsF32(bool log, const float* x, float* y, size_t rows, size_t cols) {
  SoftmaxRows(log, x, y, rows, cols);
}
void SoftmaxRowsF64(bool log, const double* x, double* y, size_t rows, size_t cols) {
  SoftmaxRows(log, x, y, rows, cols);
}
void SoftmaxBackwardRowsF32(bool log, const float* y, const float* grad_out, float* grad_in,
                            size_t rows, size_t cols) {
  SoftmaxBackwardRows(log, y, grad_out, grad_in, rows, cols);
}
void SoftmaxBackwardRowsF64(bool log, const double* y, const double* grad_out, double* grad_in,
                            size_t rows, size_t cols) {
  SoftmaxBackwardRows(log, y, grad_out, grad_in, rows, cols);
}
void LayerNormRowsF32(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                      float* rstd, size_t rows, size_t cols, float epsilon) {
  LayerNormRows(x, gamma, beta, y, mean, rstd, rows, cols, epsilon);
}
void LayerNormRowsF64(const double* x, const double* gamma, const double* beta, double* y,
                      double* mean, double* rstd, size_t rows, size_t cols, double epsilon) {
  LayerNormRows(x, gamma, beta, y, mean, rstd, rows, cols, epsilon);
}
void LayerNormBackwardRowsF32(const float* x, const float* gamma, const float* mean,
                              const float* rstd, const float* grad_y, float* grad_x,
                              float* grad_gamma, float* grad_beta, size_t rows, size_t cols) {
  LayerNormBackwardRows(x, gamma, mean, rstd, grad_y, grad_x, grad_gamma, grad_beta, rows, cols);
}
void LayerNormBackwardRowsF64(const double* x, const double* gamma, const double* mean,
                              const double* rstd, const double* grad_y, double* grad_x,
                              double* grad_gamma, double* grad_beta, size_t rows, size_t cols) {
  LayerNormBackwardRows(x, gamma, mean, rstd, grad_y, grad_x, grad_gamma, grad_beta, rows, cols);
}

}  // namespace attn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

// ---- compiled once: dispatch, threads and the public templates ---------------------------
#if HWY_ONCE

#include <algorithm>
#include <cstdint>
#include <vector>

#include "attn/core/error.h"
#include "attn/kernels/vector_ops.h"

namespace attn::kernels {

HWY_EXPORT(SoftmaxRowsF32);
HWY_EXPORT(SoftmaxRowsF64);
HWY_EXPORT(SoftmaxBackwardRowsF32);
HWY_EXPORT(SoftmaxBackwardRowsF64);
HWY_EXPORT(LayerNormRowsF32);
HWY_EXPORT(LayerNormRowsF64);
HWY_EXPORT(LayerNormBackwardRowsF32);
HWY_EXPORT(LayerNormBackwardRowsF64);

namespace {

using detail::add_block_partials;
using detail::ceil_div;
using detail::kMinParallel;
using detail::check_rows;
using detail::for_each_row_block;
using detail::row_sum_block_rows;

template <typename T>
void softmax_any(const char* name, bool log, const T* x, T* y, std::int64_t rows,
                 std::int64_t cols) {
  check_rows(name, rows, cols);
  for_each_row_block(rows, cols, [&](std::int64_t first_row, std::int64_t count) {
    const std::int64_t offset = first_row * cols;
    ATTN_DISPATCH(T, SoftmaxRows)(log, x + offset, y + offset, count, cols);
  });
}

template <typename T>
void softmax_backward_any(const char* name, bool log, const T* y, const T* grad_out, T* grad_in,
                          std::int64_t rows, std::int64_t cols) {
  check_rows(name, rows, cols);
  for_each_row_block(rows, cols, [&](std::int64_t first_row, std::int64_t count) {
    const std::int64_t offset = first_row * cols;
    const auto kernel = ATTN_DISPATCH(T, SoftmaxBackwardRows);
    kernel(log, y + offset, grad_out + offset, grad_in + offset, count, cols);
  });
}

}  // namespace

template <typename T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols) {
  softmax_any("softmax_rows", /*log=*/false, x, y, rows, cols);
}

template <typename T>
void log_softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t cols) {
  softmax_any("log_softmax_rows", /*log=*/true, x, y, rows, cols);
}

template <typename T>
void softmax_backward_rows(const T* y, const T* grad_out, T* grad_in, std::int64_t rows,
                           std::int64_t cols) {
  softmax_backward_any("softmax_backward_rows", /*log=*/false, y, grad_out, grad_in, rows, cols);
}

template <typename T>
void log_softmax_backward_rows(const T* y, const T* grad_out, T* grad_in, std::int64_t rows,
                               std::int64_t cols) {
  softmax_backward_any("log_softmax_backward_rows", /*log=*/true, y, grad_out, grad_in, rows, cols);
}

template <typename T>
void layer_norm_rows(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                     std::int64_t rows, std::int64_t cols, T epsilon) {
  check_rows("layer_norm_rows", rows, cols);
  ATTN_CHECK(epsilon >= 0, "layer_norm_rows: expected epsilon >= 0, got ", epsilon);
  for_each_row_block(rows, cols, [&](std::int64_t first_row, std::int64_t count) {
    const std::int64_t offset = first_row * cols;
    const auto kernel = ATTN_DISPATCH(T, LayerNormRows);
    kernel(x + offset, gamma, beta, y + offset, mean == nullptr ? nullptr : mean + first_row,
           rstd == nullptr ? nullptr : rstd + first_row, count, cols, epsilon);
  });
}

// grad_gamma and grad_beta are sums over rows. To make them independent of the thread
// count, the rows are cut into blocks that depend on `rows` only; each block sums its rows
// in order into its own partial row, and the partials are then added in block order.
template <typename T>
void layer_norm_backward_rows(const T* x, const T* gamma, const T* mean, const T* rstd,
                              const T* grad_y, T* grad_x, T* grad_gamma, T* grad_beta,
                              std::int64_t rows, std::int64_t cols) {
  check_rows("layer_norm_backward_rows", rows, cols);
  if (rows == 0 || cols == 0) return;
  ATTN_CHECK(grad_x != x, "layer_norm_backward_rows: grad_x must not alias x");
  ATTN_CHECK(mean != nullptr && rstd != nullptr,
             "layer_norm_backward_rows: expected the mean and rstd saved by the forward pass");
  const std::int64_t rows_per_block = row_sum_block_rows(rows);
  const std::int64_t num_blocks = ceil_div(rows, rows_per_block);
  // shape: [num_blocks, cols] each, empty when the caller does not want that gradient
  std::vector<T> gamma_partials(grad_gamma == nullptr ? 0 : num_blocks * cols, T(0));
  std::vector<T> beta_partials(grad_beta == nullptr ? 0 : num_blocks * cols, T(0));
  const bool parallel = rows * cols >= kMinParallel && num_blocks > 1;
  detail::parallel_for(num_blocks, parallel, [&](std::int64_t block) {
    const std::int64_t first_row = block * rows_per_block;
    const std::int64_t count = std::min(rows_per_block, rows - first_row);
    const std::int64_t offset = first_row * cols;
    T* block_gamma = grad_gamma == nullptr ? nullptr : gamma_partials.data() + block * cols;
    T* block_beta = grad_beta == nullptr ? nullptr : beta_partials.data() + block * cols;
    const auto kernel = ATTN_DISPATCH(T, LayerNormBackwardRows);
    kernel(x + offset, gamma, mean + first_row, rstd + first_row, grad_y + offset, grad_x + offset,
           block_gamma, block_beta, count, cols);
  });
  add_block_partials(gamma_partials, cols, grad_gamma);
  add_block_partials(beta_partials, cols, grad_beta);
}

#define ATTN_INSTANTIATE_ROWS(T)                                                                  \
  template void softmax_rows<T>(const T*, T*, std::int64_t, std::int64_t);                        \
  template void log_softmax_rows<T>(const T*, T*, std::int64_t, std::int64_t);                    \
  template void softmax_backward_rows<T>(const T*, const T*, T*, std::int64_t, std::int64_t);     \
  template void log_softmax_backward_rows<T>(const T*, const T*, T*, std::int64_t, std::int64_t); \
  template void layer_norm_rows<T>(const T*, const T*, const T*, T*, T*, T*, std::int64_t,        \
                                   std::int64_t, T);                                              \
  template void layer_norm_backward_rows<T>(const T*, const T*, const T*, const T*, const T*, T*, \
                                            T*, T*, std::int64_t, std::int64_t);

ATTN_INSTANTIATE_ROWS(float)
ATTN_INSTANTIATE_ROWS(double)

}  // namespace attn::kernels

#endif  // HWY_ONCE
