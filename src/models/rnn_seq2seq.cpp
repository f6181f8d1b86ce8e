#include "attn/models/rnn_seq2seq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

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

// ---- input checks ------------------------------------------------------------------------

// int64 tokens of rank `rank` with every id in [0, vocab_size).
void check_tokens(const Tensor& tokens, std::int64_t rank, std::int64_t vocab_size,
                  const char* name) {
  const char* layout = rank == 2 ? " [B, steps]" : " [B]";
  ATTN_CHECK(tokens.defined() && tokens.dtype() == DType::Int64 && tokens.dim() == rank,
             "RnnSeq2Seq: expected ", name, " int64", layout, ", got ",
             tokens.defined() ? tokens.describe() : "an undefined tensor");
  ATTN_CHECK(tokens.numel() > 0, "RnnSeq2Seq: expected a non-empty ", name, ", got ",
             tokens.describe());
  std::vector<std::int64_t> ids = tokens.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ATTN_CHECK(ids[i] >= 0 && ids[i] < vocab_size, "RnnSeq2Seq: ", name, " id ", ids[i],
               " (element ", i, ") is out of range for a vocabulary of ", vocab_size);
  }
}

// The lengths as given, or every row spanning all `steps` when undefined.
std::vector<std::int64_t> checked_lengths(const Tensor& lengths, std::int64_t batch,
                                          std::int64_t steps) {
  if (!lengths.defined()) return std::vector<std::int64_t>(batch, steps);
  ATTN_CHECK(lengths.dtype() == DType::Int64 && lengths.dim() == 1 && lengths.size(0) == batch,
             "RnnSeq2Seq: expected source_lengths int64 [", batch, "], got ", lengths.describe());
  std::vector<std::int64_t> values = lengths.to_vector<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b) {
    ATTN_CHECK(values[b] >= 1 && values[b] <= steps, "RnnSeq2Seq: source_lengths[", b, "] = ",
               values[b], " is outside [1, ", steps, "] (the source has ", steps, " steps)");
  }
  return values;
}

// bool [B, S]: true at the padded steps t >= lengths[b].
Tensor padding_mask(const std::vector<std::int64_t>& lengths, std::int64_t steps) {
  auto batch = static_cast<std::int64_t>(lengths.size());
  Tensor mask = Tensor::empty({batch, steps}, DType::Bool);
  bool* padded = mask.data<bool>();
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < steps; ++t) padded[b * steps + t] = t >= lengths[b];
  }
  return mask;
}

// The listed rows of x (along dimension 0), copied; no gradient. Undefined stays undefined.
Tensor gather_rows(const Tensor& x, const std::vector<std::int64_t>& rows) {
  if (!x.defined()) return x;
  Tensor source = x.contiguous();
  Shape shape = source.shape();
  shape[0] = static_cast<std::int64_t>(rows.size());
  Tensor result = Tensor::empty(shape, source.dtype());
  std::size_t row_bytes =
      static_cast<std::size_t>(source.numel() / source.size(0)) * dtype_size(source.dtype());
  const auto* from = static_cast<const std::byte*>(source.raw_data());
  auto* to = static_cast<std::byte*>(result.raw_data());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(to + i * row_bytes, from + rows[i] * row_bytes, row_bytes);
  }
  return result;
}

// ---- JSON --------------------------------------------------------------------------------

const std::vector<std::string>& option_keys() {
  static const std::vector<std::string> keys{
      "source_vocab_size", "target_vocab_size", "embedding_size", "hidden_size",
      "attention",         "luong_score",       "attention_size", "dropout",
      "max_target_length"};
  return keys;
}

void check_known_keys(const nlohmann::json& json) {
  ATTN_CHECK(json.is_object(), "RnnSeq2SeqOptions: expected a JSON object, got ", json.dump());
  const std::vector<std::string>& keys = option_keys();
  for (const auto& [key, value] : json.items()) {
    bool known = std::find(keys.begin(), keys.end(), key) != keys.end();
    if (known) continue;
    std::string choices;
    for (const std::string& name : keys) choices += (choices.empty() ? "" : ", ") + name;
    throw Error(detail::concat("RnnSeq2SeqOptions: unknown key '", key, "' (known keys: ",
                               choices, ")"));
  }
}

