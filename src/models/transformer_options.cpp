// Options of the Transformer models: names of the enums, validation, JSON round trip; and
// the input checks and embeddings the models share.
#include <array>
#include <cmath>

#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "transformer_internal.h"

namespace attn::models {
namespace {

constexpr std::array<std::pair<NormPlacement, std::string_view>, 2> kNormNames{{
    {NormPlacement::Post, "post"},
    {NormPlacement::Pre, "pre"},
}};

constexpr std::array<std::pair<nn::Activation, std::string_view>, 3> kActivationNames{{
    {nn::Activation::ReLU, "relu"},
    {nn::Activation::GELU, "gelu"},
    {nn::Activation::GELUTanh, "gelu_tanh"},
}};

template <typename Enum, std::size_t Count>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, Count>& names,
                         Enum value) {
  for (const auto& [entry, name] : names) {
    if (entry == value) return name;
  }
  ATTN_ASSERT(false, "unnamed enum value");
  return {};
}

template <typename Enum, std::size_t Count>
Enum parse_name(const std::array<std::pair<Enum, std::string_view>, Count>& names,
                std::string_view name, std::string_view what) {
  std::string accepted;
  for (const auto& [entry, entry_name] : names) {
    if (entry_name == name) return entry;
    accepted += (accepted.empty() ? "" : ", ") + std::string(entry_name);
  }
  throw Error(
      attn::detail::concat("unknown ", what, " '", name, "' (expected one of: ", accepted, ")"));
}

}  // namespace

std::string_view norm_placement_name(NormPlacement placement) {
  return name_of(kNormNames, placement);
}

NormPlacement parse_norm_placement(std::string_view name) {
  return parse_name(kNormNames, name, "norm placement");
}

std::string_view activation_name(nn::Activation activation) {
  return name_of(kActivationNames, activation);
}

nn::Activation parse_activation(std::string_view name) {
  return parse_name(kActivationNames, name, "activation");
}

// ---- TransformerOptions ----------------------------------------------------------------

TransformerOptions TransformerOptions::base(std::int64_t vocab_size) {
  TransformerOptions options = base(vocab_size, vocab_size);
  options.share_embeddings = true;
  return options;
}

TransformerOptions TransformerOptions::base(std::int64_t source_vocab_size,
                                            std::int64_t target_vocab_size) {
  TransformerOptions options;  // the defaults are the base model's sizes
  options.source_vocab_size = source_vocab_size;
  options.target_vocab_size = target_vocab_size;
  options.tie_output = true;
  return options;
}

LayerOptions TransformerOptions::layer() const { return detail::layer_of(*this); }

void TransformerOptions::validate() const {
  ATTN_CHECK(source_vocab_size > 0 && target_vocab_size > 0,
             "Transformer: expected positive source_vocab_size and target_vocab_size, got ",
             source_vocab_size, " and ", target_vocab_size);
  ATTN_CHECK(encoder_layers > 0 && decoder_layers > 0,
             "Transformer: expected positive encoder_layers and decoder_layers, got ",
             encoder_layers, " and ", decoder_layers);
  ATTN_CHECK(max_length > 0, "Transformer: expected a positive max_length, got ", max_length);
  ATTN_CHECK(!share_embeddings || source_vocab_size == target_vocab_size,
             "Transformer: share_embeddings needs one joint vocabulary, got source_vocab_size ",
             source_vocab_size, " and target_vocab_size ", target_vocab_size);
  detail::check_layer_options(layer(), "Transformer");
}

nlohmann::json TransformerOptions::to_json() const {
  nlohmann::json json = {{"source_vocab_size", source_vocab_size},
                         {"target_vocab_size", target_vocab_size},
                         {"encoder_layers", encoder_layers},
                         {"decoder_layers", decoder_layers},
                         {"max_length", max_length},
                         {"share_embeddings", share_embeddings},
                         {"tie_output", tie_output}};
  detail::write_layer_fields(*this, json);
  return json;
}

TransformerOptions TransformerOptions::from_json(const nlohmann::json& json) {
  TransformerOptions options;
  detail::JsonFields fields(json, "TransformerOptions");
  fields.read("source_vocab_size", options.source_vocab_size);
  fields.read("target_vocab_size", options.target_vocab_size);
  fields.read("encoder_layers", options.encoder_layers);
  fields.read("decoder_layers", options.decoder_layers);
  fields.read("max_length", options.max_length);
  fields.read("share_embeddings", options.share_embeddings);
  fields.read("tie_output", options.tie_output);
  detail::read_layer_fields(fields, options);
  fields.finish();
  return options;
}

