// Dropout, as torch.nn.Dropout: in training, zeroes each element with probability p and
// scales the rest by 1/(1-p); in evaluation mode, the identity.
#pragma once

#include "attn/core/random.h"
#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::nn {

class Dropout : public Module {
 public:
  // The masks come from `generator`, which must outlive the module.
  explicit Dropout(double p = 0.5, Generator& generator = default_generator());

  Tensor forward(const Tensor& x) const;

  double p() const { return p_; }

 private:
  double p_;
  Generator* generator_;
};

}  // namespace attn::nn
