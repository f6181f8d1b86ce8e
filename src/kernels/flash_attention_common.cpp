// What the fused forward and backward passes share: argument checks, masks, dropout factors
// and score tiles.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/kernels/gemm.h"
#include "flash_attention_internal.h"

namespace attn::kernels::flash {
namespace {

// ---- validation ---------------------------------------------------------------------------

void check_sizes(const char* function, Index batch, Index heads, Index queries, Index keys,
                 Index head_dim, Index value_dim) {
  ATTN_CHECK(batch >= 0 && heads >= 0 && queries >= 0 && keys >= 0 && head_dim >= 0 &&
                 value_dim >= 0,
             function, ": expected non-negative sizes, got batch=", batch, ", heads=", heads,
             ", queries=", queries, ", keys=", keys, ", head_dim=", head_dim,
             ", value_dim=", value_dim);
}

// The kernels walk rows with arbitrary strides but read each row as a contiguous vector.
void check_input(const char* function, const char* name, const void* data,
                 const std::int64_t (&strides)[4], Index rows, Index cols) {
  if (rows == 0 || cols == 0) return;
  ATTN_CHECK(data != nullptr, function, ": ", name, " is null for a non-empty input with ",
             rows, " rows of ", cols);
  ATTN_CHECK(cols == 1 || strides[3] == 1, function, ": expected the last stride of ", name,
             " to be 1 (rows stored contiguously), got ", strides[3]);
  ATTN_CHECK(strides[0] >= 0 && strides[1] >= 0 && strides[2] >= 0, function,
             ": expected non-negative strides for ", name, ", got [", strides[0], ", ",
             strides[1], ", ", strides[2], ", ", strides[3], "]");
}

template <typename T>
void check_key_lengths(const FlashAttentionParams<T>& params, const char* function) {
  if (params.mask.key_lengths == nullptr) return;
  for (Index b = 0; b < params.batch; ++b) {
    const Index length = params.mask.key_lengths[b];
    ATTN_CHECK(length >= 0 && length <= params.keys, function, ": expected key_lengths[", b,
               "] in [0, ", params.keys, "] (the number of keys), got ", length);
  }
}

template <typename T>
void check_score(const FlashAttentionParams<T>& params, const char* function) {
  const bool additive = params.score == FlashScore::Additive;
  ATTN_CHECK(params.score == FlashScore::Dot || additive, function,
             ": unknown score form ", int(params.score));
  ATTN_CHECK(!additive || params.head_dim == 0 || params.v_a != nullptr, function,
             ": the additive score needs v_a (", params.head_dim, " values), got null");
}

}  // namespace

template <typename T>
void check_params(const FlashAttentionParams<T>& params, const char* function, Needs needs) {
  check_sizes(function, params.batch, params.heads, params.queries, params.keys,
              params.head_dim, params.value_dim);
  const Index slices = params.batch * params.heads;
  check_input(function, "q", params.q, params.q_strides, slices * params.queries,
              params.head_dim);
  check_input(function, "k", params.k, params.k_strides, slices * params.keys, params.head_dim);
  if (needs == Needs::Values) {
    check_input(function, "v", params.v, params.v_strides, slices * params.keys,
                params.value_dim);
  }
  check_score(params, function);
  ATTN_CHECK(params.dropout >= 0.0 && params.dropout <= 1.0, function,
             ": expected a dropout probability in [0, 1], got ", params.dropout);
  check_key_lengths(params, function);
}

// ---- masks --------------------------------------------------------------------------------

template <typename T>
void apply_masks(const FlashAttentionParams<T>& params, const Head<T>& head, Index row_begin,
                 Index rows, Index col_begin, Index cols, T* scores, Index row_step,
                 Index col_step) {
  const FlashMask<T>& mask = params.mask;
  const Index b = head.batch_index, h = head.head_index;
  for (Index r = 0; r < rows; ++r) {
    const Index i = row_begin + r;
    T* row = scores + r * row_step;
    // The bias first, so that a masked key is -inf whatever its bias (even NaN).
    if (mask.bias != nullptr) {
      const Index stride = mask.bias_strides[3];
      const T* bias = mask.bias + offset_of(mask.bias_strides, b, h, i) + col_begin * stride;
      // In double, so that converting the bias to base 2 adds no second rounding.
      for (Index j = 0; j < cols; ++j) {
        T& score = row[j * col_step];
        score = T(double(score) + kLog2e * double(bias[j * stride]));
      }
    }
    if (mask.allowed != nullptr) {
      const Index stride = mask.allowed_strides[3];
      const bool* allowed =
          mask.allowed + offset_of(mask.allowed_strides, b, h, i) + col_begin * stride;
      for (Index j = 0; j < cols; ++j) {
        if (!allowed[j * stride]) row[j * col_step] = kMinusInfinity<T>;
      }
    }
    const Index end = std::clamp<Index>(key_end(params, b, i) - col_begin, 0, cols);
    for (Index j = end; j < cols; ++j) row[j * col_step] = kMinusInfinity<T>;
  }
}

// ---- dropout ------------------------------------------------------------------------------

// The same numbers as philox_uniform(seed, offset, index) (element index uses word index % 4
// of Philox block index / 4 of the stream offset + index), drawn a block at a time.
template <typename T>
void dropout_factors(const FlashAttentionParams<T>& params, std::uint64_t first_index,
                     Index count, T* factors) {
  const double probability = params.dropout;
  const T keep_scale = probability < 1.0 ? T(1.0 / (1.0 - probability)) : T(0);
  std::uint64_t position = params.dropout_offset + first_index;
  Index t = 0;
  while (t < count) {
    const PhiloxBlock block = philox4x32(params.dropout_seed, position / 4, 0);
    for (std::uint64_t word = position % 4; word < 4 && t < count; ++word, ++t, ++position) {
      const float uniform = philox_word_to_uniform(block.words[word]);
      factors[t] = double(uniform) < probability ? T(0) : keep_scale;
    }
  }
}

// ---- score tiles --------------------------------------------------------------------------

template <typename T>
Operand<T> gemm_operand(const T* data, Index row_stride, Index rows, Index cols,
                        std::vector<T>& scratch) {
  const Index packed_ld = std::max<Index>(1, cols);
  // A single row has no row stride to speak of; GEMM only needs ld >= cols.
  if (rows <= 1) return {data, packed_ld};
  if (row_stride >= packed_ld) return {data, row_stride};
  // Broadcast (stride 0) or overlapping rows: GEMM cannot take them, so copy.
  scratch.resize(std::size_t(rows * cols));
  for (Index r = 0; r < rows; ++r) {
    std::copy(data + r * row_stride, data + r * row_stride + cols, scratch.data() + r * cols);
  }
  return {scratch.data(), packed_ld};
}

template <typename T>
void transpose_keys(const FlashAttentionParams<T>& params, const Head<T>& head, Index col_begin,
                    Index cols, T* keys_by_dim, Index ld) {
  for (Index j = 0; j < cols; ++j) {
    const T* key = head.k + (col_begin + j) * head.k_row_stride;
    for (Index c = 0; c < params.head_dim; ++c) keys_by_dim[c * ld + j] = key[c];
  }
}

namespace {

template <typename T>
void dot_score_tile(const FlashAttentionParams<T>& params, const Head<T>& head, Index row_begin,
                    Index rows, Index col_begin, Index cols, ScoreScratch<T>& scratch, T* scores,
                    Index ld) {
  const Index d = params.head_dim;
  const Operand<T> q = gemm_operand(head.q + row_begin * head.q_row_stride, head.q_row_stride,
                                    rows, d, scratch.q_rows);
  const Operand<T> k = gemm_operand(head.k + col_begin * head.k_row_stride, head.k_row_stride,
                                    cols, d, scratch.k_rows);
  // scores [rows, cols] = scale · Q [rows, d] · Kᵀ [d, cols]
  GemmArgs<T> args;
  args.m = rows;
  args.n = cols;
  args.k = d;
  args.transpose_b = true;
  args.alpha = T(params.scale * kLog2e);
  args.a = q.data;
  args.lda = q.ld;
  args.b = k.data;
  args.ldb = k.ld;
  args.c = scores;
  args.ldc = ld;
  gemm(args);
}

template <typename T>
void additive_score_tile_of_head(const FlashAttentionParams<T>& params, const Head<T>& head,
                                 Index row_begin, Index rows, Index col_begin, Index cols,
                                 ScoreScratch<T>& scratch, T* scores, Index ld) {
  const Index a = params.head_dim;
  scratch.keys_by_dim.resize(std::size_t(std::max<Index>(1, a * cols)));
  transpose_keys(params, head, col_begin, cols, scratch.keys_by_dim.data(), cols);
  additive_score_tile(head.q + row_begin * head.q_row_stride, head.q_row_stride, rows,
                      scratch.keys_by_dim.data(), cols, cols, params.v_a, a, T(kLog2e), scores,
                      ld);
}

}  // namespace

template <typename T>
void score_tile(const FlashAttentionParams<T>& params, const Head<T>& head, Index row_begin,
                Index rows, Index col_begin, Index cols, ScoreScratch<T>& scratch, T* scores,
                Index ld) {
  if (params.score == FlashScore::Dot) {
    dot_score_tile(params, head, row_begin, rows, col_begin, cols, scratch, scores, ld);
  } else {
    additive_score_tile_of_head(params, head, row_begin, rows, col_begin, cols, scratch, scores,
                                ld);
  }
}

#define ATTN_INSTANTIATE_FLASH_COMMON(T)                                                       \
  template void check_params<T>(const FlashAttentionParams<T>&, const char*, Needs);           \
  template void apply_masks<T>(const FlashAttentionParams<T>&, const Head<T>&, Index, Index,   \
                               Index, Index, T*, Index, Index);                                \
  template void dropout_factors<T>(const FlashAttentionParams<T>&, std::uint64_t, Index, T*);  \
  template Operand<T> gemm_operand<T>(const T*, Index, Index, Index, std::vector<T>&);         \
  template void transpose_keys<T>(const FlashAttentionParams<T>&, const Head<T>&, Index, Index, \
                                  T*, Index);                                                  \
  template void score_tile<T>(const FlashAttentionParams<T>&, const Head<T>&, Index, Index,    \
                              Index, Index, ScoreScratch<T>&, T*, Index);

ATTN_INSTANTIATE_FLASH_COMMON(float)
ATTN_INSTANTIATE_FLASH_COMMON(double)

}  // namespace attn::kernels::flash
