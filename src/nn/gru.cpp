#include "attn/nn/gru.h"

#include "attn/ops/elementwise.h"
#include "attn/ops/linalg.h"
#include "attn/ops/views.h"

namespace attn::nn {

Tensor gru_cell(const Tensor& input_gates, const Tensor& h, const Tensor& weight_hh,
                const Tensor& bias_hh) {
  // hidden_gates [B, 3H]
  Tensor hidden_gates = ops::linear(h, weight_hh, bias_hh);
  std::vector<Tensor> input_parts = ops::chunk(input_gates, 3, 1);
  std::vector<Tensor> hidden_parts = ops::chunk(hidden_gates, 3, 1);
  Tensor reset = ops::sigmoid(input_parts[0] + hidden_parts[0]);
  Tensor update = ops::sigmoid(input_parts[1] + hidden_parts[1]);
  Tensor candidate = ops::tanh(input_parts[2] + reset * hidden_parts[2]);
  // (1 - z) * n + z * h, with one multiplication fewer
  return candidate + update * (h - candidate);
}

GRU::GRU(const RNNOptions& options) : RecurrentBase("GRU", 3, false, options) {}

GRUOutput GRU::forward(const Tensor& input, const Tensor& h0, const Tensor& lengths) const {
  Sequence sequence = run(input, h0, Tensor(), lengths);
  return {sequence.output, stack_states(sequence.final_states, &RecurrentState::h)};
}

RecurrentState GRU::cell(const Tensor& input_gates, const RecurrentState& state,
                         const RecurrentWeights& weights) const {
  return {gru_cell(input_gates, state.h, weights.weight_hh, weights.bias_hh), Tensor()};
}

}  // namespace attn::nn
