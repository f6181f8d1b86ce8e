// The encoder-decoder Transformer and its incremental decoding.
#include "attn/models/transformer.h"

#include "attn/autograd/grad_mode.h"
#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "attn/ops/views.h"
#include "transformer_internal.h"

namespace attn::models {

Transformer::Transformer(const TransformerOptions& options, DType dtype) : options_(options) {
  options_.validate();
  const std::int64_t d_model = options_.d_model;
  if (options_.share_embeddings) {
    source_embedding_ = register_module(
        "shared_embedding", detail::make_embedding(options_.source_vocab_size, d_model, dtype));
    target_embedding_ = source_embedding_;
  } else {
    source_embedding_ = register_module(
        "source_embedding", detail::make_embedding(options_.source_vocab_size, d_model, dtype));
    target_embedding_ = register_module(
        "target_embedding", detail::make_embedding(options_.target_vocab_size, d_model, dtype));
  }
  positions_ = register_module("positions", std::make_shared<nn::SinusoidalPositionalEncoding>(
                                                d_model, options_.max_length, dtype));
  embedding_dropout_ =
      register_module("embedding_dropout", std::make_shared<nn::Dropout>(options_.dropout));
  encoder_ = register_module("encoder", std::make_shared<TransformerEncoder>(
                                            options_.layer(), options_.encoder_layers, dtype));
  decoder_ = register_module("decoder", std::make_shared<TransformerDecoder>(
                                            options_.layer(), options_.decoder_layers, dtype));
  if (!options_.tie_output) {
    output_projection_ = register_module(
        "output_projection",
        std::make_shared<nn::Linear>(d_model, options_.target_vocab_size, false, dtype));
    nn::init::xavier_uniform_(output_projection_->weight());
  }
}

ops::AttentionMask Transformer::memory_mask(const Tensor& source,
                                            const Tensor& source_padding) const {
  ops::AttentionMask mask;
  mask.key_padding = detail::may_attend(source, source_padding, "Transformer", "source");
  return mask;
}

Tensor Transformer::encode(const Tensor& source, const Tensor& source_padding) const {
  detail::check_tokens(source, options_.source_vocab_size, options_.max_length, "Transformer",
                       "source");
  // x [B, S, E]
  Tensor x = detail::embed(*source_embedding_, *positions_, *embedding_dropout_, source, 0);
  return encoder_->forward(x, memory_mask(source, source_padding));
}

Tensor Transformer::embed_target(const Tensor& target, std::int64_t offset) const {
  detail::check_tokens(target, options_.target_vocab_size, options_.max_length, "Transformer",
                       "target");
  ATTN_CHECK(offset >= 0 && offset + target.size(1) <= options_.max_length,
             "Transformer: target positions ", offset, " to ", offset + target.size(1) - 1,
             " exceed the model's max_length ", options_.max_length);
  return detail::embed(*target_embedding_, *positions_, *embedding_dropout_, target, offset);
}

Tensor Transformer::project_output(const Tensor& hidden) const {
  // h Wᵀ, or h Eᵀ with the tied embedding
  return detail::linear(
      hidden, output_projection_ ? output_projection_->weight() : target_embedding_->weight());
}

Tensor Transformer::decode(const Tensor& target_in, const Tensor& memory,
                           const Tensor& source_padding) const {
  ATTN_CHECK(memory.defined() && memory.dim() == 3 && memory.size(2) == options_.d_model,
             "Transformer: expected memory [B, S, ", options_.d_model, "], got ",
             memory.defined() ? memory.describe() : "undefined");
  ATTN_CHECK(target_in.dim() == 2 && target_in.size(0) == memory.size(0),
             "Transformer: expected target tokens [", memory.size(0),
             ", T] for the memory's batch, got ", target_in.describe());
  ops::AttentionMask mask;
  if (source_padding.defined()) {
    ATTN_CHECK(source_padding.dtype() == DType::Bool && source_padding.dim() == 2 &&
                   source_padding.size(0) == memory.size(0) &&
                   source_padding.size(1) == memory.size(1),
               "Transformer: expected the source padding mask bool [", memory.size(0), ", ",
               memory.size(1), "] of the memory, got ", source_padding.describe());
    mask.key_padding = ops::eq(source_padding, Tensor::zeros({}, DType::Bool));  // may attend
  }
  // y [B, T, E]
  Tensor y = embed_target(target_in, 0);
  Tensor hidden = decoder_->forward(y, decoder_->project_memory(memory), mask);
  return project_output(hidden);
}

Tensor Transformer::forward(const Tensor& source, const Tensor& target_in,
                            const Tensor& source_padding) const {
  ATTN_CHECK(source.defined() && target_in.defined() && source.dim() == 2 && target_in.dim() == 2 &&
                 source.size(0) == target_in.size(0),
             "Transformer: expected source [B, S] and target [B, T] with one batch size, got ",
             source.defined() ? source.describe() : "undefined", " and ",
             target_in.defined() ? target_in.describe() : "undefined");
  return decode(target_in, encode(source, source_padding), source_padding);
}

std::unique_ptr<TransformerStepModel> Transformer::start_decoding(
    const Tensor& source, const Tensor& source_padding) const {
  return std::make_unique<TransformerStepModel>(*this, source, source_padding);
}

// ---- TransformerStepModel --------------------------------------------------------------

TransformerStepModel::TransformerStepModel(const Transformer& model, const Tensor& source,
                                           const Tensor& source_padding)
    : model_(model) {
  NoGradGuard no_grad;
  Tensor memory = model.encode(source, source_padding);
  memory_mask_ = model.memory_mask(source, source_padding);
  if (memory_mask_.key_padding.defined()) {
    memory_mask_.key_padding = memory_mask_.key_padding.contiguous();
  }
  for (const KeyValues& layer_memory : model.decoder().project_memory(memory)) {
    // Contiguous, so that select() copies whole rows.
    memory_.push_back({layer_memory.keys.contiguous(), layer_memory.values.contiguous()});
  }
  num_rows_ = source.size(0);
  caches_.resize(model.decoder().num_layers());
  for (std::int64_t row = 0; row < num_rows_; ++row) row_sources_.push_back(row);
}

Tensor TransformerStepModel::next_log_probs(const std::vector<std::int64_t>& last_tokens) {
  NoGradGuard no_grad;
  ATTN_CHECK(static_cast<std::int64_t>(last_tokens.size()) == num_rows_,
             "TransformerStepModel: expected one token per row (", num_rows_, "), got ",
             last_tokens.size());
  ATTN_CHECK(steps_ < max_length(), "TransformerStepModel: cannot decode past the model's ",
             "max_length ", max_length());
  Tensor tokens = Tensor::from_vector<std::int64_t>({num_rows_, 1}, last_tokens);
  // y [rows, 1, E] at position steps_
  Tensor y = model_.embed_target(tokens, steps_);
  Tensor hidden = model_.decoder().forward(y, memory_, memory_mask_, &caches_);
  ++steps_;
  // logits [rows, 1, V] -> [rows, V]
  Tensor logits = ops::reshape(model_.project_output(hidden), {num_rows_, -1});
  return ops::log_softmax(logits, -1).to(DType::Float32);
}

void TransformerStepModel::select(const std::vector<std::int64_t>& rows) {
  detail::check_rows(rows, num_rows_, "TransformerStepModel");
  if (detail::is_identity(rows, num_rows_)) return;
  std::vector<std::int64_t> sources;
  for (std::int64_t row : rows) sources.push_back(row_sources_[row]);
  // The memory depends on the source only: beams that reorder within their sources keep it.
  if (sources != row_sources_) {
    for (KeyValues& layer_memory : memory_) {
      layer_memory = {detail::gather_rows(layer_memory.keys, rows),
                      detail::gather_rows(layer_memory.values, rows)};
    }
    if (memory_mask_.key_padding.defined()) {
      memory_mask_.key_padding = detail::gather_rows(memory_mask_.key_padding, rows);
    }
  }
  for (KeyValueCache& cache : caches_) cache.select(rows);
  row_sources_ = std::move(sources);
  num_rows_ = static_cast<std::int64_t>(rows.size());
}

}  // namespace attn::models
