#include "attn/nn/rnn.h"

#include <cmath>

#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "attn/ops/linalg.h"
#include "attn/ops/views.h"

namespace attn::nn {

RecurrentBase::RecurrentBase(std::string module_name, std::int64_t num_gates, bool has_cell_state,
                             const RNNOptions& options)
    : module_name_(std::move(module_name)), has_cell_state_(has_cell_state), options_(options) {
  ATTN_CHECK(options.input_size > 0 && options.hidden_size > 0 && options.num_layers > 0,
             module_name_, ": expected positive input_size, hidden_size and num_layers, got ",
             options.input_size, ", ", options.hidden_size, " and ", options.num_layers);
  ATTN_CHECK(options.dropout >= 0.0 && options.dropout < 1.0, module_name_,
             ": expected 0 <= dropout < 1, got ", options.dropout);
  ATTN_CHECK(is_floating(options.dtype), module_name_, ": expected a floating dtype, got ",
             dtype_name(options.dtype));
  for (std::int64_t layer = 0; layer < options.num_layers; ++layer) {
    for (std::int64_t direction = 0; direction < num_directions(); ++direction) {
      register_weights(layer, direction, num_gates);
    }
  }
}

void RecurrentBase::register_weights(std::int64_t layer, std::int64_t direction,
                                     std::int64_t num_gates) {
  std::int64_t hidden = options_.hidden_size;
  std::int64_t layer_input = layer == 0 ? options_.input_size : hidden * num_directions();
  std::string suffix = "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
  DType dtype = options_.dtype;
  RecurrentWeights weights;
  weights.weight_ih = register_parameter("weight_ih" + suffix,
                                         Tensor::empty({num_gates * hidden, layer_input}, dtype));
  weights.weight_hh =
      register_parameter("weight_hh" + suffix, Tensor::empty({num_gates * hidden, hidden}, dtype));
  if (options_.bias) {
    weights.bias_ih =
        register_parameter("bias_ih" + suffix, Tensor::empty({num_gates * hidden}, dtype));
    weights.bias_hh =
        register_parameter("bias_hh" + suffix, Tensor::empty({num_gates * hidden}, dtype));
  }
  double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (const Tensor& tensor :
       {weights.weight_ih, weights.weight_hh, weights.bias_ih, weights.bias_hh}) {
    if (tensor.defined()) init::uniform_(tensor, -bound, bound);
  }
  weights_.push_back(weights);
}

const RecurrentWeights& RecurrentBase::weights(std::int64_t layer, std::int64_t direction) const {
  ATTN_CHECK(
      layer >= 0 && layer < options_.num_layers && direction >= 0 && direction < num_directions(),
      describe(), ": no weights for layer ", layer, " direction ", direction);
  return weights_[layer * num_directions() + direction];
}

std::string RecurrentBase::describe() const {
  return detail::concat(module_name_, "(input_size ", options_.input_size, ", hidden_size ",
                        options_.hidden_size, ")");
}

// ---- validation ------------------------------------------------------------------------

void RecurrentBase::check_input(const Tensor& input) const {
  const char* layout = options_.batch_first ? "[B, T, " : "[T, B, ";
  ATTN_CHECK(input.defined() && input.dim() == 3 && input.size(2) == options_.input_size,
             describe(), ": expected input ", layout, options_.input_size, "], got ",
             input.defined() ? input.describe() : "an undefined tensor");
  ATTN_CHECK(input.size(0) > 0 && input.size(1) > 0, describe(),
             ": expected at least one step and one sequence, got ", input.describe());
  ATTN_CHECK(input.dtype() == options_.dtype, describe(), ": expected ", dtype_name(options_.dtype),
             " input, got ", input.describe());
}

void RecurrentBase::check_initial(const Tensor& state, const char* name, std::int64_t batch) const {
  if (!state.defined()) return;
  Shape expected{options_.num_layers * num_directions(), batch, options_.hidden_size};
  ATTN_CHECK(state.shape() == expected && state.dtype() == options_.dtype, describe(),
             ": expected ", name, " ", dtype_name(options_.dtype), to_string(expected),
             " (num_layers * num_directions, batch, hidden_size), got ", state.describe());
}

// One bool mask [B, 1] per step: true where the step lies inside the sequence. Empty when
// there are no lengths (every step valid), so the loop can skip masking altogether.
std::vector<Tensor> RecurrentBase::valid_step_masks(const Tensor& lengths, std::int64_t steps,
                                                    std::int64_t batch) const {
  if (!lengths.defined()) return {};
  ATTN_CHECK(lengths.dtype() == DType::Int64 && lengths.dim() == 1 && lengths.size(0) == batch,
             describe(), ": expected lengths int64[", batch, "], got ", lengths.describe());
  std::vector<std::int64_t> values = lengths.to_vector<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b) {
    ATTN_CHECK(values[b] >= 0 && values[b] <= steps, describe(), ": lengths[", b, "] = ", values[b],
               " is out of range for an input of ", steps, " steps");
  }
  std::vector<Tensor> masks;
  for (std::int64_t t = 0; t < steps; ++t) {
    Tensor mask = Tensor::empty({batch, 1}, DType::Bool);
    bool* valid = mask.data<bool>();
    for (std::int64_t b = 0; b < batch; ++b) valid[b] = t < values[b];
    masks.push_back(mask);
  }
  return masks;
}

