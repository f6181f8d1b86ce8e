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

const Tensor* InferenceWeights::transposed(const Tensor& weight) const {
  if (weight.dim() != 2 || weight.dtype() != DType::Float32 || !weight.is_contiguous()) {
    return nullptr;
  }
  const std::int64_t rows = weight.size(0), in = weight.size(1);
  const std::lock_guard<std::mutex> lock(mutex_);
  auto found = copies_.find(weight.raw_data());
  if (found == copies_.end()) {
    Tensor copy = Tensor::empty({in, rows}, DType::Float32);
    transpose_into(weight.data<float>(), copy.data<float>(), rows, in);
    found = copies_.emplace(weight.raw_data(), std::move(copy)).first;
  }
  const Tensor& copy = found->second;
  // The same storage seen with another shape is not the matrix the copy was made of.
  if (copy.size(0) != in || copy.size(1) != rows) return nullptr;
  return &copy;
}

std::size_t InferenceWeights::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return copies_.size();
}

std::int64_t InferenceWeights::bytes() const {
  const std::lock_guard<std::mutex> lock(mutex_);
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
