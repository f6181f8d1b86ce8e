// The decoder-only Transformer language model and its incremental generation.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "attn/autograd/grad_mode.h"
#include "attn/models/language_model.h"
#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "attn/ops/views.h"
#include "transformer_internal.h"

namespace attn::models {

// ---- options -----------------------------------------------------------------------------

LayerOptions LanguageModelOptions::layer() const { return detail::layer_of(*this); }

void LanguageModelOptions::validate() const {
  ATTN_CHECK(vocab_size > 0, "TransformerLanguageModel: expected a positive vocab_size, got ",
             vocab_size);
  ATTN_CHECK(num_layers > 0, "TransformerLanguageModel: expected a positive num_layers, got ",
             num_layers);
  ATTN_CHECK(max_length > 0, "TransformerLanguageModel: expected a positive max_length, got ",
             max_length);
  detail::check_layer_options(layer(), "TransformerLanguageModel");
}

nlohmann::json LanguageModelOptions::to_json() const {
  nlohmann::json json = {{"vocab_size", vocab_size},
                         {"num_layers", num_layers},
                         {"max_length", max_length},
                         {"tie_output", tie_output}};
  detail::write_layer_fields(*this, json);
  return json;
}

LanguageModelOptions LanguageModelOptions::from_json(const nlohmann::json& json) {
  LanguageModelOptions options;
  detail::JsonFields fields(json, "LanguageModelOptions");
  fields.read("vocab_size", options.vocab_size);
  fields.read("num_layers", options.num_layers);
  fields.read("max_length", options.max_length);
  fields.read("tie_output", options.tie_output);
  detail::read_layer_fields(fields, options);
  fields.finish();
  return options;
}

// ---- the model ---------------------------------------------------------------------------

TransformerLanguageModel::TransformerLanguageModel(const LanguageModelOptions& options, DType dtype)
    : options_(options) {
  options_.validate();
  embedding_ = register_module(
      "embedding", detail::make_embedding(options_.vocab_size, options_.d_model, dtype));
  positions_ = register_module("positions", std::make_shared<nn::SinusoidalPositionalEncoding>(
                                                options_.d_model, options_.max_length, dtype));
  embedding_dropout_ =
      register_module("embedding_dropout", std::make_shared<nn::Dropout>(options_.dropout));
  decoder_ = register_module("decoder", std::make_shared<TransformerEncoder>(
                                            options_.layer(), options_.num_layers, dtype));
  if (!options_.tie_output) {
    output_projection_ = register_module(
        "output_projection",
        std::make_shared<nn::Linear>(options_.d_model, options_.vocab_size, false, dtype));
    nn::init::xavier_uniform_(output_projection_->weight());
  }
}

Tensor TransformerLanguageModel::project_output(const Tensor& hidden) const {
  // h Wᵀ, or h Eᵀ with the tied embedding
  return detail::linear(hidden,
                        output_projection_ ? output_projection_->weight() : embedding_->weight());
}

Tensor TransformerLanguageModel::forward(const Tensor& tokens) const {
  detail::check_tokens(tokens, options_.vocab_size, options_.max_length, "TransformerLanguageModel",
                       "input");
  // x [B, T, E]
  Tensor x = detail::embed(*embedding_, *positions_, *embedding_dropout_, tokens, 0);
  ops::AttentionMask causal;
  causal.causal = true;
  return project_output(decoder_->forward(x, causal));
}

namespace {

// pe [B, N, E]: row b holds the table's rows positions[b], positions[b] + 1, ...; negative
// positions (left padding, never attended) take position 0.
Tensor positions_per_row(const Tensor& table, const std::vector<std::int64_t>& positions,
                         std::int64_t length) {
  const std::int64_t batch = static_cast<std::int64_t>(positions.size()), dim = table.size(1);
  Tensor contiguous_table = table.contiguous();
  Tensor out = Tensor::empty({batch, length, dim}, table.dtype());
  const std::size_t row_bytes = dim * dtype_size(table.dtype());
  auto* source = static_cast<const std::byte*>(contiguous_table.raw_data());
  auto* destination = static_cast<std::byte*>(out.raw_data());
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < length; ++i) {
      std::int64_t position = std::max<std::int64_t>(positions[b] + i, 0);
      std::memcpy(destination + (b * length + i) * row_bytes, source + position * row_bytes,
                  row_bytes);
    }
  }
  return out;
}

}  // namespace

Tensor TransformerLanguageModel::embed(const Tensor& tokens,
                                       const std::vector<std::int64_t>& positions) const {
  detail::check_tokens(tokens, options_.vocab_size, options_.max_length, "TransformerLanguageModel",
                       "input", static_cast<std::int64_t>(positions.size()));
  const std::int64_t length = tokens.size(1);
  for (std::int64_t start : positions) {
    ATTN_CHECK(start + length <= options_.max_length, "TransformerLanguageModel: positions up to ",
               start + length - 1, " exceed the model's max_length ", options_.max_length);
  }
  const double scale = std::sqrt(static_cast<double>(options_.d_model));
  // [B, N, E]
  Tensor embedded = ops::mul(embedding_->forward(tokens), scale);
  Tensor table = positions_->encoding(options_.max_length, 0);
  return embedding_dropout_->forward(embedded + positions_per_row(table, positions, length));
}

