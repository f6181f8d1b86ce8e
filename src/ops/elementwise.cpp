// Elementwise ops. Contiguous same-shape operands go straight to the SIMD kernels; other
// layouts (broadcasts, strided views) run row by row, with the SIMD kernel on rows whose
// innermost stride is 1 and a scalar loop otherwise.
#include "attn/ops/elementwise.h"

#include <cmath>

#include "attn/kernels/vector_ops.h"
#include "attn/ops/views.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

// Offsets of the first element of every row (all dims but the last) of a strided layout.
template <typename Visit>
void for_each_row(const Shape& shape, const std::vector<const Shape*>& strides, Visit&& visit) {
  std::int64_t rank = static_cast<std::int64_t>(shape.size());
  std::vector<std::int64_t> offsets(strides.size(), 0);
  if (shape_numel(shape) == 0) return;
  if (rank <= 1) {
    visit(offsets);
    return;
  }
  Shape index(rank - 1, 0);
  while (true) {
    for (std::size_t t = 0; t < strides.size(); ++t) {
      offsets[t] = 0;
      for (std::int64_t d = 0; d + 1 < rank; ++d) offsets[t] += index[d] * (*strides[t])[d];
    }
    visit(offsets);
    std::int64_t d = rank - 2;
    for (; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// How many trailing dimensions of `shape` every one of `strides` lays out row-major (the
// last with stride 1, each earlier one spanning the ones after it; size-1 dims fit any).
std::size_t row_major_suffix(const Shape& shape, const std::vector<const Shape*>& strides) {
  std::size_t count = 0;
  std::int64_t span = 1;  // elements spanned by the dims after the current one
  for (std::size_t d = shape.size(); d-- > 0; ++count) {
    for (const Shape* layout : strides) {
      if (shape[d] != 1 && (*layout)[d] != span) return count;
    }
    span *= shape[d];
  }
  return count;
}

// x's last `count` dimensions, row-major in x, as one dimension with stride 1.
Tensor merge_trailing(const Tensor& x, std::size_t count) {
  const std::size_t keep = x.shape().size() - count;
  Shape shape(x.shape().begin(), x.shape().begin() + keep);
  Shape strides(x.strides().begin(), x.strides().begin() + keep);
  shape.push_back(shape_numel(Shape(x.shape().begin() + keep, x.shape().end())));
  strides.push_back(1);
  return x.as_strided(shape, strides, x.offset());
}

template <typename T>
using BinaryKernel = void (*)(const T*, const T*, T*, std::int64_t);

// out = op(a, b) with broadcasting; `kernel` handles contiguous runs, `scalar` the rest.
template <typename T, typename Scalar>
Tensor binary_map(const Tensor& a, const Tensor& b, std::string_view op, BinaryKernel<T> kernel,
                  Scalar scalar) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor left = raw_expand(a, shape, op);
  Tensor right = raw_expand(b, shape, op);
  Tensor out = Tensor::empty(shape, a.dtype());
  const T* left_base = left.data<T>();
  const T* right_base = right.data<T>();
  T* out_base = out.data<T>();
  if (left.is_contiguous() && right.is_contiguous()) {
    kernel(left_base, right_base, out_base, out.numel());
    return out;
  }
  // Trailing dimensions in which both operands are row-major (a positional encoding [N, E]
  // broadcast over a batch [B, N, E], say) merge into one run per kernel call.
  const std::size_t merged = row_major_suffix(shape, {&left.strides(), &right.strides()});
  if (merged > 1) {
    left = merge_trailing(left, merged);
    right = merge_trailing(right, merged);
    shape = left.shape();
  }
  std::int64_t inner = shape.empty() ? 1 : shape.back();
  std::int64_t left_step = shape.empty() ? 0 : left.strides().back();
  std::int64_t right_step = shape.empty() ? 0 : right.strides().back();
  Shape out_strides = contiguous_strides(shape);
  for_each_row(shape, {&left.strides(), &right.strides(), &out_strides},
               [&](const std::vector<std::int64_t>& offsets) {
                 const T* x = left_base + offsets[0];
                 const T* y = right_base + offsets[1];
                 T* z = out_base + offsets[2];
                 if (left_step == 1 && right_step == 1) {
                   kernel(x, y, z, inner);
                   return;
                 }
                 for (std::int64_t i = 0; i < inner; ++i) z[i] = scalar(x[i * left_step], y[i * right_step]);
               });
  return out;
}

template <typename T>
Tensor unary_map(const Tensor& x, void (*kernel)(const T*, T*, std::int64_t)) {
  Tensor input = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  kernel(input.data<T>(), out.data<T>(), out.numel());
  return out;
}

template <typename T, typename Function>
Tensor unary_scalar_map(const Tensor& x, Function function) {
  Tensor input = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const T* source = input.data<T>();
  T* destination = out.data<T>();
  for (std::int64_t i = 0; i < out.numel(); ++i) destination[i] = function(source[i]);
  return out;
}

// grad_in = backward_kernel(saved, grad_out), for activation rules.
template <typename T>
Tensor activation_backward(const Tensor& saved, const Tensor& gradient,
                           void (*kernel)(const T*, const T*, T*, std::int64_t)) {
  Tensor grad_out = gradient.contiguous();
  Tensor grad_in = Tensor::empty(saved.shape(), saved.dtype());
  kernel(saved.data<T>(), grad_out.data<T>(), grad_in.data<T>(), grad_in.numel());
  return grad_in;
}

void check_binary(const Tensor& a, const Tensor& b, std::string_view op) {
  check_defined(a, op, "first");
  check_defined(b, op, "second");
  check_same_dtype(a, b, op);
}

Tensor raw_add(const Tensor& a, const Tensor& b) {
  return dispatch_floating(a.dtype(), "add", [&](auto tag) {
    using T = decltype(tag);
    return binary_map<T>(a, b, "add", kernels::add<T>, [](T x, T y) { return x + y; });
  });
}

Tensor raw_sub(const Tensor& a, const Tensor& b) {
  return dispatch_floating(a.dtype(), "sub", [&](auto tag) {
    using T = decltype(tag);
    return binary_map<T>(a, b, "sub", kernels::sub<T>, [](T x, T y) { return x - y; });
  });
}

Tensor raw_mul(const Tensor& a, const Tensor& b) {
  return dispatch_floating(a.dtype(), "mul", [&](auto tag) {
    using T = decltype(tag);
    return binary_map<T>(a, b, "mul", kernels::mul<T>, [](T x, T y) { return x * y; });
  });
}

Tensor raw_div(const Tensor& a, const Tensor& b) {
  return dispatch_floating(a.dtype(), "div", [&](auto tag) {
    using T = decltype(tag);
    return binary_map<T>(a, b, "div", kernels::div<T>, [](T x, T y) { return x / y; });
  });
}

Tensor raw_affine(const Tensor& x, double scale, double shift, std::string_view op) {
  return dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    Tensor input = x.contiguous();
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    kernels::affine<T>(input.data<T>(), T(scale), T(shift), out.data<T>(), out.numel());
    return out;
  });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "add");
  Shape shape_a = a.shape(), shape_b = b.shape();
  return record(raw_add(a, b), "add", {a, b}, [=](const Tensor& gradient) {
    return std::vector<Tensor>{sum_to_shape(gradient, shape_a), sum_to_shape(gradient, shape_b)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "sub");
  Shape shape_a = a.shape(), shape_b = b.shape();
  return record(raw_sub(a, b), "sub", {a, b}, [=](const Tensor& gradient) {
    return std::vector<Tensor>{sum_to_shape(gradient, shape_a),
                               sum_to_shape(raw_affine(gradient, -1, 0, "sub"), shape_b)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "mul");
  Tensor saved_a = a.detach(), saved_b = b.detach();
  return record(raw_mul(a, b), "mul", {a, b}, [=](const Tensor& gradient) {
    return std::vector<Tensor>{sum_to_shape(raw_mul(gradient, saved_b), saved_a.shape()),
                               sum_to_shape(raw_mul(gradient, saved_a), saved_b.shape())};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "div");
  Tensor saved_a = a.detach(), saved_b = b.detach();
  return record(raw_div(a, b), "div", {a, b}, [=](const Tensor& gradient) {
    Tensor grad_a = raw_div(gradient, saved_b);
    // d(a/b)/db = -a / b² = -(grad/b) * (a/b)
    Tensor grad_b = raw_affine(raw_mul(grad_a, raw_div(saved_a, saved_b)), -1, 0, "div");
    return std::vector<Tensor>{sum_to_shape(grad_a, saved_a.shape()),
                               sum_to_shape(grad_b, saved_b.shape())};
  });
}

Tensor add(const Tensor& a, double b) {
  check_defined(a, "add", "first");
  return record(raw_affine(a, 1, b, "add"), "add_scalar", {a},
                [](const Tensor& gradient) { return std::vector<Tensor>{gradient}; });
}

Tensor mul(const Tensor& a, double b) {
  check_defined(a, "mul", "first");
  return record(raw_affine(a, b, 0, "mul"), "mul_scalar", {a}, [b](const Tensor& gradient) {
    return std::vector<Tensor>{raw_affine(gradient, b, 0, "mul")};
  });
}

Tensor neg(const Tensor& x) { return mul(x, -1.0); }

Tensor exp(const Tensor& x) {
  check_defined(x, "exp", "input");
  Tensor y = dispatch_floating(x.dtype(), "exp", [&](auto tag) {
    using T = decltype(tag);
    return unary_map<T>(x, kernels::exp<T>);
  });
  Tensor saved = y.detach();
  return record(y, "exp", {x}, [saved](const Tensor& gradient) {
    return std::vector<Tensor>{raw_mul(gradient, saved)};
  });
}

Tensor log(const Tensor& x) {
  check_defined(x, "log", "input");
  Tensor y = dispatch_floating(x.dtype(), "log", [&](auto tag) {
    using T = decltype(tag);
    return unary_scalar_map<T>(x, [](T v) { return std::log(v); });
  });
  Tensor saved = x.detach();
  return record(y, "log", {x}, [saved](const Tensor& gradient) {
    return std::vector<Tensor>{raw_div(gradient, saved)};
  });
}

Tensor sqrt(const Tensor& x) {
  check_defined(x, "sqrt", "input");
  Tensor y = dispatch_floating(x.dtype(), "sqrt", [&](auto tag) {
    using T = decltype(tag);
    return unary_scalar_map<T>(x, [](T v) { return std::sqrt(v); });
  });
  Tensor saved = y.detach();
  return record(y, "sqrt", {x}, [saved](const Tensor& gradient) {
    // d sqrt(x) = 1 / (2 sqrt(x))
    return std::vector<Tensor>{raw_affine(raw_div(gradient, saved), 0.5, 0, "sqrt")};
  });
}

// Composed of differentiable ops: only some pretrained checkpoints use it, so it has no
// kernel of its own; autograd differentiates the composition.
Tensor gelu_tanh(const Tensor& x) {
  constexpr double kSqrtTwoOverPi = 0.79788456080286535588;
  Tensor inner = mul(add(x, mul(pow(x, 3.0), 0.044715)), kSqrtTwoOverPi);
  return mul(mul(x, 0.5), add(tanh(inner), 1.0));
}

Tensor pow(const Tensor& x, double exponent) {
  check_defined(x, "pow", "input");
  auto power = [&](const Tensor& base, double e) {
    return dispatch_floating(base.dtype(), "pow", [&](auto tag) {
      using T = decltype(tag);
      return unary_scalar_map<T>(base, [e](T v) { return T(std::pow(v, T(e))); });
    });
  };
  Tensor saved = x.detach();
  return record(power(x, exponent), "pow", {x}, [=](const Tensor& gradient) {
    Tensor derivative = raw_affine(power(saved, exponent - 1), exponent, 0, "pow");
    return std::vector<Tensor>{raw_mul(gradient, derivative)};
  });
}

#define ATTN_ACTIVATION(name, saved_value)                                                   \
  Tensor name(const Tensor& x) {                                                             \
    check_defined(x, #name, "input");                                                        \
    Tensor input = x.contiguous();                                                           \
    Tensor y = dispatch_floating(x.dtype(), #name, [&](auto tag) {                           \
      using T = decltype(tag);                                                               \
      return unary_map<T>(input, kernels::name<T>);                                          \
    });                                                                                      \
    Tensor saved = (saved_value).detach();                                                   \
    return record(y, #name, {x}, [saved](const Tensor& gradient) {                           \
      return std::vector<Tensor>{dispatch_floating(saved.dtype(), #name, [&](auto tag) {     \
        using T = decltype(tag);                                                             \
        return activation_backward<T>(saved, gradient, kernels::name##_backward<T>);        \
      })};                                                                                   \
    });                                                                                      \
  }

// relu and gelu differentiate from their input; tanh and sigmoid from their output.
ATTN_ACTIVATION(relu, input)
ATTN_ACTIVATION(gelu, input)
ATTN_ACTIVATION(tanh, y)
ATTN_ACTIVATION(sigmoid, y)
#undef ATTN_ACTIVATION

namespace {

// condition ? a : b elementwise, all three broadcast; no autograd.
Tensor raw_where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), a.shape(), "where"),
                                 b.shape(), "where");
  Tensor mask = raw_expand(condition, shape, "where").contiguous();
  Tensor left = raw_expand(a, shape, "where").contiguous();
  Tensor right = raw_expand(b, shape, "where").contiguous();
  Tensor out = Tensor::empty(shape, a.dtype());
  const bool* selected = mask.data<bool>();
  dispatch_floating(a.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    const T* x = left.data<T>();
    const T* y = right.data<T>();
    T* z = out.data<T>();
    for (std::int64_t i = 0; i < out.numel(); ++i) z[i] = selected[i] ? x[i] : y[i];
  });
  return out;
}

}  // namespace

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  check_defined(condition, "where", "condition");
  check_binary(a, b, "where");
  ATTN_CHECK(condition.dtype() == DType::Bool, "where: the condition must be bool, got ",
             condition.describe());
  Tensor saved_condition = condition.detach();
  Shape shape_a = a.shape(), shape_b = b.shape();
  return record(raw_where(condition, a, b), "where", {a, b}, [=](const Tensor& gradient) {
    Tensor zero = Tensor::zeros({}, gradient.dtype());
    return std::vector<Tensor>{
        sum_to_shape(raw_where(saved_condition, gradient, zero), shape_a),
        sum_to_shape(raw_where(saved_condition, zero, gradient), shape_b)};
  });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill", "input");
  check_defined(mask, "masked_fill", "mask");
  ATTN_CHECK(mask.dtype() == DType::Bool, "masked_fill: the mask must be bool, got ",
             mask.describe());
  Shape broadcast = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  ATTN_CHECK(broadcast == x.shape(), "masked_fill: mask ", to_string(mask.shape()),
             " does not broadcast to the input ", to_string(x.shape()));
  Tensor fill = Tensor::full({}, value, x.dtype());
  Tensor saved_mask = mask.detach();
  return record(raw_where(mask, fill, x), "masked_fill", {x}, [=](const Tensor& gradient) {
    return std::vector<Tensor>{raw_where(saved_mask, Tensor::zeros({}, gradient.dtype()), gradient)};
  });
}

Tensor eq(const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "eq");
  Tensor left = raw_expand(a, shape, "eq").to(DType::Float64).contiguous();
  Tensor right = raw_expand(b, shape, "eq").to(DType::Float64).contiguous();
  Tensor out = Tensor::empty(shape, DType::Bool);
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    out.data<bool>()[i] = left.data<double>()[i] == right.data<double>()[i];
  }
  return out;
}

bool all_finite(const Tensor& x) {
  if (!is_floating(x.dtype())) return true;
  Tensor values = x.to(DType::Float64).contiguous();
  const double* data = values.data<double>();
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    if (!std::isfinite(data[i])) return false;
  }
  return true;
}

}  // namespace attn::ops
