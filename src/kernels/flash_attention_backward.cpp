// Fused attention backward (FlashAttention-2): recomputes the scores tile by tile from the
// saved log-sum-exp instead of storing the [Nq, Nk] weights.
//
// With P = e^(S - lse), Z the dropout factors (0 or 1/(1-p); 1 without dropout) and
// D_i = Σ_c dO_ic O_ic (which equals Σ_j P_ij Z_ij dP_ij, so the softmax Jacobian needs no
// second pass over the keys):
//   dV += (P∘Z)ᵀ dO,  dP = dO Vᵀ,  dS = P∘(dP∘Z - D),
//   Dot:      dQ += scale dS K,  dK += scale dSᵀ Q
//   Additive: dq_ic += Σ_j dS_ij v_a[c] (1 - t²), dk_jc += Σ_i ..., dv_a[c] += Σ_ij dS_ij t,
//             t = tanh(q_ic + k_jc).
//
// Work items own whole key blocks: an item is a (batch, head, split) and split s takes key
// blocks s, s + S, s + 2S, ... (interleaved, so that causal work is balanced). dK and dV of
// a key block are written by its item alone. dQ of split 0 goes straight to grad_q; splits
// 1..S-1 write partial sums that are added afterwards in split order. S depends only on the
// problem size, so the results are the same for any number of threads.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "attn/core/error.h"
#include "attn/kernels/flash_attention.h"
#include "attn/kernels/gemm.h"
#include "flash_attention_internal.h"

