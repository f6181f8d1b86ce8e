#include "attn/nn/embedding.h"

#include <gtest/gtest.h>

#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

using attn::testing::matches_reference;

TEST(Embedding, WeightIsStandardNormalWithAZeroPaddingRow) {
  manual_seed(2);
  Embedding embedding(400, 50, 3);
  EXPECT_EQ(embedding.weight().shape(), (Shape{400, 50}));
  std::vector<float> values = embedding.weight().to_vector<float>();
  double total = 0, squares = 0;
  for (float value : values) {
    total += value;
    squares += double(value) * value;
  }
  double mean = total / values.size();
  // 2*10^4 draws: standard error of the mean 0.007, of the variance 0.01.
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(squares / values.size() - mean * mean, 1.0, 0.05);
  for (int column = 0; column < 50; ++column) EXPECT_EQ(values[3 * 50 + column], 0.0f);
  EXPECT_EQ(Embedding(10, 2, -2).padding_index(), 8);  // counts from the end, as PyTorch
}

TEST(Embedding, LooksUpRows) {
  Embedding embedding(3, 2);
  embedding.load_state_dict({{"weight", Tensor::from_list({3, 2}, {1, 2, 3, 4, 5, 6})}});
  Tensor indices = Tensor::from_vector<std::int64_t>({2, 2}, {2, 0, 1, 2});
  Tensor rows = embedding.forward(indices);
  EXPECT_EQ(rows.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{5, 6, 1, 2, 3, 4, 5, 6}));
}

TEST(Embedding, GradcheckWeight) {
  Embedding embedding(6, 3, -1, DType::Float64);
  // Index 4 repeats, so its gradient accumulates; rows 2 and 3 are never used.
  Tensor indices = Tensor::from_vector<std::int64_t>({2, 3}, {4, 1, 0, 4, 5, 1});
  EXPECT_TRUE(attn::testing::module_gradcheck(
      embedding, {}, [&](const std::vector<Tensor>&) { return embedding.forward(indices); }));
}

// The padding row's gradient is zero by definition (not by calculus, so no gradcheck).
TEST(Embedding, PaddingRowGetsNoGradient) {
  Embedding embedding(4, 2, 1);
  Tensor indices = Tensor::from_vector<std::int64_t>({3}, {1, 3, 1});
  ops::sum(embedding.forward(indices)).backward();
  EXPECT_EQ(embedding.weight().grad().to_vector<float>(),
            (std::vector<float>{0, 0, 0, 0, 0, 0, 1, 1}));
}

TEST(Embedding, RejectsFloatIndices) {
  Embedding embedding(6, 3);
  EXPECT_TRUE(attn::testing::throws_error_with([&] { embedding.forward(Tensor::zeros({2})); },
                                               {"Embedding(6, 3)", "int64", "float32[2]"}));
  EXPECT_THROW(Embedding(6, 3, 6), Error);
}

TEST(Embedding, MatchesPyTorch) {
  io::TensorMap fixture = attn::testing::load_nn_fixture("embedding").tensors;
  Embedding embedding(7, 3, 2);
  embedding.load_state_dict(attn::testing::fixture_parameters(fixture));
  Tensor output = embedding.forward(fixture.at("input"));
  attn::testing::projected(fixture, "output", output).backward();
  EXPECT_TRUE(matches_reference("output", output, fixture.at("output")));
  attn::testing::expect_parameter_gradients(embedding, fixture);
}

}  // namespace
}  // namespace attn::nn
