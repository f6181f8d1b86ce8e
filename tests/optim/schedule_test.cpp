// Learning-rate schedules against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "attn/optim/schedule.h"
#include "attn/optim/sgd.h"

namespace attn {
namespace {

using optim::CosineSchedule;
using optim::NoamSchedule;

TEST(NoamSchedule, MatchesHandComputedValues) {
  // model_dim 16, warmup 4, factor 2: lr = 2 * 16^-0.5 * min(step^-0.5, step * 4^-1.5)
  //                                     = 0.5 * min(step^-0.5, step / 8)
  NoamSchedule schedule(16, 4, 2.0);
  EXPECT_DOUBLE_EQ(schedule(1), 0.0625);  // warmup branch: 0.5 * 1/8
  EXPECT_DOUBLE_EQ(schedule(2), 0.125);   // 0.5 * 2/8
  EXPECT_DOUBLE_EQ(schedule(4), 0.25);    // both branches: 0.5 * 4^-0.5 = 0.5 * 4/8
  EXPECT_DOUBLE_EQ(schedule(16), 0.125);  // decay branch: 0.5 * 16^-0.5
  EXPECT_DOUBLE_EQ(schedule(64), 0.0625);
}

TEST(NoamSchedule, ThePaperSettingPeaksAtTheEndOfWarmup) {
  // The base model: d_model 512, 4000 warmup steps; the peak is (512 * 4000)^-0.5.
  NoamSchedule schedule(512, 4000);
  double peak = 1.0 / std::sqrt(512.0 * 4000.0);
  EXPECT_NEAR(schedule(4000), peak, 1e-18);
  EXPECT_LT(schedule(3999), schedule(4000));
  EXPECT_LT(schedule(4001), schedule(4000));
  EXPECT_NEAR(schedule(1), peak / 4000.0, 1e-20);  // linear warmup from step / warmup
}

TEST(NoamSchedule, RejectsBadArguments) {
  EXPECT_THROW(NoamSchedule(0, 10), Error);
  EXPECT_THROW(NoamSchedule(16, 0), Error);
  EXPECT_THROW(NoamSchedule(16, 10, -1.0), Error);
  EXPECT_THROW(NoamSchedule(16, 10)(0), Error);  // steps count from 1
}

TEST(CosineSchedule, DecaysFromThePeakToTheMinimum) {
  CosineSchedule schedule({.peak_learning_rate = 1.0, .total_steps = 10});
  EXPECT_NEAR(schedule(1), 0.5 * (1 + std::cos(std::numbers::pi / 10)), 1e-16);
  EXPECT_NEAR(schedule(5), 0.5, 1e-16);  // half way: cos(pi / 2) = 0
  EXPECT_NEAR(schedule(10), 0.0, 1e-16);
  EXPECT_EQ(schedule(11), 0.0);  // stays at the minimum past the end
}

TEST(CosineSchedule, WarmsUpLinearlyThenDecaysToTheMinimum) {
  // Peak 1.1 at step 2, minimum 0.1 at step 6.
  CosineSchedule schedule({.peak_learning_rate = 1.1, .min_learning_rate = 0.1,
                           .total_steps = 6, .warmup_steps = 2});
  EXPECT_DOUBLE_EQ(schedule(1), 0.55);
  EXPECT_DOUBLE_EQ(schedule(2), 1.1);
  EXPECT_DOUBLE_EQ(schedule(4), 0.6);  // progress 1/2: 0.1 + 1.0 * 0.5
  EXPECT_DOUBLE_EQ(schedule(6), 0.1);
  EXPECT_DOUBLE_EQ(schedule(1000), 0.1);
}

TEST(CosineSchedule, AllWarmupEndsAtTheMinimum) {
  CosineSchedule schedule({.peak_learning_rate = 1.0, .min_learning_rate = 0.25,
                           .total_steps = 4, .warmup_steps = 4});
  EXPECT_DOUBLE_EQ(schedule(4), 1.0);
  EXPECT_DOUBLE_EQ(schedule(5), 0.25);
}

TEST(CosineSchedule, RejectsBadOptions) {
  EXPECT_THROW(CosineSchedule({.peak_learning_rate = -1.0}), Error);
  EXPECT_THROW(CosineSchedule({.peak_learning_rate = 1.0, .min_learning_rate = 2.0}), Error);
  EXPECT_THROW(CosineSchedule({.total_steps = 0}), Error);
  EXPECT_THROW(CosineSchedule({.total_steps = 5, .warmup_steps = 6}), Error);
  EXPECT_THROW(CosineSchedule({.total_steps = 5})(0), Error);
}

TEST(Schedule, ApplySetsTheRateOfTheNextUpdate) {
  Tensor p = Tensor::zeros({1}, DType::Float64).set_requires_grad(true);
  optim::Sgd sgd({p}, {.learning_rate = 1.0});
  NoamSchedule schedule(16, 4, 2.0);
  optim::apply_schedule(schedule, sgd);
  EXPECT_EQ(sgd.learning_rate(), schedule(1));
  p.set_grad(Tensor::ones({1}, DType::Float64));
  sgd.step();
  optim::apply_schedule(schedule, sgd);
  EXPECT_EQ(sgd.learning_rate(), schedule(2));
  EXPECT_EQ(p.item<double>(), -schedule(1));
}

}  // namespace
}  // namespace attn
