#include "attn/nn/dropout.h"

#include "attn/ops/functional.h"

namespace attn::nn {

Dropout::Dropout(double p, Generator& generator) : p_(p), generator_(&generator) {
  ATTN_CHECK(p >= 0.0 && p < 1.0, "Dropout: expected 0 <= p < 1, got ", p);
}

Tensor Dropout::forward(const Tensor& x) const {
  return ops::dropout(x, p_, is_training(), *generator_);
}

}  // namespace attn::nn