std::vector<RecurrentState> RecurrentBase::initial_states(const Tensor& h0, const Tensor& c0,
                                                          std::int64_t batch) const {
  check_initial(h0, "h0", batch);
  check_initial(c0, "c0", batch);
  ATTN_CHECK(has_cell_state_ || !c0.defined(), describe(), ": has no cell state, got c0");
  Shape state_shape{batch, options_.hidden_size};
  std::vector<RecurrentState> states;
  for (std::int64_t k = 0; k < options_.num_layers * num_directions(); ++k) {
    RecurrentState state;
    state.h = h0.defined() ? ops::select(h0, 0, k) : Tensor::zeros(state_shape, options_.dtype);
    if (has_cell_state_) {
      state.c = c0.defined() ? ops::select(c0, 0, k) : Tensor::zeros(state_shape, options_.dtype);
    }
    states.push_back(state);
  }
  return states;
}

// ---- the loops ---------------------------------------------------------------------------

RecurrentBase::DirectionResult RecurrentBase::run_direction(
    const Tensor& input, const RecurrentWeights& weights, RecurrentState state, bool reverse,
    const std::vector<Tensor>& valid_steps) const {
  std::int64_t steps = input.size(0);
  // input_gates [T, B, G*H]: the input projection of every step in one matrix product.
  Tensor input_gates = ops::linear(input, weights.weight_ih, weights.bias_ih);
  Tensor zero = Tensor::scalar(0.0, options_.dtype);
  std::vector<Tensor> outputs(steps);
  for (std::int64_t step = 0; step < steps; ++step) {
    std::int64_t t = reverse ? steps - 1 - step : step;
    RecurrentState next = cell(ops::select(input_gates, 0, t), state, weights);
    if (valid_steps.empty()) {
      outputs[t] = next.h;
      state = next;
      continue;
    }
    // Past a sequence's end its state stays frozen and its output is zero; the reverse
    // direction therefore starts from the initial state at the sequence's last valid step.
    const Tensor& valid = valid_steps[t];
    outputs[t] = ops::where(valid, next.h, zero);
    state.h = ops::where(valid, next.h, state.h);
    if (state.c.defined()) state.c = ops::where(valid, next.c, state.c);
  }
  return {ops::stack(outputs, 0), state};
}

RecurrentBase::Sequence RecurrentBase::run(const Tensor& input, const Tensor& h0, const Tensor& c0,
                                           const Tensor& lengths) const {
  check_input(input);
  // layer_input [T, B, I], time-major whatever the caller's layout.
  Tensor layer_input = options_.batch_first ? ops::transpose(input, 0, 1) : input;
  std::int64_t steps = layer_input.size(0);
  std::int64_t batch = layer_input.size(1);
  std::vector<RecurrentState> states = initial_states(h0, c0, batch);
  std::vector<Tensor> valid_steps = valid_step_masks(lengths, steps, batch);
  Sequence sequence;
  for (std::int64_t layer = 0; layer < options_.num_layers; ++layer) {
    if (layer > 0 && options_.dropout > 0.0) {
      layer_input = ops::dropout(layer_input, options_.dropout, is_training());
    }
    std::vector<Tensor> direction_outputs;
    for (std::int64_t direction = 0; direction < num_directions(); ++direction) {
      std::int64_t k = layer * num_directions() + direction;
      DirectionResult result =
          run_direction(layer_input, weights_[k], states[k], direction == 1, valid_steps);
      direction_outputs.push_back(result.output);
      sequence.final_states.push_back(result.final_state);
    }
    // [T, B, D*H]
    layer_input =
        direction_outputs.size() == 1 ? direction_outputs[0] : ops::cat(direction_outputs, 2);
  }
  sequence.output = options_.batch_first ? ops::transpose(layer_input, 0, 1) : layer_input;
  return sequence;
}

Tensor RecurrentBase::stack_states(const std::vector<RecurrentState>& states,
                                   Tensor RecurrentState::*which) {
  std::vector<Tensor> parts;
  for (const RecurrentState& state : states) parts.push_back(state.*which);
  return ops::stack(parts, 0);
}

}  // namespace attn::nn
