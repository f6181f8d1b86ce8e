// Helpers shared by the op implementations (not part of the public API).
#pragma once

#include <string_view>
#include <vector>

#include "attn/autograd/node.h"
#include "attn/core/tensor.h"

namespace attn::ops::internal {

// Calls function(T{}) with T = float or double according to `dtype`; other dtypes are an
// error naming the op.
template <typename Function>
decltype(auto) dispatch_floating(DType dtype, std::string_view op, Function&& function) {
  switch (dtype) {
    case DType::Float32: return function(float{});
    case DType::Float64: return function(double{});
    default:
      throw Error(detail::concat(op, ": expected a float32 or float64 tensor, got ",
                                 dtype_name(dtype)));
  }
}

void check_defined(const Tensor& x, std::string_view op, std::string_view name);
void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op);

// Raw (non-recording) views used by ops and by their backward rules.
Tensor raw_reshape(const Tensor& x, const Shape& shape);  // copies when not contiguous
Tensor raw_transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor raw_permute(const Tensor& x, const std::vector<std::int64_t>& order);
Tensor raw_expand(const Tensor& x, const Shape& shape, std::string_view op);
Tensor raw_slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
                 std::int64_t step);

// Moves `dim` to the last position: returns the permuted contiguous tensor and the order
// that undoes the move (for raw_permute on the result).
struct DimLast {
  Tensor tensor;
  std::vector<std::int64_t> inverse_order;
};
DimLast move_dim_last(const Tensor& x, std::int64_t dim);

}  // namespace attn::ops::internal
