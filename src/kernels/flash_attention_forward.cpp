// Fused attention forward (FlashAttention-2 order on the CPU) and the weights recomputed from
// the log-sum-exp.
//
// Each work item is one block of Br query rows of one (batch, head). It walks the key tiles
// of Bc columns with an online softmax: the running row maximum m and sum l are updated per
// tile and the output accumulator is rescaled when m grows, so only a [Br, Bc] tile of
// scores ever exists. Items are shared out to OpenMP threads on demand.
//
// Three implementations of a block:
// - GEMM tiles: S = Q Kᵀ and O += P V by kernels::gemm, each call on its calling thread
//   (gemm does so inside a parallel region); any type, any score, any number of queries.
// - register tiles (float, Dot score, at least kQueryPadding queries): transposed tiles
//   computed by the kernels of flash_attention_tiles.cpp, which neither copy K and V nor
//   make separate passes for the maxima; measured faster (docs/PERFORMANCE.md).
// - rows (float, Dot score, fewer queries: decoding): the GEMM-tile loop with each product
//   done one query row at a time by SIMD dot products.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "attn/core/error.h"
#include "attn/kernels/flash_attention.h"
#include "attn/kernels/gemm.h"
#include "flash_attention_internal.h"

namespace attn::kernels {
namespace flash {
namespace {

// Tile sizes, measured on the benchmarks' shapes (docs/PERFORMANCE.md, "Fused attention"):
// tall query blocks amortise each packed key tile over more rows; wide key tiles give the
// P·V product a deep inner dimension and halve the online-softmax rescaling.
constexpr Index kQueryBlock = 128;
constexpr Index kKeyTile = 256;
// The register-tiled float path (flash_attention_tiles.cpp) pads a block of queries to a
// multiple of kQueryPadding (the widest vector) and steps keys by kTransposedKeyTile, a
// multiple of its 6-key register tile.
constexpr Index kQueryPadding = 16;
constexpr Index kTransposedKeyTile = 252;

template <typename T>
struct ForwardScratch {
  ScoreScratch<T> score;
  std::vector<T> scores = std::vector<T>(kQueryBlock * kKeyTile);  // [Br, Bc] or [Bc', Br]
  std::vector<T> factors = std::vector<T>(kKeyTile);               // [Bc] dropout
  std::vector<T> row_max = std::vector<T>(kQueryBlock);            // [Br] m
  std::vector<T> row_sum = std::vector<T>(kQueryBlock);            // [Br] l
  std::vector<T> v_rows;  // [Bc, dv] when v's row stride is not a valid leading dimension
  // Register tiles only:
  std::vector<T> query_t;     // [d, Br]: Qᵀ, pre-scaled
  std::vector<T> out_t;       // [dv, Br]: Oᵀ, the accumulator
  std::vector<T> column_max;  // [Br]: the tile's maximum per query
  // Weights only: a whole block's weights when only some of its rows are asked for.
  std::vector<T> block_weights;  // [Br, Nk]
};

// Keys are cut where the rows of this block stop attending: columns at or beyond the last
// row's key_end are masked for every row (causal and key_lengths both cut monotonically).
struct BlockKeys {
  Index end_of_first_row;  // tiles ending before it need no causal or length mask
  Index end_of_last_row;   // tiles starting at or beyond it are skipped
};

template <typename T>
BlockKeys block_keys(const FlashAttentionParams<T>& params, Index b, Index row_begin,
                     Index rows) {
  return {key_end(params, b, row_begin), key_end(params, b, row_begin + rows - 1)};
}

template <typename T>
void apply_dropout(const FlashAttentionParams<T>& params, const Head<T>& head, Index row_begin,
                   Index rows, Index col_begin, Index cols, T* probabilities, Index ld,
                   T* factors) {
  for (Index r = 0; r < rows; ++r) {
    dropout_factors(params, dropout_index(params, head, row_begin + r, col_begin), cols, factors);
    T* row = probabilities + r * ld;
    for (Index j = 0; j < cols; ++j) row[j] *= factors[j];
  }
}

// out [rows, dv] (row stride dv) += probabilities [rows, cols] · V [col_begin:+cols, dv]
template <typename T>
void accumulate_values(const FlashAttentionParams<T>& params, const Head<T>& head,
                       Index col_begin, Index rows, Index cols, const T* probabilities,
                       ForwardScratch<T>& scratch, T* out) {
  const Index dv = params.value_dim;
  const Operand<T> v = gemm_operand(head.v + col_begin * head.v_row_stride, head.v_row_stride,
                                    cols, dv, scratch.v_rows);
  GemmArgs<T> args;
  args.m = rows;
  args.n = dv;
  args.k = cols;
  args.beta = T(1);
  args.a = probabilities;
  args.lda = kKeyTile;
  args.b = v.data;
  args.ldb = v.ld;
  args.c = out;
  args.ldc = std::max<Index>(1, dv);
  gemm(args);
}

// out = acc / l and lse = (m + log2 l)·ln 2 (m and l in base-2 units, combined in double so
// that lse is rounded once); a row that never met an allowed key (l = 0) gives zeros and
// lse = -inf.
template <typename T>
void finish_rows(Index rows, Index dv, const T* row_max, const T* row_sum, T* out, T* lse) {
  for (Index r = 0; r < rows; ++r) {
    T* out_row = out + r * dv;
    if (row_sum[r] == T(0)) {
      std::fill(out_row, out_row + dv, T(0));
      lse[r] = kMinusInfinity<T>;
      continue;
    }
    const T inverse = T(1) / row_sum[r];
    for (Index c = 0; c < dv; ++c) out_row[c] *= inverse;
    lse[r] = T(kLn2 * (double(row_max[r]) + std::log2(double(row_sum[r]))));
  }
}

// Float Dot scores of fewer queries than a vector (decoding) go row by row through SIMD dot
// products: a GEMM of so few rows would mostly pack K and V.
template <typename T>
bool uses_row_kernels(const FlashAttentionParams<T>& params) {
  return std::is_same_v<T, float> && params.score == FlashScore::Dot &&
         params.queries < kQueryPadding;
}

template <typename T>
void block_scores(const FlashAttentionParams<T>& params, const Head<T>& head, Index row_begin,
                  Index rows, Index col_begin, Index cols, ForwardScratch<T>& scratch, T* scores) {
  if constexpr (std::is_same_v<T, float>) {
    if (uses_row_kernels(params)) {
      const float alpha = float(params.scale * kLog2e);
      for (Index r = 0; r < rows; ++r) {
        row_scores(head.q + (row_begin + r) * head.q_row_stride, alpha,
                   head.k + col_begin * head.k_row_stride, head.k_row_stride, cols,
                   params.head_dim, scores + r * kKeyTile);
      }
      return;
    }
  }
  score_tile(params, head, row_begin, rows, col_begin, cols, scratch.score, scores, kKeyTile);
}

template <typename T>
void block_values(const FlashAttentionParams<T>& params, const Head<T>& head, Index col_begin,
                  Index rows, Index cols, const T* probabilities, ForwardScratch<T>& scratch,
                  T* out) {
  if constexpr (std::is_same_v<T, float>) {
    if (uses_row_kernels(params)) {
      const Index dv = params.value_dim;
      for (Index r = 0; r < rows; ++r) {
        row_values(probabilities + r * kKeyTile, cols, head.v + col_begin * head.v_row_stride,
                   head.v_row_stride, dv, out + r * dv);
      }
      return;
    }
  }
  accumulate_values(params, head, col_begin, rows, cols, probabilities, scratch, out);
}

template <typename T>
void forward_block(const FlashAttentionParams<T>& params, const FlashAttentionOutputs<T>& outputs,
                   const Head<T>& head, Index row_begin, Index rows, ForwardScratch<T>& scratch) {
  const Index dv = params.value_dim;
  // out rows double as the accumulator: [rows, dv], contiguous.
  T* out = outputs.out + (head.row_offset + row_begin) * dv;
  std::fill(out, out + rows * dv, T(0));
  std::fill(scratch.row_max.begin(), scratch.row_max.end(), kMinusInfinity<T>);
  std::fill(scratch.row_sum.begin(), scratch.row_sum.end(), T(0));
  T* scores = scratch.scores.data();
  const BlockKeys keys = block_keys(params, head.batch_index, row_begin, rows);
  for (Index col_begin = 0; col_begin < keys.end_of_last_row; col_begin += kKeyTile) {
    const Index cols = std::min(kKeyTile, keys.end_of_last_row - col_begin);
    block_scores(params, head, row_begin, rows, col_begin, cols, scratch, scores);
    if (has_element_masks(params) || col_begin + cols > keys.end_of_first_row) {
      apply_masks(params, head, row_begin, rows, col_begin, cols, scores, kKeyTile, Index(1));
    }
    online_softmax_tile(scores, rows, cols, kKeyTile, scratch.row_max.data(),
                        scratch.row_sum.data(), out, dv, dv);
    // Dropout acts on the weights that multiply V, not on the normaliser l.
    if (params.dropout > 0.0) {
      apply_dropout(params, head, row_begin, rows, col_begin, cols, scores, kKeyTile,
                    scratch.factors.data());
    }
    block_values(params, head, col_begin, rows, cols, scores, scratch, out);
  }
  finish_rows(rows, dv, scratch.row_max.data(), scratch.row_sum.data(), out,
              outputs.lse + head.row_offset + row_begin);
}

// ---- register tiles (float, Dot) ------------------------------------------------------------

template <typename T>
bool uses_register_tiles(const FlashAttentionParams<T>& params) {
  // With fewer queries than a vector, padding would waste most of every lane.
  return std::is_same_v<T, float> && params.score == FlashScore::Dot &&
         params.queries >= kQueryPadding;
}

Index round_up(Index value, Index multiple) { return (value + multiple - 1) / multiple * multiple; }

// query_t [d, ld] = (scale·log2 e · Q rows)ᵀ, with zero columns for the padding queries.
void transpose_queries(const FlashAttentionParams<float>& params, const Head<float>& head,
                       Index row_begin, Index rows, Index ld, float* query_t) {
  const float alpha = float(params.scale * kLog2e);
  std::fill(query_t, query_t + params.head_dim * ld, 0.0f);
  for (Index r = 0; r < rows; ++r) {
    const float* query = head.q + (row_begin + r) * head.q_row_stride;
    for (Index c = 0; c < params.head_dim; ++c) query_t[c * ld + r] = alpha * query[c];
  }
}

void apply_dropout_transposed(const FlashAttentionParams<float>& params, const Head<float>& head,
                              Index row_begin, Index rows, Index col_begin, Index cols,
                              float* probabilities_t, Index ld, float* factors) {
  for (Index r = 0; r < rows; ++r) {
    dropout_factors(params, dropout_index(params, head, row_begin + r, col_begin), cols, factors);
    for (Index j = 0; j < cols; ++j) probabilities_t[j * ld + r] *= factors[j];
  }
}

// The causal and key-length masks on a transposed tile: for key j, the rows that may not
// attend it are a prefix (key_end grows with the row), one contiguous run of Sᵀ[j, ·].
void mask_bounds_transposed(const FlashAttentionParams<float>& params, const Head<float>& head,
                            Index row_begin, Index rows, Index col_begin, Index cols,
                            float* scores_t, Index ld) {
  Index masked_rows = 0;
  for (Index j = 0; j < cols; ++j) {
    while (masked_rows < rows &&
           key_end(params, head.batch_index, row_begin + masked_rows) <= col_begin + j) {
      ++masked_rows;
    }
    std::fill(scores_t + j * ld, scores_t + j * ld + masked_rows, kMinusInfinity<float>);
  }
}

void mask_transposed(const FlashAttentionParams<float>& params, const Head<float>& head,
                     Index row_begin, Index rows, Index col_begin, Index cols, float* scores_t,
                     Index ld) {
  if (has_element_masks(params)) {
    apply_masks(params, head, row_begin, rows, col_begin, cols, scores_t, Index(1), ld);
  } else {
    mask_bounds_transposed(params, head, row_begin, rows, col_begin, cols, scores_t, ld);
  }
}

// out rows [rows, dv] = Oᵀᵀ / l; lse as in finish_rows.
void finish_transposed(Index rows, Index dv, const float* out_t, Index ld, const float* row_max,
                       const float* row_sum, float* out, float* lse) {
  for (Index r = 0; r < rows; ++r) {
    float* out_row = out + r * dv;
    if (row_sum[r] == 0.0f) {
      std::fill(out_row, out_row + dv, 0.0f);
      lse[r] = kMinusInfinity<float>;
      continue;
    }
    const float inverse = 1.0f / row_sum[r];
    for (Index c = 0; c < dv; ++c) out_row[c] = out_t[c * ld + r] * inverse;
    lse[r] = float(kLn2 * (double(row_max[r]) + std::log2(double(row_sum[r]))));
  }
}

void forward_block_transposed(const FlashAttentionParams<float>& params,
                              const FlashAttentionOutputs<float>& outputs, const Head<float>& head,
                              Index row_begin, Index rows, ForwardScratch<float>& scratch) {
  const Index d = params.head_dim, dv = params.value_dim;
  // Padded rows of queries; one more vector of row stride keeps successive rows of the
  // transposed tiles off the same cache sets.
  const Index queries = round_up(rows, kQueryPadding), ld = queries + kQueryPadding;
  scratch.query_t.resize(std::size_t(std::max<Index>(1, d * ld)));
  scratch.out_t.assign(std::size_t(std::max<Index>(1, dv * ld)), 0.0f);
  scratch.scores.resize(std::size_t(kTransposedKeyTile * ld));
  scratch.column_max.resize(std::size_t(ld));
  scratch.row_max.assign(std::size_t(ld), kMinusInfinity<float>);
  scratch.row_sum.assign(std::size_t(ld), 0.0f);
  transpose_queries(params, head, row_begin, rows, ld, scratch.query_t.data());
  float* scores_t = scratch.scores.data();
  const BlockKeys keys = block_keys(params, head.batch_index, row_begin, rows);
  for (Index col_begin = 0; col_begin < keys.end_of_last_row; col_begin += kTransposedKeyTile) {
    const Index cols = std::min(kTransposedKeyTile, keys.end_of_last_row - col_begin);
    std::fill(scratch.column_max.begin(), scratch.column_max.end(), kMinusInfinity<float>);
    transposed_scores(scratch.query_t.data(), ld, queries, head.k + col_begin * head.k_row_stride,
                      head.k_row_stride, cols, d, scores_t, ld, scratch.column_max.data());
    // Masks change the scores after the kernel took its maxima: the softmax retakes them.
    const bool masked = has_element_masks(params) || col_begin + cols > keys.end_of_first_row;
    if (masked) mask_transposed(params, head, row_begin, rows, col_begin, cols, scores_t, ld);
    transposed_softmax(scores_t, ld, cols, queries, masked ? nullptr : scratch.column_max.data(),
                       scratch.row_max.data(), scratch.row_sum.data(), scratch.out_t.data(), ld,
                       dv);
    if (params.dropout > 0.0) {
      apply_dropout_transposed(params, head, row_begin, rows, col_begin, cols, scores_t, ld,
                               scratch.factors.data());
    }
    transposed_values(scores_t, ld, cols, queries, head.v + col_begin * head.v_row_stride,
                      head.v_row_stride, dv, scratch.out_t.data(), ld);
  }
  finish_transposed(rows, dv, scratch.out_t.data(), ld, scratch.row_max.data(),
                    scratch.row_sum.data(), outputs.out + (head.row_offset + row_begin) * dv,
                    outputs.lse + head.row_offset + row_begin);
}

template <typename T>
void forward_block_any(const FlashAttentionParams<T>& params,
                       const FlashAttentionOutputs<T>& outputs, const Head<T>& head,
                       Index row_begin, Index rows, ForwardScratch<T>& scratch) {
  if constexpr (std::is_same_v<T, float>) {
    if (uses_register_tiles(params)) {
      forward_block_transposed(params, outputs, head, row_begin, rows, scratch);
      return;
    }
  }
  forward_block(params, outputs, head, row_begin, rows, scratch);
}

Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }

// Work items: (batch, head, block of rows), heads outermost. Within a head the blocks run
// last first: under a causal mask they are the most expensive, and taking them first
// leaves the cheap ones to even out the threads at the end.
struct RowBlocks {
  Index per_head;
  Index rows_per_block;

