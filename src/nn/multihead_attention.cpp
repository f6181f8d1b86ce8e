#include "attn/nn/multihead_attention.h"

#include "attn/nn/attention_capture.h"
#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/linalg.h"
#include "attn/ops/reduce.h"
#include "attn/ops/views.h"

namespace attn::nn {
namespace {

MultiHeadAttentionOptions resolve_defaults(MultiHeadAttentionOptions options) {
  if (options.kdim == 0) options.kdim = options.embed_dim;
  if (options.vdim == 0) options.vdim = options.embed_dim;
  return options;
}

void check_options(const MultiHeadAttentionOptions& options) {
  ATTN_CHECK(options.embed_dim > 0 && options.num_heads > 0,
             "MultiHeadAttention: expected positive embed_dim and num_heads, got ",
             options.embed_dim, " and ", options.num_heads);
  ATTN_CHECK(options.embed_dim % options.num_heads == 0, "MultiHeadAttention: embed_dim ",
             options.embed_dim, " is not divisible by num_heads ", options.num_heads);
  ATTN_CHECK(options.kdim > 0 && options.vdim > 0,
             "MultiHeadAttention: expected positive kdim and vdim, got ", options.kdim, " and ",
             options.vdim);
  ATTN_CHECK(options.dropout >= 0.0 && options.dropout < 1.0,
             "MultiHeadAttention: expected dropout in [0, 1), got ", options.dropout);
  ATTN_CHECK(is_floating(options.dtype), "MultiHeadAttention: expected a floating dtype, got ",
             dtype_name(options.dtype));
}

Tensor xavier_parameter(const Shape& shape, DType dtype) {
  Tensor tensor = Tensor::empty(shape, dtype);
  init::xavier_uniform_(tensor);
  return tensor;
}

// PyTorch's boolean masks say "not allowed"; ops::attention's say "may attend".
Tensor logical_not(const Tensor& mask) { return ops::eq(mask, Tensor::zeros({}, DType::Bool)); }

// [N, B, ·] or [B, N, ·] or unbatched [N, ·] -> [B, N, ·]
Tensor to_batch_first(const Tensor& x, bool batch_first) {
  if (x.dim() == 2) return ops::unsqueeze(x, 0);
  return batch_first ? x : ops::transpose(x, 0, 1);
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& options)
    : options_(resolve_defaults(options)) {
  check_options(options_);
  const std::int64_t embed_dim = options_.embed_dim;
  const DType dtype = options_.dtype;
  // Registration order follows PyTorch's, so named_parameters() lists the same sequence.
  if (options_.kdim == embed_dim && options_.vdim == embed_dim) {
    in_proj_weight_ = register_parameter("in_proj_weight",
                                         xavier_parameter({3 * embed_dim, embed_dim}, dtype));
  } else {
    q_proj_weight_ =
        register_parameter("q_proj_weight", xavier_parameter({embed_dim, embed_dim}, dtype));
    k_proj_weight_ =
        register_parameter("k_proj_weight", xavier_parameter({embed_dim, options_.kdim}, dtype));
    v_proj_weight_ =
        register_parameter("v_proj_weight", xavier_parameter({embed_dim, options_.vdim}, dtype));
  }
  if (options_.bias) {
    in_proj_bias_ = register_parameter("in_proj_bias", Tensor::zeros({3 * embed_dim}, dtype));
  }
  out_proj_ = register_module("out_proj",
                              std::make_shared<Linear>(embed_dim, embed_dim, options_.bias, dtype));
  if (options_.bias) init::zeros_(out_proj_->bias());
}

std::string MultiHeadAttention::describe() const {
  return detail::concat("MultiHeadAttention(embed_dim ", options_.embed_dim, ", num_heads ",
                        options_.num_heads, ")");
}

MultiHeadAttention::Projected MultiHeadAttention::project(const Tensor& query, const Tensor& key,
                                                          const Tensor& value) const {
  const std::int64_t embed_dim = options_.embed_dim;
  auto bias_part = [&](std::int64_t part) {
    if (!in_proj_bias_.defined()) return Tensor();
    return ops::slice(in_proj_bias_, 0, part * embed_dim, (part + 1) * embed_dim);
  };
  if (packed_projection() && query.same_impl(key) && key.same_impl(value)) {
    // Self-attention: one [B, N, E] x [E, 3E] product instead of three.
    std::vector<Tensor> parts = ops::chunk(ops::linear(query, in_proj_weight_, in_proj_bias_), 3, -1);
    return {parts[0], parts[1], parts[2]};
  }
  auto weight_part = [&](std::int64_t part, const Tensor& separate) {
    if (!packed_projection()) return separate;
    return ops::slice(in_proj_weight_, 0, part * embed_dim, (part + 1) * embed_dim);
  };
  return {ops::linear(query, weight_part(0, q_proj_weight_), bias_part(0)),
          ops::linear(key, weight_part(1, k_proj_weight_), bias_part(1)),
          ops::linear(value, weight_part(2, v_proj_weight_), bias_part(2))};
}

Tensor MultiHeadAttention::split_heads(const Tensor& x) const {
  const std::int64_t batch = x.size(0), length = x.size(1);
  Tensor heads = ops::reshape(x, {batch, length, options_.num_heads, head_dim()});
  return ops::permute(heads, {0, 2, 1, 3});
}

ops::AttentionMask MultiHeadAttention::convert_masks(const Tensor& key_padding_mask,
                                                     const Tensor& attn_mask, bool is_causal,
                                                     std::int64_t batch,
                                                     std::int64_t query_length,
                                                     std::int64_t key_length) const {
  auto check_dtype = [&](const Tensor& mask, const char* name) {
    ATTN_CHECK(mask.dtype() == DType::Bool || mask.dtype() == options_.dtype, describe(), ": ",
               name, " must be bool or ", dtype_name(options_.dtype), ", got ", mask.describe());
  };
  ops::AttentionMask mask;
  mask.causal = is_causal;
  Tensor padding_bias, attn_bias;
  if (key_padding_mask.defined()) {
    check_dtype(key_padding_mask, "key_padding_mask");
    Shape expected{batch, key_length};
    bool matches = key_padding_mask.shape() == expected ||
                   (batch == 1 && key_padding_mask.shape() == Shape{key_length});
    ATTN_CHECK(matches, describe(), ": expected key_padding_mask ", to_string(expected),
               ", got ", key_padding_mask.describe());
    Tensor padding = ops::reshape(key_padding_mask, expected);
    if (padding.dtype() == DType::Bool) {
      mask.key_padding = logical_not(padding);
    } else {
      padding_bias = ops::reshape(padding, {batch, 1, 1, key_length});
    }
  }
  if (attn_mask.defined()) {
    check_dtype(attn_mask, "attn_mask");
    const std::int64_t heads = options_.num_heads;
    bool two_dim = attn_mask.shape() == Shape{query_length, key_length};
    bool three_dim = attn_mask.shape() == Shape{batch * heads, query_length, key_length};
    ATTN_CHECK(two_dim || three_dim, describe(), ": expected attn_mask [", query_length, ", ",
               key_length, "] or [", batch * heads, ", ", query_length, ", ", key_length,
               "] (B·H, Nq, Nk), got ", attn_mask.describe());
    // [B·H, Nq, Nk] lists heads fastest, as PyTorch's does.
    Tensor per_head = three_dim ? ops::reshape(attn_mask, {batch, heads, query_length, key_length})
                                : attn_mask;
    if (per_head.dtype() == DType::Bool) {
      mask.allowed = logical_not(per_head);
    } else {
      attn_bias = per_head;
    }
  }
  if (padding_bias.defined() && attn_bias.defined()) {
    mask.bias = ops::add(padding_bias, attn_bias).detach();
  } else {
    mask.bias = padding_bias.defined() ? padding_bias : attn_bias;
  }
  return mask;
}

MultiHeadAttentionOutput MultiHeadAttention::forward(const Tensor& query, const Tensor& key,
                                                     const Tensor& value,
                                                     const Tensor& key_padding_mask,
                                                     const Tensor& attn_mask, bool need_weights,
                                                     bool average_attn_weights,
                                                     bool is_causal) const {
  ATTN_CHECK(query.defined() && key.defined() && value.defined(), describe(),
             ": query, key and value must all be defined");
  const bool unbatched = query.dim() == 2;
  ATTN_CHECK((query.dim() == 2 || query.dim() == 3) && key.dim() == query.dim() &&
                 value.dim() == query.dim(),
             describe(), ": expected query, key and value all 3-D (batched) or all 2-D, got ",
             query.describe(), ", ", key.describe(), " and ", value.describe());
  auto check_features = [&](const Tensor& x, std::int64_t features, const char* name) {
    ATTN_CHECK(x.size(-1) == features, describe(), ": expected ", name, " with ", features,
               " features, got ", x.describe());
    ATTN_CHECK(x.dtype() == options_.dtype, describe(), ": expected ", dtype_name(options_.dtype),
               " ", name, ", got ", x.describe());
  };
  check_features(query, options_.embed_dim, "query");
  check_features(key, options_.kdim, "key");
  check_features(value, options_.vdim, "value");

  // Everything below works on [B, N, ·].
  Tensor query_bf = to_batch_first(query, options_.batch_first);
  Tensor key_bf = key.same_impl(query) ? query_bf : to_batch_first(key, options_.batch_first);
  Tensor value_bf = value.same_impl(key) ? key_bf : to_batch_first(value, options_.batch_first);
  const std::int64_t batch = query_bf.size(0);
  const std::int64_t query_length = query_bf.size(1), key_length = key_bf.size(1);
  ATTN_CHECK(key_bf.size(0) == batch && value_bf.size(0) == batch &&
                 value_bf.size(1) == key_length,
             describe(), ": query, key and value must share the batch, and key and value the ",
             "length, got ", query.describe(), ", ", key.describe(), " and ", value.describe());

  Projected projected = project(query_bf, key_bf, value_bf);
  ops::AttentionOptions attention_options;
  attention_options.score = ops::Score::ScaledDot;  // scale 1/√head_dim
  attention_options.mask =
      convert_masks(key_padding_mask, attn_mask, is_causal, batch, query_length, key_length);
  attention_options.impl = options_.impl;
  attention_options.need_weights = need_weights;
  attention_options.dropout = options_.dropout;
  attention_options.training = is_training();
  Tensor q_heads = split_heads(projected.q), k_heads = split_heads(projected.k);
  ops::AttentionResult result =
      ops::attention(q_heads, k_heads, split_heads(projected.v), attention_options);
  AttentionCapture::record(this, q_heads, k_heads, result.lse, attention_options);

  // [B, H, Nq, E/H] -> [B, Nq, H, E/H] -> [B, Nq, E]
  Tensor merged = ops::reshape(ops::permute(result.out, {0, 2, 1, 3}),
                               {batch, query_length, options_.embed_dim});
  Tensor output = out_proj_->forward(merged);
  if (unbatched) {
    output = ops::squeeze(output, 0);
  } else if (!options_.batch_first) {
    output = ops::transpose(output, 0, 1);
  }

  MultiHeadAttentionOutput result_out;
  result_out.output = output;
  Tensor weights = result.weights;
  if (weights.defined() && average_attn_weights) weights = ops::mean(weights, {1});
  Tensor lse = result.lse;
  if (unbatched) {
    if (weights.defined()) weights = ops::squeeze(weights, 0);
    if (lse.defined()) lse = ops::squeeze(lse, 0);
  }
  result_out.weights = weights.defined() ? weights.detach() : weights;
  result_out.lse = lse.defined() ? lse.detach() : lse;
  return result_out;
}

}  // namespace attn::nn
