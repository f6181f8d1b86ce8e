// Weights laid out for inference: a transposed copy [in, out] of each linear weight of a
// module, which the Transformer layers' linear maps use while a Scope is alive on the thread.
//
//   InferenceWeights weights(model.encoder());     // copies once
//   {
//     InferenceWeights::Scope scope(weights);      // this thread's linear maps use them
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
// The copies are a snapshot: a weight changed after they were made is not seen. Only an
// owner that controls every change to its weights may use them (models::PretrainedEncoder
// drops its copies as soon as its model is handed out for change).
#pragma once

#include <cstdint>
#include <unordered_map>

#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::models {

class InferenceWeights {
 public:
  InferenceWeights() = default;
  // Every two-dimensional float32 parameter of `module` (its linear weights; do not pass a
  // module that holds embedding tables, whose copy would only cost memory).
  explicit InferenceWeights(const nn::Module& module);

  // The transposed copy [in, out] of `weight` [out, in] (a parameter given to the
  // constructor), or null when there is none.
  const Tensor* transposed(const Tensor& weight) const;
  std::size_t size() const { return copies_.size(); }
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
  // first element of the original -> its transposed copy
  std::unordered_map<const void*, Tensor> copies_;
};

}  // namespace attn::models
