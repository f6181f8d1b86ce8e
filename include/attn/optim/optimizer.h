// Optimizer: the base of every update rule (SGD, Adam, AdamW).
//
// An optimizer holds handles to float32 or float64 parameters and updates their data in
// place, under NoGradGuard, from the gradients a backward pass left on them. A parameter
// whose gradient is undefined is skipped, as in PyTorch, and its state does not advance.
//
// Every piece of state (step counts, moment buffers, the learning rate) round-trips through
// state_dict()/load_state_dict() as named tensors, so an interrupted run resumes exactly:
//   "step"                  int64 []  step() calls so far
//   "learning_rate"         float64 []
//   "param.<i>.step"        int64 []  updates parameter i has received
//   "param.<i>.<buffer>"    the parameter's dtype and shape, e.g. "param.3.exp_avg"
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attn/core/tensor.h"

namespace attn::optim {

// What an optimizer remembers about one parameter; empty until its first update.
struct ParameterState {
  std::int64_t step = 0;                  // updates applied to this parameter
  std::map<std::string, Tensor> buffers;  // e.g. "exp_avg"; same shape and dtype as it
};

class Optimizer {
 public:
  // `name` appears in error messages ("Adam: ...").
  Optimizer(std::vector<Tensor> parameters, double learning_rate, std::string name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Applies one update to every parameter that has a gradient.
  virtual void step();
  // Drops the gradients (PyTorch's set_to_none=True), so the next backward starts afresh.
  void zero_grad();

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate);
  std::int64_t step_count() const { return step_count_; }  // step() calls so far
  const std::vector<Tensor>& parameters() const { return parameters_; }
  const std::string& name() const { return name_; }

  // Bytes of every buffer this optimizer keeps (moments, ...): its memory beside the model.
  std::int64_t state_bytes() const;

  // Copies of every state tensor, named as described at the top of this file.
  std::map<std::string, Tensor> state_dict() const;
  // Replaces all state (learning rate included) with copies of `state`. Throws attn::Error
  // naming the first unknown, missing or mismatched entry; on error nothing changes.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // Updates one parameter in place. `grad` is contiguous, with the parameter's shape and
  // dtype; `state.step` has already been advanced to count this update.
  virtual void update(const Tensor& parameter, const Tensor& grad, ParameterState& state) = 0;
  // The buffers every updated parameter must have in a loaded state.
  virtual std::vector<std::string> buffer_names() const = 0;

 private:
  Tensor checked_grad(std::size_t index) const;
  ParameterState loaded_parameter_state(std::size_t index,
                                        const std::map<std::string, Tensor>& entries) const;

  std::vector<Tensor> parameters_;
  std::vector<ParameterState> states_;  // one per parameter
  double learning_rate_;
  std::int64_t step_count_ = 0;
  std::string name_;
};

namespace detail {

// Runs `function(T{})` with T = float or double matching `dtype`.
template <typename Function>
void dispatch_floating(DType dtype, Function&& function) {
  if (dtype == DType::Float32) {
    function(float{});
  } else {
    ATTN_ASSERT(dtype == DType::Float64, "optimizers update float32 or float64 tensors only");
    function(double{});
  }
}

}  // namespace detail
}  // namespace attn::optim
