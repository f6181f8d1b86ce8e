#include "attn/nn/layer_norm.h"

#include <algorithm>

#include "attn/ops/functional.h"

namespace attn::nn {
namespace {

bool has_trailing_shape(const Tensor& x, const Shape& trailing) {
  const Shape& shape = x.shape();
  if (shape.size() < trailing.size()) return false;
  return std::equal(trailing.begin(), trailing.end(), shape.end() - trailing.size());
}

}  // namespace

LayerNorm::LayerNorm(Shape normalized_shape, double epsilon, bool elementwise_affine, DType dtype)
    : normalized_shape_(std::move(normalized_shape)), epsilon_(epsilon), dtype_(dtype) {
  ATTN_CHECK(!normalized_shape_.empty() && shape_numel(normalized_shape_) > 0,
             "LayerNorm: expected a non-empty normalized_shape, got ",
             to_string(normalized_shape_));
  ATTN_CHECK(epsilon >= 0, "LayerNorm: expected epsilon >= 0, got ", epsilon);
  ATTN_CHECK(is_floating(dtype), "LayerNorm: expected a floating dtype, got ", dtype_name(dtype));
  if (elementwise_affine) {
    weight_ = register_parameter("weight", Tensor::ones(normalized_shape_, dtype));
    bias_ = register_parameter("bias", Tensor::zeros(normalized_shape_, dtype));
  }
}

Tensor LayerNorm::forward(const Tensor& x) const {
  ATTN_CHECK(has_trailing_shape(x, normalized_shape_), "LayerNorm(", to_string(normalized_shape_),
             "): expected input [..., ", to_string(normalized_shape_).substr(1), ", got ",
             x.describe());
  ATTN_CHECK(x.dtype() == dtype_, "LayerNorm(", to_string(normalized_shape_), "): expected ",
             dtype_name(dtype_), " input, got ", x.describe());
  return ops::layer_norm(x, normalized_shape_, weight_, bias_, epsilon_);
}

}  // namespace attn::nn
