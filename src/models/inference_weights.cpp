#include "attn/models/inference_weights.h"

#include <algorithm>

#include "attn/core/error.h"

namespace attn::models {
namespace {

thread_local const InferenceWeights* active_weights = nullptr;

// out [in, rows] = weight [rows, in]ᵀ, in blocks that stay in the cache on both sides.
void transpose_into(const float* weight, float* out, std::int64_t rows, std::int64_t in) {
  constexpr std::int64_t kBlock = 32;
#pragma omp parallel for schedule(static)
  for (std::int64_t row_block = 0; row_block < rows; row_block += kBlock) {
    for (std::int64_t column_block = 0; column_block < in; column_block += kBlock) {
      const std::int64_t row_end = std::min(rows, row_block + kBlock);
      const std::int64_t column_end = std::min(in, column_block + kBlock);
      for (std::int64_t r = row_block; r < row_end; ++r) {
        for (std::int64_t c = column_block; c < column_end; ++c) {
          out[c * rows + r] = weight[r * in + c];
        }
      }
    }
  }
}

}  // namespace

InferenceWeights::InferenceWeights(const nn::Module& module) {
  for (const auto& [name, parameter] : module.named_parameters()) {
    if (parameter.dim() != 2 || parameter.dtype() != DType::Float32) continue;
    ATTN_ASSERT(parameter.is_contiguous(), "InferenceWeights: ", name, " is not contiguous");
    const std::int64_t rows = parameter.size(0), in = parameter.size(1);
    Tensor copy = Tensor::empty({in, rows}, DType::Float32);
    transpose_into(parameter.data<float>(), copy.data<float>(), rows, in);
    copies_.emplace(parameter.raw_data(), std::move(copy));
  }
}

const Tensor* InferenceWeights::transposed(const Tensor& weight) const {
  auto found = copies_.find(weight.raw_data());
  if (found == copies_.end()) return nullptr;
  const Tensor& copy = found->second;
  // The same storage viewed with another shape is not the weight the copy was made of.
  if (weight.dim() != 2 || copy.size(0) != weight.size(1) || copy.size(1) != weight.size(0) ||
      !weight.is_contiguous()) {
    return nullptr;
  }
  return &copy;
}

std::int64_t InferenceWeights::bytes() const {
  std::int64_t total = 0;
  for (const auto& [data, copy] : copies_) total += copy.numel() * std::int64_t(sizeof(float));
  return total;
}

const InferenceWeights* InferenceWeights::active() { return active_weights; }

InferenceWeights::Scope::Scope(const InferenceWeights* weights) : previous_(active_weights) {
  active_weights = weights;
}

InferenceWeights::Scope::~Scope() { active_weights = previous_; }

}  // namespace attn::models
