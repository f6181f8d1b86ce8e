#include <cstring>

#include "attn/ops/functional.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

void check_indices(const Tensor& indices, std::int64_t num_embeddings) {
  ATTN_CHECK(indices.dtype() == DType::Int64, "embedding: indices must be int64, got ",
             indices.describe());
  const std::int64_t* values = indices.data<std::int64_t>();
  for (std::int64_t i = 0; i < indices.numel(); ++i) {
    ATTN_CHECK(values[i] >= 0 && values[i] < num_embeddings, "embedding: index ", values[i],
               " at position ", i, " is out of range for ", num_embeddings, " embeddings");
  }
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight, std::int64_t padding_index) {
  check_defined(indices, "embedding", "indices");
  check_defined(weight, "embedding", "weight");
  ATTN_CHECK(weight.dim() == 2, "embedding: the weight must be [num_embeddings, dim], got ",
             weight.describe());
  Tensor flat_indices = indices.contiguous();
  std::int64_t num_embeddings = weight.shape()[0], dim = weight.shape()[1];
  check_indices(flat_indices, num_embeddings);
  Tensor table = weight.contiguous();
  Shape shape = indices.shape();
  shape.push_back(dim);
  Tensor out = Tensor::empty(shape, weight.dtype());
  std::size_t row_bytes = dim * dtype_size(weight.dtype());
  const std::int64_t* index = flat_indices.data<std::int64_t>();
  auto* source = static_cast<const std::byte*>(table.raw_data());
  auto* destination = static_cast<std::byte*>(out.raw_data());
  for (std::int64_t i = 0; i < flat_indices.numel(); ++i) {
    std::memcpy(destination + i * row_bytes, source + index[i] * row_bytes, row_bytes);
  }
  Shape weight_shape = weight.shape();
  return record(out, "embedding", {weight}, [=](const Tensor& gradient) {
    // Rows used several times add up; the padding row never learns.
    Tensor grad_weight = Tensor::zeros(weight_shape, gradient.dtype());
    Tensor grad_rows = gradient.contiguous();
    dispatch_floating(gradient.dtype(), "embedding", [&](auto tag) {
      using T = decltype(tag);
      const T* rows = grad_rows.data<T>();
      T* accumulated = grad_weight.data<T>();
      for (std::int64_t i = 0; i < flat_indices.numel(); ++i) {
        if (index[i] == padding_index) continue;
        T* target = accumulated + index[i] * dim;
        for (std::int64_t j = 0; j < dim; ++j) target[j] += rows[i * dim + j];
      }
    });
    return std::vector<Tensor>{grad_weight};
  });
}

}  // namespace attn::ops
