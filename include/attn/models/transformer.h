// The Transformer of "Attention Is All You Need" (Vaswani et al., 2017): an encoder-decoder
// made of multi-head attention and position-wise feed-forward sublayers.
//
//   encoder layer:  x = Norm(x + Dropout(SelfAttention(x)))
//                   x = Norm(x + Dropout(FeedForward(x)))
//   decoder layer:  y = Norm(y + Dropout(MaskedSelfAttention(y)))
//                   y = Norm(y + Dropout(CrossAttention(query y, keys/values = memory)))
//                   y = Norm(y + Dropout(FeedForward(y)))
//
// That is the paper's post-norm placement. Pre-norm (NormPlacement::Pre) computes
// x = x + Dropout(Sublayer(Norm(x))) instead and adds a final LayerNorm after each stack; it
// trains more stably without warmup.
//
// Inputs are batch-first: tokens int64 [B, N], padding masks bool [B, N] with true = padding
// (PyTorch's key_padding_mask convention). Embeddings are scaled by √d_model and added to
// sinusoidal positions, then dropout. Token id 0 is padding: its embedding row starts at
// zero and receives no gradient through the lookup.
//
// Parameter names (so that a PyTorch mirror, tools/attn_torch_models.py, loads 1:1):
//   source_embedding.weight [Vs, E], target_embedding.weight [Vt, E]
//       (or one shared_embedding.weight with share_embeddings)
//   encoder.layers.{i}.self_attention.{in_proj_weight, in_proj_bias, out_proj.weight,
//                                      out_proj.bias}          (torch.nn.MultiheadAttention)
//   encoder.layers.{i}.self_attention_norm.{weight, bias}
//   encoder.layers.{i}.feed_forward.{w1, w2}.{weight, bias}
//   encoder.layers.{i}.feed_forward_norm.{weight, bias}
//   encoder.final_norm.{weight, bias}                          (pre-norm only)
//   decoder.layers.{i}.{self_attention, self_attention_norm, cross_attention,
//                       cross_attention_norm, feed_forward, feed_forward_norm}.*
//   decoder.final_norm.{weight, bias}                          (pre-norm only)
//   output_projection.weight [Vt, E]                           (absent with tie_output)
// docs/MODELS.md lists them with shapes and initial values.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/decode/step_model.h"
#include "attn/nn/dropout.h"
#include "attn/nn/embedding.h"
#include "attn/nn/feed_forward.h"
#include "attn/nn/layer_norm.h"
#include "attn/nn/linear.h"
#include "attn/nn/module.h"
#include "attn/nn/multihead_attention.h"
#include "attn/nn/positional.h"
#include "attn/ops/attention.h"

namespace attn::models {

// Where each sublayer's LayerNorm sits.
enum class NormPlacement {
  Post,  // x = Norm(x + Sublayer(x)): the paper
  Pre,   // x = x + Sublayer(Norm(x)), plus a final Norm after the stack
};
std::string_view norm_placement_name(NormPlacement placement);  // "post", "pre"
NormPlacement parse_norm_placement(std::string_view name);      // throws naming the choices
std::string_view activation_name(nn::Activation activation);    // "relu", "gelu"
nn::Activation parse_activation(std::string_view name);

// What one encoder or decoder layer is made of.
struct LayerOptions {
  std::int64_t d_model = 512;
  std::int64_t num_heads = 8;
  std::int64_t d_ff = 2048;
  double dropout = 0.1;             // on each sublayer's output (before the residual sum)
  double attention_dropout = 0.0;   // on the attention weights
  double activation_dropout = 0.0;  // inside the feed-forward network
  nn::Activation activation = nn::Activation::ReLU;
  NormPlacement norm = NormPlacement::Post;
  double layer_norm_epsilon = 1e-5;
};

struct TransformerOptions {
  std::int64_t source_vocab_size = 0;
  std::int64_t target_vocab_size = 0;
  std::int64_t d_model = 512;
  std::int64_t num_heads = 8;
  std::int64_t d_ff = 2048;
  std::int64_t encoder_layers = 6;
  std::int64_t decoder_layers = 6;
  double dropout = 0.1;  // residual and embedding dropout (the paper's P_drop)
  double attention_dropout = 0.0;
  double activation_dropout = 0.0;
  nn::Activation activation = nn::Activation::ReLU;
  std::int64_t max_length = 1024;  // longest source or target sequence (positions table)
  NormPlacement norm = NormPlacement::Post;
  bool share_embeddings = false;  // one table for source and target (a joint vocabulary)
  bool tie_output = false;        // output projection = target embedding, transposed
  double layer_norm_epsilon = 1e-5;

