// Capturing attention for inspection: while an AttentionCapture is alive on a thread, every
// multi-head attention computed on that thread (nn::MultiHeadAttention and the Transformer
// sublayers) records what it needs to give back its weights: the split queries and keys,
// the log-sum-exp of each score row, and the score options with the masks.
//
// The weights themselves are not kept: entry.weights() recomputes them from the fused
// kernel's log-sum-exp (ops::attention_weights_from_lse, exp(s_ij - lse_i)), so capture works
// whichever implementation ran, and a forward pass with capture on does exactly the same
// arithmetic as one without. Memory is what the queries and keys already take; the
// [H, Nq, Nk] maps exist only when asked for.
//
// Captures nest: the innermost one on a thread records. They are meant for inference (the
// recorded tensors are detached).
#pragma once

#include <cstdint>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/ops/attention.h"

namespace attn::nn {

struct CapturedAttention {
  const void* module = nullptr;  // the attention module that ran (its address identifies it)
  Tensor q;                      // [B, H, Nq, d], detached
  Tensor k;                      // [B, H, Nk, d], detached
  Tensor lse;                    // [B, H, Nq]
  ops::AttentionOptions options;  // score, scale and masks; no dropout

  // [B, H, Nq, Nk] (query rows [row_begin, row_end) when given), recomputed from lse.
  Tensor weights() const;
  Tensor weights(std::int64_t row_begin, std::int64_t row_end) const;
};

class AttentionCapture {
 public:
  AttentionCapture();
  ~AttentionCapture();
  AttentionCapture(const AttentionCapture&) = delete;
  AttentionCapture& operator=(const AttentionCapture&) = delete;

  // In the order the attention calls ran.
  const std::vector<CapturedAttention>& entries() const { return entries_; }
  // The entries of one module, in order (several when a module ran more than once).
  std::vector<const CapturedAttention*> entries_of(const void* module) const;

  // The innermost capture alive on this thread, or null.
  static AttentionCapture* active();
  // Records one call when a capture is active on this thread; a no-op otherwise. q, k, lse
  // are detached (and copied when they view a buffer that may change, see `copy`).
  static void record(const void* module, const Tensor& q, const Tensor& k, const Tensor& lse,
                     const ops::AttentionOptions& options, bool copy = false);

 private:
  std::vector<CapturedAttention> entries_;
  AttentionCapture* outer_ = nullptr;
};

}  // namespace attn::nn
