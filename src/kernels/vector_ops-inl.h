// Building blocks shared by vector_ops.cpp (elementwise), vector_ops_rows.cpp (softmax,
// layer norm) and vector_ops_training.cpp (dropout, cross-entropy, bias kernels).
//
// The first part is target-independent and has an ordinary include guard. The second part
// holds per-target SIMD helpers; like every Highway "-inl.h" file it is included once per
// compiled instruction set (via hwy/foreach_target.h), so it has a toggle guard instead.

#ifndef ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_ONCE
#define ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_ONCE

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "attn/core/error.h"

namespace attn::kernels::detail {

template <typename T, typename F32, typename F64>
auto pick(F32* for_float, F64* for_double) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  if constexpr (std::is_same_v<T, float>) {
    return for_float;
  } else {
    return for_double;
  }
}

// Work is cut into pieces of about this many elements, whose boundaries depend only on the
// problem size, never on the thread count; see the callers for why results then do not
// depend on the number of threads either.
constexpr std::int64_t kChunk = 16384;
// Below this many elements, starting threads costs more than it saves.
constexpr std::int64_t kMinParallel = 4 * kChunk;

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// body(i) for i in [0, count): shared out to the OpenMP threads when `parallel`, else a plain
// loop. (An `omp parallel if (false)` region still sets up a team of one, about half a
// microsecond per call, which added up for kernels called once per short row.)
template <class Body>
void parallel_for(std::int64_t count, bool parallel, const Body& body) {
  if (!parallel) {
    for (std::int64_t i = 0; i < count; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) body(i);
}

// body(begin, count) for consecutive chunks of kChunk elements covering [0, n), in parallel for
// long arrays. Elementwise results do not depend on how the array is cut, and sums that add
// their per-chunk partials in chunk order give bit-identical results for every thread count.
template <class Body>
void for_each_chunk(std::int64_t n, const Body& body) {
  parallel_for(ceil_div(n, kChunk), n >= kMinParallel, [&](std::int64_t chunk) {
    const std::int64_t begin = chunk * kChunk;
    body(begin, std::min(kChunk, n - begin));
  });
}

// body(first_row, row_count) for consecutive blocks of about kChunk elements, in parallel when
// the matrix is large. Rows are computed independently, so the blocking changes no result.
template <class Body>
void for_each_row_block(std::int64_t rows, std::int64_t cols, const Body& body) {
  const std::int64_t rows_per_block =
      std::max<std::int64_t>(1, kChunk / std::max<std::int64_t>(cols, 1));
  const std::int64_t num_blocks = ceil_div(rows, rows_per_block);
  parallel_for(num_blocks, rows * cols >= kMinParallel && num_blocks > 1,
               [&](std::int64_t block) {
                 const std::int64_t first_row = block * rows_per_block;
                 body(first_row, std::min(rows_per_block, rows - first_row));
               });
}

inline void check_rows(const char* op, std::int64_t rows, std::int64_t cols) {
  ATTN_CHECK(rows >= 0 && cols >= 0, op, ": expected rows >= 0 and cols >= 0, got rows=", rows,
             " cols=", cols);
}

// Sums over rows (grad_gamma, grad_beta, a bias gradient) are made independent of the thread
// count by cutting the rows into blocks that depend on `rows` only: each block sums its rows
// in order into its own partial row, and the partials are then added in block order.
// Rows per block: at least 32 and at most 256 blocks, so the partial buffers stay small.
inline std::int64_t row_sum_block_rows(std::int64_t rows) {
  return std::max<std::int64_t>(32, ceil_div(rows, 256));
}

// target[j] (+)= sum over blocks b, in block order, of partials[b * cols + j]: added to target
// when `accumulate`, else written. The block sums are gathered into block 0 first, so
// `target` receives one complete sum.
template <typename T>
void add_block_partials(std::vector<T>& partials, std::int64_t cols, T* target,
                        bool accumulate = true) {
  if (target == nullptr || cols == 0) return;
  const std::int64_t num_blocks = std::int64_t(partials.size()) / cols;
  for (std::int64_t block = 1; block < num_blocks; ++block) {
    for (std::int64_t j = 0; j < cols; ++j) partials[j] += partials[block * cols + j];
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    target[j] = accumulate ? target[j] + partials[j] : partials[j];
  }
}

}  // namespace attn::kernels::detail

