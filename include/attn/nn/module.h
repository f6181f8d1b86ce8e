// Module: the base of every layer and model. It owns named parameters, buffers and child
// modules, so names compose into hierarchical paths like "encoder.layers.0.ffn.w1.weight".
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attn/core/tensor.h"

namespace attn::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;

  NamedTensors named_parameters() const;  // depth-first, in registration order
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  // Parameters and buffers together: what a checkpoint stores.
  std::map<std::string, Tensor> state_dict() const;
  // Copies every tensor in `state` into the module. Names, dtypes and shapes must match
  // exactly; the error names the first offending tensor. With strict, missing and unexpected
  // names are errors too.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  std::int64_t num_parameters() const;

 protected:
  // Registers a parameter (set to require a gradient) and returns the same handle.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <typename ModuleType>
  std::shared_ptr<ModuleType> register_module(const std::string& name,
                                              std::shared_ptr<ModuleType> module) {
    check_new_name(name);
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool want_parameters, NamedTensors& out) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace attn::nn
