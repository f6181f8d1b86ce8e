// The Transformer-encoder classifier: encoder, masked mean pooling, linear.
#include "attn/models/transformer_classifier.h"

#include "attn/ops/elementwise.h"
#include "attn/ops/reduce.h"
#include "attn/ops/views.h"
#include "transformer_internal.h"

namespace attn::models {

LayerOptions TransformerClassifierOptions::layer() const { return detail::layer_of(*this); }

void TransformerClassifierOptions::validate() const {
  ATTN_CHECK(vocab_size > 0 && num_classes > 0,
             "TransformerClassifier: expected positive vocab_size and num_classes, got ",
             vocab_size, " and ", num_classes);
  ATTN_CHECK(num_layers > 0, "TransformerClassifier: expected a positive num_layers, got ",
             num_layers);
  ATTN_CHECK(max_length > 0, "TransformerClassifier: expected a positive max_length, got ",
             max_length);
  detail::check_layer_options(layer(), "TransformerClassifier");
}

nlohmann::json TransformerClassifierOptions::to_json() const {
  nlohmann::json json = {{"vocab_size", vocab_size},
                         {"num_classes", num_classes},
                         {"num_layers", num_layers},
                         {"max_length", max_length}};
  detail::write_layer_fields(*this, json);
  return json;
}

TransformerClassifierOptions TransformerClassifierOptions::from_json(const nlohmann::json& json) {
  TransformerClassifierOptions options;
  detail::JsonFields fields(json, "TransformerClassifierOptions");
  fields.read("vocab_size", options.vocab_size);
  fields.read("num_classes", options.num_classes);
  fields.read("num_layers", options.num_layers);
  fields.read("max_length", options.max_length);
  detail::read_layer_fields(fields, options);
  fields.finish();
  return options;
}

TransformerClassifier::TransformerClassifier(const TransformerClassifierOptions& options,
                                             DType dtype)
    : options_(options) {
  options_.validate();
  embedding_ = register_module(
      "embedding", detail::make_embedding(options_.vocab_size, options_.d_model, dtype));
  positions_ = register_module("positions", std::make_shared<nn::SinusoidalPositionalEncoding>(
                                                options_.d_model, options_.max_length, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(options_.dropout));
  encoder_ = register_module("encoder", std::make_shared<TransformerEncoder>(
                                            options_.layer(), options_.num_layers, dtype));
  classifier_ = register_module(
      "classifier",
      std::make_shared<nn::Linear>(options_.d_model, options_.num_classes, true, dtype));
}

Tensor TransformerClassifier::forward(const Tensor& tokens, const Tensor& padding) const {
  detail::check_tokens(tokens, options_.vocab_size, options_.max_length, "TransformerClassifier",
                       "input");
  ops::AttentionMask mask;
  mask.key_padding = detail::may_attend(tokens, padding, "TransformerClassifier", "input");
  // hidden [B, N, E]
  Tensor x = detail::embed(*embedding_, *positions_, *dropout_, tokens, 0);
  Tensor hidden = encoder_->forward(x, mask);
  // pooled [B, E] = Σ_n real[b, n] · hidden[b, n] / max(1, Σ_n real[b, n])
  Tensor pooled;
  if (mask.key_padding.defined()) {
    Tensor real = ops::unsqueeze(mask.key_padding.to(hidden.dtype()), -1);  // [B, N, 1]
    Tensor counts = ops::sum(real, {1});                                    // [B, 1]
    Tensor safe_counts = ops::where(ops::eq(counts, Tensor::zeros({}, hidden.dtype())),
                                    Tensor::ones({}, hidden.dtype()), counts);
    pooled = ops::sum(hidden * real, {1}) / safe_counts;
  } else {
    pooled = ops::mean(hidden, {1});
  }
  return detail::linear(dropout_->forward(pooled), classifier_->weight(), classifier_->bias());
}

}  // namespace attn::models
