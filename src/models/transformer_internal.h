// Pieces shared by the Transformer models (encoder-decoder, language model, classifier):
// attention sublayers on nn::MultiHeadAttention's parameters, embeddings, input checks,
// row gathers for incremental decoding, and options <-> JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/models/transformer.h"
#include "attn/nn/dropout.h"
#include "attn/nn/embedding.h"
#include "attn/nn/multihead_attention.h"
#include "attn/nn/positional.h"
#include "attn/ops/attention.h"

namespace attn::models::detail {

// ---- fused operations (transformer_ops.cpp) -----------------------------------------------

// y [..., out] = x [..., in] · W[row_begin:row_end]ᵀ + b[row_begin:row_end] (row_end < 0: all
// rows). Differentiable w.r.t. x, W and b; W's gradient is zero outside the rows used.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              std::int64_t row_begin = 0, std::int64_t row_end = -1);
// relu(x · Wᵀ + b): the first layer of a ReLU feed-forward network in one op (the bias and
// the activation in one pass after the GEMM; the backward masks by the saved output).
Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias);
// x [B, N, parts·E] contiguous -> part `part` as a [B, H, N, E/H] view (unit-stride rows).
Tensor head_part(const Tensor& x, std::int64_t parts, std::int64_t part, std::int64_t num_heads);
// heads [B, H, N, d] -> [B, N, H·d]
Tensor merge_heads(const Tensor& heads);

// ---- attention sublayers --------------------------------------------------------------
// nn::MultiHeadAttention holds the parameters (PyTorch's names); these functions arrange
// the projections for a cache: one GEMM for Q, K and V of self-attention, one GEMM for K
// and V of the encoder memory (computed once per source when decoding).

// x [B, N, E] -> [B, N, E]. With a cache, x's keys and values are appended to it and the
// queries attend to every cached position.
Tensor self_attention(const nn::MultiHeadAttention& attention, const Tensor& x,
                      const ops::AttentionMask& mask, KeyValueCache* cache);
// memory [B, S, E] -> keys and values [B, H, S, d] (views of one [B, S, 2E] product)
KeyValues memory_key_values(const nn::MultiHeadAttention& attention, const Tensor& memory);
// x [B, T, E] attending to memory's keys and values -> [B, T, E]
Tensor cross_attention(const nn::MultiHeadAttention& attention, const Tensor& x,
                       const KeyValues& memory, const ops::AttentionMask& mask);

nn::MultiHeadAttentionOptions attention_options(const LayerOptions& options, DType dtype);

// ---- embeddings and inputs ------------------------------------------------------------

// An embedding table with padding row 0, initialised N(0, 1/dim) so that the embedding
// scaled by √dim has unit variance.
std::shared_ptr<nn::Embedding> make_embedding(std::int64_t vocab_size, std::int64_t dim,
                                              DType dtype);
// tokens [B, N] at positions offset ... -> dropout(√E · table[tokens] + PE)
Tensor embed(const nn::Embedding& table, const nn::SinusoidalPositionalEncoding& positions,
             const nn::Dropout& dropout, const Tensor& tokens, std::int64_t offset);

// tokens must be int64 [B, N] (with an expected B when batch >= 0), ids in [0, vocab_size),
// N in [1, max_length]; `owner` and `what` name them in errors ("Transformer", "source").
void check_tokens(const Tensor& tokens, std::int64_t vocab_size, std::int64_t max_length,
                  std::string_view owner, std::string_view what, std::int64_t batch = -1);
// padding bool [B, N] matching tokens; undefined -> no mask. Returns the key_padding mask
// in ops::attention's convention (true = may attend), or undefined.
Tensor may_attend(const Tensor& tokens, const Tensor& padding, std::string_view owner,
                  std::string_view what);

// ---- rows ----------------------------------------------------------------------------

// x [R, ...] contiguous -> [rows.size(), ...]: row i is x[rows[i]] (a copy).
Tensor gather_rows(const Tensor& x, const std::vector<std::int64_t>& rows);
void check_rows(const std::vector<std::int64_t>& rows, std::int64_t num_rows,
                std::string_view owner);
bool is_identity(const std::vector<std::int64_t>& rows, std::int64_t num_rows);

// ---- options <-> JSON ------------------------------------------------------------------

// Reads an options object field by field; finish() rejects keys no field claimed.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& json, std::string owner);
  void read(const char* key, std::int64_t& field);
  void read(const char* key, double& field);
  void read(const char* key, bool& field);
  void read(const char* key, NormPlacement& field);
  void read(const char* key, nn::Activation& field);
  void finish() const;

 private:
  const nlohmann::json* find(const char* key);
  const nlohmann::json& json_;
  std::string owner_;
  std::set<std::string> claimed_;
};

void check_layer_options(const LayerOptions& options, std::string_view owner);

// The layer fields that TransformerOptions, LanguageModelOptions and
// TransformerClassifierOptions each hold flat (as the configuration keys are), handled once.
template <typename Options>
LayerOptions layer_of(const Options& options) {
  LayerOptions layer;
  layer.d_model = options.d_model;
  layer.num_heads = options.num_heads;
  layer.d_ff = options.d_ff;
  layer.dropout = options.dropout;
  layer.attention_dropout = options.attention_dropout;
  layer.activation_dropout = options.activation_dropout;
  layer.activation = options.activation;
  layer.norm = options.norm;
  layer.layer_norm_epsilon = options.layer_norm_epsilon;
  return layer;
}

template <typename Options>
void write_layer_fields(const Options& options, nlohmann::json& json) {
  json["d_model"] = options.d_model;
  json["num_heads"] = options.num_heads;
  json["d_ff"] = options.d_ff;
  json["dropout"] = options.dropout;
  json["attention_dropout"] = options.attention_dropout;
  json["activation_dropout"] = options.activation_dropout;
  json["activation"] = activation_name(options.activation);
  json["norm"] = norm_placement_name(options.norm);
  json["layer_norm_epsilon"] = options.layer_norm_epsilon;
}

template <typename Options>
void read_layer_fields(JsonFields& fields, Options& options) {
  fields.read("d_model", options.d_model);
  fields.read("num_heads", options.num_heads);
  fields.read("d_ff", options.d_ff);
  fields.read("dropout", options.dropout);
  fields.read("attention_dropout", options.attention_dropout);
  fields.read("activation_dropout", options.activation_dropout);
  fields.read("activation", options.activation);
  fields.read("norm", options.norm);
  fields.read("layer_norm_epsilon", options.layer_norm_epsilon);
}

}  // namespace attn::models::detail