void read_integer(const nlohmann::json& json, const char* key, std::int64_t& field) {
  if (!json.contains(key)) return;
  ATTN_CHECK(json[key].is_number_integer(), "RnnSeq2SeqOptions: expected an integer for '", key,
             "', got ", json[key].dump());
  field = json[key].get<std::int64_t>();
}

void read_number(const nlohmann::json& json, const char* key, double& field) {
  if (!json.contains(key)) return;
  ATTN_CHECK(json[key].is_number(), "RnnSeq2SeqOptions: expected a number for '", key, "', got ",
             json[key].dump());
  field = json[key].get<double>();
}

std::string read_string(const nlohmann::json& json, const char* key, std::string_view fallback) {
  if (!json.contains(key)) return std::string(fallback);
  ATTN_CHECK(json[key].is_string(), "RnnSeq2SeqOptions: expected a string for '", key, "', got ",
             json[key].dump());
  return json[key].get<std::string>();
}

}  // namespace

// ---- names -------------------------------------------------------------------------------

std::string_view rnn_attention_name(RnnAttention attention) {
  return attention == RnnAttention::Bahdanau ? "bahdanau" : "luong";
}

RnnAttention parse_rnn_attention(std::string_view name) {
  if (name == "bahdanau") return RnnAttention::Bahdanau;
  if (name == "luong") return RnnAttention::Luong;
  throw Error(detail::concat("RnnSeq2Seq: unknown attention '", name,
                             "' (expected bahdanau or luong)"));
}

std::string_view luong_score_name(LuongScore score) {
  switch (score) {
    case LuongScore::Dot: return "dot";
    case LuongScore::General: return "general";
    case LuongScore::Concat: return "concat";
  }
  ATTN_ASSERT(false, "unhandled LuongScore");
}

LuongScore parse_luong_score(std::string_view name) {
  if (name == "dot") return LuongScore::Dot;
  if (name == "general") return LuongScore::General;
  if (name == "concat") return LuongScore::Concat;
  throw Error(detail::concat("RnnSeq2Seq: unknown luong_score '", name,
                             "' (expected dot, general or concat)"));
}

// ---- options -----------------------------------------------------------------------------

void RnnSeq2SeqOptions::validate() const {
  ATTN_CHECK(source_vocab_size >= kNumSpecialIds && target_vocab_size >= kNumSpecialIds,
             "RnnSeq2SeqOptions: expected vocabularies of at least ", kNumSpecialIds,
             " ids (<pad>, <unk>, <s>, </s>), got source_vocab_size ", source_vocab_size,
             " and target_vocab_size ", target_vocab_size);
  ATTN_CHECK(embedding_size > 0, "RnnSeq2SeqOptions: expected a positive embedding_size, got ",
             embedding_size);
  ATTN_CHECK(hidden_size > 0 && hidden_size % 2 == 0,
             "RnnSeq2SeqOptions: expected a positive, even hidden_size (each encoder direction "
             "has hidden_size / 2), got ",
             hidden_size);
  ATTN_CHECK(attention_size >= 0, "RnnSeq2SeqOptions: expected attention_size >= 0, got ",
             attention_size);
  ATTN_CHECK(dropout >= 0.0 && dropout < 1.0, "RnnSeq2SeqOptions: expected dropout in [0, 1), got ",
             dropout);
  ATTN_CHECK(max_target_length >= 0, "RnnSeq2SeqOptions: expected max_target_length >= 0, got ",
             max_target_length);
}

nlohmann::json RnnSeq2SeqOptions::to_json() const {
  return {{"source_vocab_size", source_vocab_size},
          {"target_vocab_size", target_vocab_size},
          {"embedding_size", embedding_size},
          {"hidden_size", hidden_size},
          {"attention", std::string(rnn_attention_name(attention))},
          {"luong_score", std::string(luong_score_name(luong_score))},
          {"attention_size", attention_size},
          {"dropout", dropout},
          {"max_target_length", max_target_length}};
}