namespace attn::kernels {
namespace flash {
namespace {

// Tile sizes (docs/PERFORMANCE.md, "Fused attention").
constexpr Index kQueryBlock = 128;
constexpr Index kKeyBlock = 128;
// With fewer (batch, head) slices than this, the keys of each slice are split to give
// threads work; more splits cost a partial dQ buffer of [Nq, d] each.
constexpr Index kMinItems = 8;

Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }

template <typename T>
struct BackwardScratch {
  ScoreScratch<T> score;
  std::vector<T> probabilities = std::vector<T>(kQueryBlock * kKeyBlock);  // [Br, Bc] P
  std::vector<T> grad_scores = std::vector<T>(kQueryBlock * kKeyBlock);    // [Br, Bc] dP, dS
  std::vector<T> factors;           // [Br, Bc] dropout factors Z
  std::vector<T> dropped;           // [Br, Bc] P∘Z
  std::vector<T> delta;             // [Nq] D
  std::vector<T> v_rows, k_rows, q_rows;  // packed operands (unusual strides only)
  std::vector<T> keys_by_dim;       // [a, Bc] Additive
  std::vector<T> grad_keys_by_dim;  // [a, Bc] Additive
};

// Everything one work item writes.
template <typename T>
struct ItemOutputs {
  T* grad_q;    // [Nq, d] of this head: grad_q itself, or a partial sum
  T* grad_k;    // [Nk, d] of this head
  T* grad_v;    // [Nk, dv] of this head
  T* grad_v_a;  // [a]: this item's partial sum (Additive)
};

// C [m, n] (+)= alpha · op(A) · op(B) on contiguous or strided operands.
template <typename T>
void multiply(Index m, Index n, Index k, bool transpose_a, const T* a, Index lda, bool transpose_b,
              const T* b, Index ldb, T alpha, T beta, T* c, Index ldc) {
  GemmArgs<T> args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.transpose_a = transpose_a;
  args.transpose_b = transpose_b;
  args.alpha = alpha;
  args.beta = beta;
  args.a = a;
  args.lda = lda;
  args.b = b;
  args.ldb = ldb;
  args.c = c;
  args.ldc = std::max<Index>(1, ldc);
  gemm(args);
}

// D_i = Σ_c dO_ic O_ic for every row of the head.
template <typename T>
void compute_delta(const FlashAttentionParams<T>& params, const FlashAttentionGradients<T>& grads,
                   const Head<T>& head, T* delta) {
  const Index dv = params.value_dim;
  for (Index i = 0; i < params.queries; ++i) {
    const T* out = grads.out + (head.row_offset + i) * dv;
    const T* grad_out = grads.grad_out + (head.row_offset + i) * dv;
    T sum = 0;
    for (Index c = 0; c < dv; ++c) sum += out[c] * grad_out[c];
    delta[i] = sum;
  }
}

// The first query row that may attend key col_begin: rows before it see none of the block.
template <typename T>
Index first_attending_row(const FlashAttentionParams<T>& params, Index col_begin) {
  if (!params.mask.causal) return 0;
  return std::clamp<Index>(col_begin - (params.keys - params.queries), 0, params.queries);
}

// One (query block, key block) tile: P, dV, dP, dS, then dQ and dK.
template <typename T>
void backward_tile(const FlashAttentionParams<T>& params, const FlashAttentionGradients<T>& grads,
                   const Head<T>& head, Index row_begin, Index rows, Index col_begin, Index cols,
                   const Operand<T>& k_block, const Operand<T>& v_block,
                   BackwardScratch<T>& scratch, const ItemOutputs<T>& out) {
  const Index d = params.head_dim, dv = params.value_dim;
  const Index ld = kKeyBlock;
  T* p = scratch.probabilities.data();
  T* ds = scratch.grad_scores.data();
  score_tile(params, head, row_begin, rows, col_begin, cols, scratch.score, p, ld);
  const Index end_of_first_row = key_end(params, head.batch_index, row_begin);
  if (has_element_masks(params) || col_begin + cols > end_of_first_row) {
    apply_masks(params, head, row_begin, rows, col_begin, cols, p, ld, Index(1));
  }
  exp_shifted_tile(p, rows, cols, ld, grads.lse + head.row_offset + row_begin);
  const T* weights_times_values = p;  // P∘Z: what multiplied V in the forward
  const T* factors = nullptr;
  if (params.dropout > 0.0) {
    scratch.factors.resize(std::size_t(kQueryBlock * kKeyBlock));
    scratch.dropped.resize(std::size_t(kQueryBlock * kKeyBlock));
    for (Index r = 0; r < rows; ++r) {
      T* z = scratch.factors.data() + r * ld;
      dropout_factors(params, dropout_index(params, head, row_begin + r, col_begin), cols, z);
      for (Index j = 0; j < cols; ++j) scratch.dropped[r * ld + j] = p[r * ld + j] * z[j];
    }
    weights_times_values = scratch.dropped.data();
    factors = scratch.factors.data();
  }
  const T* grad_out = grads.grad_out + (head.row_offset + row_begin) * dv;
  const Index grad_out_ld = std::max<Index>(1, dv);
  // dV [cols, dv] += (P∘Z)ᵀ [cols, rows] · dO [rows, dv]
  multiply(cols, dv, rows, true, weights_times_values, ld, false, grad_out, grad_out_ld, T(1), T(1),
           out.grad_v + col_begin * dv, dv);
  // dP [rows, cols] = dO [rows, dv] · Vᵀ [dv, cols]
  multiply(rows, cols, dv, false, grad_out, grad_out_ld, true, v_block.data, v_block.ld, T(1), T(0),
           ds, ld);
  softmax_grad_tile(p, ds, factors, rows, cols, ld, scratch.delta.data() + row_begin);
  if (params.score == FlashScore::Dot) {
    const T scale = T(params.scale);
    const Operand<T> q_block = gemm_operand(head.q + row_begin * head.q_row_stride,
                                            head.q_row_stride, rows, d, scratch.q_rows);
    // dQ [rows, d] += scale · dS [rows, cols] · K [cols, d]
    multiply(rows, d, cols, false, ds, ld, false, k_block.data, k_block.ld, scale, T(1),
             out.grad_q + row_begin * d, d);
    // dK [cols, d] += scale · dSᵀ [cols, rows] · Q [rows, d]
    multiply(cols, d, rows, true, ds, ld, false, q_block.data, q_block.ld, scale, T(1),
             out.grad_k + col_begin * d, d);
  } else {
    additive_grad_tile(head.q + row_begin * head.q_row_stride, head.q_row_stride, rows,
                       scratch.keys_by_dim.data(), cols, cols, params.v_a, d, ds, ld,
                       out.grad_q + row_begin * d, d, scratch.grad_keys_by_dim.data(),
                       out.grad_v_a);
  }
}

// All query blocks against key block [col_begin, +cols).
template <typename T>
void backward_key_block(const FlashAttentionParams<T>& params,
                        const FlashAttentionGradients<T>& grads, const Head<T>& head,
                        Index col_begin, Index cols, BackwardScratch<T>& scratch,
                        const ItemOutputs<T>& out) {
  const Index d = params.head_dim, dv = params.value_dim;
  const bool additive = params.score == FlashScore::Additive;
  const Operand<T> k_block = gemm_operand(head.k + col_begin * head.k_row_stride,
                                          head.k_row_stride, cols, d, scratch.k_rows);
  const Operand<T> v_block = gemm_operand(head.v + col_begin * head.v_row_stride,
                                          head.v_row_stride, cols, dv, scratch.v_rows);
  if (additive) {
    // [a, cols]: the key tile transposed, and its gradient accumulated over query blocks.
    scratch.keys_by_dim.resize(std::size_t(std::max<Index>(1, d * cols)));
    scratch.grad_keys_by_dim.assign(std::size_t(std::max<Index>(1, d * cols)), T(0));
    transpose_keys(params, head, col_begin, cols, scratch.keys_by_dim.data(), cols);
  }
  const Index first_row = first_attending_row(params, col_begin);
  for (Index row_begin = first_row / kQueryBlock * kQueryBlock; row_begin < params.queries;
       row_begin += kQueryBlock) {
    const Index rows = std::min(kQueryBlock, params.queries - row_begin);
    backward_tile(params, grads, head, row_begin, rows, col_begin, cols, k_block, v_block, scratch,
                  out);
  }
  if (additive) {
    for (Index j = 0; j < cols; ++j) {
      T* grad_k = out.grad_k + (col_begin + j) * d;
      for (Index c = 0; c < d; ++c) grad_k[c] += scratch.grad_keys_by_dim[c * cols + j];
    }
  }
}

struct Split {
  Index count;       // S
  Index key_blocks;  // key blocks per head
};

Split choose_split(Index slices, Index keys) {
  const Index key_blocks = ceil_div(keys, kKeyBlock);
  const Index wanted = slices == 0 ? 1 : ceil_div(kMinItems, slices);
  return {std::clamp<Index>(wanted, 1, std::max<Index>(1, key_blocks)), key_blocks};
}

template <typename T>
void backward_item(const FlashAttentionParams<T>& params, const FlashAttentionGradients<T>& grads,
                   const Head<T>& head, Index split, const Split& splits,
                   BackwardScratch<T>& scratch, const ItemOutputs<T>& out) {
  const Index d = params.head_dim, dv = params.value_dim;
  std::fill(out.grad_q, out.grad_q + params.queries * d, T(0));
  scratch.delta.resize(std::size_t(params.queries));
  compute_delta(params, grads, head, scratch.delta.data());
  // Keys no row can attend (beyond key_lengths, or above the causal diagonal for all rows)
  // get zero gradients without any work.
  const Index keys_used = key_end(params, head.batch_index, params.queries - 1);
  for (Index block = split; block < splits.key_blocks; block += splits.count) {
    const Index col_begin = block * kKeyBlock;
    const Index cols = std::min(kKeyBlock, params.keys - col_begin);
    std::fill(out.grad_k + col_begin * d, out.grad_k + (col_begin + cols) * d, T(0));
    std::fill(out.grad_v + col_begin * dv, out.grad_v + (col_begin + cols) * dv, T(0));
    if (col_begin >= keys_used) continue;
    backward_key_block(params, grads, head, col_begin, std::min(cols, keys_used - col_begin),
                       scratch, out);
  }
}

template <typename T>
void check_gradients(const FlashAttentionParams<T>& params,
                     const FlashAttentionGradients<T>& grads) {
  const char* function = "flash_attention_backward";
  const Index slices = params.batch * params.heads;
  const Index query_rows = slices * params.queries, key_rows = slices * params.keys;
  const auto check = [&](const void* pointer, const char* name, Index count) {
    ATTN_CHECK(count == 0 || pointer != nullptr, function, ": ", name, " is null for ", count,
               " elements");
  };
  check(grads.out, "out", query_rows * params.value_dim);
  check(grads.lse, "lse", query_rows);
  check(grads.grad_out, "grad_out", query_rows * params.value_dim);
  check(grads.grad_q, "grad_q", query_rows * params.head_dim);
  check(grads.grad_k, "grad_k", key_rows * params.head_dim);
  check(grads.grad_v, "grad_v", key_rows * params.value_dim);
  if (params.score == FlashScore::Additive) check(grads.grad_v_a, "grad_v_a", params.head_dim);
}

// Work items and where each writes; partial_grad_q holds [slices, S - 1, Nq, d].
template <typename T>
ItemOutputs<T> item_outputs(const FlashAttentionParams<T>& params,
                            const FlashAttentionGradients<T>& grads, Index slice, Index split,
                            const Split& splits, std::vector<T>& partial_grad_q,
                            std::vector<T>& partial_grad_v_a, Index item) {
  const Index d = params.head_dim, dv = params.value_dim;
  const Index query_elements = params.queries * d;
  ItemOutputs<T> out;
  out.grad_q = split == 0 ? grads.grad_q + slice * query_elements
                          : partial_grad_q.data() +
                                (slice * (splits.count - 1) + split - 1) * query_elements;
  out.grad_k = grads.grad_k + slice * params.keys * d;
  out.grad_v = grads.grad_v + slice * params.keys * dv;
  out.grad_v_a = partial_grad_v_a.data() + item * d;
  return out;
}

// grad_q of each slice += its partial sums, in split order.
template <typename T>
void reduce_grad_q(const FlashAttentionParams<T>& params, const FlashAttentionGradients<T>& grads,
                   Index slices, const Split& splits, const std::vector<T>& partial_grad_q) {
  if (splits.count == 1) return;
  const Index query_elements = params.queries * params.head_dim;
#pragma omp parallel for schedule(static) if (slices * query_elements > 65536)
  for (Index slice = 0; slice < slices; ++slice) {
    T* grad_q = grads.grad_q + slice * query_elements;
    for (Index split = 1; split < splits.count; ++split) {
      const T* partial =
          partial_grad_q.data() + (slice * (splits.count - 1) + split - 1) * query_elements;
      for (Index e = 0; e < query_elements; ++e) grad_q[e] += partial[e];
    }
  }
}

}  // namespace
}  // namespace flash

