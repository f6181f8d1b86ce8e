// SIMD kernels of a training step that each replace several passes over memory: dropout
// (the Philox mask drawn, applied and added to a residual in one pass), its backward, the
// cross-entropy of logit rows (log-softmax and loss without storing the log-probabilities),
// column sums (a bias gradient) and a linear layer's bias with its ReLU. See vector_ops.cpp
// for the per-target section and the HWY_ONCE section.

#undef HWY_TARGET_INCLUDE
// Relative to the include directory (include/), the only project path on the include path.
#define HWY_TARGET_INCLUDE "../src/kernels/vector_ops_training.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/highway.h>

#include "attn/core/random.h"
#include "vector_ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {

// ---- Philox dropout masks ----------------------------------------------------------------
//
// Position q of the stream of `seed` is word q % 4 of the Philox block with counter q / 4
// (philox_uniform's numbering), and it is kept when (word >> 8) >= uniform_threshold(p).
// The vector generator gives each lane of a u64 vector one block: the four 32-bit words of
// the counter sit in the low halves of four vectors, and one MulEven per multiplier gives
// the full 64-bit products of all lanes. The high halves of the words collect garbage that
// no later step reads (MulEven reads low halves only, and the final words are taken from the
// low halves).

// keep = 1 when (word >> 8) >= threshold, else 0.
HWY_INLINE std::uint8_t KeepFromWord(std::uint32_t word, std::uint32_t threshold) {
  return (word >> 8) >= threshold ? 1 : 0;
}

// keep[k] for positions first ... first + count - 1 that lie in one Philox block (scalar).
HWY_INLINE void KeepFromPartialBlock(std::uint64_t seed, std::uint64_t first, size_t count,
                                     std::uint32_t threshold, std::uint8_t* keep) {
  const PhiloxBlock block = philox4x32(seed, first / 4, 0);
  for (size_t k = 0; k < count; ++k) {
    keep[k] = KeepFromWord(block.words[(first + k) % 4], threshold);
  }
}

#if HWY_TARGET == HWY_SCALAR
// One-lane vectors cannot hold the interleaved words; use the scalar generator.
void KeepFromBlocks(std::uint64_t seed, std::uint64_t first_block, size_t num_blocks,
                    std::uint32_t threshold, std::uint8_t* keep) {
  for (size_t b = 0; b < num_blocks; ++b) {
    KeepFromPartialBlock(seed, (first_block + b) * 4, 4, threshold, keep + 4 * b);
  }
}
#else
// The 2·Lanes(d64) words of `words` (a u32 vector), in order, as keep flags.
template <class D32>
HWY_INLINE void StoreKeep(D32 d32, hn::Vec<D32> words, std::uint32_t threshold,
                          std::uint8_t* keep) {
  const hn::RebindToSigned<D32> di32;
  const hn::Rebind<std::uint8_t, decltype(di32)> d8;
  // (word >> 8) < 2^24, so the signed comparison is exact.
  const auto dropped = hn::Lt(hn::BitCast(di32, hn::ShiftRight<8>(words)),
                              hn::Set(di32, static_cast<std::int32_t>(threshold)));
  const auto flags = hn::IfThenZeroElse(dropped, hn::Set(di32, 1));
  hn::StoreU(hn::DemoteTo(d8, flags), d8, keep);
}

