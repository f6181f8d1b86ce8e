// The Transformer's position-wise feed-forward network: w2(dropout(activation(w1(x)))),
// children "w1" [d_ff, d_model], "w2" [d_model, d_ff] and "dropout".
#pragma once

#include <cstdint>
#include <memory>

#include "attn/core/tensor.h"
#include "attn/nn/dropout.h"
#include "attn/nn/linear.h"
#include "attn/nn/module.h"

namespace attn::nn {

enum class Activation { ReLU, GELU, GELUTanh };

// activation(x): relu, gelu (exact) or gelu_tanh.
Tensor activate(Activation activation, const Tensor& x);

class FeedForward : public Module {
 public:
  FeedForward(std::int64_t d_model, std::int64_t d_ff, double dropout = 0.0,
              Activation activation = Activation::ReLU, DType dtype = DType::Float32);

  // x [..., d_model] -> [..., d_model]
  Tensor forward(const Tensor& x) const;

  const Linear& w1() const { return *w1_; }
  const Linear& w2() const { return *w2_; }
  Activation activation() const { return activation_; }

 private:
  Activation activation_;
  std::shared_ptr<Linear> w1_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> w2_;
};

}  // namespace attn::nn
