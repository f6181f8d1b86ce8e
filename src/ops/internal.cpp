#include "internal.h"

#include <numeric>

namespace attn::ops::internal {

void check_defined(const Tensor& x, std::string_view op, std::string_view name) {
  ATTN_CHECK(x.defined(), op, ": the ", name, " tensor is undefined");
}

void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op) {
  ATTN_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ, ", a.describe(), " and ",
             b.describe());
}

Tensor raw_reshape(const Tensor& x, const Shape& shape) {
  ATTN_ASSERT(shape_numel(shape) == x.numel());
  Tensor source = x.contiguous();
  return source.as_strided(shape, contiguous_strides(shape), source.offset());
}

Tensor raw_transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  dim0 = normalize_dim(dim0, x.dim(), "transpose");
  dim1 = normalize_dim(dim1, x.dim(), "transpose");
  Shape shape = x.shape();
  Shape strides = x.strides();
  std::swap(shape[dim0], shape[dim1]);
  std::swap(strides[dim0], strides[dim1]);
  return x.as_strided(shape, strides, x.offset());
}

Tensor raw_permute(const Tensor& x, const std::vector<std::int64_t>& order) {
  ATTN_CHECK(static_cast<std::int64_t>(order.size()) == x.dim(), "permute: order has ",
             order.size(), " entries for a tensor of rank ", x.dim());
  std::vector<bool> seen(order.size(), false);
  Shape shape(order.size()), strides(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    std::int64_t source = normalize_dim(order[i], x.dim(), "permute");
    ATTN_CHECK(!seen[source], "permute: dimension ", order[i], " appears twice");
    seen[source] = true;
    shape[i] = x.shape()[source];
    strides[i] = x.strides()[source];
  }
  return x.as_strided(shape, strides, x.offset());
}

Tensor raw_expand(const Tensor& x, const Shape& shape, std::string_view op) {
  std::int64_t rank = static_cast<std::int64_t>(shape.size());
  ATTN_CHECK(rank >= x.dim(), op, ": cannot expand ", x.describe(), " to fewer dimensions ",
             to_string(shape));
  Shape strides(rank, 0);
  Shape target = shape;
  std::int64_t leading = rank - x.dim();
  for (std::int64_t i = 0; i < x.dim(); ++i) {
    std::int64_t extent = x.shape()[i];
    std::int64_t wanted = shape[leading + i] == -1 ? extent : shape[leading + i];
    ATTN_CHECK(extent == wanted || extent == 1, op, ": cannot broadcast ", x.describe(), " to ",
               to_string(shape));
    target[leading + i] = wanted;
    strides[leading + i] = extent == wanted ? x.strides()[i] : 0;
  }
  for (std::int64_t i = 0; i < leading; ++i) {
    ATTN_CHECK(target[i] >= 0, op, ": invalid target shape ", to_string(shape));
  }
  return x.as_strided(target, strides, x.offset());
}

Tensor raw_slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
                 std::int64_t step) {
  dim = normalize_dim(dim, x.dim(), "slice");
  ATTN_CHECK(step >= 1, "slice: step must be positive, got ", step);
  std::int64_t extent = x.shape()[dim];
  if (start < 0) start += extent;
  if (end < 0) end += extent;
  start = std::clamp<std::int64_t>(start, 0, extent);
  end = std::clamp<std::int64_t>(end, start, extent);
  Shape shape = x.shape();
  Shape strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  std::int64_t offset = x.offset() + (shape[dim] > 0 ? start * x.strides()[dim] : 0);
  return x.as_strided(shape, strides, offset);
}

DimLast move_dim_last(const Tensor& x, std::int64_t dim) {
  dim = normalize_dim(dim, x.dim(), "move_dim_last");
  std::vector<std::int64_t> order(x.dim());
  std::iota(order.begin(), order.end(), 0);
  order.erase(order.begin() + dim);
  order.push_back(dim);
  std::vector<std::int64_t> inverse(x.dim());
  for (std::size_t i = 0; i < order.size(); ++i) inverse[order[i]] = static_cast<std::int64_t>(i);
  return {raw_permute(x, order).contiguous(), inverse};
}

}  // namespace attn::ops::internal
