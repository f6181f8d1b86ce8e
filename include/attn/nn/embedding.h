// Embedding: a lookup table of vectors, as torch.nn.Embedding (parameter "weight" [num, dim]).
#pragma once

#include <cstdint>

#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::nn {

class Embedding : public Module {
 public:
  // The weight starts N(0, 1); the row at padding_index (when >= 0) starts at zero and never
  // receives a gradient, so it stays zero through training. A negative padding_index counts
  // from the end as in PyTorch, except -1 (the default), which means "no padding row".
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
            std::int64_t padding_index = -1, DType dtype = DType::Float32);

  // int64 indices [...] -> [..., embedding_dim]
  Tensor forward(const Tensor& indices) const;

  const Tensor& weight() const { return weight_; }
  std::int64_t num_embeddings() const { return num_embeddings_; }
  std::int64_t embedding_dim() const { return embedding_dim_; }
  std::int64_t padding_index() const { return padding_index_; }  // -1 when none

 private:
  std::int64_t num_embeddings_;
  std::int64_t embedding_dim_;
  std::int64_t padding_index_;
  Tensor weight_;
};

}  // namespace attn::nn
