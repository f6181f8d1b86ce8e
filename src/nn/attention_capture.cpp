#include "attn/nn/attention_capture.h"

#include "attn/core/error.h"

namespace attn::nn {
namespace {

thread_local AttentionCapture* innermost_capture = nullptr;

Tensor detached(const Tensor& x, bool copy) {
  if (!x.defined()) return x;
  return copy ? x.clone() : x.detach();
}

}  // namespace

Tensor CapturedAttention::weights() const { return weights(0, q.size(2)); }

Tensor CapturedAttention::weights(std::int64_t row_begin, std::int64_t row_end) const {
  ATTN_CHECK(q.defined() && lse.defined(), "CapturedAttention: empty entry");
  return ops::attention_weights_from_lse(q, k, lse, options, row_begin, row_end);
}

AttentionCapture::AttentionCapture() : outer_(innermost_capture) { innermost_capture = this; }

AttentionCapture::~AttentionCapture() { innermost_capture = outer_; }

AttentionCapture* AttentionCapture::active() { return innermost_capture; }

std::vector<const CapturedAttention*> AttentionCapture::entries_of(const void* module) const {
  std::vector<const CapturedAttention*> found;
  for (const CapturedAttention& entry : entries_) {
    if (entry.module == module) found.push_back(&entry);
  }
  return found;
}

void AttentionCapture::record(const void* module, const Tensor& q, const Tensor& k,
                              const Tensor& lse, const ops::AttentionOptions& options, bool copy) {
  AttentionCapture* capture = innermost_capture;
  if (capture == nullptr) return;
  CapturedAttention entry;
  entry.module = module;
  entry.q = detached(q, copy);
  entry.k = detached(k, copy);
  entry.lse = detached(lse, copy);
  entry.options = options;
  entry.options.dropout = 0.0;
  entry.options.training = false;
  entry.options.need_weights = false;
  entry.options.generator = nullptr;
  capture->entries_.push_back(std::move(entry));
}

}  // namespace attn::nn