// keep[4 b + w] for word w of blocks first_block + b, b < num_blocks.
void KeepFromBlocks(std::uint64_t seed, std::uint64_t first_block, size_t num_blocks,
                    std::uint32_t threshold, std::uint8_t* keep) {
  const hn::ScalableTag<std::uint64_t> d64;
  const hn::Repartition<std::uint32_t, decltype(d64)> d32;
  const size_t lanes = hn::Lanes(d64);
  // Interleaving the 128-bit blocks of two vectors (below) takes lanes 0, 2, 4, ... first
  // and then lanes 1, 3, 5, ...; giving lane j block j / 2 (j even) or lanes / 2 + j / 2
  // (j odd) puts the words in stream order.
  HWY_ALIGN std::uint64_t lane_blocks[hn::MaxLanes(d64)];
  for (size_t j = 0; j < lanes; ++j) lane_blocks[j] = (j % 2) * (lanes / 2) + j / 2;
  const auto lane_offsets = hn::Load(d64, lane_blocks);
  std::uint64_t round_keys0[kPhiloxRounds], round_keys1[kPhiloxRounds];
  for (int round = 0; round < kPhiloxRounds; ++round) {
    round_keys0[round] = static_cast<std::uint32_t>(seed) + std::uint32_t(round) * kPhiloxWeyl0;
    round_keys1[round] =
        static_cast<std::uint32_t>(seed >> 32) + std::uint32_t(round) * kPhiloxWeyl1;
  }
  const auto multiplier0 = hn::Set(d32, kPhiloxMultiplier0);
  const auto multiplier1 = hn::Set(d32, kPhiloxMultiplier1);
  size_t b = 0;
  for (; b + lanes <= num_blocks; b += lanes) {
    // counter = (block, 0): words 0 and 1 are the block number's low and high halves.
    const auto block = hn::Add(hn::Set(d64, first_block + b), lane_offsets);
    auto c0 = block, c1 = hn::ShiftRight<32>(block), c2 = hn::Zero(d64), c3 = hn::Zero(d64);
    for (int round = 0; round < kPhiloxRounds; ++round) {
      const auto product0 = hn::MulEven(hn::BitCast(d32, c0), multiplier0);
      const auto product1 = hn::MulEven(hn::BitCast(d32, c2), multiplier1);
      c0 = hn::Xor(hn::Xor(hn::ShiftRight<32>(product1), c1), hn::Set(d64, round_keys0[round]));
      c1 = product1;
      c2 = hn::Xor(hn::Xor(hn::ShiftRight<32>(product0), c3), hn::Set(d64, round_keys1[round]));
      c3 = product0;
    }
    // words01 [lane j] = (word 0, word 1) of lane j's block, likewise words23.
    const auto words01 =
        hn::OddEven(hn::BitCast(d32, hn::ShiftLeft<32>(c1)), hn::BitCast(d32, c0));
    const auto words23 =
        hn::OddEven(hn::BitCast(d32, hn::ShiftLeft<32>(c3)), hn::BitCast(d32, c2));
    const auto pairs01 = hn::BitCast(d64, words01), pairs23 = hn::BitCast(d64, words23);
    const auto lower = hn::InterleaveLower(d64, pairs01, pairs23);
    const auto upper = hn::InterleaveUpper(d64, pairs01, pairs23);
    StoreKeep(d32, hn::BitCast(d32, lower), threshold, keep + 4 * b);
    StoreKeep(d32, hn::BitCast(d32, upper), threshold, keep + 4 * b + 2 * lanes);
  }
  for (; b < num_blocks; ++b) {
    KeepFromPartialBlock(seed, (first_block + b) * 4, 4, threshold, keep + 4 * b);
  }
}
#endif

// keep[i] for positions position ... position + n - 1: a partial block at each end, whole
// blocks in between.
void KeepFromStream(std::uint64_t seed, std::uint64_t position, size_t n,
                    std::uint32_t threshold, std::uint8_t* keep) {
  const size_t head = std::min<size_t>(n, (4 - position % 4) % 4);
  if (head > 0) KeepFromPartialBlock(seed, position, head, threshold, keep);
  const size_t num_blocks = (n - head) / 4;
  KeepFromBlocks(seed, (position + head) / 4, num_blocks, threshold, keep + head);
  const size_t done = head + 4 * num_blocks;
  if (done < n) KeepFromPartialBlock(seed, position + done, n - done, threshold, keep + done);
}

