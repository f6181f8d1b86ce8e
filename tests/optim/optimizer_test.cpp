// Known-answer tests for SGD, Adam and AdamW, and the behaviour every optimizer shares:
// validation, skipping parameters without gradients, zero_grad. The hand-worked examples
// use binary fractions wherever possible so that the expected values are exact.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attn/ops/ops.h"
#include "attn/optim/adam.h"
#include "attn/optim/sgd.h"

namespace attn {
namespace {

using optim::Adam;
using optim::AdamOptions;
using optim::AdamW;
using optim::Sgd;
using optim::SgdOptions;

Tensor parameter(const Shape& shape, std::initializer_list<double> values,
                 DType dtype = DType::Float64) {
  Tensor tensor = Tensor::from_list(shape, values, dtype);
  tensor.set_requires_grad(true);
  return tensor;
}

void set_grad(Tensor& parameter, std::initializer_list<double> values) {
  parameter.set_grad(Tensor::from_list(parameter.shape(), values, parameter.dtype()));
}

// Runs `action` and expects an attn::Error whose message contains `fragment`.
template <typename Action>
void expect_error(Action&& action, const std::string& fragment) {
  try {
    action();
    ADD_FAILURE() << "expected an attn::Error containing \"" << fragment << "\"";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

const DType kFloatingTypes[] = {DType::Float32, DType::Float64};

// ---- SGD ---------------------------------------------------------------------------------

TEST(Sgd, PlainStepIsParameterMinusRateTimesGradient) {
  for (DType dtype : kFloatingTypes) {
    Tensor p = parameter({2}, {1.0, -2.0}, dtype);
    Sgd sgd({p}, {.learning_rate = 0.5});
    set_grad(p, {0.5, -0.25});
    sgd.step();
    EXPECT_EQ(p.to_vector<double>(), (std::vector<double>{0.75, -1.875})) << dtype_name(dtype);
  }
}

TEST(Sgd, MomentumWithDampeningAndWeightDecayByHand) {
  for (DType dtype : kFloatingTypes) {
    Tensor p = parameter({1}, {2.0}, dtype);
    Sgd sgd({p}, {.learning_rate = 0.5, .momentum = 0.5, .dampening = 0.5, .weight_decay = 0.25});
    set_grad(p, {1.0});
    sgd.step();  // g = 1 + 0.25 * 2 = 1.5; b = g (first step, undamped); p = 2 - 0.5 * 1.5
    EXPECT_EQ(p.item<double>(), 1.25);
    set_grad(p, {1.0});
    sgd.step();  // g = 1 + 0.25 * 1.25 = 1.3125; b = 0.5 * 1.5 + 0.5 * 1.3125 = 1.40625
    EXPECT_EQ(p.item<double>(), 1.25 - 0.5 * 1.40625) << dtype_name(dtype);
  }
}

TEST(Sgd, NesterovLooksAheadAlongTheBuffer) {
  for (DType dtype : kFloatingTypes) {
    Tensor p = parameter({1}, {2.0}, dtype);
    Sgd sgd({p}, {.learning_rate = 0.5, .momentum = 0.5, .nesterov = true});
    set_grad(p, {1.0});
    sgd.step();  // b = 1; direction = 1 + 0.5 * 1 = 1.5; p = 2 - 0.75
    EXPECT_EQ(p.item<double>(), 1.25);
    set_grad(p, {2.0});
    sgd.step();  // b = 0.5 * 1 + 2 = 2.5; direction = 2 + 0.5 * 2.5 = 3.25; p = 1.25 - 1.625
    EXPECT_EQ(p.item<double>(), -0.375) << dtype_name(dtype);
  }
}

TEST(Sgd, RejectsBadHyperparameters) {
  Tensor p = parameter({1}, {1.0});
  expect_error([&] { Sgd({p}, {.learning_rate = -0.1}); }, "learning rate");
  expect_error([&] { Sgd({p}, {.learning_rate = NAN}); }, "learning rate");
  expect_error([&] { Sgd({p}, {.momentum = -0.5}); }, "momentum");
  expect_error([&] { Sgd({p}, {.weight_decay = -1.0}); }, "weight_decay");
  expect_error([&] { Sgd({p}, {.dampening = 2.0}); }, "dampening");
  expect_error([&] { Sgd({p}, {.nesterov = true}); }, "nesterov");
  expect_error([&] { Sgd({p}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
               "nesterov");
}

// ---- Adam and AdamW ------------------------------------------------------------------------

// Adam on one scalar, written out from the paper with bias correction, in double.
double adam_oracle(double p, const std::vector<double>& grads, double lr, double beta1,
                   double beta2, double eps) {
  double m = 0.0, v = 0.0;
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    double g = grads[t - 1];
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    double m_hat = m / (1 - std::pow(beta1, t));
    double v_hat = v / (1 - std::pow(beta2, t));
    p -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
  return p;
}

TEST(Adam, FirstStepMovesByTheLearningRateAgainstTheGradientSign) {
  // After one step m_hat = g and v_hat = g^2, so p -= lr * g / (|g| + eps).
  Tensor p = parameter({3}, {1.0, 1.0, 1.0});
  Adam adam({p}, {.learning_rate = 0.1});
  set_grad(p, {0.5, -2.0, 0.0});
  adam.step();
  std::vector<double> got = p.to_vector<double>();
  EXPECT_NEAR(got[0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(got[1], 1.0 + 0.1 * 2.0 / (2.0 + 1e-8), 1e-15);
  EXPECT_EQ(got[2], 1.0);  // a zero gradient leaves m = 0: no movement
}

TEST(Adam, MatchesThePaperOverSeveralSteps) {
  const std::vector<double> grads = {0.5, -1.0, 0.25, 3.0};
  Tensor p = parameter({1}, {0.3});
  Adam adam({p}, {.learning_rate = 0.01, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-3});
  for (double g : grads) {
    set_grad(p, {g});
    adam.step();
  }
  EXPECT_NEAR(p.item<double>(), adam_oracle(0.3, grads, 0.01, 0.8, 0.95, 1e-3), 1e-15);
}

TEST(Adam, L2WeightDecayIsAddedToTheGradient) {
  // With a zero gradient the decayed gradient is wd * p = 0.5, so p moves by about lr.
  Tensor p = parameter({1}, {2.0});
  Adam adam({p}, {.learning_rate = 0.5, .weight_decay = 0.25});
  set_grad(p, {0.0});
  adam.step();
  EXPECT_NEAR(p.item<double>(), adam_oracle(2.0, {0.5}, 0.5, 0.9, 0.999, 1e-8), 1e-15);
}

TEST(AdamW, DecoupledWeightDecayShrinksTheParameterDirectly) {
  // A zero gradient leaves m = 0, so only the decay acts: p *= 1 - lr * wd = 0.875.
  for (DType dtype : kFloatingTypes) {
    Tensor p = parameter({2}, {2.0, -4.0}, dtype);
    AdamW adamw({p}, {.learning_rate = 0.5, .weight_decay = 0.25});
    set_grad(p, {0.0, 0.0});
    adamw.step();
    EXPECT_EQ(p.to_vector<double>(), (std::vector<double>{1.75, -3.5})) << dtype_name(dtype);
  }
}

TEST(AdamW, DefaultsToPyTorchsWeightDecay) {
  Tensor p = parameter({1}, {1.0});
  EXPECT_EQ(AdamW({p}).options().weight_decay, 1e-2);
  EXPECT_EQ(Adam({p}).options().weight_decay, 0.0);
}

TEST(Adam, AmsgradNormalisesByTheLargestSecondMoment) {
  // v1 = 0.001 * 100 = 0.1 and v2 = 0.999 * 0.1 + 0.001 * 0.01 < v1, so step 2 uses v1.
  Tensor p = parameter({1}, {1.0});
  Adam adam({p}, {.learning_rate = 0.1, .amsgrad = true});
  set_grad(p, {10.0});
  adam.step();
  double after_first = p.item<double>();
  set_grad(p, {0.1});
  adam.step();
  double m2 = 0.9 * (0.1 * 10.0) + 0.1 * 0.1;
  double v_max = 0.001 * 100.0;
  double expected =
      after_first - 0.1 * (m2 / (1 - 0.81)) / (std::sqrt(v_max) / std::sqrt(1 - 0.998001) + 1e-8);
  EXPECT_NEAR(p.item<double>(), expected, 1e-15);
  EXPECT_NEAR(adam.state_dict().at("param.0.max_exp_avg_sq").item<double>(), v_max, 1e-15);
}

TEST(Adam, RejectsBadHyperparameters) {
  Tensor p = parameter({1}, {1.0});
  expect_error([&] { Adam({p}, {.learning_rate = -1e-3}); }, "learning rate");
  expect_error([&] { Adam({p}, {.beta1 = 1.0}); }, "beta1");
  expect_error([&] { Adam({p}, {.beta1 = -0.1}); }, "beta1");
  expect_error([&] { Adam({p}, {.beta2 = 1.5}); }, "beta2");
  expect_error([&] { Adam({p}, {.beta2 = NAN}); }, "beta2");
  expect_error([&] { Adam({p}, {.eps = 0.0}); }, "eps");
  expect_error([&] { Adam({p}, {.eps = -1e-8}); }, "eps");
  expect_error([&] { AdamW({p}, {.weight_decay = -0.01}); }, "AdamW: expected a finite");
}

// ---- behaviour shared by every optimizer ---------------------------------------------------

TEST(Optimizer, SkipsParametersWithoutAGradient) {
  Tensor with_grad = parameter({1}, {1.0});
  Tensor without_grad = parameter({1}, {1.0});
  Adam adam({with_grad, without_grad}, {.learning_rate = 0.1});
  set_grad(with_grad, {1.0});
  adam.step();
  EXPECT_LT(with_grad.item<double>(), 1.0);
  EXPECT_EQ(without_grad.item<double>(), 1.0);
  auto state = adam.state_dict();
  EXPECT_EQ(state.count("param.0.exp_avg"), 1u);
  EXPECT_EQ(state.count("param.1.step"), 0u);  // no state until its first update
  EXPECT_EQ(state.at("step").item<std::int64_t>(), 1);
}

TEST(Optimizer, EachParameterCountsItsOwnUpdatesForBiasCorrection) {
  // A parameter first updated at the optimizer's third step still gets step-1 correction.
  Tensor early = parameter({1}, {1.0});
  Tensor late = parameter({1}, {1.0});
  Adam adam({early, late}, {.learning_rate = 0.1});
  for (int i = 0; i < 2; ++i) {
    set_grad(early, {1.0});
    adam.step();
  }
  set_grad(late, {0.5});
  adam.step();
  EXPECT_NEAR(late.item<double>(), adam_oracle(1.0, {0.5}, 0.1, 0.9, 0.999, 1e-8), 1e-15);
  auto state = adam.state_dict();
  EXPECT_EQ(state.at("param.0.step").item<std::int64_t>(), 3);
  EXPECT_EQ(state.at("param.1.step").item<std::int64_t>(), 1);
}

TEST(Optimizer, AGradientOfTheWrongShapeIsAnErrorAndChangesNothing) {
  Tensor first = parameter({2}, {1.0, 2.0});
  Tensor second = parameter({2}, {3.0, 4.0});
  Sgd sgd({first, second}, {.learning_rate = 0.5});
  set_grad(first, {1.0, 1.0});
  // set_grad refuses a mismatched shape, so plant one the way a faulty op could.
  second.impl()->grad = Tensor::zeros({3}, DType::Float64).impl_ptr();
  expect_error([&] { sgd.step(); }, "parameter 1 is float64[2] but its gradient is float64[3]");
  EXPECT_EQ(first.to_vector<double>(), (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(sgd.step_count(), 0);
}

TEST(Optimizer, AGradientOfAnotherDtypeIsAnError) {
  Tensor p = parameter({2}, {1.0, 2.0});
  p.impl()->grad = Tensor::zeros({2}, DType::Float32).impl_ptr();
  Adam adam({p});
  expect_error([&] { adam.step(); }, "but its gradient is float32[2]");
}

TEST(Optimizer, ReadsABroadcastGradientByItsLogicalValues) {
  Tensor p = parameter({3}, {1.0, 1.0, 1.0});
  Tensor one_value = Tensor::from_list({1}, {2.0}, DType::Float64);
  p.set_grad(one_value.as_strided({3}, {0}, 0));  // the same 2.0 seen three times
  Sgd sgd({p}, {.learning_rate = 0.25});
  sgd.step();
  EXPECT_EQ(p.to_vector<double>(), (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(Optimizer, RejectsBadParameterLists) {
  expect_error([] { Sgd({}); }, "at least one parameter");
  expect_error([] { Sgd({Tensor()}); }, "undefined");
  expect_error([] { Sgd({Tensor::zeros({2}, DType::Int64)}); }, "float32 or float64");
  Tensor p = parameter({2}, {1.0, 2.0});
  expect_error([&] { Adam({p, p}); }, "appears more than once");
  Tensor matrix = Tensor::zeros({2, 3}, DType::Float64);
  Tensor transposed = matrix.as_strided({3, 2}, {1, 3}, 0);
  expect_error([&] { Adam({transposed}); }, "not contiguous");
}

TEST(Optimizer, LearningRateCanChangeBetweenSteps) {
  Tensor p = parameter({1}, {1.0});
  Sgd sgd({p}, {.learning_rate = 0.5});
  EXPECT_EQ(sgd.learning_rate(), 0.5);
  sgd.set_learning_rate(0.25);
  set_grad(p, {1.0});
  sgd.step();
  EXPECT_EQ(p.item<double>(), 0.75);
  expect_error([&] { sgd.set_learning_rate(-1.0); }, "learning rate");
  EXPECT_EQ(sgd.learning_rate(), 0.25);
}

TEST(Optimizer, ZeroGradDropsEveryGradient) {
  Tensor a = parameter({1}, {1.0});
  Tensor b = parameter({1}, {1.0});
  Sgd sgd({a, b});
  set_grad(a, {1.0});
  set_grad(b, {1.0});
  sgd.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Optimizer, UpdatesLeaveParametersAsLeavesOfTheGraph) {
  Tensor p = parameter({1}, {1.0});
  Adam adam({p});
  set_grad(p, {1.0});
  adam.step();
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
}

TEST(Optimizer, AdamFitsATargetFromAutogradGradients) {
  Tensor target = Tensor::from_list({3}, {0.5, -1.5, 2.0}, DType::Float64);
  Tensor x = parameter({3}, {0.0, 0.0, 0.0});
  Adam adam({x}, {.learning_rate = 0.05});
  for (int step = 0; step < 500; ++step) {
    adam.zero_grad();
    Tensor difference = x - target;
    ops::sum(difference * difference).backward();
    adam.step();
  }
  std::vector<double> fitted = x.to_vector<double>();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(fitted[i], target.to_vector<double>()[i], 1e-3);
}

}  // namespace
}  // namespace attn
