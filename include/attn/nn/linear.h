// Linear: y = x Wᵀ + b, as torch.nn.Linear (parameters "weight" [out, in], "bias" [out]).
#pragma once

#include <cstdint>

#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::nn {

// Every module in attn/nn takes the dtype of its parameters as the last constructor
// argument: float32 for training and inference, float64 for finite-difference checks.
// Inputs must have the same dtype as the parameters.
class Linear : public Module {
 public:
  // Weight and bias start uniform in ±1/sqrt(in_features), PyTorch's default distribution.
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true,
         DType dtype = DType::Float32);

  // x [..., in_features] -> [..., out_features]
  Tensor forward(const Tensor& x) const;

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias
  std::int64_t in_features() const { return in_features_; }
  std::int64_t out_features() const { return out_features_; }

 private:
  std::int64_t in_features_;
  std::int64_t out_features_;
  Tensor weight_;
  Tensor bias_;
};

}  // namespace attn::nn
