#include "attn/optim/optimizer.h"

#include <cmath>
#include <set>
#include <utility>

#include "attn/autograd/grad_mode.h"

namespace attn::optim {
namespace {

void check_learning_rate(double learning_rate, const std::string& name) {
  ATTN_CHECK(std::isfinite(learning_rate) && learning_rate >= 0.0, name,
             ": expected a finite, non-negative learning rate, got ", learning_rate);
}

void check_parameters(const std::vector<Tensor>& parameters, const std::string& name) {
  ATTN_CHECK(!parameters.empty(), name, ": expected at least one parameter, got none");
  std::set<const void*> seen_data;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const Tensor& parameter = parameters[i];
    ATTN_CHECK(parameter.defined(), name, ": parameter ", i, " is an undefined tensor");
    ATTN_CHECK(parameter.dtype() == DType::Float32 || parameter.dtype() == DType::Float64,
               name, ": expected float32 or float64 parameters, parameter ", i, " is ",
               parameter.describe());
    // Updates write through the raw data pointer, element by element.
    ATTN_CHECK(parameter.is_contiguous(), name, ": parameter ", i, " (", parameter.describe(),
               ") is not contiguous");
    // A tensor listed twice would be updated twice per step.
    bool fresh = parameter.numel() == 0 || seen_data.insert(parameter.raw_data()).second;
    ATTN_CHECK(fresh, name, ": parameter ", i, " appears more than once");
  }
}

Tensor count_tensor(std::int64_t count) { return Tensor::from_vector<std::int64_t>({}, {count}); }

// `where` names the operation in errors; `key` is the entry's full name.
std::int64_t read_count(const Tensor& tensor, const std::string& key, std::int64_t minimum,
                        const std::string& where) {
  ATTN_CHECK(tensor.defined() && tensor.dtype() == DType::Int64 && tensor.numel() == 1, where,
             ": expected \"", key, "\" to be a one-element int64 tensor, got ", tensor.describe());
  std::int64_t count = *tensor.data<std::int64_t>();
  ATTN_CHECK(count >= minimum, where, ": expected \"", key, "\" >= ", minimum, ", got ", count);
  return count;
}

// entries[field], where `key` is the entry's full name.
const Tensor& required_entry(const std::map<std::string, Tensor>& entries,
                             const std::string& field, const std::string& key,
                             const std::string& where) {
  auto found = entries.find(field);
  ATTN_CHECK(found != entries.end(), where, ": missing entry \"", key, "\"");
  return found->second;
}

// Splits "param.<index>.<field>" into its index and field; false for any other name.
bool parse_parameter_key(const std::string& key, std::size_t& index, std::string& field) {
  const std::string prefix = "param.";
  if (key.rfind(prefix, 0) != 0) return false;
  std::size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size() || dot + 1 == key.size()) return false;
  std::string digits = key.substr(prefix.size(), dot - prefix.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return false;
  if (digits.size() > 1 && digits[0] == '0') return false;  // one spelling per index
  if (digits.size() > 9) return false;
  index = std::stoul(digits);
  field = key.substr(dot + 1);
  return true;
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> parameters, double learning_rate, std::string name)
    : parameters_(std::move(parameters)),
      states_(parameters_.size()),
      learning_rate_(learning_rate),
      name_(std::move(name)) {
  check_parameters(parameters_, name_);
  check_learning_rate(learning_rate_, name_);
}

void Optimizer::set_learning_rate(double learning_rate) {
  check_learning_rate(learning_rate, name_);
  learning_rate_ = learning_rate;
}

Tensor Optimizer::checked_grad(std::size_t index) const {
  const Tensor& parameter = parameters_[index];
  Tensor grad = parameter.grad();
  if (!grad.defined()) return grad;
  ATTN_CHECK(grad.shape() == parameter.shape() && grad.dtype() == parameter.dtype(), name_,
             ": parameter ", index, " is ", parameter.describe(), " but its gradient is ",
             grad.describe());
  return grad.contiguous();
}

void Optimizer::step() {
  NoGradGuard no_grad;
  // Every gradient is checked before any parameter changes, so a bad one leaves all intact.
  std::vector<Tensor> grads(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) grads[i] = checked_grad(i);
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (!grads[i].defined()) continue;
    states_[i].step += 1;
    update(parameters_[i], grads[i], states_[i]);
  }
  ++step_count_;
}

