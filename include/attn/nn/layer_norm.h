// LayerNorm over the trailing dimensions, as torch.nn.LayerNorm ("weight" and "bias" have
// normalized_shape; biased variance).
#pragma once

#include <cstdint>

#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::nn {

class LayerNorm : public Module {
 public:
  // With elementwise_affine the weight starts at ones and the bias at zeros.
  explicit LayerNorm(Shape normalized_shape, double epsilon = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::Float32);
  explicit LayerNorm(std::int64_t normalized_size, double epsilon = 1e-5,
                     bool elementwise_affine = true, DType dtype = DType::Float32)
      : LayerNorm(Shape{normalized_size}, epsilon, elementwise_affine, dtype) {}

  // x [..., *normalized_shape] -> same shape
  Tensor forward(const Tensor& x) const;

  const Shape& normalized_shape() const { return normalized_shape_; }
  double epsilon() const { return epsilon_; }
  const Tensor& weight() const { return weight_; }  // undefined without elementwise_affine
  const Tensor& bias() const { return bias_; }

 private:
  Shape normalized_shape_;
  double epsilon_;
  DType dtype_;
  Tensor weight_;
  Tensor bias_;
};

}  // namespace attn::nn
