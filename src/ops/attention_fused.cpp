// The fused attention: every score function is reduced to one of the kernel's two forms by
// differentiable preprocessing (attention_scores.cpp), then one autograd node runs
// kernels::flash_attention_forward and, in its backward, flash_attention_backward.
// The node's inputs are the kernel operands {q', k', v} (and v_a for Additive); autograd
// carries their gradients back through the preprocessing to q, k and the score parameters.
#include <utility>

#include "attention_internal.h"
#include "attn/autograd/grad_mode.h"
#include "attn/autograd/node.h"
#include "internal.h"

namespace attn::ops::attention_detail {

namespace {

// Pass a view straight to the kernel when its rows are contiguous (e.g. heads split off a
// [B, N, H·d] projection by a permute), else a row-major copy.
Tensor unit_stride_rows(const Tensor& x) {
  if (x.size(-1) <= 1 || x.strides().back() == 1) return x;
  return x.contiguous();
}

// The kernel reads a [B, H, ·, ·] view as a first-element pointer and four strides.
template <typename Element>
void point_at(const Tensor& x, const Element*& pointer, std::int64_t (&strides)[4]) {
  pointer = x.data<Element>();
  for (int d = 0; d < 4; ++d) strides[d] = x.strides()[d];
}

// Everything one fused call reads, detached. FlashAttentionParams' raw pointers point into
// these tensors, which the autograd node keeps alive until its backward has run.
struct FusedCall {
  AttentionShape shape;
  kernels::FlashScore form = kernels::FlashScore::Dot;
  double scale = 1.0;
  Tensor q, k, v, v_a;  // q', k' of the chosen form; v undefined when only weights are wanted
  KernelMasks masks;
  double dropout = 0.0;
  std::uint64_t dropout_seed = 0, dropout_offset = 0;

