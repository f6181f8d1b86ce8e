// Dropout, alone and added to a residual, in one pass each way: the kernel draws the mask from
// the Philox stream, applies it (and adds the residual) and keeps the mask as one byte per
// element for the backward, which is one more pass. Element i uses position offset + i of the
// stream (philox_uniform's numbering), so the mask does not depend on the thread count.
#include "attn/kernels/vector_ops.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

void check_probability(double p, std::string_view op) {
  ATTN_CHECK(p >= 0.0 && p <= 1.0, op, ": probability must be in [0, 1], got ", p);
}

std::uint8_t* flags(const Tensor& keep) { return static_cast<std::uint8_t*>(keep.raw_data()); }

// out = residual + dropout(x) (residual undefined: dropout(x)), with 0 < p < 1; x and
// residual contiguous. Returns out and the keep mask (bool, x's shape).
std::pair<Tensor, Tensor> dropout_forward(const Tensor& x, const Tensor& residual, double p,
                                          Generator& generator, std::string_view op) {
  const std::uint64_t offset = generator.reserve(static_cast<std::uint64_t>(x.numel()));
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  Tensor keep = Tensor::empty(x.shape(), DType::Bool);
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::dropout<T>(x.data<T>(), residual.defined() ? residual.data<T>() : nullptr,
                        out.data<T>(), flags(keep), x.numel(), generator.seed(), offset, p,
                        T(1.0 / (1.0 - p)));
  });
  return {out, keep};
}

// gradient * (keep ? 1 / (1 - p) : 0)
Tensor dropout_gradient(const Tensor& gradient, const Tensor& keep, double p) {
  Tensor grad_out = gradient.contiguous();
  Tensor grad_in = Tensor::empty(grad_out.shape(), grad_out.dtype());
  dispatch_floating(grad_out.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    kernels::dropout_backward<T>(grad_out.data<T>(), flags(keep), T(1.0 / (1.0 - p)),
                                 grad_in.data<T>(), grad_in.numel());
  });
  return grad_in;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& generator) {
  check_defined(x, "dropout", "input");
  check_probability(p, "dropout");
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
  auto [out, keep_mask] = dropout_forward(x.contiguous(), Tensor(), p, generator, "dropout");
  Tensor keep = keep_mask;
  return record(out, "dropout", {x}, [=](const Tensor& gradient) {
    return std::vector<Tensor>{dropout_gradient(gradient, keep, p)};
  });
}

Tensor add_dropout(const Tensor& residual, const Tensor& x, double p, bool training,
                   Generator& generator) {
  check_defined(residual, "add_dropout", "residual");
  check_defined(x, "add_dropout", "input");
  check_same_dtype(residual, x, "add_dropout");
  ATTN_CHECK(residual.shape() == x.shape(), "add_dropout: the residual ", residual.describe(),
             " and the input ", x.describe(), " must have the same shape");
  check_probability(p, "add_dropout");
  if (!training || p == 0.0) return add(residual, x);
  if (p == 1.0) return add(residual, mul(x, 0.0));
  auto [out, keep_mask] =
      dropout_forward(x.contiguous(), residual.contiguous(), p, generator, "add_dropout");
  Tensor keep = keep_mask;
  return record(out, "add_dropout", {residual, x}, [=](const Tensor& gradient) {
    return std::vector<Tensor>{gradient, dropout_gradient(gradient, keep, p)};
  });
}

}  // namespace attn::ops
