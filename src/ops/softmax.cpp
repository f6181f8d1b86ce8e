// softmax and log_softmax along any dimension: the dimension is moved last so the row
// kernels see contiguous rows, and moved back afterwards.
#include "attn/kernels/vector_ops.h"
#include "attn/ops/functional.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

enum class SoftmaxKind { Probabilities, LogProbabilities };

template <typename T>
void softmax_forward(SoftmaxKind kind, const T* x, T* y, std::int64_t rows, std::int64_t cols) {
  if (kind == SoftmaxKind::Probabilities) {
    kernels::softmax_rows<T>(x, y, rows, cols);
  } else {
    kernels::log_softmax_rows<T>(x, y, rows, cols);
  }
}

template <typename T>
void softmax_backward(SoftmaxKind kind, const T* y, const T* dy, T* dx, std::int64_t rows,
                      std::int64_t cols) {
  if (kind == SoftmaxKind::Probabilities) {
    kernels::softmax_backward_rows<T>(y, dy, dx, rows, cols);
  } else {
    kernels::log_softmax_backward_rows<T>(y, dy, dx, rows, cols);
  }
}

// Applies a row kernel to x along `dim`; `kernel(input_rows, output_rows, rows, cols)`.
template <typename Kernel>
Tensor along_dim(const Tensor& x, std::int64_t dim, Kernel&& kernel) {
  DimLast moved = move_dim_last(x, dim);
  std::int64_t cols = moved.tensor.dim() == 0 ? 1 : moved.tensor.shape().back();
  std::int64_t rows = cols == 0 ? 0 : moved.tensor.numel() / cols;
  Tensor out = Tensor::empty(moved.tensor.shape(), x.dtype());
  kernel(moved.tensor, out, rows, cols);
  return raw_permute(out, moved.inverse_order).contiguous();
}

Tensor softmax_family(const Tensor& x, std::int64_t dim, SoftmaxKind kind, const char* op) {
  check_defined(x, op, "input");
  if (x.dim() == 0) dim = 0;
  Tensor input = x.dim() == 0 ? x.as_strided({1}, {1}, x.offset()) : x;
  Tensor y = dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    return along_dim(input, dim, [&](const Tensor& in, Tensor& out, std::int64_t rows,
                                     std::int64_t cols) {
      softmax_forward<T>(kind, in.data<T>(), out.data<T>(), rows, cols);
    });
  });
  y = y.as_strided(x.shape(), contiguous_strides(x.shape()), 0);
  Tensor saved = y.detach();
  return record(y, op, {x}, [saved, dim, kind, op](const Tensor& gradient) {
    Tensor saved_rows = saved.dim() == 0 ? saved.as_strided({1}, {1}, saved.offset()) : saved;
    DimLast moved_output = move_dim_last(saved_rows, dim);
    Tensor grad_rows = gradient.dim() == 0 ? gradient.as_strided({1}, {1}, gradient.offset()) : gradient;
    Tensor grad_input = dispatch_floating(saved.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      return along_dim(grad_rows, dim, [&](const Tensor& in, Tensor& out, std::int64_t rows,
                                           std::int64_t cols) {
        softmax_backward<T>(kind, moved_output.tensor.data<T>(), in.data<T>(), out.data<T>(),
                            rows, cols);
      });
    });
    return std::vector<Tensor>{grad_input.as_strided(saved.shape(), contiguous_strides(saved.shape()), 0)};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) {
  return softmax_family(x, dim, SoftmaxKind::Probabilities, "softmax");
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  return softmax_family(x, dim, SoftmaxKind::LogProbabilities, "log_softmax");
}

}  // namespace attn::ops
