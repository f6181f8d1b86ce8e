#include "attn/nn/attention.h"

#include <cmath>

#include "attn/nn/init.h"
#include "attn/ops/views.h"

namespace attn::nn {
namespace {

AttentionModuleOptions resolve_defaults(AttentionModuleOptions options) {
  if (options.key_dim == 0) options.key_dim = options.query_dim;
  if (options.value_dim == 0) options.value_dim = options.key_dim;
  if (options.value_attention_dim == 0) options.value_attention_dim = options.attention_dim;
  if (options.additive_size == 0) options.additive_size = options.attention_dim;
  return options;
}

void check_options(const AttentionModuleOptions& options) {
  ATTN_CHECK(options.query_dim > 0 && options.key_dim > 0 && options.value_dim > 0,
             "Attention: expected positive query_dim, key_dim and value_dim, got ",
             options.query_dim, ", ", options.key_dim, " and ", options.value_dim);
  ATTN_CHECK(options.attention_dim > 0 && options.value_attention_dim > 0,
             "Attention: expected positive attention_dim and value_attention_dim, got ",
             options.attention_dim, " and ", options.value_attention_dim);
  ATTN_CHECK(options.additive_size > 0, "Attention: expected a positive additive_size, got ",
             options.additive_size);
  ATTN_CHECK(is_floating(options.dtype), "Attention: expected a floating dtype, got ",
             dtype_name(options.dtype));
  ATTN_CHECK(options.dropout >= 0.0 && options.dropout < 1.0,
             "Attention: expected dropout in [0, 1), got ", options.dropout);
  bool takes_scale = options.score == ops::Score::ScaledDot || options.score == ops::Score::Cosine;
  ATTN_CHECK(takes_scale || !options.scale.has_value(), "Attention: score ",
             ops::score_name(options.score), " takes no scale (only scaled_dot and cosine do)");
  ATTN_CHECK(!options.learn_scale || options.score == ops::Score::Cosine,
             "Attention: learn_scale is only for the cosine score, got score ",
             ops::score_name(options.score));
}

// Uniform in ±1/√fan, as nn::Linear draws its weights.
Tensor uniform_parameter(const Shape& shape, std::int64_t fan, DType dtype) {
  Tensor tensor = Tensor::empty(shape, dtype);
  double bound = 1.0 / std::sqrt(static_cast<double>(fan));
  init::uniform_(tensor, -bound, bound);
  return tensor;
}

// A mask given per [B, Nq, Nk] gains the head dimension ops::attention expects; masks of
// rank < 3 already broadcast against [B, 1, Nq, Nk].
Tensor with_head_dim(const Tensor& mask, const char* name) {
  if (!mask.defined() || mask.dim() < 3) return mask;
  ATTN_CHECK(mask.dim() == 3, "Attention: expected the ", name,
             " mask to broadcast to [B, Nq, Nk], got ", mask.describe());
  return ops::unsqueeze(mask, 1);
}

}  // namespace

Attention::Attention(const AttentionModuleOptions& options) : options_(resolve_defaults(options)) {
  check_options(options_);
  const std::int64_t d = options_.attention_dim;
  const DType dtype = options_.dtype;
  wq_ = register_module("wq", std::make_shared<Linear>(options_.query_dim, d, options_.bias, dtype));
  wk_ = register_module("wk", std::make_shared<Linear>(options_.key_dim, d, options_.bias, dtype));
  wv_ = register_module("wv", std::make_shared<Linear>(options_.value_dim,
                                                       options_.value_attention_dim,
                                                       options_.bias, dtype));
  switch (options_.score) {
    case ops::Score::General:
      score_parameters_.w = register_parameter("w", uniform_parameter({d, d}, d, dtype));
      break;
    case ops::Score::Additive: {
      const std::int64_t a = options_.additive_size;
      score_parameters_.w_q = register_parameter("w_q", uniform_parameter({d, a}, d, dtype));
      score_parameters_.w_k = register_parameter("w_k", uniform_parameter({d, a}, d, dtype));
      score_parameters_.v_a = register_parameter("v_a", uniform_parameter({a}, a, dtype));
      break;
    }
    case ops::Score::Cosine:
      if (options_.learn_scale) {
        score_parameters_.scale =
            register_parameter("scale", Tensor::scalar(options_.scale.value_or(1.0), dtype));
      }
      break;
    case ops::Score::Dot:
    case ops::Score::ScaledDot:
      break;
  }
}

std::string Attention::describe() const {
  return detail::concat("Attention(", ops::score_name(options_.score), ", d ",
                        options_.attention_dim, ")");
}

void Attention::check_input(const Tensor& x, std::int64_t features, const char* name) const {
  ATTN_CHECK(x.defined(), describe(), ": ", name, " is undefined");
  ATTN_CHECK(x.dim() == 3 && x.size(2) == features, describe(), ": expected ", name, " [B, N, ",
             features, "], got ", x.describe());
  ATTN_CHECK(x.dtype() == options_.dtype, describe(), ": expected ", dtype_name(options_.dtype),
             " ", name, ", got ", x.describe());
}

AttentionModuleOutput Attention::forward(const Tensor& x_query, const Tensor& x_key,
                                         const Tensor& x_value, const ops::AttentionMask& mask,
                                         bool need_weights) const {
  check_input(x_query, options_.query_dim, "x_query");
  check_input(x_key, options_.key_dim, "x_key");
  check_input(x_value, options_.value_dim, "x_value");
  ATTN_CHECK(x_key.size(0) == x_query.size(0) && x_value.size(0) == x_query.size(0) &&
                 x_value.size(1) == x_key.size(1),
             describe(), ": x_query, x_key and x_value must share the batch and x_key and x_value ",
             "the length, got ", x_query.describe(), ", ", x_key.describe(), " and ",
             x_value.describe());
  // One head: [B, N, ·] -> [B, 1, N, ·].
  Tensor q = ops::unsqueeze(wq_->forward(x_query), 1);
  Tensor k = ops::unsqueeze(wk_->forward(x_key), 1);
  Tensor v = ops::unsqueeze(wv_->forward(x_value), 1);

  ops::AttentionOptions attention_options;
  attention_options.score = options_.score;
  // A learned cosine scale travels as a parameter, so the fixed scale must stay unset.
  if (!options_.learn_scale) attention_options.scale = options_.scale;
  attention_options.parameters = score_parameters_;
  attention_options.mask = mask;
  attention_options.mask.allowed = with_head_dim(mask.allowed, "allowed");
  attention_options.mask.bias = with_head_dim(mask.bias, "bias");
  attention_options.impl = options_.impl;
  attention_options.need_weights = need_weights;
  attention_options.dropout = options_.dropout;
  attention_options.training = is_training();
  ops::AttentionResult result = ops::attention(q, k, v, attention_options);

  AttentionModuleOutput output;
  output.output = ops::squeeze(result.out, 1);  // [B, Nq, d_v]
  if (result.weights.defined()) output.weights = ops::squeeze(result.weights, 1).detach();
  if (result.lse.defined()) output.lse = ops::squeeze(result.lse, 1).detach();
  return output;
}

AttentionModuleOutput Attention::forward_self(const Tensor& x, const ops::AttentionMask& mask,
                                              bool need_weights) const {
  return forward(x, x, x, mask, need_weights);
}

}  // namespace attn::nn
