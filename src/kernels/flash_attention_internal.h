// Pieces shared by the fused attention kernels (flash_attention_forward.cpp,
// flash_attention_backward.cpp), the SIMD tile kernels (flash_attention_simd.cpp) and the
// scalar reference (flash_attention_reference.cpp).
//
// Legend: B = batch, H = heads, Nq = queries, Nk = keys, d = head_dim (the attention size
// a for Additive), dv = value_dim; Br x Bc = a tile of Br query rows by Bc key columns.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <vector>

#include "attn/kernels/flash_attention.h"

namespace attn::kernels::flash {

using Index = std::int64_t;

template <typename T>
constexpr T kMinusInfinity = -std::numeric_limits<T>::infinity();

// Inside the kernels scores are kept in base-2 units, s·log2 e (folded into the GEMM's alpha,
// the additive kernel's output and the bias), so that the softmax needs 2^x, which is cheaper
// than e^x. The row maximum and sum live in the same units; lse leaves in natural units.
constexpr double kLog2e = 1.44269504088896340736;
constexpr double kLn2 = 0.693147180559945309417;

// ---- validation ---------------------------------------------------------------------------

enum class Needs { ScoresOnly, Values };  // flash_attention_weights reads no values

// Throws attn::Error naming `function` on sizes, pointers, strides, dropout or key lengths
// out of range.
template <typename T>
void check_params(const FlashAttentionParams<T>& params, const char* function, Needs needs);

// ---- addressing ---------------------------------------------------------------------------

inline Index offset_of(const std::int64_t (&strides)[4], Index b, Index h, Index i) {
  return b * strides[0] + h * strides[1] + i * strides[2];
}

// One (batch, head) slice of the inputs: row r of q is q + r * q_row_stride, and so on.
template <typename T>
struct Head {
  Index batch_index = 0, head_index = 0;
  const T* q = nullptr;
  const T* k = nullptr;
  const T* v = nullptr;
  Index q_row_stride = 0, k_row_stride = 0, v_row_stride = 0;
  Index row_offset = 0;  // (b·H + h)·Nq: the first row of this head in [B·H·Nq] arrays
};

template <typename T>
Head<T> head_of(const FlashAttentionParams<T>& params, Index b, Index h) {
  Head<T> head;
  head.batch_index = b;
  head.head_index = h;
  head.q = params.q + offset_of(params.q_strides, b, h, 0);
  head.k = params.k + offset_of(params.k_strides, b, h, 0);
  head.v = params.v == nullptr ? nullptr : params.v + offset_of(params.v_strides, b, h, 0);
  head.q_row_stride = params.q_strides[2];
  head.k_row_stride = params.k_strides[2];
  head.v_row_stride = params.v_strides[2];
  head.row_offset = (b * params.heads + h) * params.queries;
  return head;
}

// ---- masks --------------------------------------------------------------------------------

// Keys [0, key_end) of row i survive the causal and key-length masks; both cut a row at a
// single column, which lets the kernels skip whole tiles. The other masks act per element.
template <typename T>
Index key_end(const FlashAttentionParams<T>& params, Index b, Index i) {
  Index end = params.keys;
  if (params.mask.key_lengths != nullptr) end = std::min(end, Index(params.mask.key_lengths[b]));
  // j <= i + (Nk - Nq): aligned to the last key, as in decoding with a cache.
  if (params.mask.causal) end = std::min(end, i + params.keys - params.queries + 1);
  return std::max<Index>(end, 0);
}

template <typename T>
bool has_element_masks(const FlashAttentionParams<T>& params) {
  return params.mask.allowed != nullptr || params.mask.bias != nullptr;
}

// Adds the bias (times log2 e) and writes -inf where a key is masked, on the base-2 scores of
// rows [row_begin, +rows) and keys [col_begin, +cols) of one head; the score of (r, j) is
// scores[r·row_step + j·col_step] ([rows, cols] with row stride ld: row_step = ld,
// col_step = 1; transposed: row_step = 1, col_step = ld).
template <typename T>
void apply_masks(const FlashAttentionParams<T>& params, const Head<T>& head, Index row_begin,
                 Index rows, Index col_begin, Index cols, T* scores, Index row_step,
                 Index col_step);

// ---- dropout ------------------------------------------------------------------------------

// factors[t] = 0 where element first_index + t of the dropout stream is dropped, 1/(1-p)
// where it is kept (p = 1 drops everything).
template <typename T>
void dropout_factors(const FlashAttentionParams<T>& params, std::uint64_t first_index,
                     Index count, T* factors);

// Index in the dropout stream of element (row, key) of a head: ((b·H + h)·Nq + i)·Nk + j.
template <typename T>
std::uint64_t dropout_index(const FlashAttentionParams<T>& params, const Head<T>& head, Index row,
                            Index key) {
  return std::uint64_t(head.row_offset + row) * std::uint64_t(params.keys) + std::uint64_t(key);
}

// ---- score tiles --------------------------------------------------------------------------

// Per-thread scratch for score tiles; grows on demand and is reused across tiles.
template <typename T>
struct ScoreScratch {
  std::vector<T> q_rows;      // [Br, d] when q's row stride is not a valid leading dimension
  std::vector<T> k_rows;      // [Bc, d] likewise for k (Dot)
  std::vector<T> keys_by_dim; // [d, Bc]: the key tile transposed (Additive)
};

// A matrix ready for GEMM: either the input in place (its row stride is a valid leading
// dimension) or a packed copy in `scratch`.
template <typename T>
struct Operand {
  const T* data;
  Index ld;
};
template <typename T>
Operand<T> gemm_operand(const T* data, Index row_stride, Index rows, Index cols,
                        std::vector<T>& scratch);

// scores [rows, cols] (row stride ld) = s_ij·log2 e for rows [row_begin, +rows) and keys
// [col_begin, +cols) of one head, before masks: s_ij = scale · q_i·k_j (one GEMM) or
// Σ_c v_a[c] tanh(q_ic + k_jc).
template <typename T>
void score_tile(const FlashAttentionParams<T>& params, const Head<T>& head, Index row_begin,
                Index rows, Index col_begin, Index cols, ScoreScratch<T>& scratch, T* scores,
                Index ld);

// keys_by_dim [d, cols] (row stride ld) = the key rows [col_begin, +cols) transposed.
template <typename T>
void transpose_keys(const FlashAttentionParams<T>& params, const Head<T>& head, Index col_begin,
                    Index cols, T* keys_by_dim, Index ld);

// ---- SIMD tile kernels (flash_attention_simd.cpp) -------------------------------------------
// Tiles are [rows, cols] with row stride ld. Dispatched at run time to the best instruction
// set of the CPU.

// Online softmax step on base-2 scores: per row r, m_new = max(row_max[r], max_j s_rj);
// s_rj = 2^(s_rj - m_new); row_sum[r] = row_sum[r]·2^(row_max[r] - m_new) + Σ_j s_rj; the
// accumulator row
// acc[r, 0:acc_cols] is rescaled by the same factor; row_max[r] = m_new. Rows whose scores
// are all -inf so far (m_new = -inf) get s = 0 and keep their state: never inf - inf.
template <typename T>
void online_softmax_tile(T* scores, Index rows, Index cols, Index ld, T* row_max, T* row_sum,
                         T* acc, Index acc_ld, Index acc_cols);

// s_rj = 2^(s_rj - lse[r]·log2 e) on base-2 scores, with lse in natural units: the weights
// e^(s - lse). Rows with lse = -inf (nothing allowed) become 0.
template <typename T>
void exp_shifted_tile(T* scores, Index rows, Index cols, Index ld, const T* lse);

// dp_rj = p_rj · (dp_rj · z_rj - delta[r]) with z the dropout factors (null: no dropout).
template <typename T>
void softmax_grad_tile(const T* probabilities, T* grad, const T* factors, Index rows, Index cols,
                       Index ld, const T* delta);

// s_rj = output_scale · Σ_c v_a[c] tanh(q[r, c] + keys_by_dim[c, j]) for a attention
// dimensions.
template <typename T>
void additive_score_tile(const T* q, Index q_ld, Index rows, const T* keys_by_dim, Index keys_ld,
                         Index cols, const T* v_a, Index a, T output_scale, T* scores, Index ld);

// With t_rjc = tanh(q[r, c] + keys_by_dim[c, j]) and g = ds_rj v_a[c] (1 - t²):
//   grad_q[r, c] += Σ_j g,  grad_keys_by_dim[c, j] += Σ_r g,  grad_v_a[c] += Σ_rj ds_rj t.
template <typename T>
void additive_grad_tile(const T* q, Index q_ld, Index rows, const T* keys_by_dim, Index keys_ld,
                        Index cols, const T* v_a, Index a, const T* grad_scores, Index ld,
                        T* grad_q, Index grad_q_ld, T* grad_keys_by_dim, T* grad_v_a);

// ---- register-tiled float forward (flash_attention_tiles.cpp) --------------------------------
// Transposed tiles, queries along the contiguous direction of the rows: Qᵀ [d, ·],
// Sᵀ/Pᵀ [keys, ·], Oᵀ [dv, ·], each with its own row stride (ld). `queries` is a multiple
// of 16.

// scores_t[j, i] = Σ_c k[j·k_stride + c] query_t[c, i] for keys j < keys; column_max[i] takes
// the maximum of its old value and of column i.
void transposed_scores(const float* query_t, Index query_t_ld, Index queries, const float* k,
                       Index k_stride, Index keys, Index d, float* scores_t, Index scores_t_ld,
                       float* column_max);

// Online softmax step down each column of base-2 scores (as online_softmax_tile, per column):
// updates row_max and row_sum of each query, rescales its column of out_t [dv, ·] and leaves
// the unnormalised probabilities in scores_t. column_max null: computed here (after masks).
void transposed_softmax(float* scores_t, Index scores_t_ld, Index keys, Index queries,
                        const float* column_max, float* row_max, float* row_sum, float* out_t,
                        Index out_t_ld, Index dv);

// out_t[c, i] += Σ_j v[j·v_stride + c] probabilities_t[j, i] for c < dv.
void transposed_values(const float* probabilities_t, Index probabilities_t_ld, Index keys,
                       Index queries, const float* v, Index v_stride, Index dv, float* out_t,
                       Index out_t_ld);

// For a few query rows (decoding), one row at a time:
// scores[j] = alpha · Σ_c q[c] k[j·k_stride + c] for j < keys.
void row_scores(const float* q, float alpha, const float* k, Index k_stride, Index keys, Index d,
                float* scores);
// out[c] += Σ_j probabilities[j] v[j·v_stride + c] for c < dv.
void row_values(const float* probabilities, Index keys, const float* v, Index v_stride, Index dv,
                float* out);

// ---- threads ------------------------------------------------------------------------------

// Exceptions must not escape an OpenMP region: the first one is kept and rethrown after.
class FirstError {
 public:
  template <typename Body>
  void run(const Body& body) {
    try {
      body();
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace attn::kernels::flash
