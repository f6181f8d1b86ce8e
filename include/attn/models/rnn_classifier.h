// The seeds' BiGRU + attention classifier (a toy example trained on IMDB reviews): a
// bidirectional GRU reads the embedded tokens and an attention layer pools its outputs into
// one vector, which a linear layer classifies:
//
//   x_t = E w_t                              embedding
//   h_t = [→h_t; ←h_t] = BiGRU(x)_t          [B, T, 2H]
//   u_t = tanh(W h_t + b)                    [B, T, A]
//   α   = softmax_t(u_t · u_w)               over each row's valid steps (padding masked)
//   s   = Σ_t α_t h_t                        [B, 2H]
//   logits = W_out dropout(s) + b_out        [B, num_classes]
//
// Shapes: B = batch, T = steps, E = embedding_size, H = hidden_size (per direction),
// A = attention_size. Batch-first. Token ids: 0 = <pad>, 1 = <unk>, 2 = <s>, 3 = </s>,
// words from 4 on (Keras' imdb.load_data(index_from=3) numbering gives the same layout:
// 0 padding, 1 start, 2 out-of-vocabulary, word of frequency rank r at r + 3).
//
// Parameters (state_dict names, PyTorch layouts):
//   embedding.weight [V, E]                  row 0 (padding) stays zero
//   encoder.{weight_ih,weight_hh,bias_ih,bias_hh}_l0[_reverse]
//                                            torch.nn.GRU(E, H, bidirectional=True,
//                                            batch_first=True)
//   attention.projection.weight [A, 2H], attention.projection.bias [A]   (W, b)
//   attention.context [A]                    (u_w)
//   output.weight [num_classes, 2H], output.bias [num_classes]
// Initial values as in the seed: embedding uniform in [-1, 1); W, b and u_w normal with
// standard deviation 0.1; the GRU and the output layer as in PyTorch.
#pragma once

#include <cstdint>
#include <memory>

#include <nlohmann/json_fwd.hpp>

#include "attn/core/tensor.h"
#include "attn/nn/dropout.h"
#include "attn/nn/embedding.h"
#include "attn/nn/gru.h"
#include "attn/nn/linear.h"
#include "attn/nn/module.h"

namespace attn::models {

struct RnnClassifierOptions {
  std::int64_t vocab_size = 10000;
  // The longest input accepted (the seed's SEQUENCE_LENGTH: reviews are cut to it before
  // batching); 0: no limit.
  std::int64_t max_length = 250;
  std::int64_t embedding_size = 100;
  std::int64_t hidden_size = 150;  // per direction; the pooled vector has 2 * hidden_size
  std::int64_t attention_size = 50;
  double dropout = 0.2;  // on the pooled vector, in training only (the seed's keep-prob 0.8)
  std::int64_t num_classes = 2;

  // The seed's IMDB model: vocabulary 10000, sequence length 250, embedding 100, hidden 150,
  // attention 50, keep probability 0.8, two classes. (These are also the defaults.)
  static RnnClassifierOptions imdb();

  void validate() const;  // throws attn::Error naming the first bad field
  // All fields. from_json starts from the defaults and rejects unknown keys.
  nlohmann::json to_json() const;
  static RnnClassifierOptions from_json(const nlohmann::json& json);
};

// The seed's IMDB training values. The model does not read them; they are recorded here for
// the trainer and the configs.
struct RnnClassifierTraining {
  std::int64_t batch_size = 256;
  std::int64_t epochs = 3;  // "the model easily overfits without pre-trained embeddings"
  std::int64_t index_from = 3;  // word ids start at index_from + 1 = 4 (see above)

  static RnnClassifierTraining imdb() { return {}; }
};

// Attention pooling over time (the seed's attention layer):
// u_t = tanh(W h_t + b), α = softmax_t(u_t · u_w) with padded steps masked, s = Σ_t α_t h_t.
class AttentionPooling : public nn::Module {
 public:
  AttentionPooling(std::int64_t input_size, std::int64_t attention_size,
                   DType dtype = DType::Float32);

  struct Result {
    Tensor pooled;   // [B, input_size]
    Tensor weights;  // [B, T]: α, zero at padded steps
  };
  // h [B, T, input_size]; padding bool [B, T], true at padded steps, or undefined (none).
  // Every row needs at least one valid step.
  Result forward(const Tensor& h, const Tensor& padding = Tensor()) const;

 private:
  std::int64_t input_size_;
  std::shared_ptr<nn::Linear> projection_;
  Tensor context_;
};

struct RnnClassifierOutput {
  Tensor logits;             // [B, num_classes]
  Tensor attention_weights;  // [B, T], detached: how much each step contributed
};

class RnnAttentionClassifier : public nn::Module {
 public:
  explicit RnnAttentionClassifier(const RnnClassifierOptions& options,
                                  DType dtype = DType::Float32);

  // tokens int64 [B, T] with ids < vocab_size and T <= max_length; lengths int64 [B] with
  // values in [1, T] (undefined: every row spans T).
  RnnClassifierOutput forward(const Tensor& tokens, const Tensor& lengths = Tensor()) const;

  const RnnClassifierOptions& options() const { return options_; }

 private:
  RnnClassifierOptions options_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::GRU> encoder_;
  std::shared_ptr<AttentionPooling> attention_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> output_;
};

}  // namespace attn::models
