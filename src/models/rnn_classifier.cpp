#include "attn/models/rnn_classifier.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/autograd/grad_mode.h"
#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "attn/ops/linalg.h"
#include "attn/ops/views.h"

namespace attn::models {
namespace {

constexpr std::int64_t kNumSpecialIds = 4;  // <pad>, <unk>, <s>, </s>
constexpr std::int64_t kPaddingId = 0;

void check_tokens(const Tensor& tokens, const RnnClassifierOptions& options) {
  ATTN_CHECK(tokens.defined() && tokens.dtype() == DType::Int64 && tokens.dim() == 2,
             "RnnAttentionClassifier: expected tokens int64 [B, T], got ",
             tokens.defined() ? tokens.describe() : "an undefined tensor");
  ATTN_CHECK(tokens.numel() > 0, "RnnAttentionClassifier: expected non-empty tokens, got ",
             tokens.describe());
  ATTN_CHECK(options.max_length == 0 || tokens.size(1) <= options.max_length,
             "RnnAttentionClassifier: a sequence of ", tokens.size(1),
             " steps is longer than max_length ", options.max_length, " (truncate it first)");
  std::vector<std::int64_t> ids = tokens.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ATTN_CHECK(ids[i] >= 0 && ids[i] < options.vocab_size, "RnnAttentionClassifier: token id ",
               ids[i], " (element ", i, ") is out of range for a vocabulary of ",
               options.vocab_size);
  }
}

// bool [B, T], true at padded steps; undefined when every row spans T.
Tensor padding_from_lengths(const Tensor& lengths, std::int64_t batch, std::int64_t steps) {
  if (!lengths.defined()) return Tensor();
  ATTN_CHECK(lengths.dtype() == DType::Int64 && lengths.dim() == 1 && lengths.size(0) == batch,
             "RnnAttentionClassifier: expected lengths int64 [", batch, "], got ",
             lengths.describe());
  std::vector<std::int64_t> values = lengths.to_vector<std::int64_t>();
  Tensor mask = Tensor::empty({batch, steps}, DType::Bool);
  bool* padded = mask.data<bool>();
  for (std::int64_t b = 0; b < batch; ++b) {
    ATTN_CHECK(values[b] >= 1 && values[b] <= steps, "RnnAttentionClassifier: lengths[", b,
               "] = ", values[b], " is outside [1, ", steps, "]");
    for (std::int64_t t = 0; t < steps; ++t) padded[b * steps + t] = t >= values[b];
  }
  return mask;
}

// ---- JSON --------------------------------------------------------------------------------

const std::vector<std::string>& option_keys() {
  static const std::vector<std::string> keys{"vocab_size",     "max_length",     "embedding_size",
                                             "hidden_size",    "attention_size", "dropout",
                                             "num_classes"};
  return keys;
}

void check_known_keys(const nlohmann::json& json) {
  ATTN_CHECK(json.is_object(), "RnnClassifierOptions: expected a JSON object, got ", json.dump());
  const std::vector<std::string>& keys = option_keys();
  for (const auto& [key, value] : json.items()) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    std::string choices;
    for (const std::string& name : keys) choices += (choices.empty() ? "" : ", ") + name;
    throw Error(detail::concat("RnnClassifierOptions: unknown key '", key, "' (known keys: ",
                               choices, ")"));
  }
}

void read_integer(const nlohmann::json& json, const char* key, std::int64_t& field) {
  if (!json.contains(key)) return;
  ATTN_CHECK(json[key].is_number_integer(), "RnnClassifierOptions: expected an integer for '",
             key, "', got ", json[key].dump());
  field = json[key].get<std::int64_t>();
}

}  // namespace

// ---- options -----------------------------------------------------------------------------

RnnClassifierOptions RnnClassifierOptions::imdb() {
  RnnClassifierOptions options;
  options.vocab_size = 10000;
  options.max_length = 250;
  options.embedding_size = 100;
  options.hidden_size = 150;
  options.attention_size = 50;
  options.dropout = 0.2;  // the seed keeps each value with probability 0.8
  options.num_classes = 2;
  return options;
}

void RnnClassifierOptions::validate() const {
  ATTN_CHECK(vocab_size >= kNumSpecialIds,
             "RnnClassifierOptions: expected a vocab_size of at least ", kNumSpecialIds,
             " (<pad>, <unk>, <s>, </s>), got ", vocab_size);
  ATTN_CHECK(max_length >= 0, "RnnClassifierOptions: expected max_length >= 0, got ", max_length);
  ATTN_CHECK(embedding_size > 0 && hidden_size > 0 && attention_size > 0,
             "RnnClassifierOptions: expected positive embedding_size, hidden_size and "
             "attention_size, got ",
             embedding_size, ", ", hidden_size, " and ", attention_size);
  ATTN_CHECK(dropout >= 0.0 && dropout < 1.0,
             "RnnClassifierOptions: expected dropout in [0, 1), got ", dropout);
  ATTN_CHECK(num_classes >= 2, "RnnClassifierOptions: expected num_classes >= 2, got ",
             num_classes);
}

