// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ with norm_type 2.
#pragma once

#include <cstdint>
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

// The pieces of clip_grad_norm, for a norm computed elsewhere (from the shards of a
// data-parallel job, say):
// sum(grad^2) of one gradient, in double; global_grad_norm is the square root of these
// added in parameter order, starting from 0.0.
double grad_sum_of_squares(const Tensor& grad);
// The same sum in blocks: the sums of squares of consecutive runs of kSumOfSquaresBlock
// elements (the last run may be shorter), each from 0.0. grad_sum_of_squares adds them in
// order starting from 0.0, so whoever holds a block-aligned part of a gradient (a shard of
// a data-parallel job) can contribute its blocks and reproduce the same bits.
inline constexpr std::int64_t kSumOfSquaresBlock = 1024;
std::vector<double> grad_block_sums_of_squares(const Tensor& grad);
// max_norm / (total_norm + 1e-6) when below 1, else 1 (also for a non-finite total_norm).
double clip_coefficient(double total_norm, double max_norm);
// Multiplies every defined gradient by `scale`.
void scale_grads(const std::vector<Tensor>& parameters, double scale);

}  // namespace attn::optim
