#include "attn/optim/sgd.h"

#include <cmath>

namespace attn::optim {
namespace {

const char* const kMomentumBuffer = "momentum_buffer";

void check_options(const SgdOptions& options) {
  ATTN_CHECK(std::isfinite(options.momentum) && options.momentum >= 0.0,
             "Sgd: expected a finite, non-negative momentum, got ", options.momentum);
  ATTN_CHECK(std::isfinite(options.dampening) && options.dampening >= 0.0 &&
                 options.dampening <= 1.0,
             "Sgd: expected dampening in [0, 1], got ", options.dampening);
  ATTN_CHECK(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0,
             "Sgd: expected a finite, non-negative weight_decay, got ", options.weight_decay);
  ATTN_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
             "Sgd: nesterov needs momentum > 0 and dampening == 0, got momentum ",
             options.momentum, " and dampening ", options.dampening);
}

// One SGD update of `count` elements; `momentum_buffer` is null without momentum.
// The order of operations is torch.optim.SGD's, so results match it closely.
template <typename T>
void sgd_update(const SgdOptions& options, double learning_rate, bool first_update, T* parameter,
                const T* grad, T* momentum_buffer, std::int64_t count) {
  const T weight_decay = static_cast<T>(options.weight_decay);
  const T momentum = static_cast<T>(options.momentum);
  const T grad_scale = static_cast<T>(1.0 - options.dampening);
  const T negative_rate = static_cast<T>(-learning_rate);
  for (std::int64_t i = 0; i < count; ++i) {
    T direction = grad[i];
    if (options.weight_decay != 0.0) direction = direction + weight_decay * parameter[i];
    if (momentum_buffer != nullptr) {
      // The buffer starts as the first (decayed) gradient, undamped.
      T buffer = first_update ? direction : momentum_buffer[i] * momentum + grad_scale * direction;
      momentum_buffer[i] = buffer;
      direction = options.nesterov ? direction + momentum * buffer : buffer;
    }
    parameter[i] = parameter[i] + negative_rate * direction;
  }
}

}  // namespace

Sgd::Sgd(std::vector<Tensor> parameters, SgdOptions options)
    : Optimizer(std::move(parameters), options.learning_rate, "Sgd"), options_(options) {
  check_options(options_);
}

std::vector<std::string> Sgd::buffer_names() const {
  if (options_.momentum == 0.0) return {};
  return {kMomentumBuffer};
}

void Sgd::update(const Tensor& parameter, const Tensor& grad, ParameterState& state) {
  bool first_update = false;
  Tensor momentum_buffer;
  if (options_.momentum != 0.0) {
    auto [entry, inserted] = state.buffers.try_emplace(kMomentumBuffer);
    if (inserted) entry->second = Tensor::empty(parameter.shape(), parameter.dtype());
    first_update = inserted;
    momentum_buffer = entry->second;
  }
  detail::dispatch_floating(parameter.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* buffer = momentum_buffer.defined() ? momentum_buffer.data<T>() : nullptr;
    sgd_update<T>(options_, learning_rate(), first_update, parameter.data<T>(), grad.data<T>(),
                  buffer, parameter.numel());
  });
}

}  // namespace attn::optim
