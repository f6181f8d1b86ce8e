// BERT in a Hugging Face folder: config.json's fields and the name table of
// model.safetensors (transformers' BertModel, with or without the "bert." prefix of its
// task heads' checkpoints).
#include "attn/core/error.h"
#include "pretrained_internal.h"

namespace attn::models::pretrained {
namespace {

nn::Activation bert_activation(const ConfigReader& config) {
  const std::string name = config.string("hidden_act", "gelu");
  if (name == "gelu") return nn::Activation::GELU;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return nn::Activation::GELUTanh;
  if (name == "relu") return nn::Activation::ReLU;
  throw Error(detail::concat(config.source(), ": hidden_act \"", name,
                             "\" is not supported (attn supports gelu, gelu_new, "
                             "gelu_pytorch_tanh and relu)"));
}

void reject_unsupported(const ConfigReader& config) {
  const std::string positions = config.string("position_embedding_type", "absolute");
  ATTN_CHECK(positions == "absolute", config.source(), ": position_embedding_type \"", positions,
             "\" is not supported (attn supports absolute)");
  ATTN_CHECK(!config.boolean("is_decoder", false), config.source(),
             ": is_decoder = true is not supported (attn loads BERT as an encoder)");
  ATTN_CHECK(!config.boolean("add_cross_attention", false), config.source(),
             ": add_cross_attention = true is not supported");
}

}  // namespace

BertOptions bert_options(const ConfigReader& config) {
  reject_unsupported(config);
  BertOptions options;
  options.vocab_size = config.integer("vocab_size");
  options.hidden_size = config.integer("hidden_size");
  options.num_layers = config.integer("num_hidden_layers");
  options.num_heads = config.integer("num_attention_heads");
  options.intermediate_size = config.integer("intermediate_size");
  options.activation = bert_activation(config);
  options.max_position_embeddings = config.integer("max_position_embeddings", 512);
  options.type_vocab_size = config.integer("type_vocab_size", 2);
  options.hidden_dropout = config.number("hidden_dropout_prob", 0.1);
  options.attention_dropout = config.number("attention_probs_dropout_prob", 0.1);
  options.layer_norm_epsilon = config.number("layer_norm_eps", 1e-12);
  options.initializer_range = config.number("initializer_range", 0.02);
  try {
    options.validate();
  } catch (const Error& error) {
    throw Error(detail::concat(config.source(), ": ", error.what()));
  }
  return options;
}

// transformers' BertModel names -> models::BertModel's.
const NameTable& bert_names() {
  static const NameTable table{
      {"bert."},
      {{".gamma", ".weight"}, {".beta", ".bias"}},
      {"embeddings.position_ids", "pooler.", "cls."},
      {
          {"embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"},
          {"embeddings.position_embeddings.weight", "embeddings.position_embeddings.weight"},
          {"embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings.weight"},
          {"embeddings.LayerNorm.weight", "embeddings.layer_norm.weight"},
          {"embeddings.LayerNorm.bias", "embeddings.layer_norm.bias"},
          {"encoder.layer.{i}.attention.self.query.weight",
           "encoder.layers.{i}.self_attention.in_proj_weight", 0, 3},
          {"encoder.layer.{i}.attention.self.key.weight",
           "encoder.layers.{i}.self_attention.in_proj_weight", 1, 3},
          {"encoder.layer.{i}.attention.self.value.weight",
           "encoder.layers.{i}.self_attention.in_proj_weight", 2, 3},
          {"encoder.layer.{i}.attention.self.query.bias",
           "encoder.layers.{i}.self_attention.in_proj_bias", 0, 3},
          {"encoder.layer.{i}.attention.self.key.bias",
           "encoder.layers.{i}.self_attention.in_proj_bias", 1, 3},
          {"encoder.layer.{i}.attention.self.value.bias",
           "encoder.layers.{i}.self_attention.in_proj_bias", 2, 3},
          {"encoder.layer.{i}.attention.output.dense.weight",
           "encoder.layers.{i}.self_attention.out_proj.weight"},
          {"encoder.layer.{i}.attention.output.dense.bias",
           "encoder.layers.{i}.self_attention.out_proj.bias"},
          {"encoder.layer.{i}.attention.output.LayerNorm.weight",
           "encoder.layers.{i}.self_attention_norm.weight"},
          {"encoder.layer.{i}.attention.output.LayerNorm.bias",
           "encoder.layers.{i}.self_attention_norm.bias"},
          {"encoder.layer.{i}.intermediate.dense.weight", "encoder.layers.{i}.feed_forward.w1.weight"},
          {"encoder.layer.{i}.intermediate.dense.bias", "encoder.layers.{i}.feed_forward.w1.bias"},
          {"encoder.layer.{i}.output.dense.weight", "encoder.layers.{i}.feed_forward.w2.weight"},
          {"encoder.layer.{i}.output.dense.bias", "encoder.layers.{i}.feed_forward.w2.bias"},
          {"encoder.layer.{i}.output.LayerNorm.weight", "encoder.layers.{i}.feed_forward_norm.weight"},
          {"encoder.layer.{i}.output.LayerNorm.bias", "encoder.layers.{i}.feed_forward_norm.bias"},
      }};
  return table;
}

}  // namespace attn::models::pretrained
