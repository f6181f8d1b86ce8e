// Whether operations record history for backward. Thread-local, like PyTorch's grad mode.
#pragma once

namespace attn::autograd {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// Disables recording for its lifetime (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace attn::autograd

namespace attn {
using autograd::NoGradGuard;
}
