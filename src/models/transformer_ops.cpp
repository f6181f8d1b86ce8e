// The data movements around the Transformer's GEMMs, as differentiable operations
// that copy whole rows:
//   linear       y = x W[rows]ᵀ + b[rows]: the bias rides in the GEMM (beta = 1), its
//                gradient is a column sum of dy, and a block of rows of a packed
//                weight (in_proj_weight) is used in place, with no slice copy;
//   linear_relu  relu(x Wᵀ + b), the bias and the ReLU in one pass after the GEMM;
//   head_part    one of Q, K, V of a packed [B, N, parts·E] projection as a [B, H, N, d]
//                view (no copy; the attention kernel reads strided rows); the parts add
//                their gradients into one gradient of the projection;
//   merge_heads  [B, H, N, d] -> [B, N, H·d], row by row.
// They compute what ops::linear, ops::slice, ops::reshape and ops::permute would, and the
// PyTorch parity tests check them in float64 to 1e-10.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "attn/autograd/node.h"
#include "attn/kernels/gemm.h"
#include "attn/kernels/vector_ops.h"
#include "attn/models/inference_weights.h"
#include "attn/ops/views.h"
#include "transformer_internal.h"

namespace attn::models::detail {
namespace {

template <typename Function>
auto dispatch(DType dtype, const char* op, Function&& function) {
  ATTN_CHECK(dtype == DType::Float32 || dtype == DType::Float64, op,
             ": expected float32 or float64, got ", dtype_name(dtype));
  if (dtype == DType::Float32) return function(float{});
  return function(double{});
}

// C [m, n] (+)= op(A) op(B), row-major, no batch.
template <typename T>
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, bool transpose_a, const T* a,
          std::int64_t lda, bool transpose_b, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc) {
  kernels::GemmArgs<T> args;
  args.m = m, args.n = n, args.k = k;
  args.transpose_a = transpose_a, args.transpose_b = transpose_b;
  args.a = a, args.lda = lda, args.b = b, args.ldb = ldb;
  args.beta = beta;
  args.c = c, args.ldc = ldc;
  kernels::gemm(args);
}

// The gradients of linear for one dtype. weight_rows_grad / bias_grad are full-size
// tensors, zero outside rows [row_begin, row_end).
template <typename T>
std::vector<Tensor> linear_backward(const Tensor& gradient, const Tensor& input,
                                    const Tensor& weight, bool has_bias, bool input_needs_grad,
                                    std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t in = weight.size(1), out = row_end - row_begin;
  const std::int64_t rows = input.numel() / in;
  const bool whole = row_begin == 0 && row_end == weight.size(0);
  Tensor grad_output = gradient.contiguous();  // [rows, out]
  const T* dy = grad_output.data<T>();
  std::vector<Tensor> grads;
  if (input_needs_grad) {
    // dx [rows, in] = dy [rows, out] · W[rows] [out, in]
    Tensor grad_input = Tensor::empty(input.shape(), dtype_of<T>());
    gemm<T>(rows, in, out, false, dy, out, false, weight.data<T>() + row_begin * in, in, T(0),
            grad_input.data<T>(), in);
    grads.push_back(grad_input);
  } else {
    grads.push_back(Tensor());
  }
  // dW[rows] [out, in] = dyᵀ [out, rows] · x [rows, in]
  Tensor grad_weight = whole ? Tensor::empty(weight.shape(), dtype_of<T>())
                             : Tensor::zeros(weight.shape(), dtype_of<T>());
  gemm<T>(out, in, rows, true, dy, out, false, input.data<T>(), in, T(0),
          grad_weight.data<T>() + row_begin * in, in);
  grads.push_back(grad_weight);
  if (has_bias) {
    // db[rows] [out] = column sums of dy [rows, out] (a one-row GEMM with a ones vector ran
    // at a tenth of the speed of this memory-bound pass)
    Tensor grad_bias = whole ? Tensor::empty({weight.size(0)}, dtype_of<T>())
                             : Tensor::zeros({weight.size(0)}, dtype_of<T>());
    kernels::column_sums<T>(dy, grad_bias.data<T>() + row_begin, rows, out);
    grads.push_back(grad_bias);
  }
  return grads;
}

// Copies row blocks of `length` elements: destination + to(i) <- source + from(i), i < count.
// Parallel above about a megabyte: below that, waking a second thread costs more than it saves.
constexpr std::size_t kParallelBytes = 1 << 20;

template <typename From, typename To>
void copy_rows(const std::byte* source, std::byte* destination, std::int64_t count,
               std::size_t row_bytes, std::size_t element, From&& from, To&& to) {
#pragma omp parallel for schedule(static) if (count * row_bytes > kParallelBytes)
  for (std::int64_t i = 0; i < count; ++i) {
    std::memcpy(destination + to(i) * element, source + from(i) * element, row_bytes);
  }
}

void check_linear(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  std::int64_t row_begin, std::int64_t row_end) {
  ATTN_CHECK(weight.dim() == 2 && weight.is_contiguous() && row_begin >= 0 &&
                 row_begin <= row_end && row_end <= weight.size(0),
             "linear: expected a contiguous weight [out, in] and rows within it, got ",
             weight.describe(), " rows [", row_begin, ", ", row_end, ")");
  ATTN_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1) && x.dtype() == weight.dtype(),
             "linear: input ", x.describe(), " does not match the weight ", weight.describe());
  ATTN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0) &&
                                 bias.is_contiguous() && bias.dtype() == weight.dtype()),
             "linear: expected a bias [", weight.size(0), "], got ", bias.describe());
}

