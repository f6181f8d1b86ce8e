// Optimizer state export and import: resuming from a saved state must continue exactly
// (bit for bit) as the uninterrupted run, and a malformed state must be refused whole.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attn/io/safetensors.h"
#include "attn/optim/adam.h"
#include "attn/optim/schedule.h"
#include "attn/optim/sgd.h"

namespace attn {
namespace {

using StateDict = std::map<std::string, Tensor>;
using OptimizerFactory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

const Shape kShapes[] = {{4, 3}, {7}, {2, 2, 2}};
constexpr int kTotalSteps = 5;
constexpr int kResumeAfter = 3;

// Deterministic values that differ per seed and per element and are not round numbers.
Tensor wavy_tensor(const Shape& shape, double seed, DType dtype) {
  std::vector<double> values(shape_numel(shape));
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = 1.7 * std::sin(seed + 0.61 * static_cast<double>(i)) + 0.1 * seed;
  }
  return Tensor::from_vector<double>(shape, values).to(dtype);
}

std::vector<Tensor> make_parameters(DType dtype) {
  std::vector<Tensor> parameters;
  for (std::size_t i = 0; i < std::size(kShapes); ++i) {
    parameters.push_back(wavy_tensor(kShapes[i], 0.3 * static_cast<double>(i), dtype));
    parameters.back().set_requires_grad(true);
  }
  return parameters;
}

// The gradients of update `step`; parameter 2 gets none at step 2 (so it is skipped).
void set_gradients(std::vector<Tensor>& parameters, int step) {
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    if (step == 2 && i == 2) {
      parameters[i].zero_grad();
      continue;
    }
    double seed = 10.0 * step + static_cast<double>(i);
    parameters[i].set_grad(wavy_tensor(parameters[i].shape(), seed, parameters[i].dtype()));
  }
}

// Updates first..last (inclusive), with the Noam rate for each, as a training loop would.
void train(optim::Optimizer& optimizer, std::vector<Tensor>& parameters, int first, int last) {
  optim::NoamSchedule schedule(8, 2, 0.5);
  for (int step = first; step <= last; ++step) {
    set_gradients(parameters, step);
    optim::apply_schedule(schedule, optimizer);
    optimizer.step();
  }
}

std::vector<Tensor> clones(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> copies;
  for (const Tensor& tensor : tensors) {
    copies.push_back(tensor.clone());
    copies.back().set_requires_grad(true);
  }
  return copies;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  return std::memcmp(a.raw_data(), b.raw_data(), a.numel() * dtype_size(a.dtype())) == 0;
}

// A safetensors round trip in memory, as a checkpoint on disk would do.
StateDict through_safetensors(const StateDict& state) {
  std::string bytes = io::serialize_safetensors(state);
  return io::parse_safetensors(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                               "optimizer state")
      .tensors;
}

struct ResumeCase {
  const char* name;
  OptimizerFactory make;
};

std::vector<ResumeCase> resume_cases() {
  return {
      {"Sgd", [](std::vector<Tensor> p) -> std::unique_ptr<optim::Optimizer> {
         return std::make_unique<optim::Sgd>(
             std::move(p), optim::SgdOptions{.momentum = 0.9, .dampening = 0.2,
                                             .weight_decay = 0.01});
       }},
      {"SgdNesterov", [](std::vector<Tensor> p) -> std::unique_ptr<optim::Optimizer> {
         return std::make_unique<optim::Sgd>(
             std::move(p), optim::SgdOptions{.momentum = 0.8, .nesterov = true});
       }},
      {"AdamAmsgrad", [](std::vector<Tensor> p) -> std::unique_ptr<optim::Optimizer> {
         return std::make_unique<optim::Adam>(
             std::move(p), optim::AdamOptions{.weight_decay = 0.05, .amsgrad = true});
       }},
      {"AdamW", [](std::vector<Tensor> p) -> std::unique_ptr<optim::Optimizer> {
         return std::make_unique<optim::AdamW>(std::move(p));
       }},
  };
}

TEST(OptimizerState, ResumingReproducesTheUninterruptedRunBitForBit) {
  for (const ResumeCase& test : resume_cases()) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(std::string(test.name) + " " + std::string(dtype_name(dtype)));
      std::vector<Tensor> straight = make_parameters(dtype);
      auto straight_optimizer = test.make(straight);
      train(*straight_optimizer, straight, 1, kTotalSteps);

      std::vector<Tensor> interrupted = make_parameters(dtype);
      auto first_optimizer = test.make(interrupted);
      train(*first_optimizer, interrupted, 1, kResumeAfter);
      StateDict saved = through_safetensors(first_optimizer->state_dict());
      std::vector<Tensor> resumed = clones(interrupted);
      auto resumed_optimizer = test.make(resumed);
      resumed_optimizer->load_state_dict(saved);
      EXPECT_EQ(resumed_optimizer->step_count(), kResumeAfter);
      train(*resumed_optimizer, resumed, kResumeAfter + 1, kTotalSteps);

      for (std::size_t i = 0; i < straight.size(); ++i) {
        EXPECT_TRUE(bitwise_equal(resumed[i], straight[i])) << "parameter " << i;
      }
      // The states agree too, so a second resume would be exact as well.
      StateDict expected = straight_optimizer->state_dict();
      StateDict got = resumed_optimizer->state_dict();
      ASSERT_EQ(got.size(), expected.size());
      for (const auto& [key, tensor] : expected) {
        ASSERT_EQ(got.count(key), 1u) << key;
        EXPECT_TRUE(bitwise_equal(got.at(key), tensor)) << key;
      }
    }
  }
}

