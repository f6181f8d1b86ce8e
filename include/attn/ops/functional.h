// Differentiable neural-network functions: softmax, normalisation, embedding, dropout, losses.
#pragma once

#include <cstdint>

#include "attn/core/random.h"
#include "attn/core/tensor.h"

namespace attn::ops {

Tensor softmax(const Tensor& x, std::int64_t dim = -1);
Tensor log_softmax(const Tensor& x, std::int64_t dim = -1);

// Normalises over the last `normalized_shape.size()` dimensions; weight and bias have
// normalized_shape (either may be undefined). Biased variance, as in PyTorch.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double epsilon = 1e-5);

// Rows of `weight` [num_embeddings, dim] picked by int64 `indices` of any shape; the result
// has shape indices.shape + [dim]. Rows at padding_index (if >= 0) get no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight, std::int64_t padding_index = -1);

// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
// The mask comes from the counter-based generator, so it does not depend on the thread count.
Tensor dropout(const Tensor& x, double p, bool training, Generator& generator = default_generator());
// residual + dropout(x, p, training, generator), in one pass (the residual connection around
// a Transformer sublayer): the same mask, drawn from the same part of the stream, as the
// two ops. residual and x have one shape and dtype.
Tensor add_dropout(const Tensor& residual, const Tensor& x, double p, bool training,
                   Generator& generator = default_generator());

enum class Reduction { None, Mean, Sum };

struct CrossEntropyOptions {
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
};

// logits [N, C] (or [C]) and int64 targets [N] (or []), as torch.nn.functional.cross_entropy:
// the mean is over targets that are not ignore_index.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const CrossEntropyOptions& options = {});

}  // namespace attn::ops
