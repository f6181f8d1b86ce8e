// Parity with torch.optim: tests/fixtures/optim/*.safetensors, written by
// tools/make_optim_fixtures.py, hold fixed parameters, per-step gradients and the
// parameters PyTorch produced after each of five updates (one gradient is absent at step 3,
// so that parameter must be skipped), in float32 and float64.
//
// Tolerance rule, after every step up to the fifth:
//   float64: |attn - torch| <= 1e-12 + 1e-12 * |torch|
//   float32: |attn - torch| <= 1e-7  + 1e-6  * |torch|
// Both sides follow the same formulas in the same order, but torch's vectorised kernels fuse
// some multiply-adds, so a few units in the last place may differ per step; these bounds
// are many such units yet far below any wrong formula (which moves values by ~lr).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "attn/optim/adam.h"
#include "attn/optim/clip.h"
#include "attn/optim/schedule.h"
#include "attn/optim/sgd.h"
#include "support/compare.h"

namespace attn {
namespace {

using io::TensorMap;

constexpr int kNumSteps = 5;

enum class Rule { kSgd, kAdam, kAdamW };
enum class ScheduleKind { kNone, kNoam, kCosine };

struct ParityCase {
  const char* fixture;  // under tests/fixtures/optim/, without ".safetensors"
  Rule rule;
  ScheduleKind schedule;
};

const ParityCase kCases[] = {
    {"sgd_momentum", Rule::kSgd, ScheduleKind::kNone},
    {"sgd_nesterov", Rule::kSgd, ScheduleKind::kNone},
    {"sgd_cosine", Rule::kSgd, ScheduleKind::kCosine},
    {"adam", Rule::kAdam, ScheduleKind::kNone},
    {"adam_l2_amsgrad", Rule::kAdam, ScheduleKind::kNone},
    {"adamw", Rule::kAdamW, ScheduleKind::kNone},
    {"adamw_noam", Rule::kAdamW, ScheduleKind::kNoam},
};

struct Tolerance {
  double relative;
  double absolute;
};

Tolerance tolerance_for(DType dtype) {
  return dtype == DType::Float64 ? Tolerance{1e-12, 1e-12} : Tolerance{1e-6, 1e-7};
}

const Tensor& entry(const TensorMap& tensors, const std::string& name) {
  auto found = tensors.find(name);
  if (found == tensors.end()) throw Error("fixture entry \"" + name + "\" is missing");
  return found->second;
}

double hparam(const TensorMap& tensors, const std::string& name) {
  return entry(tensors, "hparams." + name).item<double>();
}

std::unique_ptr<optim::Optimizer> make_optimizer(Rule rule, std::vector<Tensor> parameters,
                                                 const TensorMap& h) {
  if (rule == Rule::kSgd) {
    optim::SgdOptions options{.learning_rate = hparam(h, "lr"),
                              .momentum = hparam(h, "momentum"),
                              .dampening = hparam(h, "dampening"),
                              .weight_decay = hparam(h, "weight_decay"),
                              .nesterov = hparam(h, "nesterov") != 0.0};
    return std::make_unique<optim::Sgd>(std::move(parameters), options);
  }
  optim::AdamOptions options{.learning_rate = hparam(h, "lr"),
                             .beta1 = hparam(h, "beta1"),
                             .beta2 = hparam(h, "beta2"),
                             .eps = hparam(h, "eps"),
                             .weight_decay = hparam(h, "weight_decay"),
                             .amsgrad = hparam(h, "amsgrad") != 0.0};
  if (rule == Rule::kAdamW) return std::make_unique<optim::AdamW>(std::move(parameters), options);
  return std::make_unique<optim::Adam>(std::move(parameters), options);
}

std::unique_ptr<optim::LearningRateSchedule> make_schedule(ScheduleKind kind, const TensorMap& h) {
  if (kind == ScheduleKind::kNoam) {
    return std::make_unique<optim::NoamSchedule>(
        static_cast<std::int64_t>(hparam(h, "noam_model_dim")),
        static_cast<std::int64_t>(hparam(h, "noam_warmup_steps")), hparam(h, "noam_factor"));
  }
  if (kind == ScheduleKind::kCosine) {
    return std::make_unique<optim::CosineSchedule>(optim::CosineScheduleOptions{
        .peak_learning_rate = hparam(h, "cosine_peak_lr"),
        .min_learning_rate = hparam(h, "cosine_min_lr"),
        .total_steps = static_cast<std::int64_t>(hparam(h, "cosine_total_steps")),
        .warmup_steps = static_cast<std::int64_t>(hparam(h, "cosine_warmup_steps"))});
  }
  return nullptr;
}

std::vector<Tensor> initial_parameters(const TensorMap& tensors, const std::string& prefix) {
  std::vector<Tensor> parameters;
  for (int i = 0; tensors.count(prefix + "param." + std::to_string(i) + ".initial"); ++i) {
    const std::string name = prefix + "param." + std::to_string(i) + ".initial";
    parameters.push_back(entry(tensors, name).clone());
    parameters.back().set_requires_grad(true);
  }
  return parameters;
}

// The fixture's gradients for `step`; a parameter without one gets none.
void set_step_gradients(const TensorMap& tensors, const std::string& prefix, int step,
                        std::vector<Tensor>& parameters) {
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    std::string name = prefix + "step." + std::to_string(step) + ".grad." + std::to_string(i);
    auto found = tensors.find(name);
    if (found == tensors.end()) {
      parameters[i].zero_grad();
    } else {
      parameters[i].set_grad(found->second.clone());
    }
  }
}

void run_case(const ParityCase& test, DType dtype) {
  TensorMap tensors =
      testing::load_fixture(std::string("optim/") + test.fixture + ".safetensors").tensors;
  const std::string prefix = std::string(dtype_name(dtype)) + ".";
  std::vector<Tensor> parameters = initial_parameters(tensors, prefix);
  ASSERT_EQ(parameters.size(), 3u);
  ASSERT_EQ(parameters[0].dtype(), dtype);
  auto optimizer = make_optimizer(test.rule, parameters, tensors);
  auto schedule = make_schedule(test.schedule, tensors);
  Tolerance tolerance = tolerance_for(dtype);
  for (int step = 1; step <= kNumSteps; ++step) {
    const std::string step_prefix = "step." + std::to_string(step) + ".";
    double torch_rate = entry(tensors, step_prefix + "lr").item<double>();
    if (schedule) {
      optim::apply_schedule(*schedule, *optimizer);
      EXPECT_NEAR(optimizer->learning_rate(), torch_rate, 1e-15 * torch_rate) << "step " << step;
    } else {
      EXPECT_EQ(optimizer->learning_rate(), torch_rate);
    }
    set_step_gradients(tensors, prefix, step, parameters);
    optimizer->step();
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const Tensor& expected = entry(tensors, prefix + step_prefix + "param." + std::to_string(i));
      EXPECT_TRUE(testing::all_close(parameters[i], expected, tolerance.relative,
                                     tolerance.absolute))
          << "step " << step << ", parameter " << i;
    }
  }
}

