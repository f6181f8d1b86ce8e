// The scalar oracle of the fused attention kernels (see flash_attention_reference.h).
#include "attn/kernels/flash_attention_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "flash_attention_internal.h"

namespace attn::kernels::reference {
namespace {

using Index = std::int64_t;
using flash::Needs;

template <typename T>
constexpr T kMinusInfinity = -std::numeric_limits<T>::infinity();

// Element (b, h, row, c) of a [B, H, N, ·] input with strides.
template <typename T>
const T* row_of(const T* data, const std::int64_t (&strides)[4], Index b, Index h, Index row) {
  return data + b * strides[0] + h * strides[1] + row * strides[2];
}

template <typename T>
struct RowContext {
  const FlashAttentionParams<T>& params;
  Index b, h, i;
};

template <typename T>
bool may_attend(const RowContext<T>& row, Index j) {
  const FlashAttentionParams<T>& params = row.params;
  const FlashMask<T>& mask = params.mask;
  if (mask.causal && j > row.i + params.keys - params.queries) return false;
  if (mask.key_lengths != nullptr && j >= mask.key_lengths[row.b]) return false;
  if (mask.allowed != nullptr) {
    const std::int64_t* s = mask.allowed_strides;
    if (!mask.allowed[row.b * s[0] + row.h * s[1] + row.i * s[2] + j * s[3]]) return false;
  }
  return true;
}

template <typename T>
T score(const RowContext<T>& row, Index j) {
  const FlashAttentionParams<T>& params = row.params;
  const T* q = row_of(params.q, params.q_strides, row.b, row.h, row.i);
  const T* k = row_of(params.k, params.k_strides, row.b, row.h, j);
  T sum = 0;
  for (Index c = 0; c < params.head_dim; ++c) {
    sum += params.score == FlashScore::Dot ? q[c] * k[c] : params.v_a[c] * std::tanh(q[c] + k[c]);
  }
  return params.score == FlashScore::Dot ? T(params.scale) * sum : sum;
}

// s_j + bias_j for allowed keys, -inf for masked ones.
template <typename T>
std::vector<T> row_scores(const RowContext<T>& row) {
  const FlashAttentionParams<T>& params = row.params;
  const FlashMask<T>& mask = params.mask;
  std::vector<T> scores(std::size_t(params.keys), kMinusInfinity<T>);
  for (Index j = 0; j < params.keys; ++j) {
    if (!may_attend(row, j)) continue;
    scores[j] = score(row, j);
    if (mask.bias != nullptr) {
      const std::int64_t* s = mask.bias_strides;
      scores[j] += mask.bias[row.b * s[0] + row.h * s[1] + row.i * s[2] + j * s[3]];
    }
  }
  return scores;
}

// The softmax of the row, or all zeros when no key is allowed; lse receives log Σ e^s.
template <typename T>
std::vector<T> row_softmax(const std::vector<T>& scores, T& lse) {
  T max = kMinusInfinity<T>;
  for (const T score : scores) max = std::max(max, score);
  std::vector<T> weights(scores.size(), T(0));
  if (max == kMinusInfinity<T>) {
    lse = kMinusInfinity<T>;
    return weights;
  }
  T sum = 0;
  for (std::size_t j = 0; j < scores.size(); ++j) {
    weights[j] = std::exp(scores[j] - max);
    sum += weights[j];
  }
  for (T& weight : weights) weight /= sum;
  lse = max + std::log(sum);
  return weights;
}

// Z_j: 0 for a dropped weight, 1/(1-p) for a kept one, 1 without dropout.
template <typename T>
std::vector<T> dropout_row(const RowContext<T>& row) {
  const FlashAttentionParams<T>& params = row.params;
  std::vector<T> factors(std::size_t(params.keys), T(1));
  if (params.dropout <= 0.0) return factors;
  const std::uint64_t first =
      std::uint64_t((row.b * params.heads + row.h) * params.queries + row.i) *
      std::uint64_t(params.keys);
  for (Index j = 0; j < params.keys; ++j) {
    const float uniform =
        philox_uniform(params.dropout_seed, params.dropout_offset, first + std::uint64_t(j));
    const bool dropped = double(uniform) < params.dropout;
    factors[j] = dropped ? T(0) : T(1.0 / (1.0 - params.dropout));
  }
  return factors;
}

template <typename T>
void forward_row(const RowContext<T>& row, T* out, T& lse) {
  const FlashAttentionParams<T>& params = row.params;
  const std::vector<T> weights = row_softmax(row_scores(row), lse);
  const std::vector<T> factors = dropout_row(row);
  std::fill(out, out + params.value_dim, T(0));
  for (Index j = 0; j < params.keys; ++j) {
    const T weight = weights[j] * factors[j];
    if (weight == T(0)) continue;
    const T* v = row_of(params.v, params.v_strides, row.b, row.h, j);
    for (Index c = 0; c < params.value_dim; ++c) out[c] += weight * v[c];
  }
}

// Gradients of one row's score s_j into q_i, k_j and v_a, given dS_j.
template <typename T>
void score_backward(const RowContext<T>& row, Index j, T grad_score, T* grad_q_row,
                    T* grad_k_row, T* grad_v_a) {
  const FlashAttentionParams<T>& params = row.params;
  const T* q = row_of(params.q, params.q_strides, row.b, row.h, row.i);
  const T* k = row_of(params.k, params.k_strides, row.b, row.h, j);
  for (Index c = 0; c < params.head_dim; ++c) {
    if (params.score == FlashScore::Dot) {
      grad_q_row[c] += T(params.scale) * grad_score * k[c];
      grad_k_row[c] += T(params.scale) * grad_score * q[c];
    } else {
      const T t = std::tanh(q[c] + k[c]);
      const T through_tanh = grad_score * params.v_a[c] * (T(1) - t * t);
      grad_q_row[c] += through_tanh;
      grad_k_row[c] += through_tanh;
      grad_v_a[c] += grad_score * t;
    }
  }
}

template <typename T>
void backward_row(const RowContext<T>& row, const FlashAttentionGradients<T>& grads) {
  const FlashAttentionParams<T>& params = row.params;
  const Index d = params.head_dim, dv = params.value_dim;
  const Index slice = row.b * params.heads + row.h;
  T lse = 0;
  const std::vector<T> weights = row_softmax(row_scores(row), lse);
  const std::vector<T> factors = dropout_row(row);
  const T* grad_out = grads.grad_out + (slice * params.queries + row.i) * dv;
  // dP_j = Z_j (dO_i · v_j) is the gradient with respect to the undropped weight P_j.
  std::vector<T> grad_weights(std::size_t(params.keys), T(0));
  T weighted_sum = 0;  // Σ_j P_j dP_j
  for (Index j = 0; j < params.keys; ++j) {
    if (weights[j] == T(0)) continue;
    const T* v = row_of(params.v, params.v_strides, row.b, row.h, j);
    T* grad_v = grads.grad_v + (slice * params.keys + j) * dv;
    T dot = 0;
    for (Index c = 0; c < dv; ++c) {
      dot += grad_out[c] * v[c];
      grad_v[c] += weights[j] * factors[j] * grad_out[c];
    }
    grad_weights[j] = factors[j] * dot;
    weighted_sum += weights[j] * grad_weights[j];
  }
  T* grad_q = grads.grad_q + (slice * params.queries + row.i) * d;
  for (Index j = 0; j < params.keys; ++j) {
    if (weights[j] == T(0)) continue;
    const T grad_score = weights[j] * (grad_weights[j] - weighted_sum);
    score_backward(row, j, grad_score, grad_q, grads.grad_k + (slice * params.keys + j) * d,
                   grads.grad_v_a);
  }
}

}  // namespace

template <typename T>
void flash_attention_forward(const FlashAttentionParams<T>& params,
                             const FlashAttentionOutputs<T>& outputs) {
  flash::check_params(params, "reference::flash_attention_forward", Needs::Values);
  for (Index b = 0; b < params.batch; ++b) {
    for (Index h = 0; h < params.heads; ++h) {
      for (Index i = 0; i < params.queries; ++i) {
        const Index row = (b * params.heads + h) * params.queries + i;
        forward_row(RowContext<T>{params, b, h, i}, outputs.out + row * params.value_dim,
                    outputs.lse[row]);
      }
    }
  }
}

template <typename T>
void flash_attention_backward(const FlashAttentionParams<T>& params,
                              const FlashAttentionGradients<T>& gradients) {
  flash::check_params(params, "reference::flash_attention_backward", Needs::Values);
  const Index slices = params.batch * params.heads;
  std::fill(gradients.grad_q, gradients.grad_q + slices * params.queries * params.head_dim, T(0));
  std::fill(gradients.grad_k, gradients.grad_k + slices * params.keys * params.head_dim, T(0));
  std::fill(gradients.grad_v, gradients.grad_v + slices * params.keys * params.value_dim, T(0));
  if (params.score == FlashScore::Additive) {
    std::fill(gradients.grad_v_a, gradients.grad_v_a + params.head_dim, T(0));
  }
  for (Index b = 0; b < params.batch; ++b) {
    for (Index h = 0; h < params.heads; ++h) {
      for (Index i = 0; i < params.queries; ++i) {
        backward_row(RowContext<T>{params, b, h, i}, gradients);
      }
    }
  }
}

template <typename T>
void flash_attention_weights(const FlashAttentionParams<T>& params, const T* lse,
                             std::int64_t row_begin, std::int64_t row_end,
                             const std::int64_t* heads, std::int64_t num_heads, T* weights) {
  flash::check_params(params, "reference::flash_attention_weights", Needs::ScoresOnly);
  ATTN_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= params.queries,
             "reference::flash_attention_weights: bad row range [", row_begin, ", ", row_end, ")");
  for (Index b = 0; b < params.batch; ++b) {
    for (Index slot = 0; slot < num_heads; ++slot) {
      const Index h = heads[slot];
      ATTN_CHECK(h >= 0 && h < params.heads, "reference::flash_attention_weights: head ", h,
                 " out of range");
      for (Index i = row_begin; i < row_end; ++i) {
        const T row_lse = lse[(b * params.heads + h) * params.queries + i];
        const std::vector<T> scores = row_scores(RowContext<T>{params, b, h, i});
        T* out = weights + ((b * num_heads + slot) * (row_end - row_begin) + i - row_begin) *
                               params.keys;
        for (Index j = 0; j < params.keys; ++j) {
          const bool attended = scores[j] != kMinusInfinity<T> && row_lse != kMinusInfinity<T>;
          out[j] = attended ? std::exp(scores[j] - row_lse) : T(0);
        }
      }
    }
  }
}

#define ATTN_INSTANTIATE_FLASH_REFERENCE(T)                                                  \
  template void flash_attention_forward<T>(const FlashAttentionParams<T>&,                   \
                                           const FlashAttentionOutputs<T>&);                 \
  template void flash_attention_backward<T>(const FlashAttentionParams<T>&,                  \
                                            const FlashAttentionGradients<T>&);              \
  template void flash_attention_weights<T>(const FlashAttentionParams<T>&, const T*,         \
                                           std::int64_t, std::int64_t, const std::int64_t*, \
                                           std::int64_t, T*);

ATTN_INSTANTIATE_FLASH_REFERENCE(float)
ATTN_INSTANTIATE_FLASH_REFERENCE(double)

}  // namespace attn::kernels::reference
