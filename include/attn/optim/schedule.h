// Learning-rate schedules as pure functions of the step, so resuming needs nothing but the
// optimizer's step count. Steps count updates from 1: learning_rate(1) is the rate of the
// first update. apply_schedule() sets an optimizer's rate for its next update.
#pragma once

#include <cstdint>

#include "attn/optim/optimizer.h"

namespace attn::optim {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  // The learning rate of update number `step` (>= 1).
  virtual double learning_rate(std::int64_t step) const = 0;
  double operator()(std::int64_t step) const { return learning_rate(step); }
};

// "Attention Is All You Need", section 5.3: linear warmup, then decay with the inverse
// square root of the step:
//   lr = factor * model_dim^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)
// The two branches meet at step == warmup_steps, where the rate peaks.
class NoamSchedule final : public LearningRateSchedule {
 public:
  NoamSchedule(std::int64_t model_dim, std::int64_t warmup_steps, double factor = 1.0);
  double learning_rate(std::int64_t step) const override;

 private:
  std::int64_t model_dim_;
  std::int64_t warmup_steps_;
  double factor_;
};

struct CosineScheduleOptions {
  double peak_learning_rate = 1e-3;
  double min_learning_rate = 0.0;
  std::int64_t total_steps = 1;   // the rate reaches min_learning_rate at this step
  std::int64_t warmup_steps = 0;  // linear rise to the peak, reached at this step
};

// Linear warmup, then half a cosine from the peak down to the minimum (Loshchilov & Hutter
// 2017, without restarts):
//   step <= warmup:  lr = peak * step / warmup
//   otherwise:       progress = min(1, (step - warmup) / (total - warmup))
//                    lr = min + (peak - min) * (1 + cos(pi * progress)) / 2
// Steps past total_steps stay at the minimum.
class CosineSchedule final : public LearningRateSchedule {
 public:
  explicit CosineSchedule(CosineScheduleOptions options);
  double learning_rate(std::int64_t step) const override;
  const CosineScheduleOptions& options() const { return options_; }

 private:
  CosineScheduleOptions options_;
};

// Sets the optimizer's learning rate for its next update: schedule(step_count() + 1).
void apply_schedule(const LearningRateSchedule& schedule, Optimizer& optimizer);

}  // namespace attn::optim
