// Register-tiled forward pass for the float Dot score, in a transposed layout, and its
// counterpart for a few query rows (decoding).
//
// The forward of flash_attention_forward.cpp spends almost all of its time in two products
// per tile, S = Q Kᵀ and O += P V. Done by a GEMM library, each call packs both operands
// again (both change from call to call) and the softmax needs separate passes over S.
// Here one block of queries is transposed once (Qᵀ [d, Br], pre-scaled), and then
//   Sᵀ [Bc, Br]: Sᵀ[j, i] = Σ_c k_jc Qᵀ[c, i]  (key elements broadcast, queries in lanes)
//   Oᵀ [dv, Br]: Oᵀ[c, i] += Σ_j v_jc Pᵀ[j, i] (value elements broadcast)
// so neither K nor V is ever copied (their rows are read in place), and with queries in the
// lanes the softmax of a query is a column: its running maximum and sum are plain
// vector operations, with no horizontal reductions. The score kernel also folds the tile's
// column maxima into its epilogue. Measurements: docs/PERFORMANCE.md, "Fused attention".
//
// Highway compiles this file once per instruction set (see vector_ops.cpp); the register
// tiles are sized for 32 vector registers on AVX-512 and 16 elsewhere.

#undef HWY_TARGET_INCLUDE
// Relative to the include directory (include/), the only project path on the include path.
#define HWY_TARGET_INCLUDE "../src/kernels/flash_attention_tiles.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "flash_attention-inl.h"
#include "vector_ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {

using Tag = hn::ScalableTag<float>;
using Vector = hn::Vec<Tag>;

// A register tile holds kTileRows × kTileVectors accumulators: kTileRows keys (or value
// elements) by kTileVectors vectors of queries, plus kTileVectors operands and a broadcast.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kTileRows = 6;
constexpr int kTileVectors = 4;
#else
constexpr int kTileRows = 3;
constexpr int kTileVectors = 2;
#endif

// ---- scores: Sᵀ = K Qᵀ ----------------------------------------------------------------------

// One register tile's operands: keys j (k_jc at k[j·k_stride + c]) against the queries of
// query_t [d, ·] starting at its first column; results into scores_t [keys, ·].
struct ScoreOperands {
  const float* query_t;
  size_t query_t_ld;
  const float* k;
  size_t k_stride;
  size_t d;
  float* scores_t;
  size_t scores_t_ld;
  float* column_max;  // [VECTORS·N]: max(column_max, max over these keys)
};

template <int KEYS, int VECTORS>
HWY_INLINE void ScoresTile(const ScoreOperands& in) {
  const Tag tag;
  const size_t lanes = hn::Lanes(tag);
  Vector acc[KEYS][VECTORS];
  HWY_UNROLL(8) for (int j = 0; j < KEYS; ++j) {
    HWY_UNROLL(8) for (int v = 0; v < VECTORS; ++v) acc[j][v] = hn::Zero(tag);
  }
  for (size_t c = 0; c < in.d; ++c) {
    Vector queries[VECTORS];
    HWY_UNROLL(8) for (int v = 0; v < VECTORS; ++v) {
      queries[v] = hn::LoadU(tag, in.query_t + c * in.query_t_ld + v * lanes);
    }
    HWY_UNROLL(8) for (int j = 0; j < KEYS; ++j) {
      const Vector key = hn::Set(tag, in.k[j * in.k_stride + c]);
      HWY_UNROLL(8) for (int v = 0; v < VECTORS; ++v) {
        acc[j][v] = hn::MulAdd(key, queries[v], acc[j][v]);
      }
    }
  }
  HWY_UNROLL(8) for (int v = 0; v < VECTORS; ++v) {
    Vector maximum = hn::LoadU(tag, in.column_max + v * lanes);
    HWY_UNROLL(8) for (int j = 0; j < KEYS; ++j) {
      hn::StoreU(acc[j][v], tag, in.scores_t + j * in.scores_t_ld + v * lanes);
      maximum = hn::Max(maximum, acc[j][v]);
    }
    hn::StoreU(maximum, tag, in.column_max + v * lanes);
  }
}

// The tile with `keys` (1..kTileRows) keys, a compile-time size for the register allocator.
template <int VECTORS>
HWY_INLINE void ScoresTileOf(int keys, const ScoreOperands& in) {
  static_assert(kTileRows <= 6);
  switch (keys) {
    case 1: return ScoresTile<1, VECTORS>(in);
    case 2: return ScoresTile<2, VECTORS>(in);
    case 3: return ScoresTile<3, VECTORS>(in);
    case 4: return ScoresTile<4, VECTORS>(in);
    case 5: return ScoresTile<5, VECTORS>(in);
    case 6: return ScoresTile<6, VECTORS>(in);
  }
}

