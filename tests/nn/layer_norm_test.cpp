#include "attn/nn/layer_norm.h"

#include <gtest/gtest.h>

#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

using attn::testing::leaf;
using attn::testing::matches_reference;

TEST(LayerNorm, StartsAsPlainNormalisation) {
  LayerNorm norm(4);
  EXPECT_EQ(norm.weight().to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
  EXPECT_EQ(norm.bias().to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  Tensor x = Tensor::from_list({1, 4}, {1, 2, 3, 4});
  // mean 2.5, biased variance 1.25
  std::vector<float> y = norm.forward(x).to_vector<float>();
  double scale = 1.0 / std::sqrt(1.25 + 1e-5);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], (i + 1 - 2.5) * scale, 1e-6);
  EXPECT_TRUE(LayerNorm(4, 1e-5, false).named_parameters().empty());
}

TEST(LayerNorm, GradcheckOverTwoTrailingDimensions) {
  LayerNorm norm(Shape{2, 3}, 1e-5, true, DType::Float64);
  // Move the affine parameters away from ones and zeros so their gradients matter.
  norm.load_state_dict({{"weight", attn::testing::random_tensor({2, 3}, 31, 0.5, 1.5)},
                        {"bias", attn::testing::random_tensor({2, 3}, 32)}});
  EXPECT_TRUE(attn::testing::module_gradcheck(
      norm, {leaf({4, 2, 3}, 33, -2.0, 2.0)},
      [&](const std::vector<Tensor>& inputs) { return norm.forward(inputs[0]); }));
}

TEST(LayerNorm, RejectsWrongTrailingShape) {
  LayerNorm norm(Shape{2, 3});
  EXPECT_TRUE(attn::testing::throws_error_with(
      [&] {
        norm.forward(Tensor::zeros({4, 3, 2}));
      },
      {"LayerNorm([2, 3])", "[..., 2, 3]", "float32[4, 3, 2]"}));
}

TEST(LayerNorm, MatchesPyTorch) {
  io::TensorMap fixture = attn::testing::load_nn_fixture("layer_norm").tensors;
  LayerNorm norm(6);
  norm.load_state_dict(attn::testing::fixture_parameters(fixture));
  Tensor input = attn::testing::fixture_leaf(fixture, "input");
  Tensor output = norm.forward(input);
  attn::testing::projected(fixture, "output", output).backward();
  EXPECT_TRUE(matches_reference("output", output, fixture.at("output")));
  EXPECT_TRUE(matches_reference("grad.input", input.grad(), fixture.at("grad.input")));
  attn::testing::expect_parameter_gradients(norm, fixture);
}

}  // namespace
}  // namespace attn::nn
