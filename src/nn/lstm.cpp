#include "attn/nn/lstm.h"

#include "attn/ops/elementwise.h"
#include "attn/ops/linalg.h"
#include "attn/ops/views.h"

namespace attn::nn {

RecurrentState lstm_cell(const Tensor& input_gates, const RecurrentState& state,
                         const Tensor& weight_hh, const Tensor& bias_hh) {
  // gates [B, 4H]
  Tensor gates = input_gates + ops::linear(state.h, weight_hh, bias_hh);
  std::vector<Tensor> parts = ops::chunk(gates, 4, 1);
  Tensor input_gate = ops::sigmoid(parts[0]);
  Tensor forget_gate = ops::sigmoid(parts[1]);
  Tensor candidate = ops::tanh(parts[2]);
  Tensor output_gate = ops::sigmoid(parts[3]);
  Tensor c = forget_gate * state.c + input_gate * candidate;
  return {output_gate * ops::tanh(c), c};
}

LSTM::LSTM(const RNNOptions& options) : RecurrentBase("LSTM", 4, true, options) {}

LSTMOutput LSTM::forward(const Tensor& input, const Tensor& h0, const Tensor& c0,
                         const Tensor& lengths) const {
  Sequence sequence = run(input, h0, c0, lengths);
  return {sequence.output, stack_states(sequence.final_states, &RecurrentState::h),
          stack_states(sequence.final_states, &RecurrentState::c)};
}

RecurrentState LSTM::cell(const Tensor& input_gates, const RecurrentState& state,
                          const RecurrentWeights& weights) const {
  return lstm_cell(input_gates, state, weights.weight_hh, weights.bias_hh);
}

}  // namespace attn::nn
