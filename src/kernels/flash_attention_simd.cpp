// SIMD tile kernels of the fused attention: the online softmax step, the softmax gradient
// and the additive (tanh) score with its gradient. Declared in flash_attention_internal.h.
//
// As in vector_ops.cpp, Highway compiles the per-target section once per instruction set by
// re-including this file through foreach_target.h, and HWY_DYNAMIC_DISPATCH picks the best
// one at run time; the HWY_ONCE section at the end is compiled once.

#undef HWY_TARGET_INCLUDE
// Relative to the include directory (include/), the only project path on the include path.
#define HWY_TARGET_INCLUDE "../src/kernels/flash_attention_simd.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "flash_attention-inl.h"
#include "vector_ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {

// ---- softmax ------------------------------------------------------------------------------

// s = 2^(s - shift) in place; returns Σ s.
template <typename T>
HWY_INLINE T Exp2ShiftedSum(T* s, size_t n, T shift) {
  return SumOfTerms<T>(n, [&](auto d, size_t i) {
    const auto e = Exp2NonPositive(d, hn::Sub(hn::LoadU(d, s + i), hn::Set(d, shift)));
    hn::StoreU(e, d, s + i);
    return e;
  });
}

template <typename T>
HWY_INLINE void ScaleRow(T* x, size_t n, T factor) {
  Map1(x, x, n, [&](auto d, auto v) { return hn::Mul(v, hn::Set(d, factor)); });
}

template <typename T>
HWY_INLINE void ZeroRow(T* x, size_t n) {
  std::fill(x, x + n, T(0));
}

template <typename T>
void OnlineSoftmaxTile(T* scores, size_t rows, size_t cols, size_t ld, T* row_max, T* row_sum,
                       T* acc, size_t acc_ld, size_t acc_cols) {
  constexpr T kMinusInfinity = -std::numeric_limits<T>::infinity();
  for (size_t r = 0; r < rows; ++r) {
    T* s = scores + r * ld;
    const T old_max = row_max[r];
    const T new_max = std::max(old_max, MaxOf(s, cols));
    if (new_max == kMinusInfinity) {  // no allowed key yet: contributes nothing
      ZeroRow(s, cols);
      continue;
    }
    // 2^(-inf) = 0 when this is the row's first allowed key: the empty state is dropped.
    const T correction = std::exp2(old_max - new_max);
    const T tile_sum = Exp2ShiftedSum(s, cols, new_max);
    row_sum[r] = row_sum[r] * correction + tile_sum;
    row_max[r] = new_max;
    if (correction != T(1)) ScaleRow(acc + r * acc_ld, acc_cols, correction);
  }
}

template <typename T>
void ExpShiftedTile(T* scores, size_t rows, size_t cols, size_t ld, const T* lse) {
  for (size_t r = 0; r < rows; ++r) {
    T* s = scores + r * ld;
    if (lse[r] == -std::numeric_limits<T>::infinity()) {
      ZeroRow(s, cols);
      continue;
    }
    // lse in base-2 units as an unevaluated sum high + low, so that s - lse·log2 e loses
    // nothing to the rounding of the product (it would add eps |lse| to every weight).
    const double shift = double(lse[r]) * 1.44269504088896340736;
    const T high = T(shift), low = T(shift - double(high));
    Map1(s, s, cols, [&](auto d, auto v) {
      return Exp2NonPositive(d, hn::Sub(hn::Sub(v, hn::Set(d, high)), hn::Set(d, low)));
    });
  }
}

template <typename T>
void SoftmaxGradTile(const T* probabilities, T* grad, const T* factors, size_t rows, size_t cols,
                     size_t ld, const T* delta) {
  for (size_t r = 0; r < rows; ++r) {
    const T* p = probabilities + r * ld;
    T* g = grad + r * ld;
    const T row_delta = delta[r];
    if (factors == nullptr) {
      ForEachVector<T>(cols, [&](auto d, size_t j) {
        const auto centred = hn::Sub(hn::LoadU(d, g + j), hn::Set(d, row_delta));
        hn::StoreU(hn::Mul(hn::LoadU(d, p + j), centred), d, g + j);
      });
    } else {
      const T* z = factors + r * ld;
      ForEachVector<T>(cols, [&](auto d, size_t j) {
        const auto dropped = hn::Mul(hn::LoadU(d, g + j), hn::LoadU(d, z + j));
        const auto centred = hn::Sub(dropped, hn::Set(d, row_delta));
        hn::StoreU(hn::Mul(hn::LoadU(d, p + j), centred), d, g + j);
      });
    }
  }
}

// ---- additive score -----------------------------------------------------------------------
//
// Vectorised over keys j: the key tile is stored transposed ([a, cols]), so that for each
// attention dimension c one load gives k_jc for a vector of keys and no horizontal sums
// are needed; the [rows, cols, a] tensor of tanh values is never stored.

