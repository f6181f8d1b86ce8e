// Plain scalar attention on the arguments of the fused kernels (flash_attention.h): one query
// row at a time, all Nk scores of the row held at once (O(Nk) memory), written for clarity.
// It is the oracle of the fused kernels' tests and is slow (O(Nq·Nk·d) with no blocking).
//
// The results follow the same contract as the fused kernels, with two differences that keep
// the oracle independent of what it checks:
// - backward recomputes each row's softmax from the scores and ignores gradients.out and
//   gradients.lse;
// - backward uses dS = P∘(dP - Σ_j P_ij dP_ij) directly rather than FlashAttention's
//   D = rowsum(dO∘O).
#pragma once

#include <cstdint>

#include "attn/kernels/flash_attention.h"

namespace attn::kernels::reference {

template <typename T>
void flash_attention_forward(const FlashAttentionParams<T>& params,
                             const FlashAttentionOutputs<T>& outputs);

template <typename T>
void flash_attention_backward(const FlashAttentionParams<T>& params,
                              const FlashAttentionGradients<T>& gradients);

template <typename T>
void flash_attention_weights(const FlashAttentionParams<T>& params, const T* lse,
                             std::int64_t row_begin, std::int64_t row_end,
                             const std::int64_t* heads, std::int64_t num_heads, T* weights);

}  // namespace attn::kernels::reference
