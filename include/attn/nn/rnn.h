// The machinery shared by the recurrent layers (GRU in gru.h, LSTM in lstm.h): options,
// parameters named exactly as PyTorch names them, and the loops over layers, directions and
// time steps with padded batches.
//
// Shapes: T = time steps, B = batch, I = input_size, H = hidden_size, D = 2 when
// bidirectional else 1, L = num_layers, G = gates per cell (GRU 3, LSTM 4).
//
// Padded batches: with int64 `lengths` [B], sequence b occupies steps [0, lengths[b]), as
// with torch.nn.utils.rnn.pack_padded_sequence. Outputs at padded steps are zero, the final
// state is the state after each sequence's last valid step, and the reverse direction starts
// at each sequence's own last valid step. The output keeps all T steps (PyTorch's
// pad_packed_sequence with total_length=T). A length of 0 is allowed and yields zero outputs
// and the initial state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::nn {

struct RNNOptions {
  std::int64_t input_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 1;
  bool bias = true;
  // Input and output [B, T, ·] instead of [T, B, ·]; states stay [L*D, B, H] either way.
  bool batch_first = false;
  double dropout = 0.0;  // on the outputs of every layer but the last, in training only
  bool bidirectional = false;
  DType dtype = DType::Float32;  // of the parameters, and so of the inputs (float64 for checks)
};

// The recurrent state of one layer in one direction.
struct RecurrentState {
  Tensor h;  // [B, H]
  Tensor c;  // [B, H], LSTM only
};

// The parameters of one layer in one direction. Biases are undefined without options.bias.
struct RecurrentWeights {
  Tensor weight_ih;  // [G*H, I] in layer 0, [G*H, D*H] above
  Tensor weight_hh;  // [G*H, H]
  Tensor bias_ih;    // [G*H]
  Tensor bias_hh;    // [G*H]
};

class RecurrentBase : public Module {
 public:
  const RNNOptions& options() const { return options_; }
  std::int64_t num_directions() const { return options_.bidirectional ? 2 : 1; }
  const RecurrentWeights& weights(std::int64_t layer, std::int64_t direction) const;

 protected:
  // All weights start uniform in ±1/sqrt(hidden_size), as in PyTorch. A cell with a cell
  // state (LSTM) carries RecurrentState::c as well as h.
  RecurrentBase(std::string module_name, std::int64_t num_gates, bool has_cell_state,
                const RNNOptions& options);

  // One time step: input_gates = x_t W_ihᵀ + b_ih [B, G*H] (precomputed for every step with
  // one matrix product per layer and direction); the cell adds h W_hhᵀ + b_hh and applies
  // the gates.
  virtual RecurrentState cell(const Tensor& input_gates, const RecurrentState& state,
                              const RecurrentWeights& weights) const = 0;

  struct Sequence {
    Tensor output;                             // [T, B, D*H], or [B, T, D*H] batch-first
    std::vector<RecurrentState> final_states;  // index layer * D + direction
  };
  // Runs every layer; h0 and c0 are [L*D, B, H] or undefined (zeros). c0 is only for cells
  // with a cell state.
  Sequence run(const Tensor& input, const Tensor& h0, const Tensor& c0,
               const Tensor& lengths) const;

  // final_states[k].h (or .c) stacked into [L*D, B, H].
  static Tensor stack_states(const std::vector<RecurrentState>& states,
                             Tensor RecurrentState::*which);

 private:
  std::string describe() const;  // "GRU(input_size 3, hidden_size 4)" for error messages
  void register_weights(std::int64_t layer, std::int64_t direction, std::int64_t num_gates);
  void check_input(const Tensor& input) const;
  void check_initial(const Tensor& state, const char* name, std::int64_t batch) const;
  std::vector<Tensor> valid_step_masks(const Tensor& lengths, std::int64_t steps,
                                       std::int64_t batch) const;
  std::vector<RecurrentState> initial_states(const Tensor& h0, const Tensor& c0,
                                             std::int64_t batch) const;
  struct DirectionResult {
    Tensor output;  // [T, B, H]
    RecurrentState final_state;
  };
  DirectionResult run_direction(const Tensor& input, const RecurrentWeights& weights,
                                RecurrentState state, bool reverse,
                                const std::vector<Tensor>& valid_steps) const;

  std::string module_name_;
  bool has_cell_state_;
  RNNOptions options_;
  std::vector<RecurrentWeights> weights_;  // index layer * D + direction
};

}  // namespace attn::nn