nlohmann::json RnnClassifierOptions::to_json() const {
  return {{"vocab_size", vocab_size},       {"max_length", max_length},
          {"embedding_size", embedding_size}, {"hidden_size", hidden_size},
          {"attention_size", attention_size}, {"dropout", dropout},
          {"num_classes", num_classes}};
}

RnnClassifierOptions RnnClassifierOptions::from_json(const nlohmann::json& json) {
  check_known_keys(json);
  RnnClassifierOptions options;
  read_integer(json, "vocab_size", options.vocab_size);
  read_integer(json, "max_length", options.max_length);
  read_integer(json, "embedding_size", options.embedding_size);
  read_integer(json, "hidden_size", options.hidden_size);
  read_integer(json, "attention_size", options.attention_size);
  if (json.contains("dropout")) {
    ATTN_CHECK(json["dropout"].is_number(), "RnnClassifierOptions: expected a number for "
               "'dropout', got ", json["dropout"].dump());
    options.dropout = json["dropout"].get<double>();
  }
  read_integer(json, "num_classes", options.num_classes);
  options.validate();
  return options;
}

// ---- AttentionPooling --------------------------------------------------------------------

AttentionPooling::AttentionPooling(std::int64_t input_size, std::int64_t attention_size,
                                   DType dtype)
    : input_size_(input_size) {
  ATTN_CHECK(input_size > 0 && attention_size > 0,
             "AttentionPooling: expected positive input_size and attention_size, got ",
             input_size, " and ", attention_size);
  projection_ = register_module(
      "projection", std::make_shared<nn::Linear>(input_size, attention_size, true, dtype));
  context_ = register_parameter("context", Tensor::empty({attention_size}, dtype));
  // The seed draws W, b and u_w from N(0, 0.1²).
  for (const Tensor& tensor : {projection_->weight(), projection_->bias(), context_}) {
    nn::init::normal_(tensor, 0.0, 0.1);
  }
}

AttentionPooling::Result AttentionPooling::forward(const Tensor& h, const Tensor& padding) const {
  ATTN_CHECK(h.defined() && h.dim() == 3 && h.size(2) == input_size_,
             "AttentionPooling: expected h [B, T, ", input_size_, "], got ",
             h.defined() ? h.describe() : "an undefined tensor");
  // u [B, T, A]
  Tensor u = ops::tanh(projection_->forward(h));
  // scores [B, T]: u_t · u_w
  Tensor scores = ops::matmul(u, context_);
  if (padding.defined()) {
    scores = ops::masked_fill(scores, padding, -std::numeric_limits<double>::infinity());
  }
  Tensor weights = ops::softmax(scores, -1);
  // [B, 1, T] x [B, T, 2H] -> [B, 1, 2H]
  Tensor pooled = ops::squeeze(ops::matmul(ops::unsqueeze(weights, 1), h), 1);
  return {pooled, weights};
}

// ---- RnnAttentionClassifier --------------------------------------------------------------

RnnAttentionClassifier::RnnAttentionClassifier(const RnnClassifierOptions& options, DType dtype)
    : options_(options) {
  options_.validate();
  ATTN_CHECK(is_floating(dtype), "RnnAttentionClassifier: expected a floating dtype, got ",
             dtype_name(dtype));
  const std::int64_t hidden = options_.hidden_size;
  embedding_ = register_module(
      "embedding", std::make_shared<nn::Embedding>(options_.vocab_size, options_.embedding_size,
                                                   kPaddingId, dtype));
  // The seed's embedding starts uniform in [-1, 1); the padding row stays zero.
  {
    NoGradGuard no_grad;
    nn::init::uniform_(embedding_->weight(), -1.0, 1.0);
    nn::init::zeros_(ops::select(embedding_->weight(), 0, kPaddingId));
  }
  encoder_ = register_module("encoder", std::make_shared<nn::GRU>(nn::RNNOptions{
                                            .input_size = options_.embedding_size,
                                            .hidden_size = hidden,
                                            .batch_first = true,
                                            .bidirectional = true,
                                            .dtype = dtype}));
  attention_ = register_module(
      "attention", std::make_shared<AttentionPooling>(2 * hidden, options_.attention_size, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(options_.dropout));
  output_ = register_module(
      "output", std::make_shared<nn::Linear>(2 * hidden, options_.num_classes, true, dtype));
}

RnnClassifierOutput RnnAttentionClassifier::forward(const Tensor& tokens,
                                                    const Tensor& lengths) const {
  check_tokens(tokens, options_);
  Tensor padding = padding_from_lengths(lengths, tokens.size(0), tokens.size(1));
  // h [B, T, 2H], zero at padded steps
  Tensor h = encoder_->forward(embedding_->forward(tokens), Tensor(), lengths).output;
  AttentionPooling::Result pooled = attention_->forward(h, padding);
  return {output_->forward(dropout_->forward(pooled.pooled)), pooled.weights.detach()};
}

}  // namespace attn::models
