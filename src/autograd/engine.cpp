#include "attn/autograd/engine.h"

#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/autograd/node.h"
#include "attn/kernels/vector_ops.h"

namespace attn::autograd {
namespace {

// A fresh contiguous tensor holding a + b (same shape and floating dtype).
Tensor add_gradients(const Tensor& a, const Tensor& b) {
  Tensor left = a.contiguous();
  Tensor right = b.contiguous();
  Tensor sum = Tensor::empty(a.shape(), a.dtype());
  if (a.dtype() == DType::Float64) {
    kernels::add(left.data<double>(), right.data<double>(), sum.data<double>(), sum.numel());
  } else {
    kernels::add(left.data<float>(), right.data<float>(), sum.data<float>(), sum.numel());
  }
  return sum;
}

// sum += addend (same shape and floating dtype; sum contiguous). Adding into a pending
// gradient that nothing else refers to saves allocating (and first touching) a fresh tensor
// for every tensor that two ops read, such as the residual stream around each sublayer.
void add_in_place(Tensor& sum, const Tensor& addend) {
  Tensor right = addend.contiguous();
  if (sum.dtype() == DType::Float64) {
    kernels::add(sum.data<double>(), right.data<double>(), sum.data<double>(), sum.numel());
  } else {
    kernels::add(sum.data<float>(), right.data<float>(), sum.data<float>(), sum.numel());
  }
}

// Nodes reachable from `root`, ordered so that every node comes before the nodes of its
// inputs. Iterative, because an unrolled RNN makes graphs thousands of nodes deep. The
// shared pointers keep each node alive while the pass releases the edges behind it.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> post_order;
  std::unordered_set<Node*> visited{root.get()};
  std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->inputs.size()) {
      const Tensor& input = node->inputs[next_input++];
      std::shared_ptr<Node> child = input.defined() ? input.grad_fn() : nullptr;
      if (child != nullptr && visited.insert(child.get()).second) stack.push_back({child, 0});
      continue;
    }
    post_order.push_back(node);
    stack.pop_back();
  }
  return {post_order.rbegin(), post_order.rend()};
}

// True when nothing but `gradient` itself refers to its tensor and its memory: an op made it
// for this input alone.
bool exclusively_owned(const Tensor& gradient) {
  return gradient.impl_ptr().use_count() == 1 && gradient.impl()->storage.use_count() == 1 &&
         gradient.grad_fn() == nullptr && gradient.is_contiguous();
}

void accumulate_into_leaf(const Tensor& leaf, const Tensor& gradient) {
  Tensor existing = leaf.grad();
  // The first gradient becomes .grad as it is when nothing else refers to it; otherwise it is
  // copied, so that later in-place updates of .grad (clipping, the optimizer) never write
  // into a tensor that another op or the caller still uses. The copy cost a quarter of a
  // small attention call's forward + backward.
  Tensor updated = existing.defined()       ? add_gradients(existing, gradient)
                   : exclusively_owned(gradient) ? gradient
                                                 : gradient.clone();
  const_cast<Tensor&>(leaf).set_grad(updated);
}

Tensor initial_gradient(const Tensor& root, const Tensor& grad_output) {
  if (!grad_output.defined()) {
    ATTN_CHECK(root.numel() == 1, "backward: an implicit gradient needs a one-element output, got ",
               root.describe(), "; pass grad_output");
    return Tensor::ones(root.shape(), root.dtype());
  }
  ATTN_CHECK(grad_output.shape() == root.shape(), "backward: grad_output has shape ",
             to_string(grad_output.shape()), " but the output has shape ", to_string(root.shape()));
  return grad_output.to(root.dtype());
}

// For a node with an AccumulateFunction whose input is not a leaf: adds the gradient straight
// into the input's pending gradient, made (zero-filled) or copied first when it is missing
// or shared. Returns false when the node's ordinary backward must run instead.
bool accumulate_into_pending(Node* node, const Tensor& gradient,
                             std::unordered_map<Node*, Tensor>& pending) {
  if (!node->accumulate || node->inputs.size() != 1) return false;
  const Tensor& input = node->inputs[0];
  if (!input.defined() || !input.requires_grad() || input.is_leaf()) return false;
  Tensor& slot = pending[input.grad_fn().get()];
  if (!slot.defined()) {
    slot = Tensor::zeros(input.shape(), input.dtype());
  } else if (!exclusively_owned(slot) || slot.dtype() != input.dtype()) {
    slot = slot.contiguous().clone();
  }
  node->accumulate(gradient, slot);
  return true;
}