// The instance of per-target `kernel` (named kernelF32 / kernelF64) for element type T, on
// the best target of this CPU.
#define ATTN_DISPATCH(T, kernel)                                       \
  ::attn::kernels::detail::pick<T>(&HWY_DYNAMIC_DISPATCH(kernel##F32), \
                                   &HWY_DYNAMIC_DISPATCH(kernel##F64))

#endif  // ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_ONCE

#if defined(ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_
#undef ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_
#else
#define ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_
#endif

#include <cmath>
#include <cstddef>
#include <limits>

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// Calls body(d, i) for i = 0, N, 2N, ... with full vectors (tag d), then once per
// remaining element with one-lane vectors. One-lane tails never touch memory past the end
// (masked loads may fault on SSE4) and apply exactly the same arithmetic as the body, so
// an element's result does not depend on where it sits in the array.
template <typename T, class Body>
HWY_INLINE void ForEachVector(size_t n, const Body& body) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) body(d, i);
  const hn::CappedTag<T, 1> d1;
  for (; i < n; ++i) body(d1, i);
}

// out[i] = op(x[i]); out may alias x.
template <typename T, class Op>
HWY_INLINE void Map1(const T* x, T* out, size_t n, const Op& op) {
  ForEachVector<T>(n,
                   [&](auto d, size_t i) { hn::StoreU(op(d, hn::LoadU(d, x + i)), d, out + i); });
}

// out[i] = op(a[i], b[i]); out may alias a or b.
template <typename T, class Op>
HWY_INLINE void Map2(const T* a, const T* b, T* out, size_t n, const Op& op) {
  ForEachVector<T>(n, [&](auto d, size_t i) {
    hn::StoreU(op(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  });
}

// Sum over i of term(d, i) (a vector of terms starting at element i). Four independent
// accumulators hide the latency of the adds; the summation order is fixed by n and the
// target, so the result is reproducible. Error: the accumulators are blocked sums, bounded
// by about (n / (4 N) + log2(4 N)) eps sum|term|, typically far less.
template <typename T, class Term>
HWY_INLINE T SumOfTerms(size_t n, const Term& term) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  auto sum0 = hn::Zero(d), sum1 = hn::Zero(d), sum2 = hn::Zero(d), sum3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    sum0 = hn::Add(sum0, term(d, i));
    sum1 = hn::Add(sum1, term(d, i + lanes));
    sum2 = hn::Add(sum2, term(d, i + 2 * lanes));
    sum3 = hn::Add(sum3, term(d, i + 3 * lanes));
  }
  for (; i + lanes <= n; i += lanes) sum0 = hn::Add(sum0, term(d, i));
  const auto sum = hn::Add(hn::Add(sum0, sum1), hn::Add(sum2, sum3));
  T total = hn::GetLane(hn::SumOfLanes(d, sum));
  const hn::CappedTag<T, 1> d1;
  for (; i < n; ++i) total += hn::GetLane(term(d1, i));
  return total;
}

// Largest x[i], or -inf when n == 0. The maximum is exact, so its order does not matter.
template <typename T>
HWY_INLINE T MaxOf(const T* x, size_t n) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  const auto lowest = hn::Set(d, -std::numeric_limits<T>::infinity());
  auto max0 = lowest, max1 = lowest;
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    max0 = hn::Max(max0, hn::LoadU(d, x + i));
    max1 = hn::Max(max1, hn::LoadU(d, x + i + lanes));
  }
  for (; i + lanes <= n; i += lanes) max0 = hn::Max(max0, hn::LoadU(d, x + i));
  T result = hn::GetLane(hn::MaxOfLanes(d, hn::Max(max0, max1)));
  for (; i < n; ++i) result = x[i] > result ? x[i] : result;
  return result;
}

// Inputs above which hn::Exp leaves its documented valid range (float: 104, double: 706).
// For float we stop at 88, below the overflow threshold 88.72, and let std::exp give inf.
template <typename T>
constexpr T kExpSimdUpperBound = sizeof(T) == 4 ? T(88) : T(706);

// e^x for every input like std::exp. hn::Exp is accurate to 1 ulp on (-inf, upper] (and
// gives 0 below -104 / -1000, where e^x underflows anyway) but returns 0 for NaN and
// garbage above the range. Such lanes are rare (softmax only passes x <= 0), so the
// vectors containing them are recomputed lane by lane with std::exp.
template <class D, class V>
HWY_INLINE V ExpAnyInput(D d, V x) {
  using T = hn::TFromD<D>;
  const V simd = hn::Exp(d, x);
  const auto unsupported = hn::Or(hn::Gt(x, hn::Set(d, kExpSimdUpperBound<T>)), hn::IsNaN(x));
  if (HWY_LIKELY(hn::AllFalse(d, unsupported))) return simd;
  HWY_ALIGN T input[hn::MaxLanes(d)];
  HWY_ALIGN T output[hn::MaxLanes(d)];
  hn::Store(x, d, input);
  hn::Store(simd, d, output);
  for (size_t k = 0; k < hn::Lanes(d); ++k) {
    if (!(input[k] <= kExpSimdUpperBound<T>)) output[k] = std::exp(input[k]);
  }
  return hn::Load(d, output);
}

}  // namespace attn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // ATTN_SRC_KERNELS_VECTOR_OPS_INL_H_ toggle guard
