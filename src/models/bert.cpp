// BERT's encoder: embeddings with token types and learned positions, then attn's
// post-norm encoder layers.
#include "attn/models/bert.h"

#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "transformer_internal.h"

namespace attn::models {
namespace {

void check_ids(const Tensor& ids, std::int64_t bound, std::string_view what,
               const Shape& expected_shape) {
  ATTN_CHECK(ids.defined() && ids.dtype() == DType::Int64 && ids.shape() == expected_shape,
             "BertModel: expected ", what, " int64 ", to_string(expected_shape), ", got ",
             ids.defined() ? ids.describe() : "undefined");
  Tensor contiguous = ids.contiguous();
  const std::int64_t* values = contiguous.data<std::int64_t>();
  for (std::int64_t i = 0; i < contiguous.numel(); ++i) {
    ATTN_CHECK(values[i] >= 0 && values[i] < bound, "BertModel: ", what, " ", values[i],
               " at position ", i, " is outside [0, ", bound, ")");
  }
}

// Hugging Face's BertPreTrainedModel._init_weights.
void initialise(const nn::Module& module, double std) {
  for (const auto& [name, parameter] : module.named_parameters()) {
    const bool is_norm = name.find("norm") != std::string::npos;
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (is_norm) {
      is_bias ? nn::init::zeros_(parameter) : nn::init::ones_(parameter);
    } else if (is_bias) {
      nn::init::zeros_(parameter);
    } else {
      nn::init::normal_(parameter, 0.0, std);
    }
  }
}

}  // namespace

LayerOptions BertOptions::layer() const {
  LayerOptions layer;
  layer.d_model = hidden_size;
  layer.num_heads = num_heads;
  layer.d_ff = intermediate_size;
  layer.dropout = hidden_dropout;
  layer.attention_dropout = attention_dropout;
  layer.activation_dropout = 0.0;
  layer.activation = activation;
  layer.norm = NormPlacement::Post;
  layer.layer_norm_epsilon = layer_norm_epsilon;
  return layer;
}

void BertOptions::validate() const {
  ATTN_CHECK(vocab_size > 0, "BertOptions: vocab_size must be positive, got ", vocab_size);
  ATTN_CHECK(num_layers > 0, "BertOptions: num_hidden_layers must be positive, got ", num_layers);
  ATTN_CHECK(max_position_embeddings > 0,
             "BertOptions: max_position_embeddings must be positive, got ",
             max_position_embeddings);
  ATTN_CHECK(type_vocab_size > 0, "BertOptions: type_vocab_size must be positive, got ",
             type_vocab_size);
  detail::check_layer_options(layer(), "BertOptions");
}

nlohmann::json BertOptions::to_json() const {
  return {{"vocab_size", vocab_size},
          {"hidden_size", hidden_size},
          {"num_layers", num_layers},
          {"num_heads", num_heads},
          {"intermediate_size", intermediate_size},
          {"activation", std::string(activation_name(activation))},
          {"max_position_embeddings", max_position_embeddings},
          {"type_vocab_size", type_vocab_size},
          {"hidden_dropout", hidden_dropout},
          {"attention_dropout", attention_dropout},
          {"layer_norm_epsilon", layer_norm_epsilon},
          {"initializer_range", initializer_range}};
}

BertOptions BertOptions::from_json(const nlohmann::json& json) {
  BertOptions options;
  detail::JsonFields fields(json, "BertOptions");
  fields.read("vocab_size", options.vocab_size);
  fields.read("hidden_size", options.hidden_size);
  fields.read("num_layers", options.num_layers);
  fields.read("num_heads", options.num_heads);
  fields.read("intermediate_size", options.intermediate_size);
  fields.read("activation", options.activation);
  fields.read("max_position_embeddings", options.max_position_embeddings);
  fields.read("type_vocab_size", options.type_vocab_size);
  fields.read("hidden_dropout", options.hidden_dropout);
  fields.read("attention_dropout", options.attention_dropout);
  fields.read("layer_norm_epsilon", options.layer_norm_epsilon);
  fields.read("initializer_range", options.initializer_range);
  fields.finish();
  return options;
}

BertEmbeddings::BertEmbeddings(const BertOptions& options, DType dtype) {
  word_embeddings_ = register_module(
      "word_embeddings",
      std::make_shared<nn::Embedding>(options.vocab_size, options.hidden_size, -1, dtype));
  position_embeddings_ = register_module(
      "position_embeddings", std::make_shared<nn::Embedding>(options.max_position_embeddings,
                                                             options.hidden_size, -1, dtype));
  token_type_embeddings_ = register_module(
      "token_type_embeddings",
      std::make_shared<nn::Embedding>(options.type_vocab_size, options.hidden_size, -1, dtype));
  layer_norm_ = register_module(
      "layer_norm",
      std::make_shared<nn::LayerNorm>(options.hidden_size, options.layer_norm_epsilon, true, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(options.hidden_dropout));
}

Tensor BertEmbeddings::forward(const Tensor& ids, const Tensor& type_ids) const {
  const std::int64_t length = ids.size(1);
  Tensor positions = Tensor::empty({1, length}, DType::Int64);
  for (std::int64_t i = 0; i < length; ++i) positions.data<std::int64_t>()[i] = i;
  Tensor types = type_ids.defined() ? type_ids : Tensor::zeros(ids.shape(), DType::Int64);
  // [B, N, E] + [1, N, E] + [B, N, E]
  Tensor sum = ops::add(ops::add(word_embeddings_->forward(ids), position_embeddings_->forward(positions)),
                        token_type_embeddings_->forward(types));
  return dropout_->forward(layer_norm_->forward(sum));
}

BertModel::BertModel(const BertOptions& options, DType dtype) : options_(options) {
  options_.validate();
  embeddings_ = register_module("embeddings", std::make_shared<BertEmbeddings>(options_, dtype));
  encoder_ = register_module("encoder", std::make_shared<TransformerEncoder>(
                                            options_.layer(), options_.num_layers, dtype));
  initialise(*this, options_.initializer_range);
}

Tensor BertModel::forward(const Tensor& ids, const Tensor& type_ids, const Tensor& padding) const {
  ATTN_CHECK(ids.defined() && ids.dim() == 2 && ids.size(1) >= 1 &&
                 ids.size(1) <= options_.max_position_embeddings,
             "BertModel: expected ids int64 [B, N] with 1 <= N <= ", options_.max_position_embeddings,
             " (max_position_embeddings), got ", ids.defined() ? ids.describe() : "undefined");
  check_ids(ids, options_.vocab_size, "ids", ids.shape());
  if (type_ids.defined()) check_ids(type_ids, options_.type_vocab_size, "type_ids", ids.shape());
  ops::AttentionMask mask;
  mask.key_padding = detail::may_attend(ids, padding, "BertModel", "input");
  return encoder_->forward(embeddings_->forward(ids, type_ids), mask);
}

}  // namespace attn::models