// keep ? scale : 0, one lane per flag; 0 · scale is +0, so x · factor is what the unfused
// x * mask gave (signed zeros and NaN included).
template <class D>
HWY_INLINE hn::Vec<D> KeepFactor(D d, const std::uint8_t* keep, hn::TFromD<D> scale) {
  using T = hn::TFromD<D>;
  const hn::Rebind<std::int32_t, D> di32;
  const hn::Rebind<std::uint8_t, D> d8;
  const auto flags = hn::PromoteTo(di32, hn::LoadU(d8, keep));
  hn::Vec<D> ones;
  if constexpr (sizeof(T) == 4) {
    ones = hn::ConvertTo(d, flags);
  } else {
    ones = hn::PromoteTo(d, flags);
  }
  return hn::Mul(ones, hn::Set(d, scale));
}

template <typename T>
void Dropout(const T* x, const T* residual, T* out, std::uint8_t* keep, size_t n,
             std::uint64_t seed, std::uint64_t position, std::uint32_t threshold, T scale) {
  KeepFromStream(seed, position, n, threshold, keep);
  ForEachVector<T>(n, [&](auto d, size_t i) {
    auto dropped = hn::Mul(hn::LoadU(d, x + i), KeepFactor(d, keep + i, scale));
    if (residual != nullptr) dropped = hn::Add(hn::LoadU(d, residual + i), dropped);
    hn::StoreU(dropped, d, out + i);
  });
}

template <typename T>
void DropoutBackward(const T* grad_out, const std::uint8_t* keep, T scale, T* grad_in,
                     size_t n) {
  ForEachVector<T>(n, [&](auto d, size_t i) {
    hn::StoreU(hn::Mul(hn::LoadU(d, grad_out + i), KeepFactor(d, keep + i, scale)), d,
               grad_in + i);
  });
}

// ---- cross-entropy ------------------------------------------------------------------------
//
// The same arithmetic, in the same order, as log_softmax_rows followed by the loss over its
// output: the log-probability (z - max) - log_total is recomputed where it is needed instead
// of being stored, so the results equal those of the two-step computation.

// max and log_total of one row; a row of -inf gets max 0 and log_total +inf, so that every
// (z - max) - log_total is -inf, as log_softmax gives for it.
template <typename T>
HWY_INLINE void RowStatistics(const T* z, size_t cols, T& max, T& log_total) {
  max = MaxOf(z, cols);
  if (max == -std::numeric_limits<T>::infinity()) {
    max = T(0);
    log_total = std::numeric_limits<T>::infinity();
    return;
  }
  const T total = SumOfTerms<T>(cols, [&](auto d, size_t i) {
    return ExpAnyInput(d, hn::Sub(hn::LoadU(d, z + i), hn::Set(d, max)));
  });
  log_total = std::log(total);
}

template <typename T>
void CrossEntropyRows(const T* logits, const std::int64_t* targets, T* loss, T* row_max,
                      T* log_total, size_t rows, size_t cols, std::int64_t ignore_index,
                      double smoothing) {
  for (size_t row = 0; row < rows; ++row) {
    const T* z = logits + row * cols;
    if (targets[row] == ignore_index) {  // no loss, no gradient: nothing to compute
      loss[row] = row_max[row] = log_total[row] = T(0);
      continue;
    }
    T max, row_log_total;
    RowStatistics(z, cols, max, row_log_total);
    row_max[row] = max;
    log_total[row] = row_log_total;
    const T sum_log_p = SumOfTerms<T>(cols, [&](auto d, size_t i) {
      return hn::Sub(hn::Sub(hn::LoadU(d, z + i), hn::Set(d, max)), hn::Set(d, row_log_total));
    });
    const T log_p_target = (z[targets[row]] - max) - row_log_total;
    const T smooth = -sum_log_p / T(cols);
    loss[row] = T(1 - smoothing) * -log_p_target + T(smoothing) * smooth;
  }
}

