// The reference attention: the formula composed from differentiable ops, so autograd gives
// the backward. It materialises the [B, H, Nq, Nk] scores (and, for Additive, the
// [B, H, Nq, Nk, a] hidden layer): simple, and the oracle of the tests.
#include <cmath>
#include <limits>

#include "attention_internal.h"
#include "attn/ops/ops.h"
#include "internal.h"

namespace attn::ops::attention_detail {

namespace {

// [B, H, d, Nk]
Tensor transposed_keys(const Tensor& k) { return transpose(k, -1, -2); }

// v_a · tanh(q_i W_q + k_j W_k): [B, H, Nq, Nk]
Tensor additive_scores(const Tensor& q, const Tensor& k, const ScoreParameters& parameters) {
  // [B, H, Nq, 1, a] + [B, H, 1, Nk, a] -> [B, H, Nq, Nk, a]
  Tensor hidden =
      tanh(add(unsqueeze(matmul(q, parameters.w_q), 3), unsqueeze(matmul(k, parameters.w_k), 2)));
  return matmul(hidden, parameters.v_a);
}

// scale · q̂_i · k̂_j with q̂ = q / max(‖q‖, 1e-12): [B, H, Nq, Nk]
Tensor cosine_scores(const Tensor& q, const Tensor& k, const AttentionOptions& options,
                     const AttentionShape& shape) {
  Tensor cosines = matmul(unit_rows(q), transposed_keys(unit_rows(k)));
  const Tensor& learned_scale = options.parameters.scale;
  if (learned_scale.defined()) return mul(cosines, learned_scale);
  return mul(cosines, fixed_scale(options, shape));
}

// score(q, k): [B, H, Nq, Nk]
Tensor scores(const Tensor& q, const Tensor& k, const AttentionOptions& options,
              const AttentionShape& shape) {
  switch (options.score) {
    case Score::Dot:
      return matmul(q, transposed_keys(k));
    case Score::ScaledDot:
      return mul(matmul(q, transposed_keys(k)), fixed_scale(options, shape));
    case Score::General:
      return matmul(matmul(q, options.parameters.w), transposed_keys(k));
    case Score::Additive:
      return additive_scores(q, k, options.parameters);
    case Score::Cosine:
      return cosine_scores(q, k, options, shape);
  }
  ATTN_ASSERT(false, "unknown Score ", static_cast<int>(options.score));
}

// scores + bias, then -inf wherever a bool mask forbids: [B, H, Nq, Nk]
Tensor masked_scores(Tensor scores, const AttentionMask& mask, const AttentionShape& shape) {
  if (mask.bias.defined()) scores = add(scores, mask.bias);
  Tensor allowed = allowed_positions(mask, shape, MaskParts::All);
  if (!allowed.defined()) return scores;
  return masked_fill(scores, logical_not(allowed), -std::numeric_limits<double>::infinity());
}

// log Σ_j exp(s_ij) of each row of the masked scores: [B, H, Nq], -inf for a row with no
// allowed key. Accumulated in double, so it is the oracle for the kernel's float lse too.
template <typename T>
Tensor row_logsumexp(const Tensor& masked) {
  Tensor scores = masked.detach().contiguous();
  std::int64_t keys = scores.size(-1);
  Shape shape(scores.shape().begin(), scores.shape().end() - 1);
  Tensor lse = Tensor::empty(shape, scores.dtype());
  const T* rows = scores.data<T>();
  T* out = lse.data<T>();
  for (std::int64_t r = 0; r < lse.numel(); ++r) {
    const T* row = rows + r * keys;
    double largest = -std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < keys; ++j) largest = std::max<double>(largest, row[j]);
    double total = 0.0;
    for (std::int64_t j = 0; j < keys && std::isfinite(largest); ++j) {
      total += std::exp(static_cast<double>(row[j]) - largest);
    }
    out[r] = static_cast<T>(std::isfinite(largest) ? largest + std::log(total) : largest);
  }
  return lse;
}

Generator& generator_of(const AttentionOptions& options) {
  return options.generator != nullptr ? *options.generator : default_generator();
}

}  // namespace

AttentionResult reference_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options, const AttentionShape& shape) {
  // [B, H, Nq, Nk]
  Tensor s = masked_scores(scores(q, k, options, shape), options.mask, shape);
  // A row of -inf gives zeros and a zero gradient (the softmax kernel's rule).
  Tensor weights = softmax(s, -1);
  // Element (b, h, i, j) is dropped by position ((b·H + h)·Nq + i)·Nk + j of a fresh range:
  // the row-major index of the contiguous weights, as the fused kernel numbers it.
  Tensor kept = dropout(weights, options.dropout, options.training, generator_of(options));
  AttentionResult result;
  result.out = matmul(kept, v);
  result.lse = internal::dispatch_floating(
      q.dtype(), "attention", [&](auto tag) { return row_logsumexp<decltype(tag)>(s); });
  if (options.need_weights) result.weights = weights.detach();
  return result;
}

}  // namespace attn::ops::attention_detail
