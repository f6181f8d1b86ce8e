// Stochastic gradient descent with momentum, exactly as torch.optim.SGD:
//   g = grad + weight_decay * p
//   b = g                                   on a parameter's first update
//   b = momentum * b + (1 - dampening) * g  afterwards
//   g = g + momentum * b   (nesterov)   or   g = b   (plain momentum)
//   p = p - lr * g
// Nesterov momentum follows Sutskever et al. 2013, in PyTorch's formulation.
#pragma once

#include "attn/optim/optimizer.h"

namespace attn::optim {

struct SgdOptions {
  double learning_rate = 1e-3;  // the initial rate; learning_rate() holds the current one
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2 penalty added to the gradient
  bool nesterov = false;      // needs momentum > 0 and dampening == 0
};

class Sgd final : public Optimizer {
 public:
  explicit Sgd(std::vector<Tensor> parameters, SgdOptions options = {});
  const SgdOptions& options() const { return options_; }

 protected:
  void update(const Tensor& parameter, const Tensor& grad, ParameterState& state) override;
  std::vector<std::string> buffer_names() const override;

 private:
  SgdOptions options_;
};

}  // namespace attn::optim