RnnSeq2SeqOptions RnnSeq2SeqOptions::from_json(const nlohmann::json& json) {
  check_known_keys(json);
  RnnSeq2SeqOptions options;
  read_integer(json, "source_vocab_size", options.source_vocab_size);
  read_integer(json, "target_vocab_size", options.target_vocab_size);
  read_integer(json, "embedding_size", options.embedding_size);
  read_integer(json, "hidden_size", options.hidden_size);
  options.attention =
      parse_rnn_attention(read_string(json, "attention", rnn_attention_name(options.attention)));
  options.luong_score =
      parse_luong_score(read_string(json, "luong_score", luong_score_name(options.luong_score)));
  read_integer(json, "attention_size", options.attention_size);
  read_number(json, "dropout", options.dropout);
  read_integer(json, "max_target_length", options.max_target_length);
  options.validate();
  return options;
}

// ---- GRUCell -----------------------------------------------------------------------------

GRUCell::GRUCell(std::int64_t input_size, std::int64_t hidden_size, DType dtype)
    : input_size_(input_size), hidden_size_(hidden_size) {
  ATTN_CHECK(input_size > 0 && hidden_size > 0,
             "GRUCell: expected positive input_size and hidden_size, got ", input_size, " and ",
             hidden_size);
  const std::int64_t gates = 3 * hidden_size;
  weight_ih_ = register_parameter("weight_ih", Tensor::empty({gates, input_size}, dtype));
  weight_hh_ = register_parameter("weight_hh", Tensor::empty({gates, hidden_size}, dtype));
  bias_ih_ = register_parameter("bias_ih", Tensor::empty({gates}, dtype));
  bias_hh_ = register_parameter("bias_hh", Tensor::empty({gates}, dtype));
  // PyTorch's initialisation: every tensor uniform in ±1/√H.
  double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (const Tensor& tensor : {weight_ih_, weight_hh_, bias_ih_, bias_hh_}) {
    nn::init::uniform_(tensor, -bound, bound);
  }
}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) const {
  ATTN_CHECK(x.defined() && x.dim() == 2 && x.size(1) == input_size_, "GRUCell: expected x [B, ",
             input_size_, "], got ", x.defined() ? x.describe() : "an undefined tensor");
  ATTN_CHECK(h.defined() && h.dim() == 2 && h.size(0) == x.size(0) && h.size(1) == hidden_size_,
             "GRUCell: expected h [", x.size(0), ", ", hidden_size_, "], got ",
             h.defined() ? h.describe() : "an undefined tensor");
  return nn::gru_cell(ops::linear(x, weight_ih_, bias_ih_), h, weight_hh_, bias_hh_);
}

// ---- RecurrentAttention ------------------------------------------------------------------

RecurrentAttention::RecurrentAttention(Score score, std::int64_t hidden_size,
                                       std::int64_t attention_size, DType dtype)
    : score_(score) {
  ATTN_CHECK(hidden_size > 0 && attention_size > 0,
             "RecurrentAttention: expected positive hidden_size and attention_size, got ",
             hidden_size, " and ", attention_size);
  auto linear = [dtype](std::int64_t in, std::int64_t out) {
    return std::make_shared<nn::Linear>(in, out, /*bias=*/false, dtype);
  };
  if (score == Score::Additive) {
    query_ = register_module("query", linear(hidden_size, attention_size));
    key_ = register_module("key", linear(hidden_size, attention_size));
    v_ = register_module("v", linear(attention_size, 1));
  } else if (score == Score::General) {
    key_ = register_module("key", linear(hidden_size, hidden_size));
  }
}

Tensor RecurrentAttention::prepare_keys(const Tensor& memory) const {
  return key_ ? key_->forward(memory) : memory;
}

