// A Transformer-encoder classifier: token embedding (scaled by √d_model) plus sinusoidal
// positions, a stack of encoder layers, the mean of the outputs over the non-padding
// positions, dropout, and a linear layer to the classes.
//
// Parameter names:
//   embedding.weight [V, E]
//   encoder.layers.{i}.*, encoder.final_norm.*   (as the Transformer's encoder)
//   classifier.weight [C, E], classifier.bias [C]
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>

#include "attn/models/transformer.h"

namespace attn::models {

struct TransformerClassifierOptions {
  std::int64_t vocab_size = 0;
  std::int64_t num_classes = 2;
  std::int64_t d_model = 256;
  std::int64_t num_heads = 4;
  std::int64_t d_ff = 1024;
  std::int64_t num_layers = 2;
  double dropout = 0.1;  // residual, embedding and before the classifier
  double attention_dropout = 0.0;
  double activation_dropout = 0.0;
  nn::Activation activation = nn::Activation::ReLU;
  std::int64_t max_length = 512;
  NormPlacement norm = NormPlacement::Pre;
  double layer_norm_epsilon = 1e-5;

  LayerOptions layer() const;
  void validate() const;
  nlohmann::json to_json() const;  // as TransformerOptions: every field; enums by name
  static TransformerClassifierOptions from_json(const nlohmann::json& json);
};

class TransformerClassifier : public nn::Module {
 public:
  explicit TransformerClassifier(const TransformerClassifierOptions& options,
                                 DType dtype = DType::Float32);

  // tokens [B, N] int64, padding bool [B, N] (true = padding; undefined: none)
  // -> logits [B, num_classes]. A row with no real token pools to zeros.
  Tensor forward(const Tensor& tokens, const Tensor& padding = Tensor()) const;

  const TransformerClassifierOptions& options() const { return options_; }
  const TransformerEncoder& encoder() const { return *encoder_; }

 private:
  TransformerClassifierOptions options_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::SinusoidalPositionalEncoding> positions_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<TransformerEncoder> encoder_;
  std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace attn::models