  template <typename T>
  kernels::FlashMask<T> mask() const;
  template <typename T>
  kernels::FlashAttentionParams<T> params() const;
};

template <typename T>
kernels::FlashMask<T> FusedCall::mask() const {
  kernels::FlashMask<T> view;
  view.causal = masks.causal;
  if (masks.key_lengths.defined()) view.key_lengths = masks.key_lengths.data<std::int64_t>();
  if (masks.allowed.defined()) point_at(masks.allowed, view.allowed, view.allowed_strides);
  if (masks.bias.defined()) point_at(masks.bias, view.bias, view.bias_strides);
  return view;
}

template <typename T>
kernels::FlashAttentionParams<T> FusedCall::params() const {
  kernels::FlashAttentionParams<T> params;
  params.batch = shape.batch, params.heads = shape.heads;
  params.queries = shape.queries, params.keys = shape.keys;
  params.head_dim = q.size(3);  // d, or a for Additive
  params.value_dim = v.defined() ? v.size(3) : 0;
  params.score = form;
  params.scale = scale;
  point_at(q, params.q, params.q_strides);
  point_at(k, params.k, params.k_strides);
  if (v.defined()) point_at(v, params.v, params.v_strides);
  if (v_a.defined()) params.v_a = v_a.data<T>();
  params.mask = mask<T>();
  params.dropout = dropout;
  params.dropout_seed = dropout_seed, params.dropout_offset = dropout_offset;
  return params;
}

FusedCall make_call(const KernelOperands& operands, const Tensor& v,
                    const AttentionOptions& options, const AttentionShape& shape) {
  FusedCall call;
  call.shape = shape;
  call.form = operands.form;
  call.scale = operands.scale;
  call.q = unit_stride_rows(operands.q.detach());
  call.k = unit_stride_rows(operands.k.detach());
  if (v.defined()) call.v = unit_stride_rows(v.detach());
  if (operands.v_a.defined()) call.v_a = operands.v_a.detach().contiguous();
  call.masks = kernel_masks(options.mask, shape);
  return call;
}

// Takes the same fresh range of the generator as the reference's dropout, so the two drop
// the same elements.
void reserve_dropout(FusedCall& call, const AttentionOptions& options) {
  if (!options.training || options.dropout == 0.0) return;
  Generator& generator = options.generator != nullptr ? *options.generator : default_generator();
  const AttentionShape& s = call.shape;
  call.dropout = options.dropout;
  call.dropout_seed = generator.seed();
  call.dropout_offset =
      generator.reserve(static_cast<std::uint64_t>(s.batch * s.heads * s.queries * s.keys));
}

// out [B, H, Nq, dv] and lse [B, H, Nq]
template <typename T>
std::pair<Tensor, Tensor> run_forward(const FusedCall& call) {
  const AttentionShape& s = call.shape;
  Tensor out = Tensor::empty({s.batch, s.heads, s.queries, s.value_dim}, dtype_of<T>());
  Tensor lse = Tensor::empty({s.batch, s.heads, s.queries}, dtype_of<T>());
  kernels::flash_attention_forward<T>(call.params<T>(), {out.data<T>(), lse.data<T>()});
  return {out, lse};
}

// Gradients of the node's inputs {q', k', v} (+ v_a for Additive), in that order.
template <typename T>
std::vector<Tensor> run_backward(const FusedCall& call, const Tensor& out, const Tensor& lse,
                                 const Tensor& gradient) {
  Tensor grad_out = gradient.contiguous();
  std::vector<Tensor> grads{Tensor::empty(call.q.shape(), dtype_of<T>()),
                            Tensor::empty(call.k.shape(), dtype_of<T>()),
                            Tensor::empty(call.v.shape(), dtype_of<T>())};
  if (call.v_a.defined()) grads.push_back(Tensor::empty(call.v_a.shape(), dtype_of<T>()));
  kernels::FlashAttentionGradients<T> arguments;
  arguments.out = out.data<T>(), arguments.lse = lse.data<T>();
  arguments.grad_out = grad_out.data<T>();
  arguments.grad_q = grads[0].data<T>();
  arguments.grad_k = grads[1].data<T>();
  arguments.grad_v = grads[2].data<T>();
  if (call.v_a.defined()) arguments.grad_v_a = grads[3].data<T>();
  kernels::flash_attention_backward<T>(call.params<T>(), arguments);
  return grads;
}

// weights [B, |heads|, row_end - row_begin, Nk]
template <typename T>
Tensor run_weights(const FusedCall& call, const Tensor& lse, std::int64_t row_begin,
                   std::int64_t row_end, const std::vector<std::int64_t>& heads) {
  const AttentionShape& s = call.shape;
  auto num_heads = static_cast<std::int64_t>(heads.size());
  Tensor weights = Tensor::empty({s.batch, num_heads, row_end - row_begin, s.keys}, dtype_of<T>());
  Tensor lse_rows = lse.contiguous();
  kernels::flash_attention_weights<T>(call.params<T>(), lse_rows.data<T>(), row_begin, row_end,
                                      heads.data(), num_heads, weights.data<T>());
  return weights;
}

std::vector<std::int64_t> all_heads(std::int64_t num_heads) {
  std::vector<std::int64_t> heads(num_heads);
  for (std::int64_t h = 0; h < num_heads; ++h) heads[h] = h;
  return heads;
}

}  // namespace

AttentionResult fused_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                const AttentionOptions& options, const AttentionShape& shape) {
  KernelOperands operands = kernel_operands(q, k, options, shape);
  FusedCall call = make_call(operands, v, options, shape);
  reserve_dropout(call, options);
  auto [out, lse] = internal::dispatch_floating(
      q.dtype(), "attention", [&](auto tag) { return run_forward<decltype(tag)>(call); });
  std::vector<Tensor> inputs{operands.q, operands.k, v};
  if (operands.v_a.defined()) inputs.push_back(operands.v_a);
  Tensor saved_out = out.detach(), saved_lse = lse.detach();
  AttentionResult result;
  result.out = autograd::record(
      out, "attention_fused", inputs, [call, saved_out, saved_lse](const Tensor& gradient) {
        return internal::dispatch_floating(gradient.dtype(), "attention", [&](auto tag) {
          return run_backward<decltype(tag)>(call, saved_out, saved_lse, gradient);
        });
      });
  result.lse = saved_lse;
  if (options.need_weights) {
    result.weights = internal::dispatch_floating(q.dtype(), "attention", [&](auto tag) {
      return run_weights<decltype(tag)>(call, saved_lse, 0, shape.queries, all_heads(shape.heads));
    });
  }
  return result;
}

Tensor fused_weights_from_lse(const Tensor& q, const Tensor& k, const Tensor& lse,
                              const AttentionOptions& options, const AttentionShape& shape,
                              std::int64_t row_begin, std::int64_t row_end,
                              const std::vector<std::int64_t>& heads) {
  NoGradGuard no_grad;
  KernelOperands operands = kernel_operands(q, k, options, shape);
  FusedCall call = make_call(operands, Tensor(), options, shape);
  return internal::dispatch_floating(q.dtype(), "attention_weights_from_lse", [&](auto tag) {
    return run_weights<decltype(tag)>(call, lse, row_begin, row_end, heads);
  });
}

}  // namespace attn::ops::attention_detail