template <typename T>
void AdditiveScoreTile(const T* q, size_t q_ld, size_t rows, const T* keys_by_dim,
                       size_t keys_ld, size_t cols, const T* v_a, size_t a, T output_scale,
                       T* scores, size_t ld) {
  for (size_t r = 0; r < rows; ++r) {
    const T* q_row = q + r * q_ld;
    ForEachVector<T>(cols, [&](auto d, size_t j) {
      auto sum = hn::Zero(d);
      for (size_t c = 0; c < a; ++c) {
        const auto t = hn::Tanh(d, hn::Add(hn::Set(d, q_row[c]),
                                           hn::LoadU(d, keys_by_dim + c * keys_ld + j)));
        sum = hn::MulAdd(hn::Set(d, v_a[c]), t, sum);
      }
      hn::StoreU(hn::Mul(sum, hn::Set(d, output_scale)), d, scores + r * ld + j);
    });
  }
}

// One attention dimension c of one query row against `cols` keys; returns (Σ_j ds (1 - t²),
// Σ_j ds t) and adds v_a[c] ds (1 - t²) into grad_keys.
template <typename T, class D>
HWY_INLINE void AdditiveGradSpan(D d, T q_value, const T* keys, const T* grad_scores,
                                 size_t begin, size_t end, T weight, T* grad_keys,
                                 hn::Vec<D>& grad_sum, hn::Vec<D>& tanh_sum) {
  const size_t lanes = hn::Lanes(d);
  const auto one = hn::Set(d, T(1));
  for (size_t j = begin; j + lanes <= end; j += lanes) {
    const auto t = hn::Tanh(d, hn::Add(hn::Set(d, q_value), hn::LoadU(d, keys + j)));
    const auto ds = hn::LoadU(d, grad_scores + j);
    const auto g = hn::Mul(ds, hn::NegMulAdd(t, t, one));
    grad_sum = hn::Add(grad_sum, g);
    tanh_sum = hn::MulAdd(ds, t, tanh_sum);
    hn::StoreU(hn::MulAdd(hn::Set(d, weight), g, hn::LoadU(d, grad_keys + j)), d, grad_keys + j);
  }
}

template <typename T>
void AdditiveGradTile(const T* q, size_t q_ld, size_t rows, const T* keys_by_dim,
                      size_t keys_ld, size_t cols, const T* v_a, size_t a,
                      const T* grad_scores, size_t ld, T* grad_q, size_t grad_q_ld,
                      T* grad_keys_by_dim, T* grad_v_a) {
  const hn::ScalableTag<T> d;
  const hn::CappedTag<T, 1> d1;
  const size_t full = cols / hn::Lanes(d) * hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const T* q_row = q + r * q_ld;
    const T* ds = grad_scores + r * ld;
    for (size_t c = 0; c < a; ++c) {
      const T* keys = keys_by_dim + c * keys_ld;
      T* grad_keys = grad_keys_by_dim + c * keys_ld;
      auto grad_sum = hn::Zero(d), tanh_sum = hn::Zero(d);
      AdditiveGradSpan(d, q_row[c], keys, ds, 0, full, v_a[c], grad_keys, grad_sum, tanh_sum);
      auto grad_tail = hn::Zero(d1), tanh_tail = hn::Zero(d1);
      AdditiveGradSpan(d1, q_row[c], keys, ds, full, cols, v_a[c], grad_keys, grad_tail,
                       tanh_tail);
      const T grad_total = hn::GetLane(hn::SumOfLanes(d, grad_sum)) + hn::GetLane(grad_tail);
      const T tanh_total = hn::GetLane(hn::SumOfLanes(d, tanh_sum)) + hn::GetLane(tanh_tail);
      grad_q[r * grad_q_ld + c] += v_a[c] * grad_total;
      grad_v_a[c] += tanh_total;
    }
  }
}

// ---- per-type entry points for HWY_EXPORT -------------------------------------------------

#define ATTN_FLASH_SIMD_ENTRY_POINTS(T, SUFFIX)                                                \
  void OnlineSoftmaxTile##SUFFIX(T* scores, size_t rows, size_t cols, size_t ld, T* row_max,  \
                                 T* row_sum, T* acc, size_t acc_ld, size_t acc_cols) {         \
    OnlineSoftmaxTile(scores, rows, cols, ld, row_max, row_sum, acc, acc_ld, acc_cols);        \
  }                                                                                            \
  void ExpShiftedTile##SUFFIX(T* scores, size_t rows, size_t cols, size_t ld, const T* lse) {  \
    ExpShiftedTile(scores, rows, cols, ld, lse);                                               \
  }                                                                                            \
  void SoftmaxGradTile##SUFFIX(const T* probabilities, T* grad, const T* factors, size_t rows, \
                               size_t cols, size_t ld, const T* delta) {                       \
    SoftmaxGradTile(probabilities, grad, factors, rows, cols, ld, delta);                      \
  }                                                                                            \
  void AdditiveScoreTile##SUFFIX(const T* q, size_t q_ld, size_t rows, const T* keys_by_dim,   \
                                 size_t keys_ld, size_t cols, const T* v_a, size_t a,          \
                                 T output_scale, T* scores, size_t ld) {                       \
    AdditiveScoreTile(q, q_ld, rows, keys_by_dim, keys_ld, cols, v_a, a, output_scale, scores, \
                      ld);                                                                     \
  }                                                                                            \
  void AdditiveGradTile##SUFFIX(const T* q, size_t q_ld, size_t rows, const T* keys_by_dim,    \
                                size_t keys_ld, size_t cols, const T* v_a, size_t a,           \
                                const T* grad_scores, size_t ld, T* grad_q, size_t grad_q_ld,  \
                                T* grad_keys_by_dim, T* grad_v_a) {                            \
    AdditiveGradTile(q, q_ld, rows, keys_by_dim, keys_ld, cols, v_a, a, grad_scores, ld,       \
                     grad_q, grad_q_ld, grad_keys_by_dim, grad_v_a);                           \
  }