RecurrentAttention::Result RecurrentAttention::forward(const Tensor& query, const Tensor& memory,
                                                       const Tensor& keys,
                                                       const Tensor& padding) const {
  Tensor scores;  // [B, S]
  if (score_ == Score::Additive) {
    // energy [B, S, A] = tanh(W q + U h_i)
    Tensor energy = ops::tanh(keys + ops::unsqueeze(query_->forward(query), 1));
    scores = ops::squeeze(v_->forward(energy), 2);
  } else {
    // [B, S, H] x [B, H, 1] -> [B, S, 1]: q · k_i for every source step
    scores = ops::squeeze(ops::matmul(keys, ops::unsqueeze(query, 2)), 2);
  }
  scores = ops::masked_fill(scores, padding, -std::numeric_limits<double>::infinity());
  Tensor weights = ops::softmax(scores, -1);
  // [B, 1, S] x [B, S, H] -> [B, 1, H]
  Tensor context = ops::squeeze(ops::matmul(ops::unsqueeze(weights, 1), memory), 1);
  return {context, weights};
}

// ---- RnnSeq2Seq --------------------------------------------------------------------------

namespace {

RecurrentAttention::Score attention_score(const RnnSeq2SeqOptions& options) {
  if (options.attention == RnnAttention::Bahdanau) return RecurrentAttention::Score::Additive;
  switch (options.luong_score) {
    case LuongScore::Dot: return RecurrentAttention::Score::Dot;
    case LuongScore::General: return RecurrentAttention::Score::General;
    case LuongScore::Concat: return RecurrentAttention::Score::Additive;
  }
  ATTN_ASSERT(false, "unhandled LuongScore");
}

}  // namespace