// Up to this many rows a linear map multiplies by the inference copy [in, out] of its weight
// when one is active. Measured on the all-MiniLM-L6-v2 forward (oneDNN 2.6, Zen 5): 1.5 to
// 2× faster up to 256 rows on one and two threads, mixed from 512 and slower at 4,096 (the
// library's transposed-B path packs well once the rows pay for it).
constexpr std::int64_t kInferenceLayoutRows = 256;

// The active InferenceWeights' copy [in, out] of `weight`, or null (models/inference_weights.h).
template <typename T>
const Tensor* transposed_weight(const Tensor& weight) {
  if constexpr (!std::is_same_v<T, float>) {
    return nullptr;
  } else {
    const InferenceWeights* weights = InferenceWeights::active();
    return weights == nullptr ? nullptr : weights->transposed(weight);
  }
}

// y [..., out] = input [..., in] · W[rows]ᵀ + b[rows], then max(·, 0) with relu. Without relu
// the bias rides in the GEMM (C preset to the bias, beta = 1); with relu the GEMM writes
// C and one pass adds the bias and applies the ReLU in place.
Tensor linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                      std::int64_t row_begin, std::int64_t row_end, bool relu) {
  const std::int64_t in = weight.size(1), out = row_end - row_begin;
  const std::int64_t rows = input.numel() / std::max<std::int64_t>(in, 1);
  Shape shape = input.shape();
  shape.back() = out;
  Tensor y = Tensor::empty(shape, input.dtype());
  dispatch(input.dtype(), "linear", [&](auto tag) {
    using T = decltype(tag);
    T* destination = y.data<T>();
    const T* bias_rows = bias.defined() ? bias.data<T>() + row_begin : nullptr;
    const bool bias_in_gemm = bias_rows != nullptr && !relu;
    if (bias_in_gemm) {
#pragma omp parallel for schedule(static) if (rows * out * sizeof(T) > kParallelBytes)
      for (std::int64_t r = 0; r < rows; ++r) {
        std::memcpy(destination + r * out, bias_rows, out * sizeof(T));
      }
    }
    const T beta = T(bias_in_gemm ? 1 : 0);
    const Tensor* transposed =
        rows <= kInferenceLayoutRows ? transposed_weight<T>(weight) : nullptr;
    if (transposed != nullptr) {
      // W[rows]ᵀ is columns [row_begin, row_end) of the copy [in, all rows]
      gemm<T>(rows, out, in, false, input.data<T>(), in, false,
              transposed->data<T>() + row_begin, weight.size(0), beta, destination, out);
    } else {
      gemm<T>(rows, out, in, false, input.data<T>(), in, true, weight.data<T>() + row_begin * in,
              in, beta, destination, out);
    }
    if (relu) kernels::bias_relu_rows<T>(destination, bias_rows, rows, out);
    return 0;
  });
  return y;
}

