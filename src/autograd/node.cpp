#include "attn/autograd/node.h"

#include <memory>

#include "attn/autograd/grad_mode.h"

namespace attn::autograd {

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& input : inputs) {
    if (input.defined() && input.requires_grad()) return true;
  }
  return false;
}

Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs,
              BackwardFunction backward) {
  if (!any_requires_grad(inputs)) return output;
  auto node = std::make_shared<Node>();
  node->name = std::move(name);
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  TensorImpl* impl = output.impl();
  impl->requires_grad = true;
  impl->grad_fn = std::move(node);
  return output;
}

Tensor record(Tensor output, std::string name, const Tensor& input, BackwardFunction backward,
              AccumulateFunction accumulate) {
  output = record(std::move(output), std::move(name), {input}, std::move(backward));
  if (output.grad_fn() != nullptr) output.grad_fn()->accumulate = std::move(accumulate);
  return output;
}

}  // namespace attn::autograd