template <typename T>
void flash_attention_backward(const FlashAttentionParams<T>& params,
                              const FlashAttentionGradients<T>& gradients) {
  using namespace flash;
  check_params(params, "flash_attention_backward", Needs::Values);
  check_gradients(params, gradients);
  const Index slices = params.batch * params.heads;
  const Split splits = choose_split(slices, params.keys);
  const Index items = slices * splits.count;
  const Index a = params.score == FlashScore::Additive ? params.head_dim : 0;
  std::vector<T> partial_grad_q(
      std::size_t(slices * (splits.count - 1) * params.queries * params.head_dim));
  std::vector<T> partial_grad_v_a(std::size_t(std::max<Index>(1, items * a)), T(0));
  FirstError errors;
#pragma omp parallel if (items > 1)
  {
    BackwardScratch<T> scratch;
#pragma omp for schedule(dynamic, 1)
    for (Index item = 0; item < items; ++item) {
      errors.run([&] {
        const Index slice = item / splits.count, split = item % splits.count;
        const Head<T> head = head_of(params, slice / params.heads, slice % params.heads);
        const ItemOutputs<T> out = item_outputs(params, gradients, slice, split, splits,
                                                partial_grad_q, partial_grad_v_a, item);
        backward_item(params, gradients, head, split, splits, scratch, out);
      });
    }
  }
  errors.rethrow();
  reduce_grad_q(params, gradients, slices, splits, partial_grad_q);
  if (a > 0) {
    std::fill(gradients.grad_v_a, gradients.grad_v_a + a, T(0));
    for (Index item = 0; item < items; ++item) {
      for (Index c = 0; c < a; ++c) gradients.grad_v_a[c] += partial_grad_v_a[item * a + c];
    }
  }
}

template void flash_attention_backward<float>(const FlashAttentionParams<float>&,
                                              const FlashAttentionGradients<float>&);
template void flash_attention_backward<double>(const FlashAttentionParams<double>&,
                                               const FlashAttentionGradients<double>&);

}  // namespace attn::kernels