template <typename T>
void CrossEntropyBackwardRows(const T* logits, const std::int64_t* targets, const T* row_max,
                              const T* log_total, const double* weights, size_t weight_stride,
                              T* grad, size_t rows, size_t cols, std::int64_t ignore_index,
                              double smoothing) {
  for (size_t row = 0; row < rows; ++row) {
    const T* z = logits + row * cols;
    T* g = grad + row * cols;
    if (targets[row] == ignore_index) {
      std::fill(g, g + cols, T(0));
      continue;
    }
    const double weight = weights[row * weight_stride];
    const T scale = T(weight), shift = T(-weight * smoothing / double(cols));
    const T max = row_max[row], row_log_total = log_total[row];
    Map1(z, g, cols, [&](auto d, auto v) {
      const auto log_p = hn::Sub(hn::Sub(v, hn::Set(d, max)), hn::Set(d, row_log_total));
      return hn::MulAdd(ExpAnyInput(d, log_p), hn::Set(d, scale), hn::Set(d, shift));
    });
    g[targets[row]] -= T(weight * (1.0 - smoothing));
  }
}

// ---- column sums --------------------------------------------------------------------------

// sums[j] += x[i, j] for the rows of a block, in row order. Strips of four vectors of columns
// stay in registers while the rows go by, so sums is read and written once per block.
template <typename T>
void AddRows(const T* x, T* sums, size_t rows, size_t cols) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  size_t j = 0;
  for (; j + 4 * lanes <= cols; j += 4 * lanes) {
    auto sum0 = hn::LoadU(d, sums + j), sum1 = hn::LoadU(d, sums + j + lanes),
         sum2 = hn::LoadU(d, sums + j + 2 * lanes), sum3 = hn::LoadU(d, sums + j + 3 * lanes);
    for (size_t row = 0; row < rows; ++row) {
      const T* x_row = x + row * cols + j;
      sum0 = hn::Add(sum0, hn::LoadU(d, x_row));
      sum1 = hn::Add(sum1, hn::LoadU(d, x_row + lanes));
      sum2 = hn::Add(sum2, hn::LoadU(d, x_row + 2 * lanes));
      sum3 = hn::Add(sum3, hn::LoadU(d, x_row + 3 * lanes));
    }
    hn::StoreU(sum0, d, sums + j);
    hn::StoreU(sum1, d, sums + j + lanes);
    hn::StoreU(sum2, d, sums + j + 2 * lanes);
    hn::StoreU(sum3, d, sums + j + 3 * lanes);
  }
  const size_t rest = cols - j;  // fewer than four vectors: row by row
  for (size_t row = 0; row < rows; ++row) {
    Map2(sums + j, x + row * cols + j, sums + j, rest,
         [](auto, auto a, auto b) { return hn::Add(a, b); });
  }
}

// ---- bias and ReLU -------------------------------------------------------------------------

// relu(y + bias) row by row, in place; relu(v) = 0 for v < 0, else v (NaN passes through).
template <typename T>
void BiasReluRows(T* y, const T* bias, size_t rows, size_t cols) {
  for (size_t row = 0; row < rows; ++row) {
    T* y_row = y + row * cols;
    ForEachVector<T>(cols, [&](auto d, size_t j) {
      auto v = hn::LoadU(d, y_row + j);
      if (bias != nullptr) v = hn::Add(v, hn::LoadU(d, bias + j));
      hn::StoreU(hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v), d, y_row + j);
    });
  }
}

