// Adam (Kingma & Ba 2015, Algorithm 1) and AdamW (Loshchilov & Hutter 2019), with the exact
// update order of torch.optim.Adam / torch.optim.AdamW (single-tensor path), t counting
// this parameter's updates from 1:
//   g     = grad + weight_decay * p             (Adam: L2 penalty in the gradient)
//   p     = p * (1 - lr * weight_decay)         (AdamW: decoupled decay instead)
//   m     = m + (1 - beta1) * (g - m)           first moment (torch: lerp_)
//   v     = v * beta2 + (1 - beta2) * g * g     second moment
//   v_max = max(v_max, v); use v_max for v      (amsgrad, Reddi et al. 2018)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps   eps after the bias-corrected sqrt
//   p     = p - (lr / (1 - beta1^t)) * m / denom
// The scalar factors are computed in double, as PyTorch does in Python, then rounded to
// the parameter's dtype; the elementwise arithmetic runs in that dtype.
#pragma once

#include "attn/optim/optimizer.h"

namespace attn::optim {

struct AdamOptions {
  double learning_rate = 1e-3;  // the initial rate; learning_rate() holds the current one
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> parameters, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  // AdamW's constructor: the same rule with decoupled weight decay.
  Adam(std::vector<Tensor> parameters, AdamOptions options, bool decoupled_weight_decay,
       std::string name);
  void update(const Tensor& parameter, const Tensor& grad, ParameterState& state) override;
  std::vector<std::string> buffer_names() const override;

 private:
  AdamOptions options_;
  bool decoupled_weight_decay_;
};

// AdamW's default weight decay is PyTorch's, 1e-2.
inline AdamOptions default_adamw_options() {
  AdamOptions options;
  options.weight_decay = 1e-2;
  return options;
}

class AdamW final : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> parameters, AdamOptions options = default_adamw_options());
};

}  // namespace attn::optim