HWY_INLINE void ScoresTileOf(int keys, int vectors, const ScoreOperands& in) {
  static_assert(kTileVectors == 2 || kTileVectors == 4);
  switch (vectors) {
    case 1: return ScoresTileOf<1>(keys, in);
    case 2: return ScoresTileOf<2>(keys, in);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    case 3: return ScoresTileOf<3>(keys, in);
    case 4: return ScoresTileOf<4>(keys, in);
#endif
  }
}

void TransposedScoresF32(const float* query_t, size_t query_t_ld, size_t queries,
                         const float* k, size_t k_stride, size_t keys, size_t d,
                         float* scores_t, size_t scores_t_ld, float* column_max) {
  const size_t lanes = hn::Lanes(Tag());
  const size_t vectors = queries / lanes;
  for (size_t v0 = 0; v0 < vectors; v0 += kTileVectors) {
    const int tile_vectors = int(std::min<size_t>(kTileVectors, vectors - v0));
    const size_t offset = v0 * lanes;
    for (size_t j0 = 0; j0 < keys; j0 += kTileRows) {
      const int tile_keys = int(std::min<size_t>(kTileRows, keys - j0));
      const ScoreOperands in{query_t + offset,
                             query_t_ld,
                             k + j0 * k_stride,
                             k_stride,
                             d,
                             scores_t + j0 * scores_t_ld + offset,
                             scores_t_ld,
                             column_max + offset};
      ScoresTileOf(tile_keys, tile_vectors, in);
    }
  }
}

// ---- values: Oᵀ += Vᵀ Pᵀ ------------------------------------------------------------------

// One register tile's operands: value elements c (v_jc at v[j·v_stride + c]) of `keys` keys,
// weighted by probabilities_t [keys, ·], added into out_t [elements, ·].
struct ValueOperands {
  const float* probabilities_t;
  size_t probabilities_t_ld;
  size_t keys;
  const float* v;
  size_t v_stride;
  float* out_t;
  size_t out_t_ld;
};

template <int ELEMENTS, int VECTORS>
HWY_INLINE void ValuesTile(const ValueOperands& in) {
  const Tag tag;
  const size_t lanes = hn::Lanes(tag);
  Vector acc[ELEMENTS][VECTORS];
  HWY_UNROLL(8) for (int c = 0; c < ELEMENTS; ++c) {
    HWY_UNROLL(8) for (int q = 0; q < VECTORS; ++q) {
      acc[c][q] = hn::LoadU(tag, in.out_t + c * in.out_t_ld + q * lanes);
    }
  }
  for (size_t j = 0; j < in.keys; ++j) {
    Vector weights[VECTORS];
    HWY_UNROLL(8) for (int q = 0; q < VECTORS; ++q) {
      weights[q] = hn::LoadU(tag, in.probabilities_t + j * in.probabilities_t_ld + q * lanes);
    }
    HWY_UNROLL(8) for (int c = 0; c < ELEMENTS; ++c) {
      const Vector value = hn::Set(tag, in.v[j * in.v_stride + c]);
      HWY_UNROLL(8) for (int q = 0; q < VECTORS; ++q) {
        acc[c][q] = hn::MulAdd(value, weights[q], acc[c][q]);
      }
    }
  }
  HWY_UNROLL(8) for (int c = 0; c < ELEMENTS; ++c) {
    HWY_UNROLL(8) for (int q = 0; q < VECTORS; ++q) {
      hn::StoreU(acc[c][q], tag, in.out_t + c * in.out_t_ld + q * lanes);
    }
  }
}

template <int VECTORS>
HWY_INLINE void ValuesTileOf(int elements, const ValueOperands& in) {
  static_assert(kTileRows <= 6);
  switch (elements) {
    case 1: return ValuesTile<1, VECTORS>(in);
    case 2: return ValuesTile<2, VECTORS>(in);
    case 3: return ValuesTile<3, VECTORS>(in);
    case 4: return ValuesTile<4, VECTORS>(in);
    case 5: return ValuesTile<5, VECTORS>(in);
    case 6: return ValuesTile<6, VECTORS>(in);
  }
}

HWY_INLINE void ValuesTileOf(int elements, int vectors, const ValueOperands& in) {
  switch (vectors) {
    case 1: return ValuesTileOf<1>(elements, in);
    case 2: return ValuesTileOf<2>(elements, in);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    case 3: return ValuesTileOf<3>(elements, in);
    case 4: return ValuesTileOf<4>(elements, in);
#endif
  }
}