  // The paper's base model (6 + 6 layers, d_model 512, 8 heads, d_ff 2048, dropout 0.1).
  // With one joint vocabulary, as in the paper: shared embeddings and a tied output.
  static TransformerOptions base(std::int64_t vocab_size);
  // With separate vocabularies: the output is tied to the target embedding.
  static TransformerOptions base(std::int64_t source_vocab_size, std::int64_t target_vocab_size);

  LayerOptions layer() const;
  void validate() const;  // throws attn::Error naming the offending field
  // Every field, enums as their names ("post", "relu"). from_json takes a subset (missing
  // fields keep their defaults) and rejects unknown keys and wrong types.
  nlohmann::json to_json() const;
  static TransformerOptions from_json(const nlohmann::json& json);
};

// Keys and values of one attention sublayer, split into heads: [B, H, N, d] each.
struct KeyValues {
  Tensor keys;
  Tensor values;
};

// The self-attention keys and values of the positions seen so far, for incremental
// decoding: each step appends the new positions' keys and values, so a step costs one
// position's projections instead of the whole prefix. Inference only (no gradient).
class KeyValueCache {
 public:
  std::int64_t length() const { return length_; }  // positions cached
  // keys, values [B, H, n, d]: appended after the cached positions.
  void append(const Tensor& keys, const Tensor& values);
  // [B, H, length, d]: views of the cache's buffers, valid until the next append or select.
  Tensor keys() const;
  Tensor values() const;
  // Keeps the listed rows (batch entries), in that order; rows may repeat.
  void select(const std::vector<std::int64_t>& rows);

 private:
  void reserve(std::int64_t capacity);
  Tensor key_buffer_;    // [B, H, capacity, d]
  Tensor value_buffer_;  // [B, H, capacity, d]
  std::int64_t length_ = 0;
};

// An ordered list of child modules named "0", "1", ..., as torch.nn.ModuleList.
template <typename Layer>
class ModuleList : public nn::Module {
 public:
  void push_back(std::shared_ptr<Layer> layer) {
    layers_.push_back(register_module(std::to_string(layers_.size()), std::move(layer)));
  }
  std::size_t size() const { return layers_.size(); }
  const Layer& operator[](std::size_t index) const { return *layers_.at(index); }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

// Self-attention and feed-forward sublayers: the encoder layer, and (with a causal mask) the
// block of a decoder-only language model.
class EncoderLayer : public nn::Module {
 public:
  explicit EncoderLayer(const LayerOptions& options, DType dtype = DType::Float32);

  // x [B, N, E] -> [B, N, E]. `mask` is in ops::attention's convention (key_padding
  // true = may attend; causal for a language model). With a cache, x holds only the newest
  // positions: their keys and values are appended, and their queries attend to every cached
  // position.
  Tensor forward(const Tensor& x, const ops::AttentionMask& mask,
                 KeyValueCache* cache = nullptr) const;

  const nn::MultiHeadAttention& self_attention() const { return *self_attention_; }
  const nn::FeedForward& feed_forward() const { return *feed_forward_; }

