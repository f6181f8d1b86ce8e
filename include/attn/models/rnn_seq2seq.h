// RNN sequence-to-sequence with attention: a bidirectional GRU encoder and a GRU decoder
// that attends to every encoder state at each step, with either
//   - Bahdanau's additive attention (Bahdanau, Cho and Bengio 2015): the previous decoder
//     state s_{t-1} scores the encoder states, and the context c_t enters the GRU with the
//     embedding of the previous token; or
//   - Luong's attention (Luong, Pham and Manning 2015) with the score dot, general or concat:
//     the new decoder state h_t scores the encoder states, the attentional vector
//     h~_t = tanh(W_c [c_t; h_t]) gives the output and is fed to the next step's input
//     ("input feeding").
// docs/MODELS_RNN.md writes out the equations as implemented.
//
// Shapes: B = batch, S = source steps, T = target steps, E = embedding_size,
// H = hidden_size (the decoder state and the encoder output; each encoder direction has H/2,
// as in OpenNMT's bidirectional encoder, so that every Luong score compares vectors of one
// size), A = attention_size, V = target_vocab_size. Batch-first throughout.
//
// Token ids follow the project's vocabulary convention: 0 = <pad>, 1 = <unk>, 2 = <s>,
// 3 = </s>. Both embeddings keep row 0 (padding) at zero.
//
// Parameters (state_dict names, PyTorch layouts: Linear weight [out, in], GRU gates r, z, n):
//   source_embedding.weight [V_source, E]      target_embedding.weight [V, E]
//   encoder.{weight_ih,weight_hh,bias_ih,bias_hh}_l0[_reverse]   torch.nn.GRU(E, H/2,
//                                              bidirectional=True, batch_first=True)
//   bridge.weight [H, H], bridge.bias [H]      s_0 = tanh(W [→h_last; ←h_first] + b)
//   decoder_cell.{weight_ih [3H, E+H], weight_hh [3H, H], bias_ih [3H], bias_hh [3H]}
//                                              torch.nn.GRUCell(E + H, H)
//   attention.query.weight [A, H], attention.key.weight [A, H], attention.v.weight [1, A]
//                                              (bahdanau, luong concat; no biases)
//   attention.key.weight [H, H]                (luong general); none for luong dot
//   output.weight [H, 2H + E], output.bias [H] (bahdanau: o_t = tanh(W_o [s_t; c_t; e_t] + b_o))
//   output.weight [H, 2H]                      (luong: h~_t = tanh(W_c [c_t; h_t]), no bias)
//   generator.weight [V, H], generator.bias [V]
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "attn/core/tensor.h"
#include "attn/decode/step_model.h"
#include "attn/nn/dropout.h"
#include "attn/nn/embedding.h"
#include "attn/nn/gru.h"
#include "attn/nn/linear.h"
#include "attn/nn/module.h"

namespace attn::models {

enum class RnnAttention { Bahdanau, Luong };
enum class LuongScore { Dot, General, Concat };

std::string_view rnn_attention_name(RnnAttention attention);  // "bahdanau", "luong"
RnnAttention parse_rnn_attention(std::string_view name);      // throws naming the choices
std::string_view luong_score_name(LuongScore score);          // "dot", "general", "concat"
LuongScore parse_luong_score(std::string_view name);

struct RnnSeq2SeqOptions {
  std::int64_t source_vocab_size = 0;
  std::int64_t target_vocab_size = 0;
  std::int64_t embedding_size = 256;
  std::int64_t hidden_size = 512;  // even: the encoder's two directions have H/2 each
  RnnAttention attention = RnnAttention::Bahdanau;
  LuongScore luong_score = LuongScore::General;  // used by luong attention only
  std::int64_t attention_size = 0;  // A, of the additive scores (bahdanau, concat); 0: H
  // On both embeddings and on the generator's input, in training only.
  double dropout = 0.2;
  // The decoder's limit on generated tokens (decode::StepModel::max_length); 0: none.
  std::int64_t max_target_length = 256;

