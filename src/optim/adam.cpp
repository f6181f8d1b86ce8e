#include "attn/optim/adam.h"

#include <cmath>

namespace attn::optim {
namespace {

const char* const kExpAvg = "exp_avg";
const char* const kExpAvgSq = "exp_avg_sq";
const char* const kMaxExpAvgSq = "max_exp_avg_sq";

void check_options(const AdamOptions& options, const std::string& name) {
  ATTN_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0, name,
             ": expected beta1 in [0, 1), got ", options.beta1);
  ATTN_CHECK(options.beta2 >= 0.0 && options.beta2 < 1.0, name,
             ": expected beta2 in [0, 1), got ", options.beta2);
  ATTN_CHECK(std::isfinite(options.eps) && options.eps > 0.0, name,
             ": expected a finite eps > 0, got ", options.eps);
  ATTN_CHECK(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0, name,
             ": expected a finite, non-negative weight_decay, got ", options.weight_decay);
}

// The per-step factors, computed in double as PyTorch computes them in Python.
struct AdamScalars {
  double step_size;              // lr / (1 - beta1^t)
  double bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  double decay_factor;           // 1 - lr * weight_decay (decoupled decay)
};

AdamScalars adam_scalars(const AdamOptions& options, double learning_rate, std::int64_t step) {
  double t = static_cast<double>(step);
  double bias_correction1 = 1.0 - std::pow(options.beta1, t);
  double bias_correction2 = 1.0 - std::pow(options.beta2, t);
  return {learning_rate / bias_correction1, std::sqrt(bias_correction2),
          1.0 - learning_rate * options.weight_decay};
}

// torch.maximum: NaN in either argument wins.
template <typename T>
T maximum(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  return a < b ? b : a;
}

// torch.lerp's formula: the branch keeps the result exact at both ends of the weight range.
template <typename T>
T lerp(T start, T end, T weight) {
  if (std::abs(weight) < T(0.5)) return start + weight * (end - start);
  return end - (end - start) * (T(1) - weight);
}

constexpr std::int64_t kParallelElements = 1 << 15;

// Pointers to one parameter's data and state, all `count` elements long.
template <typename T>
struct AdamTensors {
  T* parameter;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;  // null without amsgrad
  std::int64_t count;
};

// One Adam/AdamW update, elementwise in T, in the order of torch.optim.Adam's
// single-tensor path (the comments name the torch calls it mirrors).
template <typename T>
void adam_update(const AdamOptions& options, bool decoupled_weight_decay,
                 const AdamScalars& scalars, const AdamTensors<T>& tensors) {
  const bool coupled_decay = options.weight_decay != 0.0 && !decoupled_weight_decay;
  const bool decoupled_decay = options.weight_decay != 0.0 && decoupled_weight_decay;
  const T weight_decay = static_cast<T>(options.weight_decay);
  const T decay_factor = static_cast<T>(scalars.decay_factor);
  const T first_weight = static_cast<T>(1.0 - options.beta1);
  const T beta2 = static_cast<T>(options.beta2);
  const T second_weight = static_cast<T>(1.0 - options.beta2);
  const T bias_correction2_sqrt = static_cast<T>(scalars.bias_correction2_sqrt);
  const T eps = static_cast<T>(options.eps);
  const T negative_step_size = static_cast<T>(-scalars.step_size);
  // Elementwise, so the threads may split the elements any way without changing a bit; small
  // tensors (biases, norms) stay on one thread, where starting the team would cost more.
#pragma omp parallel for schedule(static) if (tensors.count >= kParallelElements)
  for (std::int64_t i = 0; i < tensors.count; ++i) {
    T& parameter = tensors.parameter[i];
    T grad = tensors.grad[i];
    if (coupled_decay) grad = grad + weight_decay * parameter;  // grad.add(param, alpha=wd)
    if (decoupled_decay) parameter = parameter * decay_factor;  // param.mul_(1 - lr * wd)
    T& exp_avg = tensors.exp_avg[i];
    exp_avg = lerp(exp_avg, grad, first_weight);  // exp_avg.lerp_(grad, 1 - beta1)
    T& exp_avg_sq = tensors.exp_avg_sq[i];
    exp_avg_sq = exp_avg_sq * beta2 + second_weight * grad * grad;  // mul_, addcmul_
    T second_moment = exp_avg_sq;
    if (tensors.max_exp_avg_sq != nullptr) {
      T& max_exp_avg_sq = tensors.max_exp_avg_sq[i];
      max_exp_avg_sq = maximum(max_exp_avg_sq, exp_avg_sq);
      second_moment = max_exp_avg_sq;
    }
    T denom = std::sqrt(second_moment) / bias_correction2_sqrt + eps;
    parameter = parameter + negative_step_size * exp_avg / denom;  // addcdiv_
  }
}

// The named buffer, created as zeros on the parameter's first update.
Tensor& buffer_for(ParameterState& state, const char* name, const Tensor& parameter) {
  auto [entry, inserted] = state.buffers.try_emplace(name);
  if (inserted) entry->second = Tensor::zeros(parameter.shape(), parameter.dtype());
  return entry->second;
}

}  // namespace

Adam::Adam(std::vector<Tensor> parameters, AdamOptions options)
    : Adam(std::move(parameters), options, false, "Adam") {}

Adam::Adam(std::vector<Tensor> parameters, AdamOptions options, bool decoupled_weight_decay,
           std::string name)
    : Optimizer(std::move(parameters), options.learning_rate, std::move(name)),
      options_(options),
      decoupled_weight_decay_(decoupled_weight_decay) {
  check_options(options_, this->name());
}

AdamW::AdamW(std::vector<Tensor> parameters, AdamOptions options)
    : Adam(std::move(parameters), options, true, "AdamW") {}

std::vector<std::string> Adam::buffer_names() const {
  if (options_.amsgrad) return {kExpAvg, kExpAvgSq, kMaxExpAvgSq};
  return {kExpAvg, kExpAvgSq};
}

void Adam::update(const Tensor& parameter, const Tensor& grad, ParameterState& state) {
  AdamScalars scalars = adam_scalars(options_, learning_rate(), state.step);
  Tensor exp_avg = buffer_for(state, kExpAvg, parameter);
  Tensor exp_avg_sq = buffer_for(state, kExpAvgSq, parameter);
  Tensor max_exp_avg_sq;
  if (options_.amsgrad) max_exp_avg_sq = buffer_for(state, kMaxExpAvgSq, parameter);
  detail::dispatch_floating(parameter.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* max_data = max_exp_avg_sq.defined() ? max_exp_avg_sq.data<T>() : nullptr;
    AdamTensors<T> tensors{parameter.data<T>(), grad.data<T>(), exp_avg.data<T>(),
                           exp_avg_sq.data<T>(), max_data, parameter.numel()};
    adam_update(options_, decoupled_weight_decay_, scalars, tensors);
  });
}

}  // namespace attn::optim
