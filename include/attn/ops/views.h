// Differentiable views and shape operations. Views share storage with their input.
#pragma once

#include <vector>

#include "attn/core/tensor.h"

namespace attn::ops {

// A view when the layout allows, else a copy; one extent may be -1 (inferred).
Tensor reshape(const Tensor& x, Shape shape);
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& order);
// Elements start, start+step, ... < end along `dim` (end is clamped to the extent).
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step = 1);
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index);  // drops `dim`
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor squeeze(const Tensor& x, std::int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);  // broadcast view (stride 0)
Tensor contiguous(const Tensor& x);
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim);

// Sums `gradient` over the dimensions that broadcasting added or stretched, so the result
// has `shape` (the backward of broadcasting).
Tensor sum_to_shape(const Tensor& gradient, const Shape& shape);

}  // namespace attn::ops
