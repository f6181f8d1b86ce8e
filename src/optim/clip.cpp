#include "attn/optim/clip.h"

#include <algorithm>
#include <cmath>

#include "attn/autograd/grad_mode.h"

namespace attn::optim {
namespace {

// The gradient of `parameter`, checked against it; undefined when it has none.
Tensor checked_grad(const Tensor& parameter, std::size_t index) {
  ATTN_CHECK(parameter.defined(), "clip_grad_norm: parameter ", index, " is undefined");
  Tensor grad = parameter.grad();
  if (!grad.defined()) return grad;
  ATTN_CHECK(grad.shape() == parameter.shape(), "clip_grad_norm: parameter ", index, " is ",
             parameter.describe(), " but its gradient is ", grad.describe());
  ATTN_CHECK(grad.dtype() == DType::Float32 || grad.dtype() == DType::Float64,
             "clip_grad_norm: expected float32 or float64 gradients, parameter ", index, " has ",
             grad.describe());
  return grad;
}

// Sum of squares of `count` contiguous values, accumulated in double.
template <typename T>
double sum_of_squares(const T* values, std::int64_t count) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    double value = static_cast<double>(values[i]);
    sum += value * value;
  }
  return sum;
}

// The sums of squares of consecutive blocks of kSumOfSquaresBlock values (the last may be
// shorter).
template <typename T>
std::vector<double> block_sums(const T* values, std::int64_t count) {
  std::vector<double> sums;
  for (std::int64_t start = 0; start < count; start += kSumOfSquaresBlock) {
    sums.push_back(sum_of_squares(values + start, std::min(kSumOfSquaresBlock, count - start)));
  }
  return sums;
}

template <typename T>
void scale_in_place(T* values, T scale, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) values[i] = values[i] * scale;
}

// Scales the gradient of `parameter` by `scale`: in place when it is contiguous, as
// PyTorch does; otherwise (a broadcast view, say) through a scaled contiguous copy, since
// writing through a view could scale a shared element more than once.
void scale_grad(Tensor& parameter, const Tensor& grad, double scale) {
  Tensor target = grad.is_contiguous() ? grad : grad.clone();
  if (target.dtype() == DType::Float32) {
    scale_in_place(target.data<float>(), static_cast<float>(scale), target.numel());
  } else {
    scale_in_place(target.data<double>(), scale, target.numel());
  }
  if (!target.same_impl(grad)) parameter.set_grad(target);
}

}  // namespace

std::vector<double> grad_block_sums_of_squares(const Tensor& grad) {
  Tensor dense = grad.contiguous();
  if (dense.dtype() == DType::Float32) return block_sums(dense.data<float>(), dense.numel());
  return block_sums(dense.data<double>(), dense.numel());
}

double grad_sum_of_squares(const Tensor& grad) {
  double sum = 0.0;
  for (double block : grad_block_sums_of_squares(grad)) sum += block;
  return sum;
}

double clip_coefficient(double total_norm, double max_norm) {
  ATTN_CHECK(std::isfinite(max_norm) && max_norm >= 0.0,
             "clip_grad_norm: expected a finite, non-negative max_norm, got ", max_norm);
  if (!std::isfinite(total_norm)) return 1.0;
  // The 1e-6 keeps the factor finite for a zero norm; same as torch.nn.utils.
  return std::min(1.0, max_norm / (total_norm + 1e-6));
}

void scale_grads(const std::vector<Tensor>& parameters, double scale) {
  NoGradGuard no_grad;
  for (Tensor parameter : parameters) {
    Tensor grad = parameter.grad();
    if (grad.defined()) scale_grad(parameter, grad, scale);
  }
}

double global_grad_norm(const std::vector<Tensor>& parameters) {
  double sum = 0.0;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    Tensor grad = checked_grad(parameters[i], i);
    if (grad.defined()) sum += grad_sum_of_squares(grad);
  }
  return std::sqrt(sum);
}

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
  const double total_norm = global_grad_norm(parameters);
  const double scale = clip_coefficient(total_norm, max_norm);
  if (scale < 1.0) scale_grads(parameters, scale);
  return total_norm;
}

}  // namespace attn::optim
