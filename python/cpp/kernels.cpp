#include "kernels.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "attn/kernels/flash_attention.h"

namespace attn::python {

namespace {

using OptionalArray = std::optional<InputArray>;
using OptionalOutput = std::optional<OutputArray>;

// The inputs of every kernel call; v is absent for the weights.
struct KernelInputs {
  InputArray q, k;
  std::optional<InputArray> v;
  OptionalArray v_a;
  double scale = 1.0;
  bool causal = false;
  OptionalArray key_lengths, allowed, bias;
  double dropout = 0.0;  // on the weights; the same (seed, element) drops the same in backward
  std::uint64_t seed = 0;
};

template <typename Array>
void require_shape(const Array& array, const std::vector<std::int64_t>& shape,
                   std::string_view name) {
  bool same = array.ndim() == shape.size();
  for (std::size_t i = 0; same && i < shape.size(); ++i) {
    same = static_cast<std::int64_t>(array.shape(i)) == shape[i];
  }
  if (same) return;
  throw nb::value_error(("'" + std::string(name) + "' has shape " + shape_text(array) +
                         ", expected " + shape_text(shape))
                            .c_str());
}

// Copies the four strides of a [B, H, N, ·] view; a dimension of size 1 gets stride 0.
template <typename Array>
void copy_strides(const Array& array, std::int64_t (&strides)[4]) {
  for (std::size_t i = 0; i < 4; ++i) strides[i] = array.shape(i) == 1 ? 0 : array.stride(i);
}

// A mask broadcast to [B, H, Nq, Nk]: each dimension its full size or 1.
template <typename Array>
void require_broadcastable(const Array& mask, const std::int64_t (&full)[4],
                           std::string_view name) {
  require_rank(mask, 4, name, "broadcastable to [B, H, Nq, Nk]");
  for (std::size_t i = 0; i < 4; ++i) {
    std::int64_t extent = static_cast<std::int64_t>(mask.shape(i));
    if (extent != full[i] && extent != 1) {
      throw nb::value_error(("'" + std::string(name) + "' of shape " + shape_text(mask) +
                             " does not broadcast to " +
                             shape_text({full[0], full[1], full[2], full[3]}))
                                .c_str());
    }
  }
}

// A mask of bool, or of uint8 holding 0 and 1 (a bool tensor viewed as bytes: torch 1.13
// cannot pass bool through DLPack).
void require_byte_mask(const InputArray& mask, std::string_view name) {
  bool bytes = mask.dtype() == nb::dtype<bool>() || mask.dtype() == nb::dtype<std::uint8_t>();
  if (bytes) return;
  throw nb::type_error(("'" + std::string(name) + "' has dtype " + dtype_text(mask) +
                        "; a mask of allowed keys is bool (or uint8 0/1)")
                           .c_str());
}

template <typename T>
const T* data_of(const InputArray& array) {
  return static_cast<const T*>(array.data());
}

template <typename T>
T* data_of(const OutputArray& array) {
  return static_cast<T*>(array.data());
}

template <typename T>
void fill_masks(const KernelInputs& inputs, kernels::FlashAttentionParams<T>& params) {
  const std::int64_t full[4] = {params.batch, params.heads, params.queries, params.keys};
  params.mask.causal = inputs.causal;
  if (inputs.key_lengths) {
    require_dtype(*inputs.key_lengths, DType::Int64, "key_lengths");
    require_shape(*inputs.key_lengths, {params.batch}, "key_lengths");
    require_contiguous(*inputs.key_lengths, "key_lengths");
    params.mask.key_lengths = data_of<std::int64_t>(*inputs.key_lengths);
  }
  if (inputs.allowed) {
    require_byte_mask(*inputs.allowed, "mask");
    require_broadcastable(*inputs.allowed, full, "mask");
    params.mask.allowed = data_of<bool>(*inputs.allowed);
    copy_strides(*inputs.allowed, params.mask.allowed_strides);
  }
  if (inputs.bias) {
    require_dtype(*inputs.bias, dtype_of(inputs.q, "q"), "mask");
    require_broadcastable(*inputs.bias, full, "mask");
    params.mask.bias = data_of<T>(*inputs.bias);
    copy_strides(*inputs.bias, params.mask.bias_strides);
  }
}

template <typename T>
kernels::FlashAttentionParams<T> params_from(const KernelInputs& inputs) {
  const InputArray &q = inputs.q, &k = inputs.k;
  require_rank(q, 4, "q", "[B, H, Nq, d]");
  require_rank(k, 4, "k", "[B, H, Nk, d]");
  DType dtype = dtype_of(q, "q");
  require_dtype(k, dtype, "k");
  kernels::FlashAttentionParams<T> params;
  params.batch = q.shape(0), params.heads = q.shape(1), params.queries = q.shape(2);
  params.keys = k.shape(2), params.head_dim = q.shape(3);
  require_shape(k, {params.batch, params.heads, params.keys, params.head_dim}, "k");
  params.q = data_of<T>(q), params.k = data_of<T>(k);
  copy_strides(q, params.q_strides);
  copy_strides(k, params.k_strides);
  if (inputs.v) {
    const InputArray& v = *inputs.v;
    require_rank(v, 4, "v", "[B, H, Nk, dv]");
    require_dtype(v, dtype, "v");
    params.value_dim = v.shape(3);
    require_shape(v, {params.batch, params.heads, params.keys, params.value_dim}, "v");
    params.v = data_of<T>(v);
    copy_strides(v, params.v_strides);
  }
  params.scale = inputs.scale;
  params.dropout = inputs.dropout;
  params.dropout_seed = inputs.seed;
  if (inputs.v_a) {
    require_dtype(*inputs.v_a, dtype, "v_a");
    require_shape(*inputs.v_a, {params.head_dim}, "v_a");
    require_contiguous(*inputs.v_a, "v_a");
    params.score = kernels::FlashScore::Additive;
    params.v_a = data_of<T>(*inputs.v_a);
  }
  fill_masks(inputs, params);
  return params;
}

// A writable, C-contiguous output of the given shape and the inputs' dtype.
template <typename Array>
void require_output(const Array& array, DType dtype, const std::vector<std::int64_t>& shape,
                    std::string_view name) {
  require_dtype(array, dtype, name);
  require_shape(array, shape, name);
  require_contiguous(array, name);
}

template <typename T>
void forward(const KernelInputs& inputs, const OutputArray& out, const OutputArray& lse) {
  kernels::FlashAttentionParams<T> params = params_from<T>(inputs);
  DType dtype = dtype_of(inputs.q, "q");
  require_output(out, dtype, {params.batch, params.heads, params.queries, params.value_dim}, "out");
  require_output(lse, dtype, {params.batch, params.heads, params.queries}, "lse");
  nb::gil_scoped_release unlocked;
  kernels::flash_attention_forward<T>(params, {data_of<T>(out), data_of<T>(lse)});
}

struct BackwardArrays {
  InputArray out, lse, grad_out;
  OutputArray grad_q, grad_k, grad_v;
  OptionalOutput grad_v_a;
};

template <typename T>
void backward(const KernelInputs& inputs, const BackwardArrays& arrays) {
  kernels::FlashAttentionParams<T> params = params_from<T>(inputs);
  DType dtype = dtype_of(inputs.q, "q");
  const std::int64_t b = params.batch, h = params.heads, nq = params.queries, nk = params.keys;
  require_output(arrays.out, dtype, {b, h, nq, params.value_dim}, "out");
  require_output(arrays.lse, dtype, {b, h, nq}, "lse");
  require_output(arrays.grad_out, dtype, {b, h, nq, params.value_dim}, "grad_out");
  require_output(arrays.grad_q, dtype, {b, h, nq, params.head_dim}, "grad_q");
  require_output(arrays.grad_k, dtype, {b, h, nk, params.head_dim}, "grad_k");
  require_output(arrays.grad_v, dtype, {b, h, nk, params.value_dim}, "grad_v");
  kernels::FlashAttentionGradients<T> gradients;
  gradients.out = data_of<T>(arrays.out), gradients.lse = data_of<T>(arrays.lse);
  gradients.grad_out = data_of<T>(arrays.grad_out);
  gradients.grad_q = data_of<T>(arrays.grad_q), gradients.grad_k = data_of<T>(arrays.grad_k);
  gradients.grad_v = data_of<T>(arrays.grad_v);
  if (params.score == kernels::FlashScore::Additive) {
    if (!arrays.grad_v_a) throw nb::value_error("'grad_v_a' is needed with v_a (additive score)");
    require_output(*arrays.grad_v_a, dtype, {params.head_dim}, "grad_v_a");
    gradients.grad_v_a = data_of<T>(*arrays.grad_v_a);
  }
  nb::gil_scoped_release unlocked;
  kernels::flash_attention_backward<T>(params, gradients);
}

template <typename T>
void weights(const KernelInputs& inputs, const InputArray& lse, std::int64_t row_begin,
             std::int64_t row_end, const std::vector<std::int64_t>& heads,
             const OutputArray& out) {
  kernels::FlashAttentionParams<T> params = params_from<T>(inputs);
  DType dtype = dtype_of(inputs.q, "q");
  require_output(lse, dtype, {params.batch, params.heads, params.queries}, "lse");
  const auto rows = row_end - row_begin, count = static_cast<std::int64_t>(heads.size());
  require_output(out, dtype, {params.batch, count, rows, params.keys}, "weights");
  nb::gil_scoped_release unlocked;
  kernels::flash_attention_weights<T>(params, data_of<T>(lse), row_begin, row_end, heads.data(),
                                      count, data_of<T>(out));
}

// Calls body<float> or body<double> by q's dtype.
template <typename Body>
void by_dtype(const InputArray& q, Body&& body) {
  switch (dtype_of(q, "q")) {
    case DType::Float32: body(float{}); return;
    case DType::Float64: body(double{}); return;
    default: throw nb::type_error(("'q' has dtype " + std::string(dtype_name(dtype_of(q, "q"))) +
                                   "; the kernels take float32 or float64").c_str());
  }
}

}  // namespace

void bind_kernels(nb::module_& module) {
  module.def(
      "flash_forward",
      [](InputArray q, InputArray k, InputArray v, OptionalArray v_a, double scale, bool causal,
         OptionalArray key_lengths, OptionalArray allowed, OptionalArray bias, double dropout,
         std::uint64_t seed, OutputArray out, OutputArray lse) {
        KernelInputs inputs{q, k, v, v_a, scale, causal, key_lengths, allowed, bias, dropout, seed};
        by_dtype(q, [&](auto zero) { forward<decltype(zero)>(inputs, out, lse); });
      },
      nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("v_a").none(), nb::arg("scale"),
      nb::arg("causal"), nb::arg("key_lengths").none(), nb::arg("allowed").none(),
      nb::arg("bias").none(), nb::arg("dropout"), nb::arg("seed"), nb::arg("out"), nb::arg("lse"),
      "Fused attention forward into out [B, H, Nq, dv] and lse [B, H, Nq].");
  module.def(
      "flash_backward",
      [](InputArray q, InputArray k, InputArray v, OptionalArray v_a, double scale, bool causal,
         OptionalArray key_lengths, OptionalArray allowed, OptionalArray bias, double dropout,
         std::uint64_t seed, InputArray out, InputArray lse, InputArray grad_out,
         OutputArray grad_q, OutputArray grad_k, OutputArray grad_v, OptionalOutput grad_v_a) {
        KernelInputs inputs{q, k, v, v_a, scale, causal, key_lengths, allowed, bias, dropout, seed};
        BackwardArrays arrays{out, lse, grad_out, grad_q, grad_k, grad_v, grad_v_a};
        by_dtype(q, [&](auto zero) { backward<decltype(zero)>(inputs, arrays); });
      },
      nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("v_a").none(), nb::arg("scale"),
      nb::arg("causal"), nb::arg("key_lengths").none(), nb::arg("allowed").none(),
      nb::arg("bias").none(), nb::arg("dropout"), nb::arg("seed"), nb::arg("out"), nb::arg("lse"),
      nb::arg("grad_out"),
      nb::arg("grad_q"), nb::arg("grad_k"), nb::arg("grad_v"), nb::arg("grad_v_a").none(),
      "Fused attention backward: recomputes the scores from lse, writes the gradients.");
  module.def(
      "flash_weights",
      [](InputArray q, InputArray k, OptionalArray v_a, double scale, bool causal,
         OptionalArray key_lengths, OptionalArray allowed, OptionalArray bias, InputArray lse,
         std::int64_t row_begin, std::int64_t row_end, std::vector<std::int64_t> heads,
         OutputArray out) {
        KernelInputs inputs{q, k, std::nullopt, v_a, scale, causal, key_lengths, allowed, bias};
        by_dtype(q, [&](auto zero) {
          weights<decltype(zero)>(inputs, lse, row_begin, row_end, heads, out);
        });
      },
      nb::arg("q"), nb::arg("k"), nb::arg("v_a").none(), nb::arg("scale"), nb::arg("causal"),
      nb::arg("key_lengths").none(), nb::arg("allowed").none(), nb::arg("bias").none(),
      nb::arg("lse"), nb::arg("row_begin"), nb::arg("row_end"), nb::arg("heads"), nb::arg("out"),
      "Attention weights [B, len(heads), rows, Nk] recomputed from lse.");
}

}  // namespace attn::python