namespace detail {

// ---- checks shared by the models -----------------------------------------------------------

void check_layer_options(const LayerOptions& options, std::string_view owner) {
  ATTN_CHECK(options.d_model > 0 && options.num_heads > 0 && options.d_ff > 0, owner,
             ": expected positive d_model, num_heads and d_ff, got ", options.d_model, ", ",
             options.num_heads, " and ", options.d_ff);
  ATTN_CHECK(options.d_model % options.num_heads == 0, owner, ": d_model ", options.d_model,
             " is not divisible by num_heads ", options.num_heads);
  ATTN_CHECK(options.d_model % 2 == 0, owner,
             ": d_model must be even for the sinusoidal positions, got ", options.d_model);
  auto check_probability = [&](double p, const char* name) {
    ATTN_CHECK(p >= 0.0 && p < 1.0, owner, ": expected ", name, " in [0, 1), got ", p);
  };
  check_probability(options.dropout, "dropout");
  check_probability(options.attention_dropout, "attention_dropout");
  check_probability(options.activation_dropout, "activation_dropout");
  ATTN_CHECK(options.layer_norm_epsilon > 0.0, owner,
             ": expected a positive layer_norm_epsilon, got ", options.layer_norm_epsilon);
}

void check_tokens(const Tensor& tokens, std::int64_t vocab_size, std::int64_t max_length,
                  std::string_view owner, std::string_view what, std::int64_t batch) {
  ATTN_CHECK(tokens.defined(), owner, ": the ", what, " tokens are undefined");
  ATTN_CHECK(tokens.dtype() == DType::Int64 && tokens.dim() == 2, owner, ": expected ", what,
             " tokens int64 [batch, length], got ", tokens.describe());
  ATTN_CHECK(batch < 0 || tokens.size(0) == batch, owner, ": expected ", what,
             " tokens for a batch of ", batch, ", got ", tokens.describe());
  const std::int64_t length = tokens.size(1);
  ATTN_CHECK(length > 0, owner, ": the ", what, " sequences are empty (", tokens.describe(), ")");
  ATTN_CHECK(length <= max_length, owner, ": the ", what, " sequences have length ", length,
             ", longer than the model's max_length ", max_length);
  Tensor values = tokens.contiguous();
  const std::int64_t* ids = values.data<std::int64_t>();
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    ATTN_CHECK(ids[i] >= 0 && ids[i] < vocab_size, owner, ": ", what, " token id ", ids[i], " at [",
               i / length, ", ", i % length, "] is outside the vocabulary [0, ", vocab_size, ")");
  }
}

Tensor may_attend(const Tensor& tokens, const Tensor& padding, std::string_view owner,
                  std::string_view what) {
  if (!padding.defined()) return Tensor();
  ATTN_CHECK(padding.dtype() == DType::Bool && padding.shape() == tokens.shape(), owner,
             ": expected the ", what, " padding mask bool ", to_string(tokens.shape()),
             " (true = padding), got ", padding.describe());
  return ops::eq(padding, Tensor::zeros({}, DType::Bool));
}

// ---- embeddings ----------------------------------------------------------------------

std::shared_ptr<nn::Embedding> make_embedding(std::int64_t vocab_size, std::int64_t dim,
                                              DType dtype) {
  auto table = std::make_shared<nn::Embedding>(vocab_size, dim, /*padding_index=*/0, dtype);
  nn::init::normal_(table->weight(), 0.0, 1.0 / std::sqrt(static_cast<double>(dim)));
  nn::init::zeros_(table->weight().as_strided({dim}, {1}, table->weight().offset()));
  return table;
}

Tensor embed(const nn::Embedding& table, const nn::SinusoidalPositionalEncoding& positions,
             const nn::Dropout& dropout, const Tensor& tokens, std::int64_t offset) {
  const double scale = std::sqrt(static_cast<double>(table.embedding_dim()));
  // [B, N, E]
  Tensor embedded = ops::mul(table.forward(tokens), scale);
  return dropout.forward(positions.forward(embedded, offset));
}

// ---- JSON ----------------------------------------------------------------------------

JsonFields::JsonFields(const nlohmann::json& json, std::string owner)
    : json_(json), owner_(std::move(owner)) {
  ATTN_CHECK(json.is_object(), owner_, ": expected a JSON object, got ", json.type_name());
}

const nlohmann::json* JsonFields::find(const char* key) {
  claimed_.insert(key);
  auto found = json_.find(key);
  return found == json_.end() ? nullptr : &*found;
}

void JsonFields::read(const char* key, std::int64_t& field) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return;
  ATTN_CHECK(value->is_number_integer(), owner_, ": \"", key, "\" must be an integer, got ",
             value->dump());
  field = value->get<std::int64_t>();
}

void JsonFields::read(const char* key, double& field) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return;
  ATTN_CHECK(value->is_number(), owner_, ": \"", key, "\" must be a number, got ", value->dump());
  field = value->get<double>();
}

void JsonFields::read(const char* key, bool& field) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return;
  ATTN_CHECK(value->is_boolean(), owner_, ": \"", key, "\" must be true or false, got ",
             value->dump());
  field = value->get<bool>();
}

void JsonFields::read(const char* key, NormPlacement& field) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return;
  ATTN_CHECK(value->is_string(), owner_, ": \"", key, "\" must be a string, got ", value->dump());
  field = parse_norm_placement(value->get<std::string>());
}

void JsonFields::read(const char* key, nn::Activation& field) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return;
  ATTN_CHECK(value->is_string(), owner_, ": \"", key, "\" must be a string, got ", value->dump());
  field = parse_activation(value->get<std::string>());
}

void JsonFields::finish() const {
  std::string unknown;
  for (const auto& [key, value] : json_.items()) {
    if (claimed_.count(key) == 0) unknown += (unknown.empty() ? "\"" : ", \"") + key + "\"";
  }
  std::string known;
  for (const std::string& key : claimed_) known += (known.empty() ? "" : ", ") + key;
  ATTN_CHECK(unknown.empty(), owner_, ": unknown key(s) ", unknown, " (known: ", known, ")");
}

}  // namespace detail
}  // namespace attn::models