  Index block_of(Index item) const { return per_head - 1 - item % per_head; }
};

template <typename T, typename Body>
void for_each_row_block(const FlashAttentionParams<T>& params, Index heads, Index row_count,
                        const Body& body) {
  const RowBlocks blocks{ceil_div(row_count, kQueryBlock), kQueryBlock};
  const Index items = params.batch * heads * blocks.per_head;
  FirstError errors;
#pragma omp parallel if (items > 1)
  {
    ForwardScratch<T> scratch;
#pragma omp for schedule(dynamic, 1)
    for (Index item = 0; item < items; ++item) {
      errors.run([&] {
        const Index slice = item / blocks.per_head;
        const Index row_begin = blocks.block_of(item) * blocks.rows_per_block;
        const Index rows = std::min(blocks.rows_per_block, row_count - row_begin);
        body(slice / heads, slice % heads, row_begin, rows, scratch);
      });
    }
  }
  errors.rethrow();
}

template <typename T>
void check_outputs(const FlashAttentionParams<T>& params, const FlashAttentionOutputs<T>& outputs) {
  const Index rows = params.batch * params.heads * params.queries;
  ATTN_CHECK(rows == 0 || outputs.lse != nullptr, "flash_attention_forward: lse is null for ",
             rows, " rows");
  ATTN_CHECK(rows * params.value_dim == 0 || outputs.out != nullptr,
             "flash_attention_forward: out is null for ", rows, " rows of ", params.value_dim);
}

// ---- weights ------------------------------------------------------------------------------

template <typename T>
void check_weights_args(const FlashAttentionParams<T>& params, const T* lse, Index row_begin,
                        Index row_end, const std::int64_t* heads, Index num_heads, T* weights) {
  const char* function = "flash_attention_weights";
  ATTN_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= params.queries, function,
             ": expected 0 <= row_begin <= row_end <= ", params.queries, " (queries), got [",
             row_begin, ", ", row_end, ")");
  ATTN_CHECK(num_heads >= 0 && (num_heads == 0 || heads != nullptr), function,
             ": expected a list of num_heads=", num_heads, " head indices");
  for (Index index = 0; index < num_heads; ++index) {
    ATTN_CHECK(heads[index] >= 0 && heads[index] < params.heads, function, ": head index ",
               heads[index], " out of range [0, ", params.heads, ")");
  }
  const Index count = params.batch * num_heads * (row_end - row_begin) * params.keys;
  ATTN_CHECK(count == 0 || (lse != nullptr && weights != nullptr), function,
             ": lse and weights must not be null for ", count, " weights");
}

// weights [rows, Nk] (row stride Nk) of one head, computed in place a key tile at a time.
template <typename T>
void weights_block(const FlashAttentionParams<T>& params, const T* lse, const Head<T>& head,
                   Index row_begin, Index rows, ScoreScratch<T>& scratch, T* weights) {
  const Index keys = params.keys;
  const BlockKeys block = block_keys(params, head.batch_index, row_begin, rows);
  for (Index col_begin = 0; col_begin < keys; col_begin += kKeyTile) {
    const Index cols = std::min(kKeyTile, keys - col_begin);
    T* tile = weights + col_begin;
    if (col_begin >= block.end_of_last_row) {
      for (Index r = 0; r < rows; ++r) std::fill(tile + r * keys, tile + r * keys + cols, T(0));
      continue;
    }
    score_tile(params, head, row_begin, rows, col_begin, cols, scratch, tile, keys);
    apply_masks(params, head, row_begin, rows, col_begin, cols, tile, keys, Index(1));
    exp_shifted_tile(tile, rows, cols, keys, lse + head.row_offset + row_begin);
  }
}

}  // namespace
}  // namespace flash

