// Differentiable reductions.
#pragma once

#include <vector>

#include "attn/core/tensor.h"

namespace attn::ops {

Tensor sum(const Tensor& x);  // all elements, shape []
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim = false);
// Largest value along `dim`; the gradient flows to the first maximal element.
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim = false);
// Index of the largest value along `dim` (int64, not differentiable).
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);

}  // namespace attn::ops