// The backward of linear_relu's ReLU: gradient where y > 0, else 0 (y > 0 exactly where the
// pre-activation is, NaN included).
Tensor relu_gradient(const Tensor& gradient, const Tensor& y) {
  Tensor grad_y = gradient.contiguous();
  Tensor grad_pre = Tensor::empty(y.shape(), y.dtype());
  dispatch(y.dtype(), "linear_relu", [&](auto tag) {
    using T = decltype(tag);
    kernels::relu_backward<T>(y.data<T>(), grad_y.data<T>(), grad_pre.data<T>(), y.numel());
    return 0;
  });
  return grad_pre;
}

Tensor record_linear(const Tensor& y, const char* name, const Tensor& input, const Tensor& weight,
                     const Tensor& bias, std::int64_t row_begin, std::int64_t row_end,
                     bool relu) {
  std::vector<Tensor> inputs{input, weight};
  if (bias.defined()) inputs.push_back(bias);
  const bool input_needs_grad = autograd::any_requires_grad({input});
  Tensor saved_input = input.detach(), saved_weight = weight.detach();
  Tensor saved_output = relu ? y.detach() : Tensor();
  const bool has_bias = bias.defined();
  return autograd::record(y, name, inputs, [=](const Tensor& gradient) {
    const Tensor grad_pre = relu ? relu_gradient(gradient, saved_output) : gradient;
    return dispatch(gradient.dtype(), "linear", [&](auto tag) {
      return linear_backward<decltype(tag)>(grad_pre, saved_input, saved_weight, has_bias,
                                            input_needs_grad, row_begin, row_end);
    });
  });
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t row_begin,
              std::int64_t row_end) {
  if (row_end < 0) row_end = weight.size(0);
  check_linear(x, weight, bias, row_begin, row_end);
  Tensor input = x.is_contiguous() ? x : ops::contiguous(x);
  Tensor y = linear_forward(input, weight, bias, row_begin, row_end, /*relu=*/false);
  return record_linear(y, "linear", input, weight, bias, row_begin, row_end, /*relu=*/false);
}

Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_linear(x, weight, bias, 0, weight.size(0));
  Tensor input = x.is_contiguous() ? x : ops::contiguous(x);
  Tensor y = linear_forward(input, weight, bias, 0, weight.size(0), /*relu=*/true);
  return record_linear(y, "linear_relu", input, weight, bias, 0, weight.size(0), /*relu=*/true);
}

