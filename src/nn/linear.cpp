#include "attn/nn/linear.h"

#include <cmath>

#include "attn/nn/init.h"
#include "attn/ops/linalg.h"

namespace attn::nn {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias, DType dtype)
    : in_features_(in_features), out_features_(out_features) {
  ATTN_CHECK(in_features > 0 && out_features > 0,
             "Linear: expected positive in_features and out_features, got ", in_features, " and ",
             out_features);
  ATTN_CHECK(is_floating(dtype), "Linear: expected a floating dtype, got ", dtype_name(dtype));
  double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = register_parameter("weight", Tensor::empty({out_features, in_features}, dtype));
  init::uniform_(weight_, -bound, bound);
  if (bias) {
    bias_ = register_parameter("bias", Tensor::empty({out_features}, dtype));
    init::uniform_(bias_, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) const {
  ATTN_CHECK(x.dim() >= 1 && x.size(-1) == in_features_, "Linear(", in_features_, " -> ",
             out_features_, "): expected input [..., ", in_features_, "], got ", x.describe());
  ATTN_CHECK(x.dtype() == weight_.dtype(), "Linear(", in_features_, " -> ", out_features_,
             "): expected ", dtype_name(weight_.dtype()), " input, got ", x.describe());
  return ops::linear(x, weight_, bias_);
}

}  // namespace attn::nn
