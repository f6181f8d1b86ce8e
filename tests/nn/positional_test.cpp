#include "attn/nn/positional.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nn/nn_test_support.h"
#include "support/compare.h"

namespace attn::nn {
namespace {

using attn::testing::all_close;
using attn::testing::leaf;
using attn::testing::random_tensor;
using attn::testing::throws_error_with;

// The PyTorch references are float64 values rounded to float32 (half an ulp); attn computes
// its tables in double and rounds once too, and the elementwise rotation adds a few ulp, so
// |attn - reference| <= 1e-6 |reference| + 1e-6 holds with margin. A wrong frequency, pair
// layout or offset moves values by ~1e-1.
constexpr double kRelative = 1e-6;
constexpr double kAbsolute = 1e-6;

// ---- sinusoidal ----------------------------------------------------------------------------

TEST(SinusoidalEncoding, FollowsThePaperFormula) {
  Tensor table = sinusoidal_encoding(7, 6, 0, DType::Float64);
  std::vector<double> values = table.to_vector<double>();
  for (int pos = 0; pos < 7; ++pos) {
    for (int i = 0; i < 3; ++i) {
      double theta = pos / std::pow(10000.0, 2.0 * i / 6.0);
      EXPECT_DOUBLE_EQ(values[pos * 6 + 2 * i], std::sin(theta));
      EXPECT_DOUBLE_EQ(values[pos * 6 + 2 * i + 1], std::cos(theta));
    }
  }
}

TEST(SinusoidalEncoding, MatchesTheTorchComputation) {
  io::SafetensorsData fixture =
      attn::testing::load_fixture("attention_modules/sinusoidal.safetensors");
  const Tensor& expected = fixture.tensors.at("pe");
  SinusoidalPositionalEncoding encoding(expected.size(1), expected.size(0));
  EXPECT_TRUE(all_close(encoding.encoding(expected.size(0)), expected, kRelative, kAbsolute));
  // An offset selects later rows of the same table.
  EXPECT_TRUE(all_close(encoding.encoding(5, 40), ops::slice(expected, 0, 40, 45), kRelative,
                        kAbsolute));
}

TEST(SinusoidalEncoding, ForwardAddsTheRowsOfItsPositions) {
  SinusoidalPositionalEncoding encoding(8, 32, DType::Float64);
  Tensor x = random_tensor({2, 5, 8}, 61);
  Tensor expected = ops::add(x, sinusoidal_encoding(5, 8, 3, DType::Float64));
  EXPECT_TRUE(all_close(encoding.forward(x, 3), expected, 0, 0));
  EXPECT_TRUE(encoding.named_parameters().empty());
  EXPECT_TRUE(encoding.state_dict().empty());
}

TEST(SinusoidalEncoding, RejectsOddDimensionsAndPositionsBeyondMaxLen) {
  EXPECT_TRUE(throws_error_with([] { SinusoidalPositionalEncoding(7, 10); },
                                {"SinusoidalPositionalEncoding", "even", "7"}));
  EXPECT_TRUE(throws_error_with([] { sinusoidal_encoding(4, 5); }, {"even", "5"}));
  SinusoidalPositionalEncoding encoding(4, 10);
  EXPECT_TRUE(throws_error_with([&] { encoding.forward(Tensor::zeros({1, 4, 4}), 7); },
                                {"positions 7 to 10", "max_len 10"}));
  EXPECT_TRUE(throws_error_with([&] { encoding.forward(Tensor::zeros({1, 4, 6})); },
                                {"[..., N, 4]", "float32[1, 4, 6]"}));
}

// ---- learned -------------------------------------------------------------------------------

TEST(LearnedPositionalEncoding, AddsTrainedRowsAndIsDifferentiable) {
  manual_seed(4);
  LearnedPositionalEncoding encoding(6, 3, DType::Float64);
  EXPECT_EQ(encoding.state_dict().at("embedding.weight").shape(), (Shape{6, 3}));
  Tensor x = random_tensor({2, 4, 3}, 62);
  Tensor expected = ops::add(x, ops::slice(encoding.embedding().weight(), 0, 2, 6));
  EXPECT_TRUE(all_close(encoding.forward(x, 2), expected, 0, 0));
  EXPECT_TRUE(attn::testing::module_gradcheck(
      encoding, {leaf({2, 3, 3}, 63)},
      [&](const std::vector<Tensor>& inputs) { return encoding.forward(inputs[0], 1); }));
  EXPECT_TRUE(throws_error_with([&] { encoding.forward(x, 3); },
                                {"LearnedPositionalEncoding", "max_len 6"}));
}

// ---- rotary --------------------------------------------------------------------------------

TEST(RotaryEmbedding, MatchesTheTorchRotateHalfImplementation) {
  io::SafetensorsData fixture = attn::testing::load_fixture("attention_modules/rope.safetensors");
  const io::TensorMap& tensors = fixture.tensors;
  RotaryEmbedding rope(std::stoll(fixture.metadata.at("head_dim")), 64,
                       std::stod(fixture.metadata.at("base")));
  Tensor q = attn::testing::fixture_leaf(tensors, "q");
  Tensor k = attn::testing::fixture_leaf(tensors, "k");
  auto [q_rotated, k_rotated] = rope.forward(q, k, std::stoll(fixture.metadata.at("key_offset")));
  ops::add(attn::testing::projected(tensors, "q_rotated", q_rotated),
           attn::testing::projected(tensors, "k_rotated", k_rotated))
      .backward();
  EXPECT_TRUE(all_close(q_rotated, tensors.at("q_rotated"), kRelative, kAbsolute));
  EXPECT_TRUE(all_close(k_rotated, tensors.at("k_rotated"), kRelative, kAbsolute));
  EXPECT_TRUE(all_close(q.grad(), tensors.at("grad.q"), kRelative, kAbsolute));
  EXPECT_TRUE(all_close(k.grad(), tensors.at("grad.k"), kRelative, kAbsolute));
}

TEST(RotaryEmbedding, PairsFeatureIWithFeatureIPlusHalf) {
  RotaryEmbedding rope(4, 8, 10000.0, DType::Float64);
  // x = e_0 at position 3: rotates into features 0 and 2 (not 0 and 1) by θ_0 = 3.
  Tensor x = Tensor::from_list({1, 4}, {1, 0, 0, 0}, DType::Float64);
  std::vector<double> rotated = rope.apply(x, 3).to_vector<double>();
  EXPECT_NEAR(rotated[0], std::cos(3.0), 1e-15);
  EXPECT_NEAR(rotated[1], 0.0, 1e-15);
  EXPECT_NEAR(rotated[2], std::sin(3.0), 1e-15);
  EXPECT_NEAR(rotated[3], 0.0, 1e-15);
}

TEST(RotaryEmbedding, ScoresDependOnlyOnRelativePosition) {
  RotaryEmbedding rope(8, 64, 10000.0, DType::Float64);
  Tensor q = random_tensor({1, 8}, 64), k = random_tensor({1, 8}, 65);
  auto score = [&](std::int64_t query_position, std::int64_t key_position) {
    return ops::sum(ops::mul(rope.apply(q, query_position), rope.apply(k, key_position)))
        .item<double>();
  };
  EXPECT_NEAR(score(5, 2), score(40, 37), 1e-12);
  EXPECT_NEAR(score(0, 0), ops::sum(ops::mul(q, k)).item<double>(), 1e-12);
  EXPECT_GT(std::abs(score(5, 2) - score(5, 4)), 1e-3);  // and it does depend on it
}

TEST(RotaryEmbedding, GradcheckAndErrors) {
  RotaryEmbedding rope(6, 16, 500.0, DType::Float64);
  EXPECT_TRUE(attn::testing::gradcheck(
      [&](const std::vector<Tensor>& inputs) { return rope.apply(inputs[0], 4); },
      {leaf({2, 2, 3, 6}, 66)}));
  EXPECT_TRUE(throws_error_with([] { RotaryEmbedding(5); }, {"RotaryEmbedding", "even", "5"}));
  EXPECT_TRUE(throws_error_with([&] { rope.apply(Tensor::zeros({1, 1, 4, 6}, DType::Float64), 13); },
                                {"positions 13 to 16", "max_len 16"}));
  EXPECT_TRUE(throws_error_with(
      [&] { rope.forward(Tensor::zeros({1, 1, 4, 6}, DType::Float64), Tensor::zeros({1, 1, 2, 6}, DType::Float64)); },
      {"queries (4)", "keys (2)"}));
}

}  // namespace
}  // namespace attn::nn
