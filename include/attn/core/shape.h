// Shapes and strides, counted in elements.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attn {

using Shape = std::vector<std::int64_t>;

std::string to_string(const Shape& shape);  // "[2, 3, 4]"
std::int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

// Maps a possibly negative dimension into [0, rank); throws naming `op` when out of range.
std::int64_t normalize_dim(std::int64_t dim, std::int64_t rank, std::string_view op);

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

}  // namespace attn