 private:
  LayerOptions options_;
  std::shared_ptr<nn::MultiHeadAttention> self_attention_;
  std::shared_ptr<nn::LayerNorm> self_attention_norm_;
  std::shared_ptr<nn::FeedForward> feed_forward_;
  std::shared_ptr<nn::LayerNorm> feed_forward_norm_;
  std::shared_ptr<nn::Dropout> dropout_;
};

// Masked self-attention, cross-attention over the encoder output, feed-forward.
class DecoderLayer : public nn::Module {
 public:
  explicit DecoderLayer(const LayerOptions& options, DType dtype = DType::Float32);

  // The cross-attention keys and values of the encoder output memory [B, S, E]: computed
  // once per source (one GEMM), reused by every decoding step.
  KeyValues project_memory(const Tensor& memory) const;

  // y [B, T, E] -> [B, T, E]. memory_mask: key_padding [B, S] (true = may attend) or none.
  // Self-attention is causal; with a cache, y holds only the newest positions.
  Tensor forward(const Tensor& y, const KeyValues& memory, const ops::AttentionMask& memory_mask,
                 KeyValueCache* cache = nullptr) const;

  const nn::MultiHeadAttention& self_attention() const { return *self_attention_; }
  const nn::MultiHeadAttention& cross_attention() const { return *cross_attention_; }

 private:
  LayerOptions options_;
  std::shared_ptr<nn::MultiHeadAttention> self_attention_;
  std::shared_ptr<nn::LayerNorm> self_attention_norm_;
  std::shared_ptr<nn::MultiHeadAttention> cross_attention_;
  std::shared_ptr<nn::LayerNorm> cross_attention_norm_;
  std::shared_ptr<nn::FeedForward> feed_forward_;
  std::shared_ptr<nn::LayerNorm> feed_forward_norm_;
  std::shared_ptr<nn::Dropout> dropout_;
};

// A stack of encoder layers (children "layers" and, pre-norm, "final_norm").
class TransformerEncoder : public nn::Module {
 public:
  TransformerEncoder(const LayerOptions& options, std::int64_t num_layers,
                     DType dtype = DType::Float32);

  // x [B, N, E] (embedded) -> [B, N, E]. caches: one per layer, or null.
  Tensor forward(const Tensor& x, const ops::AttentionMask& mask,
                 std::vector<KeyValueCache>* caches = nullptr) const;

  std::size_t num_layers() const { return layers_->size(); }
  const EncoderLayer& layer(std::size_t index) const { return (*layers_)[index]; }

 private:
  std::shared_ptr<ModuleList<EncoderLayer>> layers_;
  std::shared_ptr<nn::LayerNorm> final_norm_;  // pre-norm only
};

// A stack of decoder layers (children "layers" and, pre-norm, "final_norm").
class TransformerDecoder : public nn::Module {
 public:
  TransformerDecoder(const LayerOptions& options, std::int64_t num_layers,
                     DType dtype = DType::Float32);

  // Every layer's cross-attention keys and values of memory [B, S, E].
  std::vector<KeyValues> project_memory(const Tensor& memory) const;
  // y [B, T, E] (embedded) -> hidden states [B, T, E], before the output projection.
  Tensor forward(const Tensor& y, const std::vector<KeyValues>& memory,
                 const ops::AttentionMask& memory_mask,
                 std::vector<KeyValueCache>* caches = nullptr) const;

  std::size_t num_layers() const { return layers_->size(); }
  const DecoderLayer& layer(std::size_t index) const { return (*layers_)[index]; }

 private:
  std::shared_ptr<ModuleList<DecoderLayer>> layers_;
  std::shared_ptr<nn::LayerNorm> final_norm_;  // pre-norm only
};

class TransformerStepModel;

class Transformer : public nn::Module {
 public:
  // Initial values: embeddings N(0, 1/d_model) (so the scaled embedding has unit variance)
  // with the padding row zero; the untied output projection Xavier-uniform; attention and
  // feed-forward as their modules.
  explicit Transformer(const TransformerOptions& options, DType dtype = DType::Float32);

