#include "attn/nn/module.h"

#include <set>

namespace attn::nn {

void Module::check_new_name(const std::string& name) const {
  ATTN_CHECK(!name.empty() && name.find('.') == std::string::npos,
             "Module: invalid name '", name, "' (must be non-empty and contain no '.')");
  auto taken = [&](const auto& entries) {
    for (const auto& entry : entries) {
      if (entry.first == name) return true;
    }
    return false;
  };
  ATTN_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_),
             "Module: the name '", name, "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_new_name(name);
  ATTN_CHECK(tensor.defined(), "Module: parameter '", name, "' is undefined");
  tensor.set_requires_grad(true);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name);
  ATTN_CHECK(tensor.defined(), "Module: buffer '", name, "' is undefined");
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::collect(const std::string& prefix, bool want_parameters, NamedTensors& out) const {
  for (const auto& [name, tensor] : want_parameters ? parameters_ : buffers_) {
    out.emplace_back(prefix + name, tensor);
  }
  for (const auto& [name, child] : children_) {
    child->collect(prefix + name + ".", want_parameters, out);
  }
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> state;
  for (auto& [name, tensor] : named_parameters()) state.emplace(name, tensor);
  for (auto& [name, tensor] : named_buffers()) state.emplace(name, tensor);
  return state;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::map<std::string, Tensor> own = state_dict();
  // Check everything before copying anything, so a bad checkpoint leaves the module intact.
  for (const auto& [name, target] : own) {
    auto found = state.find(name);
    ATTN_CHECK(found != state.end() || !strict, "load_state_dict: missing tensor '", name, "'");
    if (found == state.end()) continue;
    const Tensor& source = found->second;
    ATTN_CHECK(source.dtype() == target.dtype(), "load_state_dict: tensor '", name, "' has dtype ",
               dtype_name(source.dtype()), ", expected ", dtype_name(target.dtype()));
    ATTN_CHECK(source.shape() == target.shape(), "load_state_dict: tensor '", name,
               "' has shape ", to_string(source.shape()), ", expected ", to_string(target.shape()));
  }
  if (strict) {
    for (const auto& [name, source] : state) {
      ATTN_CHECK(own.count(name) == 1, "load_state_dict: unexpected tensor '", name, "'");
    }
  }
  for (auto& [name, target] : own) {
    auto found = state.find(name);
    if (found != state.end()) target.copy_from(found->second);
  }
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->train(training);
}

void Module::zero_grad() {
  for (auto& parameter : parameters()) parameter.zero_grad();
}

std::int64_t Module::num_parameters() const {
  std::int64_t count = 0;
  for (auto& parameter : parameters()) count += parameter.numel();
  return count;
}

}  // namespace attn::nn
