// Positional encodings: how a Transformer, which is blind to order, learns where a token is.
//
//   Sinusoidal (the Transformer paper):  PE(pos, 2i)   = sin(pos / 10000^(2i/d))
//                                        PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
//   Learned:    a trained vector per position (an Embedding of max_len positions).
//   Rotary (RoPE): rotates each pair of query/key features by an angle proportional to the
//               position, so that q·k depends on the positions only through their
//               difference. attn uses the rotate-half convention of GPT-NeoX and of Hugging
//               Face's LLaMA: feature i is paired with feature i + d/2 (not with its
//               neighbour, as in the original RoFormer and Meta's LLaMA code), with
//                 θ_i = pos · base^(-2i/d),  i < d/2
//                 x'_i       = x_i cos θ_i − x_{i+d/2} sin θ_i
//                 x'_{i+d/2} = x_{i+d/2} cos θ_i + x_i sin θ_i
//
// Sinusoidal and learned encodings are added to x [..., N, d] (positions along dim -2, so
// [B, N, d] or [N, d]; `encoding()` gives the table for other layouts). RoPE is applied to
// the queries and keys of every head, [B, H, N, d]. A position offset serves decoding with a
// cache: the rows are positions offset, offset + 1, ...; positions at or beyond max_len are
// an error, as is an odd d for the sinusoidal and rotary encodings.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "attn/core/tensor.h"
#include "attn/nn/embedding.h"
#include "attn/nn/module.h"

namespace attn::nn {

// The sinusoidal table for positions [offset, offset + length), [length, dim]. Computed in
// double and rounded to `dtype`.
Tensor sinusoidal_encoding(std::int64_t length, std::int64_t dim, std::int64_t offset = 0,
                           DType dtype = DType::Float32);

// The fixed encoding of the paper. It has no parameters and no buffers (the table is
// recomputed from (max_len, dim), so a checkpoint need not store it).
class SinusoidalPositionalEncoding : public Module {
 public:
  SinusoidalPositionalEncoding(std::int64_t dim, std::int64_t max_len = 5000,
                               DType dtype = DType::Float32);

  // x [..., N, dim] -> x + PE[offset : offset + N]
  Tensor forward(const Tensor& x, std::int64_t offset = 0) const;
  // PE[offset : offset + length], [length, dim]
  Tensor encoding(std::int64_t length, std::int64_t offset = 0) const;

  std::int64_t dim() const { return dim_; }
  std::int64_t max_len() const { return max_len_; }

 private:
  std::int64_t dim_;
  std::int64_t max_len_;
  Tensor table_;  // [max_len, dim]
};

// A learned vector per position: a child Embedding "embedding" (parameter
// "embedding.weight" [max_len, dim], initialised N(0, 1) as nn::Embedding).
class LearnedPositionalEncoding : public Module {
 public:
  LearnedPositionalEncoding(std::int64_t max_len, std::int64_t dim, DType dtype = DType::Float32);

  // x [..., N, dim] -> x + weight[offset : offset + N]; differentiable w.r.t. both.
  Tensor forward(const Tensor& x, std::int64_t offset = 0) const;
  // weight[offset : offset + length], [length, dim]; differentiable.
  Tensor encoding(std::int64_t length, std::int64_t offset = 0) const;

  const Embedding& embedding() const { return *embedding_; }
  std::int64_t dim() const { return embedding_->embedding_dim(); }
  std::int64_t max_len() const { return embedding_->num_embeddings(); }

 private:
  std::shared_ptr<Embedding> embedding_;
};

// Rotary position embedding (rotate-half convention, see above). No parameters; the cos and
// sin tables [max_len, head_dim] are computed once, in double, and rounded to `dtype`.
class RotaryEmbedding : public Module {
 public:
  RotaryEmbedding(std::int64_t head_dim, std::int64_t max_len = 4096, double base = 10000.0,
                  DType dtype = DType::Float32);

  // x [..., N, head_dim] (typically [B, H, N, head_dim]) with rows at positions
  // offset ... offset + N - 1 -> the rotated x, same shape; differentiable w.r.t. x.
  Tensor apply(const Tensor& x, std::int64_t offset = 0) const;
  // Rotates queries and keys together. With a cache the keys span more positions than the
  // queries: q holds the last Nq of the Nk positions, so q's offset is
  // key_offset + Nk - Nq.
  std::pair<Tensor, Tensor> forward(const Tensor& q, const Tensor& k,
                                    std::int64_t key_offset = 0) const;

  // cos θ and sin θ for positions [offset, offset + length), each [length, head_dim]
  // (θ repeated for the two halves).
  Tensor cos(std::int64_t length, std::int64_t offset = 0) const;
  Tensor sin(std::int64_t length, std::int64_t offset = 0) const;

  std::int64_t head_dim() const { return head_dim_; }
  std::int64_t max_len() const { return max_len_; }
  double base() const { return base_; }

 private:
  void check_positions(std::int64_t length, std::int64_t offset) const;

  std::int64_t head_dim_;
  std::int64_t max_len_;
  double base_;
  Tensor cos_;  // [max_len, head_dim]
  Tensor sin_;  // [max_len, head_dim]
};

}  // namespace attn::nn
