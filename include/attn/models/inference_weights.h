// Weights laid out for inference: a transposed copy [in, out] of each matrix a model
// multiplies by, which the Transformer layers' linear maps use while a Scope is alive on
// the thread.
//
//   InferenceWeights weights;                      // empty; a copy is made on first use
//   {
//     InferenceWeights::Scope scope(&weights);     // this thread's linear maps use it
//     Tensor hidden = model.forward(...);          // the same values, faster
//   }
//
// Why: attn keeps PyTorch's layout, weight [out, in], and computes y = x Wᵀ, which the GEMM
// library must repack on every call; for few rows (a single sentence, a decoding step) that
// repacking costs more than the product, and it does not run on a second thread. With the
// weight stored [in, out], y = x W' is the library's plain case: measured with oneDNN 2.6 on
// a Zen 5 (AVX-512), 16 rows × 384 × 1152 ran 1.5× faster on one thread and 2.7× on two;
// a batch of 4,096 rows, 1.0 to 1.2× (docs/PERFORMANCE.md).
//
// Copies are made when a linear map first multiplies by a weight inside a Scope, so only the
// matrices a model multiplies by get one (not the embedding tables it only looks up). Each is
// a snapshot: a weight changed after its copy was made is not seen. Only an owner that
// controls every change to its weights may use them (models::PretrainedEncoder and
// tasks::Translator, whose models are not handed out for change).
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "attn/core/tensor.h"

namespace attn::models {

class InferenceWeights {
 public:
  InferenceWeights() = default;
  InferenceWeights(const InferenceWeights&) = delete;
  InferenceWeights& operator=(const InferenceWeights&) = delete;

  // The transposed copy [in, out] of `weight` [out, in], made on the first call for a
  // contiguous float32 matrix; null for anything else. Safe to call from several threads.
  const Tensor* transposed(const Tensor& weight) const;
  std::size_t size() const;
  std::int64_t bytes() const;

  // The copies of the innermost live Scope on this thread, or null.
  static const InferenceWeights* active();

  // Makes `weights` the active copies on this thread until destroyed; nests.
  class Scope {
   public:
    explicit Scope(const InferenceWeights* weights);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    const InferenceWeights* previous_;
  };

 private:
  // first element of the original -> its transposed copy (nodes: pointers to copies stay valid)
  mutable std::unordered_map<const void*, Tensor> copies_;
  mutable std::mutex mutex_;
};

}  // namespace attn::models