  // source [B, S] int64, source_padding bool [B, S] (true = padding; may be undefined)
  // -> memory [B, S, E]
  Tensor encode(const Tensor& source, const Tensor& source_padding = Tensor()) const;
  // target_in [B, T] (the target shifted right: it starts with <s>) -> logits [B, T, Vt].
  // Position t sees target_in[:, :t+1] and the whole (unpadded) source.
  Tensor decode(const Tensor& target_in, const Tensor& memory,
                const Tensor& source_padding = Tensor()) const;
  // encode then decode: logits [B, T, Vt]
  Tensor forward(const Tensor& source, const Tensor& target_in,
                 const Tensor& source_padding = Tensor()) const;

  // Incremental decoding of a batch of sources (see TransformerStepModel). The model must
  // outlive the result and should be in eval() mode.
  std::unique_ptr<TransformerStepModel> start_decoding(
      const Tensor& source, const Tensor& source_padding = Tensor()) const;

  const TransformerOptions& options() const { return options_; }
  const TransformerEncoder& encoder() const { return *encoder_; }
  const TransformerDecoder& decoder() const { return *decoder_; }
  const Tensor& source_embedding_weight() const { return source_embedding_->weight(); }
  const Tensor& target_embedding_weight() const { return target_embedding_->weight(); }

  // The pieces incremental decoding runs, exposed for it:
  // tokens [B, T] at positions offset ... offset + T - 1 -> dropout(√E · embedding + PE)
  Tensor embed_target(const Tensor& target, std::int64_t offset = 0) const;
  // hidden [B, T, E] -> logits [B, T, Vt]
  Tensor project_output(const Tensor& hidden) const;
  // padding bool [B, S] (true = padding) -> the memory mask (true = may attend); checks
  // the shape against source [B, S].
  ops::AttentionMask memory_mask(const Tensor& source, const Tensor& source_padding) const;

 private:
  TransformerOptions options_;
  std::shared_ptr<nn::Embedding> source_embedding_;
  std::shared_ptr<nn::Embedding> target_embedding_;  // the same module when shared
  std::shared_ptr<nn::SinusoidalPositionalEncoding> positions_;
  std::shared_ptr<nn::Dropout> embedding_dropout_;
  std::shared_ptr<TransformerEncoder> encoder_;
  std::shared_ptr<TransformerDecoder> decoder_;
  std::shared_ptr<nn::Linear> output_projection_;  // null with tie_output
};

// Incremental decoding for the searches in attn/decode/search.h. The encoder runs once, and
// so do the cross-attention projections of its output; each step embeds one token per row,
// appends its self-attention keys and values to every layer's cache, and returns the
// log-probabilities of the next token. Its output equals running Transformer::decode on the
// whole prefix. Rows start as one per source; select() reorders, copies and drops them
// (the caches and, only when the row-to-source map changes, the encoder's keys and values).
class TransformerStepModel : public decode::StepModel {
 public:
  TransformerStepModel(const Transformer& model, const Tensor& source,
                       const Tensor& source_padding);

  std::int64_t num_rows() const override { return num_rows_; }
  Tensor next_log_probs(const std::vector<std::int64_t>& last_tokens) override;
  void select(const std::vector<std::int64_t>& rows) override;
  // The positions table's length: the most tokens a row can be fed.
  std::int64_t max_length() const override { return model_.options().max_length; }

  std::int64_t steps() const { return steps_; }  // tokens fed to each row so far
  // Which source (row of the batch given at the start) each live row decodes.
  const std::vector<std::int64_t>& row_sources() const { return row_sources_; }

 private:
  const Transformer& model_;
  std::vector<KeyValues> memory_;  // per decoder layer, [rows, H, S, d], contiguous
  ops::AttentionMask memory_mask_;
  std::vector<KeyValueCache> caches_;  // per decoder layer
  std::vector<std::int64_t> row_sources_;
  std::int64_t num_rows_ = 0;
  std::int64_t steps_ = 0;
};

}  // namespace attn::models
