// LSTM, as torch.nn.LSTM: same options, parameter names (weight_ih_l0, ..., _reverse) and gate
// order (i, f, g, o). No projection (proj_size). Padded batches: see rnn.h.
#pragma once

#include "attn/nn/rnn.h"

namespace attn::nn {

struct LSTMOutput {
  Tensor output;  // [T, B, D*H] ([B, T, D*H] batch-first); zero at padded steps
  Tensor h_n;     // [L*D, B, H]: the states after each sequence's last valid step
  Tensor c_n;     // [L*D, B, H]
};

// One LSTM step. gates = input_gates + h W_hhᵀ + b_hh [B, 4H], split into i, f, g, o:
//   c' = σ(f) * c + σ(i) * tanh(g)
//   h' = σ(o) * tanh(c')
// input_gates [B, 4H] holds x W_ihᵀ + b_ih; h and c are [B, H].
RecurrentState lstm_cell(const Tensor& input_gates, const RecurrentState& state,
                         const Tensor& weight_hh, const Tensor& bias_hh);

class LSTM : public RecurrentBase {
 public:
  explicit LSTM(const RNNOptions& options);

  // input [T, B, I] ([B, T, I] batch-first); h0 and c0 [L*D, B, H], each undefined for
  // zeros; lengths int64 [B] or undefined when every sequence spans all T steps.
  LSTMOutput forward(const Tensor& input, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor(),
                     const Tensor& lengths = Tensor()) const;

 private:
  RecurrentState cell(const Tensor& input_gates, const RecurrentState& state,
                      const RecurrentWeights& weights) const override;
};

}  // namespace attn::nn
