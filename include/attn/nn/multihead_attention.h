// MultiHeadAttention, with the semantics of torch.nn.MultiheadAttention:
//
//   Q = query Wqᵀ + b_q,  K = key Wkᵀ + b_k,  V = value Wvᵀ + b_v
//   head_h = softmax(Q_h K_hᵀ / √(E/H) + masks) V_h      (Q_h: columns h·E/H ... of Q)
//   output = concat(head_1 ... head_H) W_outᵀ + b_out
//
// It serves as self-attention (query = key = value) and as cross-attention (Nq ≠ Nk).
//
// Parameters, named exactly as in PyTorch's state_dict so that one loads 1:1:
//   in_proj_weight [3E, E]                        when kdim == vdim == E; else
//   q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim]
//   in_proj_bias [3E]                             when bias
//   out_proj.weight [E, E], out_proj.bias [E]     (a child Linear "out_proj"; bias when bias)
// Initial values as in PyTorch: the input projections Xavier-uniform, their bias zero,
// out_proj.weight as nn::Linear and out_proj.bias zero.
//
// Masks take PyTorch's meaning (the opposite of ops::attention's for booleans):
//   key_padding_mask [B, Nk]: bool true = "this key is padding, do not attend"; a float
//                    mask is added to the scores.
//   attn_mask [Nq, Nk] or [B·H, Nq, Nk]: bool true = "not allowed"; a float mask is added.
//   is_causal        query i may attend key j iff j <= i + (Nk - Nq) (aligned to the end, as
//                    ops::attention). PyTorch treats is_causal as a hint that attn_mask
//                    already holds its (top-left aligned) causal mask and requires it; here
//                    the flag applies the mask itself, attn_mask may be absent, and when both
//                    are given both apply. For Nq == Nk the two agree.
// A query row that every mask blocks gives zeros (PyTorch gives NaN).
//
// Differences from PyTorch, by design: add_bias_kv and add_zero_attn are not supported; the
// returned weights are detached and taken before dropout (PyTorch returns them after
// dropout, differentiable); the scores run through ops::attention with a selectable
// implementation (reference, fused or auto).
#pragma once

#include <cstdint>
#include <memory>

#include "attn/core/tensor.h"
#include "attn/nn/linear.h"
#include "attn/nn/module.h"
#include "attn/ops/attention.h"

namespace attn::nn {

struct MultiHeadAttentionOptions {
  std::int64_t embed_dim = 0;  // E
  std::int64_t num_heads = 1;  // H; must divide E
  double dropout = 0.0;        // on the attention weights, in training only
  bool bias = true;            // in_proj_bias and out_proj.bias
  std::int64_t kdim = 0;       // features of key; 0: E
  std::int64_t vdim = 0;       // features of value; 0: E
  // Inputs and output [B, N, E] instead of PyTorch's default [N, B, E].
  bool batch_first = false;
  ops::AttentionImpl impl = ops::AttentionImpl::Auto;
  DType dtype = DType::Float32;  // of the parameters, and so of the inputs
};

struct MultiHeadAttentionOutput {
  Tensor output;   // [B, Nq, E] (batch_first), [Nq, B, E] (not), or [Nq, E] (unbatched)
  Tensor weights;  // when need_weights: [B, Nq, Nk] averaged over heads, or [B, H, Nq, Nk]
                   // (without the B for unbatched input); detached
  Tensor lse;      // [B, H, Nq] (or [H, Nq]): log-sum-exp of each row's scores, detached
};

class MultiHeadAttention : public Module {
 public:
  explicit MultiHeadAttention(const MultiHeadAttentionOptions& options);

  // query [B, Nq, E], key [B, Nk, kdim], value [B, Nk, vdim] when batch_first; [N, B, ·]
  // otherwise; or unbatched [N, ·] (then key_padding_mask is [Nk] and attn_mask [Nq, Nk] or
  // [H, Nq, Nk]). Float masks must have the parameters' dtype. As in PyTorch, when query,
  // key and value are the same tensor the three projections run as one product.
  MultiHeadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const Tensor& key_padding_mask = Tensor(),
                                   const Tensor& attn_mask = Tensor(), bool need_weights = true,
                                   bool average_attn_weights = true, bool is_causal = false) const;

  const MultiHeadAttentionOptions& options() const { return options_; }
  std::int64_t head_dim() const { return options_.embed_dim / options_.num_heads; }
  bool packed_projection() const { return in_proj_weight_.defined(); }  // kdim == vdim == E
  const Tensor& in_proj_weight() const { return in_proj_weight_; }  // undefined unless packed
  const Tensor& q_proj_weight() const { return q_proj_weight_; }    // undefined when packed
  const Tensor& k_proj_weight() const { return k_proj_weight_; }
  const Tensor& v_proj_weight() const { return v_proj_weight_; }
  const Tensor& in_proj_bias() const { return in_proj_bias_; }      // undefined without bias
  const Linear& out_proj() const { return *out_proj_; }

 private:
  struct Projected {
    Tensor q, k, v;  // [B, N, E] each
  };
  std::string describe() const;  // "MultiHeadAttention(embed_dim 8, num_heads 2)"
  Projected project(const Tensor& query, const Tensor& key, const Tensor& value) const;
  Tensor split_heads(const Tensor& x) const;  // [B, N, E] -> [B, H, N, E/H]
  ops::AttentionMask convert_masks(const Tensor& key_padding_mask, const Tensor& attn_mask,
                                   bool is_causal, std::int64_t batch, std::int64_t query_length,
                                   std::int64_t key_length) const;

  MultiHeadAttentionOptions options_;
  Tensor in_proj_weight_;
  Tensor q_proj_weight_;
  Tensor k_proj_weight_;
  Tensor v_proj_weight_;
  Tensor in_proj_bias_;
  std::shared_ptr<Linear> out_proj_;
};

}  // namespace attn::nn
