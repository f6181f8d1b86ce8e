// FlashAttention-style fused attention on the CPU: the arguments travel as one plain struct
// with explicit strides (elements), as in FlashAttention's flash.h.
//
// The kernel knows two score forms; the op layer reduces every score function to one:
//   Dot       s_ij = scale · q_i · k_j               (Dot, ScaledDot; General after q ← q W;
//                                                      Cosine after normalising q and k)
//   Additive  s_ij = Σ_c v_a[c] tanh(q_ic + k_jc)    (after q ← q W_q, k ← k W_k: the
//                                                      "head_dim" is then the attention size a)
// Forward: out and lse; never materialises [Nq, Nk] (nor [Nq, Nk, a]).
// Backward: recomputes the scores tile by tile from lse.
#pragma once

#include <cstdint>

namespace attn::kernels {

enum class FlashScore { Dot, Additive };

// Masks as raw views over [B, H, Nq, Nk]; a stride of 0 broadcasts that dimension.
template <typename T>
struct FlashMask {
  bool causal = false;                     // j <= i + (Nk - Nq)
  const std::int64_t* key_lengths = nullptr;  // [B]
  const bool* allowed = nullptr;           // true = may attend
  std::int64_t allowed_strides[4] = {0, 0, 0, 0};
  const T* bias = nullptr;                 // added to the scores
  std::int64_t bias_strides[4] = {0, 0, 0, 0};
};

template <typename T>
struct FlashAttentionParams {
  std::int64_t batch = 0, heads = 0, queries = 0, keys = 0;
  std::int64_t head_dim = 0;   // d (Dot) or a (Additive)
  std::int64_t value_dim = 0;  // dv
  FlashScore score = FlashScore::Dot;
  double scale = 1.0;          // Dot only
  // [B, H, N, ·] views; the last stride of each must be 1 (unless that size is 1), the
  // others non-negative (0 broadcasts).
  const T* q = nullptr;
  std::int64_t q_strides[4] = {0, 0, 0, 0};
  const T* k = nullptr;
  std::int64_t k_strides[4] = {0, 0, 0, 0};
  const T* v = nullptr;
  std::int64_t v_strides[4] = {0, 0, 0, 0};
  const T* v_a = nullptr;      // [a], Additive only
  FlashMask<T> mask;
  // Dropout on the weights: element (b, h, i, j) is dropped when
  // philox_uniform(seed, offset, ((b·H + h)·Nq + i)·Nk + j) < p; kept ones scale by 1/(1-p).
  double dropout = 0.0;
  std::uint64_t dropout_seed = 0;
  std::uint64_t dropout_offset = 0;
};

template <typename T>
struct FlashAttentionOutputs {
  T* out = nullptr;  // [B, H, Nq, dv] contiguous
  T* lse = nullptr;  // [B, H, Nq] contiguous; -inf for rows with no allowed key
};

template <typename T>
struct FlashAttentionGradients {
  const T* out = nullptr;       // the forward's out, contiguous
  const T* lse = nullptr;       // the forward's lse, contiguous
  const T* grad_out = nullptr;  // [B, H, Nq, dv] contiguous
  T* grad_q = nullptr;          // [B, H, Nq, d] contiguous, written
  T* grad_k = nullptr;          // [B, H, Nk, d] contiguous, written
  T* grad_v = nullptr;          // [B, H, Nk, dv] contiguous, written
  T* grad_v_a = nullptr;        // [a], Additive only, written
};

template <typename T>
void flash_attention_forward(const FlashAttentionParams<T>& params,
                             const FlashAttentionOutputs<T>& outputs);

template <typename T>
void flash_attention_backward(const FlashAttentionParams<T>& params,
                              const FlashAttentionGradients<T>& gradients);

// weights [B, |heads|, row_end - row_begin, Nk] = exp(s_ij - lse_i) on allowed keys, 0
// elsewhere; heads lists the head indices (num_heads of them). No dropout.
//
// All three run on omp_get_max_threads() OpenMP threads and give the same bits for any
// thread count. Misuse (sizes, null pointers, strides, dropout outside [0, 1], key_lengths
// outside [0, Nk]) throws attn::Error naming the function. Plain scalar versions of the same
// contract, the tests' oracle: flash_attention_reference.h.
template <typename T>
void flash_attention_weights(const FlashAttentionParams<T>& params, const T* lse,
                             std::int64_t row_begin, std::int64_t row_end,
                             const std::int64_t* heads, std::int64_t num_heads, T* weights);

}  // namespace attn::kernels