void TransposedValuesF32(const float* probabilities_t, size_t probabilities_t_ld, size_t keys,
                         size_t queries, const float* v, size_t v_stride, size_t dv,
                         float* out_t, size_t out_t_ld) {
  const size_t lanes = hn::Lanes(Tag());
  const size_t vectors = queries / lanes;
  for (size_t q0 = 0; q0 < vectors; q0 += kTileVectors) {
    const int tile_vectors = int(std::min<size_t>(kTileVectors, vectors - q0));
    const size_t offset = q0 * lanes;
    for (size_t c0 = 0; c0 < dv; c0 += kTileRows) {
      const int elements = int(std::min<size_t>(kTileRows, dv - c0));
      const ValueOperands in{probabilities_t + offset, probabilities_t_ld, keys,    v + c0,
                             v_stride,                 out_t + c0 * out_t_ld + offset, out_t_ld};
      ValuesTileOf(elements, tile_vectors, in);
    }
  }
}

// ---- online softmax down the columns ---------------------------------------------------------

// For each query (a lane): m_new = max(m, column max); P = 2^(S - m_new) down its column;
// l = l·2^(m - m_new) + Σ P; its column of Oᵀ is rescaled by 2^(m - m_new). A query whose
// keys are all masked so far has m_new = -inf; it is shifted by 0 instead, so that its
// P = 2^-inf = 0 and its correction 2^-inf = 0 (never -inf - -inf).
void TransposedSoftmaxF32(float* scores_t, size_t scores_t_ld, size_t keys, size_t queries,
                          const float* column_max, float* row_max, float* row_sum,
                          float* out_t, size_t out_t_ld, size_t dv) {
  const Tag tag;
  const size_t lanes = hn::Lanes(tag);
  const Vector minus_infinity = hn::Set(tag, -std::numeric_limits<float>::infinity());
  for (size_t q = 0; q < queries; q += lanes) {
    Vector tile_max = minus_infinity;
    if (column_max != nullptr) {
      tile_max = hn::LoadU(tag, column_max + q);
    } else {  // the scores were masked after the score kernel took its maxima
      for (size_t j = 0; j < keys; ++j) {
        tile_max = hn::Max(tile_max, hn::LoadU(tag, scores_t + j * scores_t_ld + q));
      }
    }
    const Vector old_max = hn::LoadU(tag, row_max + q);
    const Vector new_max = hn::Max(old_max, tile_max);
    const Vector shift = hn::IfThenZeroElse(hn::Eq(new_max, minus_infinity), new_max);
    const Vector correction = Exp2NonPositive(tag, hn::Sub(old_max, shift));
    Vector sum0 = hn::Zero(tag), sum1 = hn::Zero(tag);
    size_t j = 0;
    for (; j + 2 <= keys; j += 2) {
      float* row0 = scores_t + j * scores_t_ld + q;
      float* row1 = row0 + scores_t_ld;
      const Vector p0 = Exp2NonPositive(tag, hn::Sub(hn::LoadU(tag, row0), shift));
      const Vector p1 = Exp2NonPositive(tag, hn::Sub(hn::LoadU(tag, row1), shift));
      hn::StoreU(p0, tag, row0);
      hn::StoreU(p1, tag, row1);
      sum0 = hn::Add(sum0, p0);
      sum1 = hn::Add(sum1, p1);
    }
    if (j < keys) {
      float* row = scores_t + j * scores_t_ld + q;
      const Vector p = Exp2NonPositive(tag, hn::Sub(hn::LoadU(tag, row), shift));
      hn::StoreU(p, tag, row);
      sum0 = hn::Add(sum0, p);
    }
    const Vector old_sum = hn::LoadU(tag, row_sum + q);
    hn::StoreU(hn::MulAdd(old_sum, correction, hn::Add(sum0, sum1)), tag, row_sum + q);
    hn::StoreU(new_max, tag, row_max + q);
    if (hn::AllTrue(tag, hn::Eq(correction, hn::Set(tag, 1.0f)))) continue;
    for (size_t c = 0; c < dv; ++c) {
      float* out = out_t + c * out_t_ld + q;
      hn::StoreU(hn::Mul(hn::LoadU(tag, out), correction), tag, out);
    }
  }
}

// ---- single query rows (decoding) ------------------------------------------------------------
//
// With few queries there is nothing to tile: each score is a dot product over d, read
// straight from the key row, and the output a sum of value rows. Memory-bound.

// Σ_c a[c] b[c] over the whole vectors of d; the tail (d mod N) is left to the caller.
HWY_INLINE Vector DotVector(const float* a, const float* b, size_t full) {
  const Tag tag;
  const size_t lanes = hn::Lanes(tag);
  Vector sum0 = hn::Zero(tag), sum1 = hn::Zero(tag);
  size_t c = 0;
  for (; c + 2 * lanes <= full; c += 2 * lanes) {
    sum0 = hn::MulAdd(hn::LoadU(tag, a + c), hn::LoadU(tag, b + c), sum0);
    sum1 = hn::MulAdd(hn::LoadU(tag, a + c + lanes), hn::LoadU(tag, b + c + lanes), sum1);
  }
  if (c < full) sum0 = hn::MulAdd(hn::LoadU(tag, a + c), hn::LoadU(tag, b + c), sum0);
  return hn::Add(sum0, sum1);
}

