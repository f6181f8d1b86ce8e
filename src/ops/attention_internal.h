// Pieces shared by the attention files (not part of the public API):
//   attention.cpp            names, validation, the Auto rule, dispatch
//   attention_masks.cpp      the masks as bool tensors and as the fused kernel's strided views
//   attention_scores.cpp     score-function building blocks shared by both implementations
//   attention_reference.cpp  the composite (materialising) implementation
//   attention_fused.cpp      the autograd node around the fused kernels
#pragma once

#include <cstdint>

#include "attn/kernels/flash_attention.h"
#include "attn/ops/attention.h"

namespace attn::ops::attention_detail {

// B, H, Nq, Nk, d, dv and the attention size a (Additive only, else 0), read off validated
// inputs.
struct AttentionShape {
  std::int64_t batch = 0, heads = 0, queries = 0, keys = 0;
  std::int64_t head_dim = 0, value_dim = 0, attention_dim = 0;
};

// ---- attention.cpp ----------------------------------------------------------------------

// The fixed factor of ScaledDot and Cosine (1 for the others): options.scale or its default.
double fixed_scale(const AttentionOptions& options, const AttentionShape& shape);

// ---- attention_masks.cpp ----------------------------------------------------------------

enum class MaskParts {
  All,          // causal, key_lengths, key_padding and allowed: what the reference applies
  BooleanOnly,  // key_padding and allowed: the fused kernel takes causal and lengths itself
};

// The conjunction of the chosen bool masks, true = may attend. Its shape is the broadcast of
// the parts' shapes (rank 4, broadcastable to [B, H, Nq, Nk]), so a key-padding mask stays
// [B, 1, 1, Nk]. Undefined when none of the chosen parts is set.
Tensor allowed_positions(const AttentionMask& mask, const AttentionShape& shape, MaskParts parts);

// The negation of a bool tensor (masked_fill wants the positions to fill).
Tensor logical_not(const Tensor& mask);

// The masks in the form the fused kernel reads, with the tensors its pointers point into.
struct KernelMasks {
  bool causal = false;
  Tensor key_lengths;  // int64 [B], contiguous
  Tensor allowed;      // bool, expanded to [B, H, Nq, Nk] (stride 0 on broadcast dims)
  Tensor bias;         // q's dtype, expanded to [B, H, Nq, Nk]
};
KernelMasks kernel_masks(const AttentionMask& mask, const AttentionShape& shape);

// ---- attention_scores.cpp ---------------------------------------------------------------

// x / max(‖x‖, 1e-12) along the last dimension, differentiable everywhere (a zero row has a
// zero gradient rather than NaN).
Tensor unit_rows(const Tensor& x);

// One of the kernel's two score forms, produced from q and k by differentiable ops so that
// autograd carries the gradients of the projections and parameters.
struct KernelOperands {
  Tensor q;    // [B, H, Nq, d], or [B, H, Nq, a] for Additive (q W_q)
  Tensor k;    // [B, H, Nk, d], or [B, H, Nk, a] for Additive (k W_k)
  Tensor v_a;  // [a], Additive only
  kernels::FlashScore form = kernels::FlashScore::Dot;
  double scale = 1.0;  // Dot form only
};
KernelOperands kernel_operands(const Tensor& q, const Tensor& k, const AttentionOptions& options,
                               const AttentionShape& shape);

// ---- attention_reference.cpp ------------------------------------------------------------

AttentionResult reference_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options, const AttentionShape& shape);

// ---- attention_fused.cpp ----------------------------------------------------------------

AttentionResult fused_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                const AttentionOptions& options, const AttentionShape& shape);

// weights [B, |heads|, row_end - row_begin, Nk] recomputed by the fused kernel from lse.
Tensor fused_weights_from_lse(const Tensor& q, const Tensor& k, const Tensor& lse,
                              const AttentionOptions& options, const AttentionShape& shape,
                              std::int64_t row_begin, std::int64_t row_end,
                              const std::vector<std::int64_t>& heads);

}  // namespace attn::ops::attention_detail
