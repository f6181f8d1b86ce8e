#include "attn/nn/embedding.h"

#include "attn/nn/init.h"
#include "attn/ops/functional.h"

namespace attn::nn {
namespace {

std::int64_t resolve_padding_index(std::int64_t padding_index, std::int64_t num_embeddings) {
  if (padding_index == -1) return -1;
  ATTN_CHECK(padding_index >= -num_embeddings && padding_index < num_embeddings,
             "Embedding: padding_index ", padding_index, " is out of range for ", num_embeddings,
             " embeddings");
  return padding_index < 0 ? padding_index + num_embeddings : padding_index;
}

}  // namespace

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
                     std::int64_t padding_index, DType dtype)
    : num_embeddings_(num_embeddings),
      embedding_dim_(embedding_dim),
      padding_index_(resolve_padding_index(padding_index, num_embeddings)) {
  ATTN_CHECK(num_embeddings > 0 && embedding_dim > 0,
             "Embedding: expected positive num_embeddings and embedding_dim, got ", num_embeddings,
             " and ", embedding_dim);
  ATTN_CHECK(is_floating(dtype), "Embedding: expected a floating dtype, got ", dtype_name(dtype));
  weight_ = register_parameter("weight", Tensor::empty({num_embeddings, embedding_dim}, dtype));
  init::normal_(weight_, 0.0, 1.0);
  if (padding_index_ >= 0) {
    // The padding row, as a raw view of the fresh (contiguous) weight.
    init::zeros_(weight_.as_strided({embedding_dim}, {1}, padding_index_ * embedding_dim));
  }
}

Tensor Embedding::forward(const Tensor& indices) const {
  ATTN_CHECK(indices.dtype() == DType::Int64, "Embedding(", num_embeddings_, ", ", embedding_dim_,
             "): expected int64 indices, got ", indices.describe());
  return ops::embedding(indices, weight_, padding_index_);
}

}  // namespace attn::nn
