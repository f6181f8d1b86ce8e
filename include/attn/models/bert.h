// BERT's encoder (Devlin et al., 2019) as Hugging Face's BertModel computes it, without the
// pooler: the family of all-MiniLM-L6-v2 and of most sentence-embedding models.
//
//   x = LayerNorm(word[ids] + position[0..N) + token_type[type_ids]), dropout
//   each layer (post-norm, as models::EncoderLayer):
//       x = LayerNorm(x + Dropout(SelfAttention(x)))
//       x = LayerNorm(x + Dropout(W2 · activation(W1 · x)))
//
// The layers are attn's own EncoderLayer, so fused attention, attention capture and the
// training path are the same as for the Transformer. Inputs are batch-first: ids int64
// [B, N], type ids int64 [B, N] (undefined: all 0), padding bool [B, N] (true = padding).
//
// Parameter names (models/pretrained maps Hugging Face's names onto them):
//   embeddings.word_embeddings.weight [V, E]
//   embeddings.position_embeddings.weight [P, E]
//   embeddings.token_type_embeddings.weight [T, E]
//   embeddings.layer_norm.{weight, bias} [E]
//   encoder.layers.{i}.*   (as models::TransformerEncoder, post-norm)
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>

#include "attn/models/transformer.h"

namespace attn::models {

struct BertOptions {
  std::int64_t vocab_size = 30522;
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t intermediate_size = 3072;
  nn::Activation activation = nn::Activation::GELU;
  std::int64_t max_position_embeddings = 512;
  std::int64_t type_vocab_size = 2;
  double hidden_dropout = 0.1;
  double attention_dropout = 0.1;
  double layer_norm_epsilon = 1e-12;
  double initializer_range = 0.02;  // the standard deviation of random initial weights

  LayerOptions layer() const;
  void validate() const;  // throws attn::Error naming the offending field
  // Every field under attn's names above, the activation by name ("gelu"); from_json starts
  // from the defaults and rejects unknown keys. (load_pretrained reads Hugging Face's
  // config.json instead; this form is what a fine-tuned checkpoint records.)
  nlohmann::json to_json() const;
  static BertOptions from_json(const nlohmann::json& json);
};

class BertEmbeddings : public nn::Module {
 public:
  explicit BertEmbeddings(const BertOptions& options, DType dtype = DType::Float32);

  // ids [B, N], type_ids [B, N] or undefined -> [B, N, E]
  Tensor forward(const Tensor& ids, const Tensor& type_ids) const;

 private:
  std::shared_ptr<nn::Embedding> word_embeddings_;
  std::shared_ptr<nn::Embedding> position_embeddings_;
  std::shared_ptr<nn::Embedding> token_type_embeddings_;
  std::shared_ptr<nn::LayerNorm> layer_norm_;
  std::shared_ptr<nn::Dropout> dropout_;
};

class BertModel : public nn::Module {
 public:
  // Random initial weights as Hugging Face's: every weight N(0, initializer_range), biases 0,
  // LayerNorm 1 and 0.
  explicit BertModel(const BertOptions& options, DType dtype = DType::Float32);

  // ids [B, N] int64 in [0, V), N <= max_position_embeddings; type_ids [B, N] int64 in
  // [0, T) or undefined; padding bool [B, N] (true = padding) or undefined
  // -> the last hidden state [B, N, E].
  Tensor forward(const Tensor& ids, const Tensor& type_ids = Tensor(),
                 const Tensor& padding = Tensor()) const;

  const BertOptions& options() const { return options_; }
  const TransformerEncoder& encoder() const { return *encoder_; }

 private:
  BertOptions options_;
  std::shared_ptr<BertEmbeddings> embeddings_;
  std::shared_ptr<TransformerEncoder> encoder_;
};

}  // namespace attn::models
