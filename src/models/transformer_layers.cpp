// Encoder and decoder layers and their stacks. Each layer's forward reads like the paper:
// a sublayer wrapped in a residual connection and a LayerNorm, in either placement.
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "transformer_internal.h"

namespace attn::models {
namespace {

std::shared_ptr<nn::LayerNorm> make_norm(const LayerOptions& options, DType dtype) {
  return std::make_shared<nn::LayerNorm>(options.d_model, options.layer_norm_epsilon, true, dtype);
}

std::shared_ptr<nn::FeedForward> make_feed_forward(const LayerOptions& options, DType dtype) {
  return std::make_shared<nn::FeedForward>(options.d_model, options.d_ff,
                                           options.activation_dropout, options.activation, dtype);
}

// x + Dropout(y) in one pass. The layers build their nn::Dropout on the default generator
// (the module's own), so the masks are those of x + dropout.forward(y).
Tensor add_dropout(const Tensor& x, const nn::Dropout& dropout, const Tensor& y) {
  return ops::add_dropout(x, y, dropout.p(), dropout.is_training(), default_generator());
}

// Post-norm (the paper): Norm(x + Dropout(Sublayer(x))).
// Pre-norm:              x + Dropout(Sublayer(Norm(x))).
template <typename Sublayer>
Tensor residual(NormPlacement placement, const nn::LayerNorm& norm, const nn::Dropout& dropout,
                const Tensor& x, Sublayer&& sublayer) {
  if (placement == NormPlacement::Post) return norm.forward(add_dropout(x, dropout, sublayer(x)));
  return add_dropout(x, dropout, sublayer(norm.forward(x)));
}

// w2(dropout(activation(w1(x)))): nn::FeedForward's computation on the fused linear.
Tensor position_wise_feed_forward(const nn::FeedForward& network, const Tensor& x, double dropout) {
  // hidden [..., d_ff]
  Tensor hidden =
      network.activation() == nn::Activation::ReLU
          ? detail::linear_relu(x, network.w1().weight(), network.w1().bias())
          : nn::activate(network.activation(),
                         detail::linear(x, network.w1().weight(), network.w1().bias()));
  hidden = ops::dropout(hidden, dropout, network.is_training());
  return detail::linear(hidden, network.w2().weight(), network.w2().bias());
}

void check_hidden(const Tensor& x, std::int64_t d_model, const char* owner) {
  ATTN_CHECK(x.defined() && x.dim() == 3 && x.size(2) == d_model, owner, ": expected input [B, N, ",
             d_model, "], got ", x.defined() ? x.describe() : "undefined");
}

template <typename Caches>
void check_caches(const Caches* caches, std::size_t num_layers, const char* owner) {
  ATTN_CHECK(caches == nullptr || caches->size() == num_layers, owner, ": expected ", num_layers,
             " caches (one per layer), got ", caches == nullptr ? 0 : caches->size());
}

}  // namespace

// ---- EncoderLayer ----------------------------------------------------------------------

EncoderLayer::EncoderLayer(const LayerOptions& options, DType dtype) : options_(options) {
  detail::check_layer_options(options, "EncoderLayer");
  self_attention_ = register_module(
      "self_attention",
      std::make_shared<nn::MultiHeadAttention>(detail::attention_options(options, dtype)));
  self_attention_norm_ = register_module("self_attention_norm", make_norm(options, dtype));
  feed_forward_ = register_module("feed_forward", make_feed_forward(options, dtype));
  feed_forward_norm_ = register_module("feed_forward_norm", make_norm(options, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(options.dropout));
}

Tensor EncoderLayer::forward(const Tensor& x, const ops::AttentionMask& mask,
                             KeyValueCache* cache) const {
  check_hidden(x, options_.d_model, "EncoderLayer");
  Tensor h = residual(options_.norm, *self_attention_norm_, *dropout_, x, [&](const Tensor& y) {
    return detail::self_attention(*self_attention_, y, mask, cache);
  });
  return residual(options_.norm, *feed_forward_norm_, *dropout_, h, [&](const Tensor& y) {
    return position_wise_feed_forward(*feed_forward_, y, options_.activation_dropout);
  });
}

// ---- DecoderLayer ----------------------------------------------------------------------

DecoderLayer::DecoderLayer(const LayerOptions& options, DType dtype) : options_(options) {
  detail::check_layer_options(options, "DecoderLayer");
  self_attention_ = register_module(
      "self_attention",
      std::make_shared<nn::MultiHeadAttention>(detail::attention_options(options, dtype)));
  self_attention_norm_ = register_module("self_attention_norm", make_norm(options, dtype));
  cross_attention_ = register_module(
      "cross_attention",
      std::make_shared<nn::MultiHeadAttention>(detail::attention_options(options, dtype)));
  cross_attention_norm_ = register_module("cross_attention_norm", make_norm(options, dtype));
  feed_forward_ = register_module("feed_forward", make_feed_forward(options, dtype));
  feed_forward_norm_ = register_module("feed_forward_norm", make_norm(options, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(options.dropout));
}

KeyValues DecoderLayer::project_memory(const Tensor& memory) const {
  check_hidden(memory, options_.d_model, "DecoderLayer (memory)");
  return detail::memory_key_values(*cross_attention_, memory);
}

Tensor DecoderLayer::forward(const Tensor& y, const KeyValues& memory,
                             const ops::AttentionMask& memory_mask, KeyValueCache* cache) const {
  check_hidden(y, options_.d_model, "DecoderLayer");
  ops::AttentionMask causal;
  causal.causal = true;  // aligned to the end, so it also holds for the newest positions
  Tensor h = residual(options_.norm, *self_attention_norm_, *dropout_, y, [&](const Tensor& x) {
    return detail::self_attention(*self_attention_, x, causal, cache);
  });
  h = residual(options_.norm, *cross_attention_norm_, *dropout_, h, [&](const Tensor& x) {
    return detail::cross_attention(*cross_attention_, x, memory, memory_mask);
  });
  return residual(options_.norm, *feed_forward_norm_, *dropout_, h, [&](const Tensor& x) {
    return position_wise_feed_forward(*feed_forward_, x, options_.activation_dropout);
  });
}

// ---- stacks ----------------------------------------------------------------------------

TransformerEncoder::TransformerEncoder(const LayerOptions& options, std::int64_t num_layers,
                                       DType dtype) {
  ATTN_CHECK(num_layers > 0, "TransformerEncoder: expected a positive number of layers, got ",
             num_layers);
  layers_ = register_module("layers", std::make_shared<ModuleList<EncoderLayer>>());
  for (std::int64_t i = 0; i < num_layers; ++i) {
    layers_->push_back(std::make_shared<EncoderLayer>(options, dtype));
  }
  if (options.norm == NormPlacement::Pre) {
    final_norm_ = register_module("final_norm", make_norm(options, dtype));
  }
}

Tensor TransformerEncoder::forward(const Tensor& x, const ops::AttentionMask& mask,
                                   std::vector<KeyValueCache>* caches) const {
  check_caches(caches, num_layers(), "TransformerEncoder");
  Tensor h = x;
  for (std::size_t i = 0; i < num_layers(); ++i) {
    h = layer(i).forward(h, mask, caches == nullptr ? nullptr : &(*caches)[i]);
  }
  return final_norm_ ? final_norm_->forward(h) : h;
}

TransformerDecoder::TransformerDecoder(const LayerOptions& options, std::int64_t num_layers,
                                       DType dtype) {
  ATTN_CHECK(num_layers > 0, "TransformerDecoder: expected a positive number of layers, got ",
             num_layers);
  layers_ = register_module("layers", std::make_shared<ModuleList<DecoderLayer>>());
  for (std::int64_t i = 0; i < num_layers; ++i) {
    layers_->push_back(std::make_shared<DecoderLayer>(options, dtype));
  }
  if (options.norm == NormPlacement::Pre) {
    final_norm_ = register_module("final_norm", make_norm(options, dtype));
  }
}

std::vector<KeyValues> TransformerDecoder::project_memory(const Tensor& memory) const {
  std::vector<KeyValues> memory_per_layer;
  for (std::size_t i = 0; i < num_layers(); ++i) {
    memory_per_layer.push_back(layer(i).project_memory(memory));
  }
  return memory_per_layer;
}

Tensor TransformerDecoder::forward(const Tensor& y, const std::vector<KeyValues>& memory,
                                   const ops::AttentionMask& memory_mask,
                                   std::vector<KeyValueCache>* caches) const {
  ATTN_CHECK(memory.size() == num_layers(), "TransformerDecoder: expected the memory's keys and ",
             "values for ", num_layers(), " layers, got ", memory.size());
  check_caches(caches, num_layers(), "TransformerDecoder");
  Tensor h = y;
  for (std::size_t i = 0; i < num_layers(); ++i) {
    h = layer(i).forward(h, memory[i], memory_mask, caches == nullptr ? nullptr : &(*caches)[i]);
  }
  return final_norm_ ? final_norm_->forward(h) : h;
}

}  // namespace attn::models