template <typename T>
void flash_attention_forward(const FlashAttentionParams<T>& params,
                             const FlashAttentionOutputs<T>& outputs) {
  using namespace flash;
  check_params(params, "flash_attention_forward", Needs::Values);
  check_outputs(params, outputs);
  const auto block = [&](Index b, Index h, Index row_begin, Index rows,
                         ForwardScratch<T>& scratch) {
    forward_block_any(params, outputs, head_of(params, b, h), row_begin, rows, scratch);
  };
  for_each_row_block(params, params.heads, params.queries, block);
}

// A row's weights are computed as part of its fixed block of kQueryBlock queries (block i
// covers queries [i·kQueryBlock, (i+1)·kQueryBlock)), whatever range is asked for, and the
// rows asked for are copied out of it. The score GEMM's arithmetic may depend on how many
// rows it multiplies at once (oneDNN picks its kernels by shape, and on AVX2 a 2-row and a
// 3-row product round differently), so computing only the rows asked for would make a row's
// weights depend on which other rows were requested (docs/ATTENTION.md, "Weights").
template <typename T>
void flash_attention_weights(const FlashAttentionParams<T>& params, const T* lse,
                             std::int64_t row_begin, std::int64_t row_end,
                             const std::int64_t* heads, std::int64_t num_heads, T* weights) {
  using namespace flash;
  check_params(params, "flash_attention_weights", Needs::ScoresOnly);
  check_weights_args(params, lse, row_begin, row_end, heads, num_heads, weights);
  if (row_begin == row_end) return;
  const Index keys = params.keys;
  const Index row_count = row_end - row_begin;
  const Index covered_begin = row_begin / kQueryBlock * kQueryBlock;
  const Index covered_end = std::min(params.queries, ceil_div(row_end, kQueryBlock) * kQueryBlock);
  for_each_row_block(
      params, num_heads, covered_end - covered_begin,
      [&](Index b, Index head_slot, Index offset, Index rows, ForwardScratch<T>& scratch) {
        const Index block_begin = covered_begin + offset;
        const Index wanted_begin = std::max(block_begin, row_begin);
        const Index wanted_end = std::min(block_begin + rows, row_end);
        // weights [B, num_heads, row_count, Nk]
        T* out = weights + ((b * num_heads + head_slot) * row_count + wanted_begin - row_begin) * keys;
        const Head<T> head = head_of(params, b, Index(heads[head_slot]));
        if (wanted_begin == block_begin && wanted_end == block_begin + rows) {
          weights_block(params, lse, head, block_begin, rows, scratch.score, out);
          return;
        }
        scratch.block_weights.resize(std::size_t(rows * keys));
        weights_block(params, lse, head, block_begin, rows, scratch.score,
                      scratch.block_weights.data());
        std::copy(scratch.block_weights.begin() + (wanted_begin - block_begin) * keys,
                  scratch.block_weights.begin() + (wanted_end - block_begin) * keys, out);
      });
}

template void flash_attention_forward<float>(const FlashAttentionParams<float>&,
                                             const FlashAttentionOutputs<float>&);
template void flash_attention_forward<double>(const FlashAttentionParams<double>&,
                                              const FlashAttentionOutputs<double>&);
template void flash_attention_weights<float>(const FlashAttentionParams<float>&, const float*,
                                             std::int64_t, std::int64_t, const std::int64_t*,
                                             std::int64_t, float*);
template void flash_attention_weights<double>(const FlashAttentionParams<double>&,
                                              const double*, std::int64_t, std::int64_t,
                                              const std::int64_t*, std::int64_t, double*);

}  // namespace attn::kernels