RnnSeq2Seq::RnnSeq2Seq(const RnnSeq2SeqOptions& options, DType dtype)
    : options_(options), dtype_(dtype) {
  options_.validate();
  ATTN_CHECK(is_floating(dtype), "RnnSeq2Seq: expected a floating dtype, got ", dtype_name(dtype));
  const std::int64_t embedding = options_.embedding_size;
  const std::int64_t hidden = options_.hidden_size;
  const std::int64_t attention = options_.attention_size > 0 ? options_.attention_size : hidden;
  const bool bahdanau = options_.attention == RnnAttention::Bahdanau;
  source_embedding_ = register_module(
      "source_embedding",
      std::make_shared<nn::Embedding>(options_.source_vocab_size, embedding, kPaddingId, dtype));
  target_embedding_ = register_module(
      "target_embedding",
      std::make_shared<nn::Embedding>(options_.target_vocab_size, embedding, kPaddingId, dtype));
  encoder_ = register_module("encoder", std::make_shared<nn::GRU>(nn::RNNOptions{
                                            .input_size = embedding,
                                            .hidden_size = hidden / 2,
                                            .batch_first = true,
                                            .bidirectional = true,
                                            .dtype = dtype}));
  bridge_ = register_module("bridge", std::make_shared<nn::Linear>(hidden, hidden, true, dtype));
  // Bahdanau feeds [e_t; c_t] into the cell, Luong [e_t; h~_{t-1}]: both E + H.
  decoder_cell_ =
      register_module("decoder_cell", std::make_shared<GRUCell>(embedding + hidden, hidden, dtype));
  attention_ = register_module(
      "attention",
      std::make_shared<RecurrentAttention>(attention_score(options_), hidden, attention, dtype));
  output_ = register_module(
      "output", bahdanau ? std::make_shared<nn::Linear>(2 * hidden + embedding, hidden, true, dtype)
                         : std::make_shared<nn::Linear>(2 * hidden, hidden, false, dtype));
  generator_ = register_module(
      "generator", std::make_shared<nn::Linear>(hidden, options_.target_vocab_size, true, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(options_.dropout));
}

RnnMemory RnnSeq2Seq::encode(const Tensor& source, const Tensor& source_lengths) const {
  check_tokens(source, 2, options_.source_vocab_size, "source");
  const std::int64_t batch = source.size(0), steps = source.size(1);
  std::vector<std::int64_t> lengths = checked_lengths(source_lengths, batch, steps);
  // embedded [B, S, E]
  Tensor embedded = dropout_->forward(source_embedding_->forward(source));
  nn::GRUOutput encoded = encoder_->forward(embedded, Tensor(), source_lengths);
  // h_n [2, B, H/2]: the forward direction after each row's last valid step, the backward
  // direction after step 0; together [B, H].
  Tensor final_states =
      ops::cat({ops::select(encoded.h_n, 0, 0), ops::select(encoded.h_n, 0, 1)}, 1);
  RnnMemory memory;
  memory.states = encoded.output;
  memory.keys = attention_->prepare_keys(memory.states);
  memory.padding = padding_mask(lengths, steps);
  memory.initial_hidden = ops::tanh(bridge_->forward(final_states));
  return memory;
}

RnnDecoderState RnnSeq2Seq::start_state(const RnnMemory& memory) const {
  RnnDecoderState state;
  state.hidden = memory.initial_hidden;
  if (options_.attention == RnnAttention::Luong) {
    state.attentional = Tensor::zeros(memory.initial_hidden.shape(), dtype_);
  }
  return state;
}

Tensor RnnSeq2Seq::embed_target(const Tensor& tokens) const {
  return dropout_->forward(target_embedding_->forward(tokens));
}

RnnDecoderStep RnnSeq2Seq::decode_step(const RnnMemory& memory, const RnnDecoderState& state,
                                       const Tensor& previous_tokens) const {
  check_tokens(previous_tokens, 1, options_.target_vocab_size, "previous_tokens");
  ATTN_CHECK(previous_tokens.size(0) == state.hidden.size(0), "RnnSeq2Seq: expected ",
             state.hidden.size(0), " previous_tokens (one per row), got ", previous_tokens.size(0));
  return step(memory, state, embed_target(previous_tokens));
}

Tensor RnnSeq2Seq::generate(const Tensor& output) const {
  return generator_->forward(dropout_->forward(output));
}

RnnDecoderStep RnnSeq2Seq::step(const RnnMemory& memory, const RnnDecoderState& state,
                                const Tensor& embedded) const {
  return options_.attention == RnnAttention::Bahdanau ? bahdanau_step(memory, state, embedded)
                                                      : luong_step(memory, state, embedded);
}

// Bahdanau et al. (2015), with e_t = E y_{t-1}:
//   α_t = softmax_i(v · tanh(W s_{t-1} + U h_i)),  c_t = Σ_i α_ti h_i
//   s_t = GRU([e_t; c_t], s_{t-1}),                o_t = tanh(W_o [s_t; c_t; e_t] + b_o)
RnnDecoderStep RnnSeq2Seq::bahdanau_step(const RnnMemory& memory, const RnnDecoderState& state,
                                         const Tensor& embedded) const {
  RecurrentAttention::Result attended =
      attention_->forward(state.hidden, memory.states, memory.keys, memory.padding);
  Tensor hidden = decoder_cell_->forward(ops::cat({embedded, attended.context}, 1), state.hidden);
  Tensor output = ops::tanh(output_->forward(ops::cat({hidden, attended.context, embedded}, 1)));
  return {{hidden, Tensor()}, output, attended.weights};
}

// Luong et al. (2015), with input feeding:
//   h_t = GRU([e_t; h~_{t-1}], h_{t-1}),  α_t = softmax_i(score(h_t, h_i)),  c_t = Σ_i α_ti h_i
//   h~_t = tanh(W_c [c_t; h_t])
RnnDecoderStep RnnSeq2Seq::luong_step(const RnnMemory& memory, const RnnDecoderState& state,
                                      const Tensor& embedded) const {
  Tensor hidden =
      decoder_cell_->forward(ops::cat({embedded, state.attentional}, 1), state.hidden);
  RecurrentAttention::Result attended =
      attention_->forward(hidden, memory.states, memory.keys, memory.padding);
  Tensor attentional = ops::tanh(output_->forward(ops::cat({attended.context, hidden}, 1)));
  return {{hidden, attentional}, attentional, attended.weights};
}

RnnSeq2SeqOutput RnnSeq2Seq::forward(const Tensor& source, const Tensor& source_lengths,
                                     const Tensor& target_in, bool need_weights) const {
  check_tokens(target_in, 2, options_.target_vocab_size, "target_in");
  RnnMemory memory = encode(source, source_lengths);
  ATTN_CHECK(target_in.size(0) == source.size(0), "RnnSeq2Seq: expected target_in with ",
             source.size(0), " rows (as the source), got ", target_in.describe());
  // embedded [B, T, E]: every step's input embedding in one lookup
  Tensor embedded = embed_target(target_in);
  RnnDecoderState state = start_state(memory);
  const std::int64_t steps = target_in.size(1);
  std::vector<Tensor> outputs, weights;
  for (std::int64_t t = 0; t < steps; ++t) {
    RnnDecoderStep result = step(memory, state, ops::select(embedded, 1, t));
    state = result.state;
    outputs.push_back(result.output);
    if (need_weights) weights.push_back(result.weights.detach());
  }
  // The generator runs once over [B, T, H] rather than once per step.
  RnnSeq2SeqOutput result;
  result.logits = generate(ops::stack(outputs, 1));
  if (need_weights) result.attention_weights = ops::stack(weights, 1).detach();
  return result;
}

std::unique_ptr<RnnSeq2SeqDecoder> RnnSeq2Seq::start_decoding(const Tensor& source,
                                                              const Tensor& source_lengths) const {
  ATTN_CHECK(!is_training(),
             "RnnSeq2Seq: decoding needs evaluation mode (call eval() first), so that dropout "
             "is off");
  NoGradGuard no_grad;
  RnnMemory memory = encode(source, source_lengths);
  RnnDecoderState state = start_state(memory);
  return std::make_unique<RnnSeq2SeqDecoder>(*this, std::move(memory), std::move(state));
}

// ---- RnnSeq2SeqDecoder -------------------------------------------------------------------

RnnSeq2SeqDecoder::RnnSeq2SeqDecoder(const RnnSeq2Seq& model, RnnMemory memory,
                                     RnnDecoderState state)
    : model_(&model), memory_(std::move(memory)), state_(std::move(state)) {}

std::int64_t RnnSeq2SeqDecoder::num_rows() const { return state_.hidden.size(0); }

std::int64_t RnnSeq2SeqDecoder::max_length() const {
  return model_->options().max_target_length;
}

Tensor RnnSeq2SeqDecoder::next_log_probs(const std::vector<std::int64_t>& last_tokens) {
  ATTN_CHECK(static_cast<std::int64_t>(last_tokens.size()) == num_rows(),
             "RnnSeq2SeqDecoder: expected one last token per row (", num_rows(), "), got ",
             last_tokens.size());
  const std::int64_t vocab_size = model_->options().target_vocab_size;
  if (num_rows() == 0) return Tensor::empty({0, vocab_size});
  NoGradGuard no_grad;
  Tensor tokens = Tensor::from_vector<std::int64_t>({num_rows()}, last_tokens);
  RnnDecoderStep result = model_->decode_step(memory_, state_, tokens);
  state_ = result.state;
  last_weights_ = result.weights;
  return ops::log_softmax(model_->generate(result.output), -1).to(DType::Float32);
}

void RnnSeq2SeqDecoder::select(const std::vector<std::int64_t>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ATTN_CHECK(rows[i] >= 0 && rows[i] < num_rows(), "RnnSeq2SeqDecoder: select: row ", rows[i],
               " (entry ", i, ") is out of range for ", num_rows(), " rows");
  }
  // Dot scores use the states themselves as keys: gather them once.
  bool keys_are_states = memory_.keys.same_impl(memory_.states);
  memory_.states = gather_rows(memory_.states, rows);
  memory_.keys = keys_are_states ? memory_.states : gather_rows(memory_.keys, rows);
  memory_.padding = gather_rows(memory_.padding, rows);
  memory_.initial_hidden = gather_rows(memory_.initial_hidden, rows);
  state_.hidden = gather_rows(state_.hidden, rows);
  state_.attentional = gather_rows(state_.attentional, rows);
  last_weights_ = gather_rows(last_weights_, rows);
}

}  // namespace attn::models
