#include "attn/nn/feed_forward.h"

#include <gtest/gtest.h>

#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

using attn::testing::leaf;
using attn::testing::matches_reference;

TEST(FeedForward, ChildrenAreNamedW1AndW2) {
  FeedForward ffn(4, 16);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : ffn.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"w1.weight", "w1.bias", "w2.weight", "w2.bias"}));
  EXPECT_EQ(ffn.w1().weight().shape(), (Shape{16, 4}));
  EXPECT_EQ(ffn.w2().weight().shape(), (Shape{4, 16}));
}

TEST(FeedForward, AppliesReluBetweenTheLayers) {
  FeedForward ffn(1, 2);
  // w1 maps x to (x, -x); relu keeps one; w2 sums them: |x| + 0.5.
  ffn.load_state_dict({{"w1.weight", Tensor::from_list({2, 1}, {1, -1})},
                       {"w1.bias", Tensor::zeros({2})},
                       {"w2.weight", Tensor::from_list({1, 2}, {1, 1})},
                       {"w2.bias", Tensor::from_list({1}, {0.5})}});
  Tensor x = Tensor::from_list({3, 1}, {-2, 0, 3});
  EXPECT_EQ(ffn.forward(x).to_vector<float>(), (std::vector<float>{2.5f, 0.5f, 3.5f}));
}

TEST(FeedForward, GradcheckReluAndGelu) {
  for (Activation activation : {Activation::ReLU, Activation::GELU}) {
    FeedForward ffn(3, 5, 0.0, activation, DType::Float64);
    EXPECT_TRUE(attn::testing::module_gradcheck(
        ffn, {leaf({2, 4, 3}, 41)},
        [&](const std::vector<Tensor>& inputs) { return ffn.forward(inputs[0]); }));
  }
}

TEST(FeedForward, DropoutFollowsTrainAndEval) {
  FeedForward ffn(8, 32, 0.5);
  Tensor x = attn::testing::random_tensor({4, 8}, 43, -1, 1, DType::Float32);
  ffn.eval();
  std::vector<float> first = ffn.forward(x).to_vector<float>();
  EXPECT_EQ(first, ffn.forward(x).to_vector<float>());
  ffn.train();
  EXPECT_NE(first, ffn.forward(x).to_vector<float>());
}

TEST(FeedForward, RejectsWrongModelSize) {
  FeedForward ffn(4, 8);
  EXPECT_TRUE(attn::testing::throws_error_with(
      [&] {
        ffn.forward(Tensor::zeros({2, 5}));
      },
      {"FeedForward", "[..., 4]", "float32[2, 5]"}));
}

TEST(FeedForward, MatchesPyTorchWithGelu) {
  io::TensorMap fixture = attn::testing::load_nn_fixture("feed_forward_gelu").tensors;
  FeedForward ffn(4, 8, 0.0, Activation::GELU);
  ffn.load_state_dict(attn::testing::fixture_parameters(fixture));
  Tensor input = attn::testing::fixture_leaf(fixture, "input");
  Tensor output = ffn.forward(input);
  attn::testing::projected(fixture, "output", output).backward();
  EXPECT_TRUE(matches_reference("output", output, fixture.at("output")));
  EXPECT_TRUE(matches_reference("grad.input", input.grad(), fixture.at("grad.input")));
  attn::testing::expect_parameter_gradients(ffn, fixture);
}

}  // namespace
}  // namespace attn::nn
