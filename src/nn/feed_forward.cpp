#include "attn/nn/feed_forward.h"

#include "attn/core/error.h"
#include "attn/ops/elementwise.h"

namespace attn::nn {

Tensor activate(Activation activation, const Tensor& x) {
  switch (activation) {
    case Activation::ReLU:
      return ops::relu(x);
    case Activation::GELU:
      return ops::gelu(x);
    case Activation::GELUTanh:
      return ops::gelu_tanh(x);
  }
  ATTN_ASSERT(false, "unknown Activation ", static_cast<int>(activation));
}

FeedForward::FeedForward(std::int64_t d_model, std::int64_t d_ff, double dropout,
                         Activation activation, DType dtype)
    : activation_(activation) {
  w1_ = register_module("w1", std::make_shared<Linear>(d_model, d_ff, true, dtype));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(dropout));
  w2_ = register_module("w2", std::make_shared<Linear>(d_ff, d_model, true, dtype));
}

Tensor FeedForward::forward(const Tensor& x) const {
  ATTN_CHECK(x.dim() >= 1 && x.size(-1) == w1_->in_features(), "FeedForward(d_model ",
             w1_->in_features(), ", d_ff ", w1_->out_features(), "): expected input [..., ",
             w1_->in_features(), "], got ", x.describe());
  // hidden [..., d_ff]
  Tensor hidden = w1_->forward(x);
  hidden = activate(activation_, hidden);
  return w2_->forward(dropout_->forward(hidden));
}

}  // namespace attn::nn