void RowScoresF32(const float* q, float alpha, const float* k, size_t k_stride, size_t keys,
                  size_t d, float* scores) {
  const Tag tag;
  const size_t full = d / hn::Lanes(tag) * hn::Lanes(tag);
  for (size_t j = 0; j < keys; ++j) {
    const float* key = k + j * k_stride;
    float sum = hn::GetLane(hn::SumOfLanes(tag, DotVector(q, key, full)));
    for (size_t c = full; c < d; ++c) sum += q[c] * key[c];
    scores[j] = alpha * sum;
  }
}

void RowValuesF32(const float* probabilities, size_t keys, const float* v, size_t v_stride,
                  size_t dv, float* out) {
  const Tag tag;
  const size_t lanes = hn::Lanes(tag);
  size_t c = 0;
  // Four vectors of the output at a time stay in registers across all keys.
  for (; c + 4 * lanes <= dv; c += 4 * lanes) {
    Vector acc[4];
    HWY_UNROLL(4) for (int u = 0; u < 4; ++u) acc[u] = hn::LoadU(tag, out + c + u * lanes);
    for (size_t j = 0; j < keys; ++j) {
      const Vector weight = hn::Set(tag, probabilities[j]);
      const float* value = v + j * v_stride + c;
      HWY_UNROLL(4) for (int u = 0; u < 4; ++u) {
        acc[u] = hn::MulAdd(weight, hn::LoadU(tag, value + u * lanes), acc[u]);
      }
    }
    HWY_UNROLL(4) for (int u = 0; u < 4; ++u) hn::StoreU(acc[u], tag, out + c + u * lanes);
  }
  for (; c + lanes <= dv; c += lanes) {
    Vector acc = hn::LoadU(tag, out + c);
    for (size_t j = 0; j < keys; ++j) {
      acc = hn::MulAdd(hn::Set(tag, probabilities[j]), hn::LoadU(tag, v + j * v_stride + c), acc);
    }
    hn::StoreU(acc, tag, out + c);
  }
  for (; c < dv; ++c) {
    float sum = out[c];
    for (size_t j = 0; j < keys; ++j) sum += probabilities[j] * v[j * v_stride + c];
    out[c] = sum;
  }
}

}  // namespace attn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "flash_attention_internal.h"

namespace attn::kernels {

HWY_EXPORT(TransposedScoresF32);
HWY_EXPORT(TransposedValuesF32);
HWY_EXPORT(TransposedSoftmaxF32);
HWY_EXPORT(RowScoresF32);
HWY_EXPORT(RowValuesF32);

namespace flash {

void transposed_scores(const float* query_t, Index query_t_ld, Index queries, const float* k,
                       Index k_stride, Index keys, Index d, float* scores_t, Index scores_t_ld,
                       float* column_max) {
  HWY_DYNAMIC_DISPATCH(TransposedScoresF32)(query_t, query_t_ld, queries, k, k_stride, keys, d,
                                            scores_t, scores_t_ld, column_max);
}

void transposed_softmax(float* scores_t, Index scores_t_ld, Index keys, Index queries,
                        const float* column_max, float* row_max, float* row_sum, float* out_t,
                        Index out_t_ld, Index dv) {
  HWY_DYNAMIC_DISPATCH(TransposedSoftmaxF32)(scores_t, scores_t_ld, keys, queries, column_max,
                                             row_max, row_sum, out_t, out_t_ld, dv);
}

void transposed_values(const float* probabilities_t, Index probabilities_t_ld, Index keys,
                       Index queries, const float* v, Index v_stride, Index dv, float* out_t,
                       Index out_t_ld) {
  HWY_DYNAMIC_DISPATCH(TransposedValuesF32)(probabilities_t, probabilities_t_ld, keys, queries,
                                            v, v_stride, dv, out_t, out_t_ld);
}

void row_scores(const float* q, float alpha, const float* k, Index k_stride, Index keys, Index d,
                float* scores) {
  HWY_DYNAMIC_DISPATCH(RowScoresF32)(q, alpha, k, k_stride, keys, d, scores);
}

void row_values(const float* probabilities, Index keys, const float* v, Index v_stride, Index dv,
                float* out) {
  HWY_DYNAMIC_DISPATCH(RowValuesF32)(probabilities, keys, v, v_stride, dv, out);
}

}  // namespace flash
}  // namespace attn::kernels

#endif  // HWY_ONCE
