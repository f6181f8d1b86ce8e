#include "attn/nn/linear.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

using attn::testing::leaf;
using attn::testing::matches_reference;

TEST(Linear, ParametersHavePyTorchNamesShapesAndInitBounds) {
  manual_seed(1);
  Linear linear(16, 3);
  NamedTensors parameters = linear.named_parameters();
  ASSERT_EQ(parameters.size(), 2u);
  EXPECT_EQ(parameters[0].first, "weight");
  EXPECT_EQ(parameters[0].second.shape(), (Shape{3, 16}));
  EXPECT_EQ(parameters[1].first, "bias");
  EXPECT_EQ(parameters[1].second.shape(), (Shape{3}));
  for (const auto& [name, tensor] : parameters) {
    EXPECT_TRUE(tensor.requires_grad());
    for (float value : tensor.to_vector<float>()) EXPECT_LE(std::abs(value), 0.25f) << name;
  }
  EXPECT_FALSE(Linear(4, 2, false).bias().defined());
  EXPECT_EQ(Linear(4, 2, false).named_parameters().size(), 1u);
}

TEST(Linear, ComputesXWTransposePlusBias) {
  Linear linear(2, 3);
  linear.load_state_dict({{"weight", Tensor::from_list({3, 2}, {1, 2, 3, 4, 5, 6})},
                          {"bias", Tensor::from_list({3}, {0.5, -1, 0})}});
  Tensor x = Tensor::from_list({2, 2}, {1, -1, 2, 0.5});
  std::vector<float> y = linear.forward(x).to_vector<float>();
  // rows: [1*1+2*-1+0.5, 3-4-1, 5-6] and [2+1+0.5, 6+2-1, 10+3]
  std::vector<float> expected{-0.5f, -2.0f, -1.0f, 3.5f, 7.0f, 13.0f};
  EXPECT_EQ(y, expected);
}

TEST(Linear, GradcheckInputAndParameters) {
  Linear linear(3, 4, true, DType::Float64);
  EXPECT_TRUE(attn::testing::module_gradcheck(
      linear, {leaf({2, 5, 3}, 21)},
      [&](const std::vector<Tensor>& inputs) { return linear.forward(inputs[0]); }));
}

TEST(Linear, RejectsWrongFeatureSizeAndDtype) {
  Linear linear(3, 4);
  EXPECT_TRUE(attn::testing::throws_error_with(
      [&] {
        linear.forward(Tensor::zeros({2, 5}));
      },
      {"Linear(3 -> 4)", "[..., 3]", "float32[2, 5]"}));
  EXPECT_TRUE(attn::testing::throws_error_with(
      [&] {
        linear.forward(Tensor::zeros({2, 3}, DType::Float64));
      },
      {"Linear", "float64"}));
}

TEST(Linear, MatchesPyTorch) {
  io::TensorMap fixture = attn::testing::load_nn_fixture("linear").tensors;
  Linear linear(5, 4);
  linear.load_state_dict(attn::testing::fixture_parameters(fixture));
  Tensor input = attn::testing::fixture_leaf(fixture, "input");
  Tensor output = linear.forward(input);
  attn::testing::projected(fixture, "output", output).backward();
  EXPECT_TRUE(matches_reference("output", output, fixture.at("output")));
  EXPECT_TRUE(matches_reference("grad.input", input.grad(), fixture.at("grad.input")));
  attn::testing::expect_parameter_gradients(linear, fixture);
}

}  // namespace
}  // namespace attn::nn
