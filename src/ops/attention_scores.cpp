// Score-function building blocks: the cosine normalisation, and the reduction of every
// score function to one of the fused kernel's two forms (Dot or Additive).
#include "attention_internal.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/linalg.h"
#include "attn/ops/reduce.h"
#include "internal.h"

namespace attn::ops::attention_detail {

using kernels::FlashScore;

namespace {

// The norm floor of the cosine score, as torch.nn.functional.normalize's eps.
constexpr double kNormFloor = 1e-12;

// bool: x > threshold, elementwise (no gradient).
Tensor greater_than(const Tensor& x, double threshold) {
  Tensor values = x.to(DType::Float64).contiguous();
  Tensor result = Tensor::empty(x.shape(), DType::Bool);
  const double* in = values.data<double>();
  bool* out = result.data<bool>();
  for (std::int64_t i = 0; i < result.numel(); ++i) out[i] = in[i] > threshold;
  return result;
}

KernelOperands cosine_operands(const Tensor& q, const Tensor& k, const AttentionOptions& options,
                               const AttentionShape& shape) {
  const Tensor& learned_scale = options.parameters.scale;
  if (!learned_scale.defined()) {
    return {unit_rows(q), unit_rows(k), Tensor(), FlashScore::Dot, fixed_scale(options, shape)};
  }
  // A learned scale multiplies q̂, so its gradient comes from autograd: the kernel's scale is 1.
  return {mul(unit_rows(q), learned_scale), unit_rows(k), Tensor(), FlashScore::Dot, 1.0};
}

KernelOperands additive_operands(const Tensor& q, const Tensor& k,
                                 const ScoreParameters& parameters) {
  // [B, H, Nq, a] and [B, H, Nk, a]: the kernel forms tanh(q'_i + k'_j) tile by tile.
  Tensor projected_q = matmul(q, parameters.w_q);
  Tensor projected_k = matmul(k, parameters.w_k);
  return {projected_q, projected_k, parameters.v_a, FlashScore::Additive, 1.0};
}

}  // namespace

Tensor unit_rows(const Tensor& x) {
  // [..., 1]: ‖x‖² clamped at the squared floor before the square root, so a zero row has a
  // finite derivative (clamping after the root would give 0 · ∞ = NaN).
  Tensor squared_norm = sum(mul(x, x), {-1}, true);
  Tensor floor = Tensor::scalar(kNormFloor * kNormFloor, x.dtype());
  Tensor clamped = where(greater_than(squared_norm, kNormFloor * kNormFloor), squared_norm, floor);
  return div(x, sqrt(clamped));
}

KernelOperands kernel_operands(const Tensor& q, const Tensor& k, const AttentionOptions& options,
                               const AttentionShape& shape) {
  switch (options.score) {
    case Score::Dot:
      return {q, k, Tensor(), FlashScore::Dot, 1.0};
    case Score::ScaledDot:
      return {q, k, Tensor(), FlashScore::Dot, fixed_scale(options, shape)};
    case Score::General:
      // q_i W k_jᵀ = (q W)_i · k_j
      return {matmul(q, options.parameters.w), k, Tensor(), FlashScore::Dot, 1.0};
    case Score::Additive:
      return additive_operands(q, k, options.parameters);
    case Score::Cosine:
      return cosine_operands(q, k, options, shape);
  }
  ATTN_ASSERT(false, "unknown Score ", static_cast<int>(options.score));
}

}  // namespace attn::ops::attention_detail
