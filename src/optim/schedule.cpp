#include "attn/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace attn::optim {
namespace {

void check_step(std::int64_t step, const char* schedule) {
  ATTN_CHECK(step >= 1, schedule, ": steps count from 1, got ", step);
}

}  // namespace

NoamSchedule::NoamSchedule(std::int64_t model_dim, std::int64_t warmup_steps, double factor)
    : model_dim_(model_dim), warmup_steps_(warmup_steps), factor_(factor) {
  ATTN_CHECK(model_dim > 0, "NoamSchedule: expected model_dim > 0, got ", model_dim);
  ATTN_CHECK(warmup_steps > 0, "NoamSchedule: expected warmup_steps > 0, got ", warmup_steps);
  ATTN_CHECK(std::isfinite(factor) && factor > 0.0,
             "NoamSchedule: expected a finite factor > 0, got ", factor);
}

double NoamSchedule::learning_rate(std::int64_t step) const {
  check_step(step, "NoamSchedule");
  double t = static_cast<double>(step);
  double warmup = static_cast<double>(warmup_steps_);
  double model_scale = std::pow(static_cast<double>(model_dim_), -0.5);
  return factor_ * model_scale * std::min(std::pow(t, -0.5), t * std::pow(warmup, -1.5));
}

CosineSchedule::CosineSchedule(CosineScheduleOptions options) : options_(options) {
  const double peak = options.peak_learning_rate;
  const double minimum = options.min_learning_rate;
  ATTN_CHECK(std::isfinite(peak) && peak >= 0.0,
             "CosineSchedule: expected a finite, non-negative peak_learning_rate, got ", peak);
  ATTN_CHECK(minimum >= 0.0 && minimum <= peak,
             "CosineSchedule: expected min_learning_rate in [0, peak_learning_rate = ", peak,
             "], got ", minimum);
  ATTN_CHECK(options.total_steps >= 1, "CosineSchedule: expected total_steps >= 1, got ",
             options.total_steps);
  ATTN_CHECK(options.warmup_steps >= 0 && options.warmup_steps <= options.total_steps,
             "CosineSchedule: expected warmup_steps in [0, total_steps = ", options.total_steps,
             "], got ", options.warmup_steps);
}

double CosineSchedule::learning_rate(std::int64_t step) const {
  check_step(step, "CosineSchedule");
  const double peak = options_.peak_learning_rate;
  const double minimum = options_.min_learning_rate;
  const std::int64_t warmup = options_.warmup_steps;
  if (step <= warmup) return peak * static_cast<double>(step) / static_cast<double>(warmup);
  const std::int64_t decay_steps = options_.total_steps - warmup;
  // With no decay steps (warmup == total) every later step is past the end.
  double progress = decay_steps == 0 ? 1.0
                                     : static_cast<double>(step - warmup) /
                                           static_cast<double>(decay_steps);
  progress = std::min(progress, 1.0);
  return minimum + (peak - minimum) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

void apply_schedule(const LearningRateSchedule& schedule, Optimizer& optimizer) {
  optimizer.set_learning_rate(schedule.learning_rate(optimizer.step_count() + 1));
}

}  // namespace attn::optim
