// Attention as soft addressing (the seeds' A = softmax(score(q, k)), then a weighted
// average of the values):
//
//   out = softmax(score(Q, K) + mask) · V
//
// Shapes (B = batch, H = heads, Nq = queries, Nk = keys, d = query/key size, dv = value size):
//   q [B, H, Nq, d], k [B, H, Nk, d], v [B, H, Nk, dv]  ->  out [B, H, Nq, dv]
// Nq may differ from Nk and dv from d.
//
// Score functions, for one query row q_i and one key row k_j:
//   Dot        s = q_i · k_j
//   ScaledDot  s = scale · q_i · k_j               (scale defaults to 1/√d)
//   General    s = q_i W k_jᵀ                      (Luong's bilinear form; W [d, d])
//   Additive   s = v_a · tanh(q_i W_q + k_j W_k)   (Bahdanau; W_q, W_k [d, a], v_a [a])
//   Cosine     s = scale · q_i·k_j / (‖q_i‖ ‖k_j‖) (norms clamped at 1e-12; scale fixed or learned)
//
// Masks combine (a key is attended only if every mask allows it):
//   causal       query i may attend key j iff j <= i + (Nk - Nq): aligned to the end, as in
//                FlashAttention >= 2.1 and in decoding with a cache;
//   key_lengths  int64 [B]: keys j >= key_lengths[b] are padding;
//   key_padding  bool [B, Nk]: true = may attend;
//   allowed      bool, broadcastable to [B, H, Nq, Nk]: true = may attend;
//   bias         float, broadcastable to [B, H, Nq, Nk]: added to the scores (-inf masks).
// A row in which every key is masked yields zeros (not NaN), its gradient is zero, and its
// log-sum-exp is -inf.
//
// Two implementations sit behind this one call:
//   Reference  materialises the [Nq, Nk] scores with differentiable ops: readable, and the
//              oracle of the tests;
//   Fused      FlashAttention-style tiles with an online softmax; never materialises
//              [Nq, Nk] (nor [Nq, Nk, a] for Additive); its backward recomputes the scores
//              from the saved log-sum-exp; causal tiles above the diagonal are skipped.
//   Auto       picks Fused where it wins (docs/ATTENTION.md states the rule).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "attn/core/random.h"
#include "attn/core/tensor.h"

namespace attn::ops {

enum class Score { Dot, ScaledDot, General, Additive, Cosine };
enum class AttentionImpl { Reference, Fused, Auto };

std::string_view score_name(Score score);        // "dot", "scaled_dot", ...
Score parse_score(std::string_view name);        // throws naming the accepted values
std::string_view impl_name(AttentionImpl impl);  // "reference", "fused", "auto"
AttentionImpl parse_impl(std::string_view name);

// Learned parameters of the score functions; only those of the chosen score are used.
struct ScoreParameters {
  Tensor w;      // General: [d, d]
  Tensor w_q;    // Additive: [d, a]
  Tensor w_k;    // Additive: [d, a]
  Tensor v_a;    // Additive: [a]
  Tensor scale;  // Cosine with a learned scale: shape []; otherwise AttentionOptions::scale
};

struct AttentionMask {
  bool causal = false;
  Tensor key_lengths;  // int64 [B]
  Tensor key_padding;  // bool [B, Nk], true = may attend
  Tensor allowed;      // bool, broadcastable to [B, H, Nq, Nk], true = may attend
  Tensor bias;         // q's dtype, broadcastable to [B, H, Nq, Nk]
};

struct AttentionOptions {
  Score score = Score::ScaledDot;
  // ScaledDot: default 1/√d. Cosine: default 1 (unless parameters.scale is given).
  // Dot, General, Additive: must be unset.
  std::optional<double> scale;
  ScoreParameters parameters;
  AttentionMask mask;
  AttentionImpl impl = AttentionImpl::Auto;
  bool need_weights = false;  // also return the weights [B, H, Nq, Nk]
  // Dropout on the attention weights (training only). Element (b, h, i, j) is dropped by
  // the counter-based generator at position ((b·H + h)·Nq + i)·Nk + j of a fresh range, so
  // both implementations drop the same elements.
  double dropout = 0.0;
  bool training = false;
  Generator* generator = nullptr;  // nullptr: the default generator
};

struct AttentionResult {
  Tensor out;      // [B, H, Nq, dv]; differentiable w.r.t. q, k, v and the score parameters
  Tensor weights;  // [B, H, Nq, Nk] when need_weights (before dropout), detached
  Tensor lse;      // [B, H, Nq]: log Σ_j exp(s_ij + bias_ij) over allowed keys, detached
};

AttentionResult attention(const Tensor& q, const Tensor& k, const Tensor& v,
                          const AttentionOptions& options = {});

// The weights of query rows [row_begin, row_end) for the listed heads (all when empty),
// recomputed from the log-sum-exp that attention() returned: exp(s_ij - lse_i) on allowed
// keys. Memory is O(rows · Nk) per head, never the whole [Nq, Nk]. Result
// [B, heads, row_end - row_begin, Nk], detached. Dropout is not applied.
Tensor attention_weights_from_lse(const Tensor& q, const Tensor& k, const Tensor& lse,
                                  const AttentionOptions& options, std::int64_t row_begin,
                                  std::int64_t row_end, const std::vector<std::int64_t>& heads = {});

}  // namespace attn::ops
