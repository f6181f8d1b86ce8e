// Finite-difference gradient check in double precision, as torch.autograd.gradcheck.
//
// The function's output is projected onto a fixed random tensor r, L = sum(f(x) * r), so
// every output element takes part. Analytical dL/dx from backward is compared with central
// differences (L(x + eps) - L(x - eps)) / (2 eps), element by element. With eps = 1e-6 in
// double the truncation error is O(eps^2) and the rounding error O(1e-16 / eps) ≈ 1e-10,
// so a tolerance of 1e-6 absolute plus 1e-5 relative leaves a wide margin for correct rules
// and still catches any wrong one.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/core/random.h"
#include "attn/core/tensor.h"
#include "attn/ops/ops.h"

namespace attn::testing {

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double epsilon = 1e-6;
  double absolute_tolerance = 1e-6;
  double relative_tolerance = 1e-5;
};

// A double tensor with entries uniform in [low, high), reproducible from `seed`.
inline Tensor random_tensor(const Shape& shape, std::uint64_t seed, double low = -1.0,
                            double high = 1.0, DType dtype = DType::Float64) {
  Tensor tensor = Tensor::empty(shape, DType::Float64);
  double* values = tensor.data<double>();
  for (std::int64_t i = 0; i < tensor.numel(); ++i) {
    values[i] = low + (high - low) * philox_uniform(seed, 0, static_cast<std::uint64_t>(i));
  }
  return tensor.to(dtype);
}

inline double projected_loss(const TensorFunction& function, const std::vector<Tensor>& inputs,
                             const Tensor& projection) {
  NoGradGuard no_grad;
  return ops::sum(ops::mul(function(inputs), projection)).item<double>();
}

// `inputs` are double leaves; those with requires_grad are checked.
inline ::testing::AssertionResult gradcheck(const TensorFunction& function,
                                            std::vector<Tensor> inputs,
                                            const GradcheckOptions& options = {}) {
  for (Tensor& input : inputs) {
    if (input.defined() && input.requires_grad()) input.zero_grad();
  }
  Tensor output = function(inputs);
  Tensor projection = random_tensor(output.shape(), 4242);
  ops::sum(ops::mul(output, projection)).backward();
  for (std::size_t which = 0; which < inputs.size(); ++which) {
    Tensor input = inputs[which];
    if (!input.defined() || !input.requires_grad()) continue;
    if (input.dtype() != DType::Float64 || !input.is_contiguous()) {
      return ::testing::AssertionFailure() << "gradcheck: input " << which
                                           << " must be a contiguous float64 leaf";
    }
    Tensor analytical = input.grad();
    if (!analytical.defined()) analytical = Tensor::zeros(input.shape(), DType::Float64);
    std::vector<double> analytical_values = analytical.to_vector<double>();
    double* values = input.data<double>();
    for (std::int64_t i = 0; i < input.numel(); ++i) {
      double saved = values[i];
      values[i] = saved + options.epsilon;
      double loss_plus = projected_loss(function, inputs, projection);
      values[i] = saved - options.epsilon;
      double loss_minus = projected_loss(function, inputs, projection);
      values[i] = saved;
      double numerical = (loss_plus - loss_minus) / (2 * options.epsilon);
      double difference = std::abs(numerical - analytical_values[i]);
      if (difference > options.absolute_tolerance + options.relative_tolerance * std::abs(numerical)) {
        return ::testing::AssertionFailure()
               << "gradcheck: input " << which << " element " << i << ": analytical "
               << analytical_values[i] << ", numerical " << numerical;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// A float64 leaf that requires a gradient.
inline Tensor leaf(const Shape& shape, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Tensor tensor = random_tensor(shape, seed, low, high);
  tensor.set_requires_grad(true);
  return tensor;
}

}  // namespace attn::testing