TEST(OptimizerState, NamesTheEntriesLikePyTorch) {
  std::vector<Tensor> parameters = make_parameters(DType::Float32);
  optim::Adam adam(parameters, {.learning_rate = 0.01, .amsgrad = true});
  train(adam, parameters, 1, 2);  // parameter 2 has no gradient at step 2
  StateDict state = adam.state_dict();
  std::vector<std::string> keys;
  for (const auto& entry : state) keys.push_back(entry.first);
  std::vector<std::string> expected = {
      "learning_rate",         "param.0.exp_avg", "param.0.exp_avg_sq", "param.0.max_exp_avg_sq",
      "param.0.step",          "param.1.exp_avg", "param.1.exp_avg_sq", "param.1.max_exp_avg_sq",
      "param.1.step",          "param.2.exp_avg", "param.2.exp_avg_sq", "param.2.max_exp_avg_sq",
      "param.2.step",          "step"};
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(state.at("step").dtype(), DType::Int64);
  EXPECT_EQ(state.at("step").item<std::int64_t>(), 2);
  EXPECT_EQ(state.at("param.0.step").item<std::int64_t>(), 2);
  EXPECT_EQ(state.at("param.2.step").item<std::int64_t>(), 1);
  EXPECT_EQ(state.at("learning_rate").item<double>(), adam.learning_rate());
  EXPECT_EQ(state.at("param.1.exp_avg").describe(), "float32[7]");
}

TEST(OptimizerState, ExportsCopiesNotViewsOfTheLiveBuffers) {
  std::vector<Tensor> parameters = make_parameters(DType::Float64);
  optim::Adam adam(parameters);
  train(adam, parameters, 1, 1);
  Tensor exported = adam.state_dict().at("param.0.exp_avg");
  Tensor before = exported.clone();
  train(adam, parameters, 2, 2);
  EXPECT_TRUE(bitwise_equal(exported, before));
}

TEST(OptimizerState, LoadingRestoresTheLearningRate) {
  std::vector<Tensor> parameters = make_parameters(DType::Float64);
  optim::Sgd source(parameters, {.learning_rate = 0.125, .momentum = 0.5});
  optim::Sgd target(parameters, {.learning_rate = 1.0, .momentum = 0.5});
  target.load_state_dict(source.state_dict());
  EXPECT_EQ(target.learning_rate(), 0.125);
  EXPECT_EQ(target.step_count(), 0);
}

// Expects load_state_dict(state) to fail with `fragment` and to leave the optimizer as it was.
void expect_refused(optim::Optimizer& optimizer, const StateDict& state,
                    const std::string& fragment) {
  StateDict before = optimizer.state_dict();
  try {
    optimizer.load_state_dict(state);
    ADD_FAILURE() << "expected an error containing \"" << fragment << "\"";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
  StateDict after = optimizer.state_dict();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [key, tensor] : before) {
    EXPECT_TRUE(bitwise_equal(after.at(key), tensor)) << key;
  }
}

TEST(OptimizerState, RefusesMalformedStates) {
  std::vector<Tensor> parameters = make_parameters(DType::Float64);
  optim::Adam adam(parameters);
  train(adam, parameters, 1, 1);
  const StateDict good = adam.state_dict();
  // Applies `edit` to a copy of the good state and expects loading it to fail.
  auto refused = [&](const std::function<void(StateDict&)>& edit, const std::string& fragment) {
    StateDict state = good;
    edit(state);
    expect_refused(adam, state, fragment);
  };
  refused([](StateDict& s) { s.erase("step"); }, "missing entry \"step\"");
  refused([](StateDict& s) { s.erase("param.1.exp_avg_sq"); },
          "missing entry \"param.1.exp_avg_sq\"");
  refused([](StateDict& s) { s["param.0.momentum_buffer"] = s["param.0.exp_avg"]; },
          "unexpected entry \"param.0.momentum_buffer\"");
  refused([](StateDict& s) { s["param.3.step"] = s["param.0.step"]; }, "names parameter 3");
  refused([](StateDict& s) { s["param.01.step"] = s["param.0.step"]; },
          "unexpected entry \"param.01.step\"");
  refused([](StateDict& s) { s["momentum"] = s["step"]; }, "unexpected entry \"momentum\"");
  refused([](StateDict& s) { s["param.0.exp_avg"] = Tensor::zeros({12}, DType::Float64); },
          "\"param.0.exp_avg\" to be float64[4, 3]");
  refused([](StateDict& s) { s["param.0.exp_avg"] = s["param.0.exp_avg"].to(DType::Float32); },
          "\"param.0.exp_avg\" to be float64[4, 3]");
  refused([](StateDict& s) { s["param.0.step"] = Tensor::scalar(1.0, DType::Float64); },
          "one-element int64");
  refused([](StateDict& s) { s["param.0.step"] = Tensor::scalar(0.0, DType::Int64); },
          "\"param.0.step\" >= 1");
  refused([](StateDict& s) { s["learning_rate"] = Tensor::scalar(-1.0, DType::Float64); },
          "learning rate");
}

TEST(OptimizerState, AnAmsgradStateNeedsItsMaximumBuffer) {
  std::vector<Tensor> parameters = make_parameters(DType::Float64);
  optim::Adam plain(parameters);
  train(plain, parameters, 1, 1);
  optim::Adam amsgrad(parameters, {.amsgrad = true});
  expect_refused(amsgrad, plain.state_dict(), "missing entry \"param.0.max_exp_avg_sq\"");
}

}  // namespace
}  // namespace attn
