// Differentiable matrix products.
#pragma once

#include "attn/core/tensor.h"

namespace attn::ops {

// Matrix product with torch.matmul's rules for rank >= 2: the last two dimensions multiply,
// the leading (batch) dimensions broadcast. [.., m, k] x [.., k, n] -> [.., m, n].
// A 1-D operand is treated as a row (left) or column (right) vector and the dimension dropped.
Tensor matmul(const Tensor& a, const Tensor& b);

// y = x Wᵀ + b with x [..., in], weight [out, in], bias [out] (optional).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace attn::ops