Tensor head_part(const Tensor& x, std::int64_t parts, std::int64_t part, std::int64_t num_heads) {
  ATTN_CHECK(x.dim() == 3 && x.is_contiguous() && x.size(2) % (parts * num_heads) == 0,
             "head_part: expected a contiguous [B, N, parts·E], got ", x.describe());
  const std::int64_t batch = x.size(0), length = x.size(1), width = x.size(2);
  const std::int64_t embed_dim = width / parts, head_dim = embed_dim / num_heads;
  // [B, H, N, d] over [B, N, parts·E]: head h of part p is columns p·E + h·d ...
  Tensor view =
      x.detach().as_strided({batch, num_heads, length, head_dim},
                            {length * width, head_dim, width, 1}, x.offset() + part * embed_dim);
  Shape input_shape = x.shape();
  DType dtype = x.dtype();
  const std::int64_t num_rows = batch * num_heads * length;
  // row i of [B, H, N] in [B, H, N, d] ...
  auto head_row = [=](std::int64_t i) { return i * head_dim; };
  auto input_row = [=](std::int64_t i) {  // ... and its place in [B, N, parts·E]
    std::int64_t n = i % length, h = (i / length) % num_heads, b = i / (length * num_heads);
    return (b * length + n) * width + part * embed_dim + h * head_dim;
  };
  // Alone (a leaf input): the part's rows copied into a zero gradient of the whole input.
  auto backward = [=](const Tensor& gradient) {
    Tensor grad_heads = gradient.contiguous();  // [B, H, N, d]
    // Every element belongs to some part; with one part all are written.
    Tensor grad_input =
        parts == 1 ? Tensor::empty(input_shape, dtype) : Tensor::zeros(input_shape, dtype);
    const std::size_t element = dtype_size(dtype);
    copy_rows(static_cast<const std::byte*>(grad_heads.raw_data()),
              static_cast<std::byte*>(grad_input.raw_data()), num_rows, head_dim * element,
              element, head_row, input_row);
    return std::vector<Tensor>{grad_input};
  };
  // Usually: the parts of a projection add their rows into one gradient of it that the engine
  // keeps, instead of each making a zero-filled full-size gradient for the engine to sum.
  auto accumulate = [=](const Tensor& gradient, Tensor& input_gradient) {
    Tensor grad_heads = gradient.contiguous();  // [B, H, N, d]
    dispatch(dtype, "head_part", [&](auto tag) {
      using T = decltype(tag);
      const T* source = grad_heads.data<T>();
      T* target = input_gradient.data<T>();
      // Rows of d elements: a plain loop, since a kernel call per row would cost more than
      // the row itself.
#pragma omp parallel for schedule(static) if (num_rows * head_dim * sizeof(T) > kParallelBytes)
      for (std::int64_t i = 0; i < num_rows; ++i) {
        T* destination = target + input_row(i);
        const T* row = source + head_row(i);
        for (std::int64_t j = 0; j < head_dim; ++j) destination[j] += row[j];
      }
      return 0;
    });
  };
  // With one part, copying into an uninitialised gradient (backward) beats adding into a
  // zero-filled one.
  if (parts == 1) return autograd::record(view, "head_part", {x}, backward);
  return autograd::record(view, "head_part", x, backward, accumulate);
}

Tensor merge_heads(const Tensor& heads) {
  ATTN_CHECK(heads.dim() == 4, "merge_heads: expected [B, H, N, d], got ", heads.describe());
  Tensor source = heads.contiguous();
  const std::int64_t batch = heads.size(0), num_heads = heads.size(1), length = heads.size(2),
                     head_dim = heads.size(3), width = num_heads * head_dim;
  const std::size_t element = dtype_size(heads.dtype());
  auto merged_offset = [=](std::int64_t i) {  // row i of [B, H, N] -> its place in [B, N, E]
    std::int64_t n = i % length, h = (i / length) % num_heads, b = i / (length * num_heads);
    return (b * length + n) * width + h * head_dim;
  };
  auto head_offset = [=](std::int64_t i) { return i * head_dim; };
  Tensor merged = Tensor::empty({batch, length, width}, heads.dtype());
  copy_rows(static_cast<const std::byte*>(source.raw_data()),
            static_cast<std::byte*>(merged.raw_data()), batch * num_heads * length,
            head_dim * element, element, head_offset, merged_offset);
  Shape heads_shape = heads.shape();
  return autograd::record(merged, "merge_heads", {heads}, [=](const Tensor& gradient) {
    Tensor grad_merged = gradient.contiguous();
    Tensor grad_heads = Tensor::empty(heads_shape, grad_merged.dtype());
    copy_rows(static_cast<const std::byte*>(grad_merged.raw_data()),
              static_cast<std::byte*>(grad_heads.raw_data()), batch * num_heads * length,
              head_dim * element, element, merged_offset, head_offset);
    return std::vector<Tensor>{grad_heads};
  });
}

}  // namespace attn::models::detail