  // Throws attn::Error naming the first bad field.
  void validate() const;
  // All fields, enums as their names. from_json starts from the defaults, takes the keys
  // given and rejects unknown keys and wrongly typed values.
  nlohmann::json to_json() const;
  static RnnSeq2SeqOptions from_json(const nlohmann::json& json);
};

// A GRU cell, as torch.nn.GRUCell (parameters weight_ih [3H, I], weight_hh [3H, H],
// bias_ih [3H], bias_hh [3H]; gates r, z, n; nn::gru_cell gives the formula).
class GRUCell : public nn::Module {
 public:
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, DType dtype = DType::Float32);

  // x [B, I], h [B, H] -> h' [B, H]
  Tensor forward(const Tensor& x, const Tensor& h) const;

  std::int64_t input_size() const { return input_size_; }
  std::int64_t hidden_size() const { return hidden_size_; }

 private:
  std::int64_t input_size_;
  std::int64_t hidden_size_;
  Tensor weight_ih_;
  Tensor weight_hh_;
  Tensor bias_ih_;
  Tensor bias_hh_;
};

// The decoder's attention over the encoder states ("memory"). The key-side term of each
// score (U h_i for the additive scores, W_a h_i for general) is computed once per sentence
// by prepare_keys, as Bahdanau et al. note, so a step costs O(S·A) and not O(S·H·A).
class RecurrentAttention : public nn::Module {
 public:
  // score: Additive (bahdanau and luong concat: v·tanh(W q + U h)), General (q·W h) or
  // Dot (q·h); query and memory vectors have size `hidden_size`.
  enum class Score { Additive, General, Dot };
  RecurrentAttention(Score score, std::int64_t hidden_size, std::int64_t attention_size,
                     DType dtype = DType::Float32);

  // memory [B, S, H] -> keys [B, S, A] (Additive), [B, S, H] (General), memory itself (Dot).
  Tensor prepare_keys(const Tensor& memory) const;

  struct Result {
    Tensor context;  // [B, H]: Σ_i α_i h_i
    Tensor weights;  // [B, S]: α, zero at padded steps
  };
  // query [B, H]; padding bool [B, S], true at padded steps (every row needs one valid step).
  Result forward(const Tensor& query, const Tensor& memory, const Tensor& keys,
                 const Tensor& padding) const;

  Score score() const { return score_; }

 private:
  Score score_;
  std::shared_ptr<nn::Linear> query_;  // Additive: W [A, H]
  std::shared_ptr<nn::Linear> key_;    // Additive: U [A, H]; General: W_a [H, H]
  std::shared_ptr<nn::Linear> v_;      // Additive: v [1, A]
};

// What the decoder attends to, from RnnSeq2Seq::encode. Rows are sentences.
struct RnnMemory {
  Tensor states;          // [B, S, H]: encoder outputs h_1..h_S, zero at padded steps
  Tensor keys;            // RecurrentAttention::prepare_keys(states)
  Tensor padding;         // bool [B, S]: true at padded source steps
  Tensor initial_hidden;  // [B, H]: the bridge's s_0
};

// The decoder's recurrent state between steps.
struct RnnDecoderState {
  Tensor hidden;       // [B, H]: s_{t-1} (bahdanau) or h_{t-1} (luong)
  Tensor attentional;  // [B, H]: luong's h~_{t-1} (zeros before the first step); undefined
                       // for bahdanau
};

struct RnnDecoderStep {
  RnnDecoderState state;  // after the step
  Tensor output;          // [B, H]: what the generator reads (o_t or h~_t), before dropout
  Tensor weights;         // [B, S]: this step's attention weights
};

struct RnnSeq2SeqOutput {
  Tensor logits;             // [B, T, V]
  Tensor attention_weights;  // [B, T, S], detached; only when need_weights
};

