#include <cmath>

#include "attn/kernels/vector_ops.h"
#include "attn/ops/functional.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

void check_layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                      const Tensor& bias) {
  check_defined(x, "layer_norm", "input");
  std::int64_t count = static_cast<std::int64_t>(normalized_shape.size());
  ATTN_CHECK(count >= 1 && count <= x.dim(), "layer_norm: normalized_shape ",
             to_string(normalized_shape), " does not fit the input ", x.describe());
  Shape trailing(x.shape().end() - count, x.shape().end());
  ATTN_CHECK(trailing == normalized_shape, "layer_norm: the input ", x.describe(),
             " does not end in normalized_shape ", to_string(normalized_shape));
  for (const Tensor* parameter : {&weight, &bias}) {
    if (!parameter->defined()) continue;
    check_same_dtype(x, *parameter, "layer_norm");
    ATTN_CHECK(parameter->shape() == normalized_shape, "layer_norm: weight and bias must have shape ",
               to_string(normalized_shape), ", got ", parameter->describe());
  }
}

template <typename T>
const T* data_or_null(const Tensor& x) {
  return x.defined() ? x.data<T>() : nullptr;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double epsilon) {
  check_layer_norm(x, normalized_shape, weight, bias);
  ATTN_CHECK(epsilon > 0.0 && std::isfinite(epsilon), "layer_norm: epsilon must be a positive finite number, got ",
             epsilon);
  std::int64_t cols = shape_numel(normalized_shape);
  std::int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor input = x.contiguous();
  Tensor gamma = weight.defined() ? weight.contiguous() : Tensor();
  Tensor beta = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({rows}, x.dtype());
  Tensor rstd = Tensor::empty({rows}, x.dtype());
  dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    kernels::layer_norm_rows<T>(input.data<T>(), data_or_null<T>(gamma), data_or_null<T>(beta),
                                y.data<T>(), mean.data<T>(), rstd.data<T>(), rows, cols, T(epsilon));
  });
  Tensor saved_x = input.detach();
  Tensor saved_gamma = gamma.defined() ? gamma.detach() : Tensor();
  bool has_weight = weight.defined(), has_bias = bias.defined();
  return record(y, "layer_norm", {x, weight, bias}, [=](const Tensor& gradient) {
    Tensor grad_y = gradient.contiguous();
    Tensor grad_x = Tensor::empty(saved_x.shape(), saved_x.dtype());
    Tensor grad_gamma = has_weight ? Tensor::zeros({cols}, saved_x.dtype()) : Tensor();
    Tensor grad_beta = has_bias ? Tensor::zeros({cols}, saved_x.dtype()) : Tensor();
    dispatch_floating(saved_x.dtype(), "layer_norm", [&](auto tag) {
      using T = decltype(tag);
      kernels::layer_norm_backward_rows<T>(
          saved_x.data<T>(), data_or_null<T>(saved_gamma), mean.data<T>(), rstd.data<T>(),
          grad_y.data<T>(), grad_x.data<T>(), grad_gamma.defined() ? grad_gamma.data<T>() : nullptr,
          grad_beta.defined() ? grad_beta.data<T>() : nullptr, rows, cols);
    });
    if (has_weight) grad_gamma = grad_gamma.as_strided(normalized_shape, contiguous_strides(normalized_shape), 0);
    if (has_bias) grad_beta = grad_beta.as_strided(normalized_shape, contiguous_strides(normalized_shape), 0);
    return std::vector<Tensor>{grad_x, grad_gamma, grad_beta};
  });
}

}  // namespace attn::ops
