// A node of the define-by-run tape: the backward rule of one op application.
//
// Every op has a single output; the output's grad_fn points at its node, and the node holds
// the op's inputs (the edges to follow) and a closure that maps the gradient of the output
// to one gradient per input. Tensors the rule needs are captured detached, so a node never
// owns its own output and no reference cycle forms.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attn/core/tensor.h"

namespace attn::autograd {

// Returns one gradient per input, in order; an undefined tensor means "no gradient".
using BackwardFunction = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// Optional, for ops whose output is a part of their single input (slice, select): adds the
// gradient of the output into `input_gradient`, a full-size, contiguous gradient of the
// input that the engine owns. A loop that takes T slices of one tensor (an RNN over its
// time steps) then costs O(size) in the backward instead of O(T · size): no zero-filled
// full-size gradient per slice, and no full-size sum per slice.
using AccumulateFunction = std::function<void(const Tensor& grad_output, Tensor& input_gradient)>;

struct Node {
  std::string name;            // e.g. "matmul", used in error messages
  std::vector<Tensor> inputs;  // the op's inputs
  BackwardFunction backward;   // emptied once run, unless the graph is retained
  AccumulateFunction accumulate;  // may be empty; see above
};

// True when grad mode is on and any of the tensors requires a gradient.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches history to `output` when any input requires a gradient and grad mode is on;
// otherwise returns `output` unchanged. The backward closure must not capture `output`
// itself (capture output.detach() instead).
Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs,
              BackwardFunction backward);
// The same for a single-input op that also gives an AccumulateFunction; `backward` remains
// the rule for the cases the engine does not accumulate (a leaf input, a shared buffer).
Tensor record(Tensor output, std::string name, const Tensor& input, BackwardFunction backward,
              AccumulateFunction accumulate);

}  // namespace attn::autograd