class RnnSeq2SeqDecoder;

class RnnSeq2Seq : public nn::Module {
 public:
  explicit RnnSeq2Seq(const RnnSeq2SeqOptions& options, DType dtype = DType::Float32);

  // Teacher forcing. source int64 [B, S] with ids < source_vocab_size; source_lengths int64
  // [B] with values in [1, S] (undefined: every row spans S); target_in int64 [B, T] with
  // ids < target_vocab_size (<s> y_1 .. y_{T-1}). Returns logits [B, T, V], whose row t
  // predicts y_t; with need_weights, also the attention weights [B, T, S].
  RnnSeq2SeqOutput forward(const Tensor& source, const Tensor& source_lengths,
                           const Tensor& target_in, bool need_weights = false) const;

  // The parts of forward, for decoding and inspection.
  RnnMemory encode(const Tensor& source, const Tensor& source_lengths) const;
  RnnDecoderState start_state(const RnnMemory& memory) const;
  // previous_tokens int64 [B]: y_{t-1} for each row.
  RnnDecoderStep decode_step(const RnnMemory& memory, const RnnDecoderState& state,
                             const Tensor& previous_tokens) const;
  // output [..., H] -> logits [..., V], with dropout on the input in training.
  Tensor generate(const Tensor& output) const;

  // Encodes the source (without gradient) and returns a decoder for the searches in
  // attn/decode, with one row per sentence. The model must be in evaluation mode (eval())
  // and must outlive the decoder.
  std::unique_ptr<RnnSeq2SeqDecoder> start_decoding(const Tensor& source,
                                                    const Tensor& source_lengths = Tensor()) const;

  const RnnSeq2SeqOptions& options() const { return options_; }
  DType dtype() const { return dtype_; }

 private:
  Tensor embed_target(const Tensor& tokens) const;
  RnnDecoderStep step(const RnnMemory& memory, const RnnDecoderState& state,
                      const Tensor& embedded) const;
  RnnDecoderStep bahdanau_step(const RnnMemory& memory, const RnnDecoderState& state,
                               const Tensor& embedded) const;
  RnnDecoderStep luong_step(const RnnMemory& memory, const RnnDecoderState& state,
                            const Tensor& embedded) const;

  RnnSeq2SeqOptions options_;
  DType dtype_;
  std::shared_ptr<nn::Embedding> source_embedding_;
  std::shared_ptr<nn::Embedding> target_embedding_;
  std::shared_ptr<nn::GRU> encoder_;
  std::shared_ptr<nn::Linear> bridge_;
  std::shared_ptr<GRUCell> decoder_cell_;
  std::shared_ptr<RecurrentAttention> attention_;
  std::shared_ptr<nn::Linear> output_;
  std::shared_ptr<nn::Linear> generator_;
  std::shared_ptr<nn::Dropout> dropout_;
};

// The RNN decoder as a decode::StepModel. Each row holds its decoder state and its copy of
// the encoder memory; select() gathers both. No gradient is recorded.
class RnnSeq2SeqDecoder final : public decode::StepModel {
 public:
  RnnSeq2SeqDecoder(const RnnSeq2Seq& model, RnnMemory memory, RnnDecoderState state);

  std::int64_t num_rows() const override;
  // float32 [num_rows, V]; token ids must lie in [0, V).
  Tensor next_log_probs(const std::vector<std::int64_t>& last_tokens) override;
  void select(const std::vector<std::int64_t>& rows) override;
  std::int64_t max_length() const override;

  // The attention weights of the last step, [num_rows, S] (rows follow select()); undefined
  // before the first step.
  const Tensor& last_attention_weights() const { return last_weights_; }

 private:
  const RnnSeq2Seq* model_;
  RnnMemory memory_;
  RnnDecoderState state_;
  Tensor last_weights_;
};

}  // namespace attn::models