std::unique_ptr<LanguageModelStepModel> TransformerLanguageModel::start_generation(
    const std::vector<std::vector<std::int64_t>>& prompts) const {
  return std::make_unique<LanguageModelStepModel>(*this, prompts);
}

// ---- LanguageModelStepModel --------------------------------------------------------------

namespace {

// Checks every prompt; returns the longest length.
std::int64_t longest_prompt(const std::vector<std::vector<std::int64_t>>& prompts,
                            std::int64_t vocab_size, std::int64_t max_length) {
  ATTN_CHECK(!prompts.empty(), "TransformerLanguageModel: expected at least one prompt");
  std::size_t longest = 0;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    ATTN_CHECK(!prompts[i].empty(), "TransformerLanguageModel: prompt ", i,
               " is empty (start it with at least <s>)");
    for (std::size_t j = 0; j < prompts[i].size(); ++j) {
      ATTN_CHECK(prompts[i][j] >= 0 && prompts[i][j] < vocab_size,
                 "TransformerLanguageModel: prompt token id ", prompts[i][j], " at [", i, ", ", j,
                 "] is outside the vocabulary [0, ", vocab_size, ")");
    }
    longest = std::max(longest, prompts[i].size());
  }
  ATTN_CHECK(static_cast<std::int64_t>(longest) <= max_length,
             "TransformerLanguageModel: a prompt has length ", longest,
             ", longer than the model's max_length ", max_length);
  return static_cast<std::int64_t>(longest);
}

}  // namespace

LanguageModelStepModel::LanguageModelStepModel(
    const TransformerLanguageModel& model, const std::vector<std::vector<std::int64_t>>& prompts)
    : model_(model) {
  NoGradGuard no_grad;
  const std::int64_t longest =
      longest_prompt(prompts, model.options().vocab_size, model.options().max_length);
  const std::int64_t batch = static_cast<std::int64_t>(prompts.size());
  const std::int64_t prefix = longest - 1;  // all but the last token, left-padded
  std::vector<std::int64_t> tokens(batch * prefix, 0);
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto& prompt = prompts[b];
    const std::int64_t pad = longest - static_cast<std::int64_t>(prompt.size());
    std::copy(prompt.begin(), prompt.end() - 1, tokens.begin() + b * prefix + pad);
    padding_.push_back(pad);
    positions_.push_back(-pad);
    first_tokens_.push_back(prompt.back());
  }
  caches_.resize(model.decoder().num_layers());
  max_length_ = model.options().max_length - prefix;
  if (prefix == 0) {
    for (std::int64_t& position : positions_) position = 0;
    return;
  }
  Tensor x = model.embed(Tensor::from_vector<std::int64_t>({batch, prefix}, tokens), positions_);
  model.decoder().forward(x, mask(prefix), &caches_);
  cached_ = prefix;
  for (std::int64_t& position : positions_) position += prefix;
}

ops::AttentionMask LanguageModelStepModel::mask(std::int64_t new_positions) const {
  ops::AttentionMask mask;
  mask.causal = true;
  if (std::all_of(padding_.begin(), padding_.end(), [](std::int64_t pad) { return pad == 0; })) {
    return mask;
  }
  // key_padding [rows, cached + new]: the left padding of each row may not be attended
  const std::int64_t rows = num_rows(), keys = cached_ + new_positions;
  Tensor allowed = Tensor::empty({rows, keys}, DType::Bool);
  bool* values = allowed.data<bool>();
  for (std::int64_t b = 0; b < rows; ++b) {
    for (std::int64_t j = 0; j < keys; ++j) values[b * keys + j] = j >= padding_[b];
  }
  mask.key_padding = allowed;
  return mask;
}

Tensor LanguageModelStepModel::next_log_probs(const std::vector<std::int64_t>& last_tokens) {
  NoGradGuard no_grad;
  const std::int64_t rows = num_rows();
  ATTN_CHECK(static_cast<std::int64_t>(last_tokens.size()) == rows,
             "LanguageModelStepModel: expected one token per row (", rows, "), got ",
             last_tokens.size());
  ATTN_CHECK(steps_ < max_length_, "LanguageModelStepModel: cannot generate past the model's ",
             "max_length ", model_.options().max_length);
  // x [rows, 1, E]
  Tensor x = model_.embed(Tensor::from_vector<std::int64_t>({rows, 1}, last_tokens), positions_);
  Tensor hidden = model_.decoder().forward(x, mask(1), &caches_);
  ++cached_, ++steps_;
  for (std::int64_t& position : positions_) ++position;
  // logits [rows, 1, V] -> [rows, V]
  Tensor logits = ops::reshape(model_.project_output(hidden), {rows, -1});
  return ops::log_softmax(logits, -1).to(DType::Float32);
}

void LanguageModelStepModel::select(const std::vector<std::int64_t>& rows) {
  detail::check_rows(rows, num_rows(), "LanguageModelStepModel");
  if (detail::is_identity(rows, num_rows())) return;
  for (KeyValueCache& cache : caches_) cache.select(rows);
  auto pick = [&](const std::vector<std::int64_t>& values) {
    std::vector<std::int64_t> picked;
    for (std::int64_t row : rows) picked.push_back(values[row]);
    return picked;
  };
  positions_ = pick(positions_);
  padding_ = pick(padding_);
  first_tokens_ = pick(first_tokens_);
}

}  // namespace attn::models
