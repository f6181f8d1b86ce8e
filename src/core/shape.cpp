#include "attn/core/shape.h"

#include <algorithm>

#include "attn/core/error.h"

namespace attn {

std::string to_string(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) count *= extent;
  return count;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<std::int64_t>(shape[i], 1);
  }
  return strides;
}

std::int64_t normalize_dim(std::int64_t dim, std::int64_t rank, std::string_view op) {
  std::int64_t normalized = dim < 0 ? dim + rank : dim;
  ATTN_CHECK(normalized >= 0 && normalized < rank, op, ": dimension ", dim,
             " is out of range for a tensor of rank ", rank);
  return normalized;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  std::size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    std::int64_t extent_a = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    std::int64_t extent_b = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    ATTN_CHECK(extent_a == extent_b || extent_a == 1 || extent_b == 1, op,
               ": shapes ", to_string(a), " and ", to_string(b), " cannot be broadcast");
    result[i] = extent_a == 1 ? extent_b : extent_a;
  }
  return result;
}

}  // namespace attn