void Optimizer::zero_grad() {
  for (Tensor& parameter : parameters_) parameter.zero_grad();
}

std::int64_t Optimizer::state_bytes() const {
  std::int64_t bytes = 0;
  for (const ParameterState& state : states_) {
    for (const auto& [name, buffer] : state.buffers) {
      bytes += buffer.numel() * static_cast<std::int64_t>(dtype_size(buffer.dtype()));
    }
  }
  return bytes;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> state;
  state["step"] = count_tensor(step_count_);
  state["learning_rate"] = Tensor::scalar(learning_rate_, DType::Float64);
  for (std::size_t i = 0; i < states_.size(); ++i) {
    if (states_[i].step == 0) continue;  // never updated: no state, as in PyTorch
    std::string prefix = "param." + std::to_string(i) + ".";
    state[prefix + "step"] = count_tensor(states_[i].step);
    for (const auto& [buffer_name, buffer] : states_[i].buffers) {
      state[prefix + buffer_name] = buffer.clone();
    }
  }
  return state;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const std::string where = name_ + "::load_state_dict";
  std::int64_t step_count =
      read_count(required_entry(state, "step", "step", where), "step", 0, where);
  const Tensor& rate = required_entry(state, "learning_rate", "learning_rate", where);
  ATTN_CHECK(rate.defined() && rate.dtype() == DType::Float64 && rate.numel() == 1, where,
             ": expected \"learning_rate\" to be a one-element float64 tensor, got ",
             rate.describe());
  double learning_rate = *rate.data<double>();
  check_learning_rate(learning_rate, where);

  // Group the per-parameter entries by parameter index.
  std::vector<std::map<std::string, Tensor>> entries(parameters_.size());
  for (const auto& [key, tensor] : state) {
    if (key == "step" || key == "learning_rate") continue;
    std::size_t index = 0;
    std::string field;
    ATTN_CHECK(parse_parameter_key(key, index, field), where, ": unexpected entry \"", key, "\"");
    ATTN_CHECK(index < parameters_.size(), where, ": entry \"", key, "\" names parameter ",
               index, " but the optimizer has ", parameters_.size());
    entries[index][field] = tensor;
  }
  std::vector<ParameterState> states(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (!entries[i].empty()) states[i] = loaded_parameter_state(i, entries[i]);
  }
  states_ = std::move(states);
  step_count_ = step_count;
  learning_rate_ = learning_rate;
}

ParameterState Optimizer::loaded_parameter_state(
    std::size_t index, const std::map<std::string, Tensor>& entries) const {
  const std::string where = name_ + "::load_state_dict";
  const std::string prefix = "param." + std::to_string(index) + ".";
  const Tensor& parameter = parameters_[index];
  ParameterState loaded;
  loaded.step = read_count(required_entry(entries, "step", prefix + "step", where),
                           prefix + "step", 1, where);
  std::vector<std::string> expected = buffer_names();
  for (const std::string& buffer_name : expected) {
    const Tensor& buffer = required_entry(entries, buffer_name, prefix + buffer_name, where);
    ATTN_CHECK(buffer.defined() && buffer.shape() == parameter.shape() &&
                   buffer.dtype() == parameter.dtype(),
               where, ": expected \"", prefix, buffer_name, "\" to be ", parameter.describe(),
               " like its parameter, got ", buffer.describe());
    loaded.buffers[buffer_name] = buffer.clone();
  }
  // Everything besides the step must be one of this optimizer's buffers.
  for (const auto& [field, tensor] : entries) {
    ATTN_CHECK(field == "step" || loaded.buffers.count(field) == 1, where, ": unexpected entry \"",
               prefix, field, "\"");
  }
  return loaded;
}

}  // namespace attn::optim
