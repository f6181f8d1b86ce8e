// Attention: single-head attention with learned projections, the seeds' Attn(X, X'):
//
//   q_j = Wq s_j,  k_i = Wk h_i,  v_i = Wv h_i,  out_j = Σ_i softmax_i(score(q_j, k_i)) v_i
//
// for queries s_j (rows of x_query) and keys/values h_i (rows of x_key and x_value). The
// seeds' self-attention is Attn(X, X): forward_self(x). One class covers every score
// function of ops::attention (dot, scaled_dot, general, additive, cosine); the score
// function is a constructor option.
//
// Parameters (names as in the state_dict):
//   wq.weight [d, query_dim]    wk.weight [d, key_dim]    wv.weight [d_v, value_dim]
//   (wq.bias, wk.bias, wv.bias when `bias`)
//   General:  w [d, d]                                   s = q W kᵀ
//   Additive: w_q [d, a], w_k [d, a], v_a [a]            s = v_a · tanh(q W_q + k W_k)
//   Cosine with learn_scale: scale []                   s = scale · cos(q, k)
//
// Initial values: the projections as nn::Linear (uniform ±1/√fan_in); w, w_q and w_k
// uniform ±1/√d; v_a uniform ±1/√a; a learned cosine scale starts at `scale` (default 1).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "attn/core/tensor.h"
#include "attn/nn/linear.h"
#include "attn/nn/module.h"
#include "attn/ops/attention.h"

namespace attn::nn {

struct AttentionModuleOptions {
  std::int64_t query_dim = 0;   // features of x_query
  std::int64_t key_dim = 0;     // features of x_key; 0: query_dim
  std::int64_t value_dim = 0;   // features of x_value; 0: key_dim
  std::int64_t attention_dim = 0;        // d, the size of projected queries and keys
  std::int64_t value_attention_dim = 0;  // d_v, the size of projected values (and of out); 0: d
  ops::Score score = ops::Score::ScaledDot;
  std::int64_t additive_size = 0;  // a, the attention size of Additive; 0: d
  // ScaledDot: default 1/√d. Cosine: the fixed scale, or the start of the learned one
  // (default 1). Other scores: must be unset.
  std::optional<double> scale;
  bool learn_scale = false;  // Cosine only: a learned "scale" parameter
  bool bias = false;         // biases on the projections (the seeds' Wq, Wk, Wv have none)
  double dropout = 0.0;      // on the attention weights, in training only
  ops::AttentionImpl impl = ops::AttentionImpl::Auto;
  DType dtype = DType::Float32;  // of the parameters, and so of the inputs
};

struct AttentionModuleOutput {
  Tensor output;   // [B, Nq, d_v]
  Tensor weights;  // [B, Nq, Nk] when need_weights (before dropout), detached
  Tensor lse;      // [B, Nq]: the log-sum-exp of each row's scores, detached
};

class Attention : public Module {
 public:
  explicit Attention(const AttentionModuleOptions& options);

  // x_query [B, Nq, query_dim], x_key [B, Nk, key_dim], x_value [B, Nk, value_dim].
  // `mask` uses ops::attention's convention (true = may attend) and its fields, except that
  // `allowed` and `bias` broadcast to [B, Nq, Nk] (there is no head dimension here).
  AttentionModuleOutput forward(const Tensor& x_query, const Tensor& x_key, const Tensor& x_value,
                                const ops::AttentionMask& mask = {},
                                bool need_weights = false) const;
  // Self-attention, Attn(X, X): queries, keys and values all from x [B, N, query_dim]
  // (requires key_dim == value_dim == query_dim).
  AttentionModuleOutput forward_self(const Tensor& x, const ops::AttentionMask& mask = {},
                                     bool need_weights = false) const;

  const AttentionModuleOptions& options() const { return options_; }
  const Linear& wq() const { return *wq_; }
  const Linear& wk() const { return *wk_; }
  const Linear& wv() const { return *wv_; }
  // The score parameters in the form ops::attention takes them.
  const ops::ScoreParameters& score_parameters() const { return score_parameters_; }

 private:
  std::string describe() const;  // "Attention(additive, d 4)" for error messages
  void check_input(const Tensor& x, std::int64_t features, const char* name) const;

  AttentionModuleOptions options_;
  std::shared_ptr<Linear> wq_;
  std::shared_ptr<Linear> wk_;
  std::shared_ptr<Linear> wv_;
  ops::ScoreParameters score_parameters_;
};

}  // namespace attn::nn
