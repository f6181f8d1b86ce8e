// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ with norm_type 2.
#pragma once

#include <vector>

#include "attn/core/tensor.h"

namespace attn::optim {

// The L2 norm of all gradients together, sqrt(sum over parameters of sum(grad^2)),
// accumulated in double. Parameters without a gradient are skipped; none gives 0.
double global_grad_norm(const std::vector<Tensor>& parameters);

// Scales every gradient in place by max_norm / (total_norm + 1e-6) when that factor is
// below 1, and returns total_norm (the norm before clipping). A NaN or infinite norm is
// returned as is and leaves the gradients untouched, so the caller can skip the step.
double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm);

}  // namespace attn::optim