// Highway exports plain functions only: a float and a double instance of each kernel.
void DropoutF32(const float* x, const float* residual, float* out, std::uint8_t* keep, size_t n,
                std::uint64_t seed, std::uint64_t position, std::uint32_t threshold, float scale) {
  Dropout(x, residual, out, keep, n, seed, position, threshold, scale);
}
void DropoutF64(const double* x, const double* residual, double* out, std::uint8_t* keep,
                size_t n, std::uint64_t seed, std::uint64_t position, std::uint32_t threshold,
                double scale) {
  Dropout(x, residual, out, keep, n, seed, position, threshold, scale);
}
void DropoutBackwardF32(const float* grad_out, const std::uint8_t* keep, float scale,
                        float* grad_in, size_t n) {
  DropoutBackward(grad_out, keep, scale, grad_in, n);
}
void DropoutBackwardF64(const double* grad_out, const std::uint8_t* keep, double scale,
                        double* grad_in, size_t n) {
  DropoutBackward(grad_out, keep, scale, grad_in, n);
}
void CrossEntropyRowsF32(const float* logits, const std::int64_t* targets, float* loss,
                         float* row_max, float* log_total, size_t rows, size_t cols,
                         std::int64_t ignore_index, double smoothing) {
  CrossEntropyRows(logits, targets, loss, row_max, log_total, rows, cols, ignore_index, smoothing);
}
void CrossEntropyRowsF64(const double* logits, const std::int64_t* targets, double* loss,
                         double* row_max, double* log_total, size_t rows, size_t cols,
                         std::int64_t ignore_index, double smoothing) {
  CrossEntropyRows(logits, targets, loss, row_max, log_total, rows, cols, ignore_index, smoothing);
}
void CrossEntropyBackwardRowsF32(const float* logits, const std::int64_t* targets,
                                 const float* row_max, const float* log_total,
                                 const double* weights, size_t weight_stride, float* grad,
                                 size_t rows, size_t cols, std::int64_t ignore_index,
                                 double smoothing) {
  CrossEntropyBackwardRows(logits, targets, row_max, log_total, weights, weight_stride, grad, rows,
                           cols, ignore_index, smoothing);
}
void CrossEntropyBackwardRowsF64(const double* logits, const std::int64_t* targets,
                                 const double* row_max, const double* log_total,
                                 const double* weights, size_t weight_stride, double* grad,
                                 size_t rows, size_t cols, std::int64_t ignore_index,
                                 double smoothing) {
  CrossEntropyBackwardRows(logits, targets, row_max, log_total, weights, weight_stride, grad, rows,
                           cols, ignore_index, smoothing);
}
void BiasReluRowsF32(float* y, const float* bias, size_t rows, size_t cols) {
  BiasReluRows(y, bias, rows, cols);
}
void BiasReluRowsF64(double* y, const double* bias, size_t rows, size_t cols) {
  BiasReluRows(y, bias, rows, cols);
}
void AddRowsF32(const float* x, float* sums, size_t rows, size_t cols) {
  AddRows(x, sums, rows, cols);
}
void AddRowsF64(const double* x, double* sums, size_t rows, size_t cols) {
  AddRows(x, sums, rows, cols);
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

HWY_EXPORT(DropoutF32);
HWY_EXPORT(DropoutF64);
HWY_EXPORT(DropoutBackwardF32);
HWY_EXPORT(DropoutBackwardF64);
HWY_EXPORT(CrossEntropyRowsF32);
HWY_EXPORT(CrossEntropyRowsF64);
HWY_EXPORT(CrossEntropyBackwardRowsF32);
HWY_EXPORT(CrossEntropyBackwardRowsF64);
HWY_EXPORT(AddRowsF32);
HWY_EXPORT(AddRowsF64);
HWY_EXPORT(BiasReluRowsF32);
HWY_EXPORT(BiasReluRowsF64);

namespace {

using detail::add_block_partials;
using detail::ceil_div;
using detail::kMinParallel;
using detail::check_rows;
using detail::for_each_chunk;
using detail::for_each_row_block;
using detail::row_sum_block_rows;

void check_targets(const std::int64_t* targets, std::int64_t rows, std::int64_t cols,
                   std::int64_t ignore_index) {
  for (std::int64_t row = 0; row < rows; ++row) {
    ATTN_CHECK(targets[row] == ignore_index || (targets[row] >= 0 && targets[row] < cols),
               "cross_entropy_rows: target ", targets[row], " of row ", row,
               " is out of range for ", cols, " classes");
  }
}

}  // namespace

template <typename T>
void dropout(const T* x, const T* residual, T* out, std::uint8_t* keep, std::int64_t n,
             std::uint64_t seed, std::uint64_t offset, double p, T scale) {
  ATTN_CHECK(n >= 0, "dropout: expected a length >= 0, got ", n);
  ATTN_CHECK(p >= 0.0 && p <= 1.0, "dropout: expected a probability in [0, 1], got ", p);
  const std::uint32_t threshold = uniform_threshold(p);
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    ATTN_DISPATCH(T, Dropout)(x + begin, residual == nullptr ? nullptr : residual + begin,
                              out + begin, keep + begin, count, seed, offset + begin, threshold,
                              scale);
  });
}