void propagate(Node* node, const Tensor& gradient, std::unordered_map<Node*, Tensor>& pending,
               bool retain_graph) {
  ATTN_CHECK(node->backward != nullptr, "backward: the graph through '", node->name,
             "' was already used by an earlier backward; pass retain_graph to run it twice");
  if (accumulate_into_pending(node, gradient, pending)) {
    if (!retain_graph) {
      node->backward = nullptr;
      node->accumulate = nullptr;
      node->inputs.clear();
    }
    return;
  }
  std::vector<Tensor> input_gradients = node->backward(gradient);
  ATTN_ASSERT(input_gradients.size() == node->inputs.size(), node->name);
  for (std::size_t i = 0; i < node->inputs.size(); ++i) {
    const Tensor& input = node->inputs[i];
    const Tensor& input_gradient = input_gradients[i];
    if (!input.defined() || !input.requires_grad() || !input_gradient.defined()) continue;
    ATTN_ASSERT(input_gradient.shape() == input.shape(), node->name, ": gradient ",
                to_string(input_gradient.shape()), " for input ", to_string(input.shape()));
    if (input.is_leaf()) {
      accumulate_into_leaf(input, input_gradient);
      continue;
    }
    Tensor& slot = pending[input.grad_fn().get()];
    if (!slot.defined()) {
      slot = input_gradient;
    } else if (exclusively_owned(slot) && slot.dtype() == input_gradient.dtype()) {
      add_in_place(slot, input_gradient);
    } else if (exclusively_owned(input_gradient) && slot.dtype() == input_gradient.dtype()) {
      // The pending gradient is shared (say, passed through a residual sum); the new one is
      // not, so it takes the sum.
      Tensor sum = input_gradient;
      add_in_place(sum, slot);
      slot = std::move(sum);
    } else {
      slot = add_gradients(slot, input_gradient);
    }
  }
  if (!retain_graph) {
    node->backward = nullptr;
    node->accumulate = nullptr;
    node->inputs.clear();
  }
}

// For each position of `order`, the leaves (requiring a gradient) whose last reader is the
// node at that position.
std::vector<std::vector<Tensor>> leaves_done_after(const std::vector<std::shared_ptr<Node>>& order) {
  std::unordered_map<TensorImpl*, std::size_t> last_reader;
  std::unordered_map<TensorImpl*, Tensor> leaves;
  for (std::size_t position = 0; position < order.size(); ++position) {
    for (const Tensor& input : order[position]->inputs) {
      if (!input.defined() || !input.is_leaf() || !input.requires_grad()) continue;
      last_reader[input.impl()] = position;
      leaves.emplace(input.impl(), input);
    }
  }
  std::vector<std::vector<Tensor>> done(order.size());
  for (const auto& [impl, position] : last_reader) done[position].push_back(leaves.at(impl));
  return done;
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad_output, BackwardOptions options) {
  ATTN_CHECK(root.defined(), "backward: called on an undefined tensor");
  ATTN_CHECK(root.requires_grad(), "backward: the tensor ", root.describe(),
             " does not require a gradient and has no history");
  NoGradGuard no_grad;
  Tensor gradient = initial_gradient(root, grad_output);
  if (root.is_leaf()) {
    accumulate_into_leaf(root, gradient);
    if (options.on_leaf_done) options.on_leaf_done(root);
    return;
  }
  std::unordered_map<Node*, Tensor> pending{{root.grad_fn().get(), gradient}};
  const std::vector<std::shared_ptr<Node>> order = topological_order(root.grad_fn());
  std::vector<std::vector<Tensor>> leaves_done;
  if (options.on_leaf_done) leaves_done = leaves_done_after(order);
  for (std::size_t position = 0; position < order.size(); ++position) {
    Node* node = order[position].get();
    auto found = pending.find(node);
    if (found != pending.end()) {
      Tensor node_gradient = std::move(found->second);
      pending.erase(found);
      propagate(node, node_gradient, pending, options.retain_graph);
    }
    if (options.on_leaf_done) {
      for (const Tensor& leaf : leaves_done[position]) options.on_leaf_done(leaf);
    }
    if (options.after_node) options.after_node();
  }
}

}  // namespace attn::autograd
