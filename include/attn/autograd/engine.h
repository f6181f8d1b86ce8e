// Reverse-mode differentiation over the recorded tape.
#pragma once

#include "attn/core/tensor.h"

namespace attn::autograd {

struct BackwardOptions {
  // Keep the backward closures (and the tensors they saved) after running them, so that
  // backward can run through the same graph again.
  bool retain_graph = false;
};

// Propagates `grad_output` (ones for a one-element root when undefined) from `root` to
// every leaf that requires a gradient, adding into the leaves' .grad (gradients accumulate
// across calls until zero_grad).
void backward(const Tensor& root, const Tensor& grad_output = Tensor(),
              BackwardOptions options = {});

}  // namespace attn::autograd