TEST(OptimParity, MatchesTorchOptimStepByStep) {
  for (const ParityCase& test : kCases) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(std::string(test.fixture) + " " + std::string(dtype_name(dtype)));
      run_case(test, dtype);
    }
  }
}

TEST(OptimParity, ClipGradNormMatchesTorch) {
  for (const char* fixture : {"clip_active", "clip_inactive"}) {
    TensorMap tensors =
        testing::load_fixture(std::string("optim/") + fixture + ".safetensors").tensors;
    double max_norm = hparam(tensors, "max_norm");
    for (DType dtype : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(std::string(fixture) + " " + std::string(dtype_name(dtype)));
      const std::string prefix = std::string(dtype_name(dtype)) + ".";
      std::vector<Tensor> parameters;
      for (int i = 0; tensors.count(prefix + "grad." + std::to_string(i)); ++i) {
        const Tensor& grad = entry(tensors, prefix + "grad." + std::to_string(i));
        parameters.push_back(Tensor::zeros(grad.shape(), dtype));
        parameters.back().set_grad(grad.clone());
      }
      ASSERT_EQ(parameters.size(), 3u);
      Tolerance tolerance = tolerance_for(dtype);
      double torch_norm = entry(tensors, prefix + "total_norm").item<double>();
      // torch sums float32 gradients in float32; attn sums in double.
      EXPECT_NEAR(optim::clip_grad_norm(parameters, max_norm), torch_norm,
                  tolerance.absolute + tolerance.relative * torch_norm);
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        EXPECT_TRUE(testing::all_close(parameters[i].grad(),
                                       entry(tensors, prefix + "clipped." + std::to_string(i)),
                                       tolerance.relative, tolerance.absolute))
            << "parameter " << i;
      }
    }
  }
}

}  // namespace
}  // namespace attn