template <typename T>
void dropout_backward(const T* grad_out, const std::uint8_t* keep, T scale, T* grad_in,
                      std::int64_t n) {
  ATTN_CHECK(n >= 0, "dropout_backward: expected a length >= 0, got ", n);
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    ATTN_DISPATCH(T, DropoutBackward)(grad_out + begin, keep + begin, scale, grad_in + begin,
                                      count);
  });
}

template <typename T>
void cross_entropy_rows(const T* logits, const std::int64_t* targets, T* loss, T* row_max,
                        T* log_total, std::int64_t rows, std::int64_t cols,
                        std::int64_t ignore_index, double smoothing) {
  check_rows("cross_entropy_rows", rows, cols);
  check_targets(targets, rows, cols, ignore_index);
  for_each_row_block(rows, cols, [&](std::int64_t first_row, std::int64_t count) {
    const std::int64_t offset = first_row * cols;
    ATTN_DISPATCH(T, CrossEntropyRows)(logits + offset, targets + first_row, loss + first_row,
                                       row_max + first_row, log_total + first_row, count, cols,
                                       ignore_index, smoothing);
  });
}

template <typename T>
void cross_entropy_backward_rows(const T* logits, const std::int64_t* targets, const T* row_max,
                                 const T* log_total, const double* weights,
                                 std::int64_t weight_stride, T* grad, std::int64_t rows,
                                 std::int64_t cols, std::int64_t ignore_index, double smoothing) {
  check_rows("cross_entropy_backward_rows", rows, cols);
  check_targets(targets, rows, cols, ignore_index);
  ATTN_CHECK(weight_stride >= 0, "cross_entropy_backward_rows: expected weight_stride >= 0, got ",
             weight_stride);
  for_each_row_block(rows, cols, [&](std::int64_t first_row, std::int64_t count) {
    const std::int64_t offset = first_row * cols;
    ATTN_DISPATCH(T, CrossEntropyBackwardRows)(
        logits + offset, targets + first_row, row_max + first_row, log_total + first_row,
        weights + first_row * weight_stride, weight_stride, grad + offset, count, cols,
        ignore_index, smoothing);
  });
}

// Blocks of rows sum into their own partial rows in parallel; the partials are added in
// block order (see detail::row_sum_block_rows).
template <typename T>
void column_sums(const T* x, T* sums, std::int64_t rows, std::int64_t cols) {
  check_rows("column_sums", rows, cols);
  if (cols == 0) return;
  if (rows == 0) {
    std::fill(sums, sums + cols, T(0));
    return;
  }
  const std::int64_t rows_per_block = row_sum_block_rows(rows);
  const std::int64_t num_blocks = ceil_div(rows, rows_per_block);
  std::vector<T> partials(num_blocks * cols, T(0));  // [num_blocks, cols]
  detail::parallel_for(num_blocks, rows * cols >= kMinParallel && num_blocks > 1,
                       [&](std::int64_t block) {
                         const std::int64_t first_row = block * rows_per_block;
                         const std::int64_t count = std::min(rows_per_block, rows - first_row);
                         ATTN_DISPATCH(T, AddRows)(x + first_row * cols,
                                                   partials.data() + block * cols, count, cols);
                       });
  add_block_partials(partials, cols, sums, /*accumulate=*/false);
}

template <typename T>
void bias_relu_rows(T* y, const T* bias, std::int64_t rows, std::int64_t cols) {
  check_rows("bias_relu_rows", rows, cols);
  for_each_row_block(rows, cols, [&](std::int64_t first_row, std::int64_t count) {
    ATTN_DISPATCH(T, BiasReluRows)(y + first_row * cols, bias, count, cols);
  });
}

#define ATTN_INSTANTIATE_TRAINING(T)                                                             \
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

ATTN_INSTANTIATE_TRAINING(float)
ATTN_INSTANTIATE_TRAINING(double)

}  // namespace attn::kernels

#endif  // HWY_ONCE