ATTN_FLASH_SIMD_ENTRY_POINTS(float, F32)
ATTN_FLASH_SIMD_ENTRY_POINTS(double, F64)
#undef ATTN_FLASH_SIMD_ENTRY_POINTS

}  // namespace attn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "flash_attention_internal.h"

namespace attn::kernels {

HWY_EXPORT(OnlineSoftmaxTileF32);
HWY_EXPORT(OnlineSoftmaxTileF64);
HWY_EXPORT(ExpShiftedTileF32);
HWY_EXPORT(ExpShiftedTileF64);
HWY_EXPORT(SoftmaxGradTileF32);
HWY_EXPORT(SoftmaxGradTileF64);
HWY_EXPORT(AdditiveScoreTileF32);
HWY_EXPORT(AdditiveScoreTileF64);
HWY_EXPORT(AdditiveGradTileF32);
HWY_EXPORT(AdditiveGradTileF64);

namespace flash {

// Sizes reach the per-target code as size_t; every one here is a checked non-negative size
// or a row stride that the caller made non-negative.
template <typename T>
void online_softmax_tile(T* scores, Index rows, Index cols, Index ld, T* row_max, T* row_sum,
                         T* acc, Index acc_ld, Index acc_cols) {
  ATTN_DISPATCH(T, OnlineSoftmaxTile)(scores, rows, cols, ld, row_max, row_sum, acc, acc_ld,
                                      acc_cols);
}

template <typename T>
void exp_shifted_tile(T* scores, Index rows, Index cols, Index ld, const T* lse) {
  ATTN_DISPATCH(T, ExpShiftedTile)(scores, rows, cols, ld, lse);
}

template <typename T>
void softmax_grad_tile(const T* probabilities, T* grad, const T* factors, Index rows, Index cols,
                       Index ld, const T* delta) {
  ATTN_DISPATCH(T, SoftmaxGradTile)(probabilities, grad, factors, rows, cols, ld, delta);
}

template <typename T>
void additive_score_tile(const T* q, Index q_ld, Index rows, const T* keys_by_dim, Index keys_ld,
                         Index cols, const T* v_a, Index a, T output_scale, T* scores, Index ld) {
  ATTN_DISPATCH(T, AdditiveScoreTile)(q, q_ld, rows, keys_by_dim, keys_ld, cols, v_a, a,
                                      output_scale, scores, ld);
}

template <typename T>
void additive_grad_tile(const T* q, Index q_ld, Index rows, const T* keys_by_dim, Index keys_ld,
                        Index cols, const T* v_a, Index a, const T* grad_scores, Index ld,
                        T* grad_q, Index grad_q_ld, T* grad_keys_by_dim, T* grad_v_a) {
  ATTN_DISPATCH(T, AdditiveGradTile)(q, q_ld, rows, keys_by_dim, keys_ld, cols, v_a, a,
                                     grad_scores, ld, grad_q, grad_q_ld, grad_keys_by_dim,
                                     grad_v_a);
}

#define ATTN_INSTANTIATE_FLASH_SIMD(T)                                                          \
  template void online_softmax_tile<T>(T*, Index, Index, Index, T*, T*, T*, Index, Index);      \
  template void exp_shifted_tile<T>(T*, Index, Index, Index, const T*);                        \
  template void softmax_grad_tile<T>(const T*, T*, const T*, Index, Index, Index, const T*);   \
  template void additive_score_tile<T>(const T*, Index, Index, const T*, Index, Index,         \
                                       const T*, Index, T, T*, Index);                         \
  template void additive_grad_tile<T>(const T*, Index, Index, const T*, Index, Index,          \
                                      const T*, Index, const T*, Index, T*, Index, T*, T*);

ATTN_INSTANTIATE_FLASH_SIMD(float)
ATTN_INSTANTIATE_FLASH_SIMD(double)

}  // namespace flash
}  // namespace attn::kernels

#endif  // HWY_ONCE
