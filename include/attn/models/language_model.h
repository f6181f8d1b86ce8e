// A decoder-only Transformer language model (GPT-style): token embedding scaled by
// √d_model plus sinusoidal positions, a stack of causal self-attention + feed-forward blocks
// (EncoderLayer with a causal mask), and a projection to the vocabulary, optionally tied to
// the embedding. Position t predicts token t + 1.
//
// Parameter names:
//   embedding.weight [V, E]
//   decoder.layers.{i}.{self_attention, self_attention_norm, feed_forward,
//                       feed_forward_norm}.*      (as the Transformer's encoder layers)
//   decoder.final_norm.{weight, bias}             (pre-norm only)
//   output_projection.weight [V, E]               (absent with tie_output)
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "attn/decode/step_model.h"
#include "attn/models/transformer.h"

namespace attn::models {

struct LanguageModelOptions {
  std::int64_t vocab_size = 0;
  std::int64_t d_model = 512;
  std::int64_t num_heads = 8;
  std::int64_t d_ff = 2048;
  std::int64_t num_layers = 6;
  double dropout = 0.1;
  double attention_dropout = 0.0;
  double activation_dropout = 0.0;
  nn::Activation activation = nn::Activation::GELU;
  std::int64_t max_length = 1024;  // longest sequence (prompt + generated tokens)
  NormPlacement norm = NormPlacement::Pre;
  bool tie_output = true;
  double layer_norm_epsilon = 1e-5;

  LayerOptions layer() const;
  void validate() const;
  nlohmann::json to_json() const;  // as TransformerOptions: every field; enums by name
  static LanguageModelOptions from_json(const nlohmann::json& json);
};

class LanguageModelStepModel;

class TransformerLanguageModel : public nn::Module {
 public:
  explicit TransformerLanguageModel(const LanguageModelOptions& options,
                                    DType dtype = DType::Float32);

  // tokens [B, T] int64 -> logits [B, T, V]; position t sees tokens[:, :t+1]. Padding
  // (id 0) at the end of a row affects no earlier position, so batches need no mask.
  Tensor forward(const Tensor& tokens) const;

  // Generation from prompts (each at least one token, e.g. just <s>): the prompts but
  // their last tokens run through the model at once; the searches then feed each row its
  // prompt's last token first (LanguageModelStepModel::first_tokens()). The model must
  // outlive the result and should be in eval() mode.
  std::unique_ptr<LanguageModelStepModel> start_generation(
      const std::vector<std::vector<std::int64_t>>& prompts) const;

  const LanguageModelOptions& options() const { return options_; }
  const TransformerEncoder& decoder() const { return *decoder_; }
  const Tensor& embedding_weight() const { return embedding_->weight(); }

  // tokens [B, N] with row b's first position at positions[b] -> dropout(√E·emb + PE)
  Tensor embed(const Tensor& tokens, const std::vector<std::int64_t>& positions) const;
  // hidden [B, T, E] -> logits [B, T, V]
  Tensor project_output(const Tensor& hidden) const;

 private:
  LanguageModelOptions options_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::SinusoidalPositionalEncoding> positions_;
  std::shared_ptr<nn::Dropout> embedding_dropout_;
  std::shared_ptr<TransformerEncoder> decoder_;
  std::shared_ptr<nn::Linear> output_projection_;  // null with tie_output
};

// Incremental generation with a key/value cache per layer. Prompts of different lengths
// are padded on the left, so that every row's next position is the cache's end; padded
// positions are masked out and each row's positions count from its own first token, so
// a row's log-probabilities equal those of running forward() on its prompt alone.
class LanguageModelStepModel : public decode::StepModel {
 public:
  LanguageModelStepModel(const TransformerLanguageModel& model,
                         const std::vector<std::vector<std::int64_t>>& prompts);

  std::int64_t num_rows() const override { return static_cast<std::int64_t>(positions_.size()); }
  Tensor next_log_probs(const std::vector<std::int64_t>& last_tokens) override;
  void select(const std::vector<std::int64_t>& rows) override;
  // Tokens each row can still be fed before the positions table ends (for the longest
  // prompt).
  std::int64_t max_length() const override { return max_length_; }

  // Each prompt's last token: what the searches feed first.
  const std::vector<std::int64_t>& first_tokens() const { return first_tokens_; }

 private:
  const TransformerLanguageModel& model_;
  std::vector<KeyValueCache> caches_;    // per layer
  std::vector<std::int64_t> positions_;  // per row: the position of the next token fed
  std::vector<std::int64_t> padding_;    // per row: left-padding positions in the cache
  std::vector<std::int64_t> first_tokens_;
  std::int64_t cached_ = 0;  // positions in the caches (padding included)
  std::int64_t max_length_ = 0;
  std::int64_t steps_ = 0;

  ops::AttentionMask mask(std::int64_t new_positions) const;
};

}  // namespace attn::models
