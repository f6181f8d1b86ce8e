// Reverse-mode differentiation over the recorded tape.
#pragma once

#include <functional>

#include "attn/core/tensor.h"

namespace attn::autograd {

struct BackwardOptions {
  // Keep the backward closures (and the tensors they saved) after running them, so that
  // backward can run through the same graph again.
  bool retain_graph = false;
  // Called once for each leaf that requires a gradient, as soon as the last node that can add
  // to its gradient has run (whether it added anything or not): from then on the leaf's
  // .grad is final. Data-parallel training starts exchanging gradients from here while the
  // rest of the backward pass runs.
  std::function<void(const Tensor& leaf)> on_leaf_done;
  // Called after each node of the graph has run. Data-parallel training lets the transport
  // move its started exchanges along here: MPI libraries progress a non-blocking collective
  // only inside MPI calls.
  std::function<void()> after_node;
};

// Propagates `grad_output` (ones for a one-element root when undefined) from `root` to
// every leaf that requires a gradient, adding into the leaves' .grad (gradients accumulate
// across calls until zero_grad).
void backward(const Tensor& root, const Tensor& grad_output = Tensor(),
              BackwardOptions options = {});

}  // namespace attn::autograd
