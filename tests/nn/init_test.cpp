#include "attn/nn/init.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attn/core/error.h"

namespace attn::nn {
namespace {

double mean_of(const std::vector<double>& values) {
  double total = 0;
  for (double value : values) total += value;
  return total / static_cast<double>(values.size());
}

double std_of(const std::vector<double>& values) {
  double mean = mean_of(values);
  double total = 0;
  for (double value : values) total += (value - mean) * (value - mean);
  return std::sqrt(total / static_cast<double>(values.size()));
}

TEST(Init, UniformStaysInRangeAndCoversIt) {
  Generator generator(7);
  Tensor tensor = Tensor::empty({100, 100});
  init::uniform_(tensor, -0.25, 0.75, generator);
  std::vector<double> values = tensor.to_vector<double>();
  double low = 1, high = -1;
  for (double value : values) {
    EXPECT_GE(value, -0.25);
    EXPECT_LE(value, 0.75);
    low = std::min(low, value);
    high = std::max(high, value);
  }
  // 10^4 draws: the extremes sit within ~1e-3 of the ends, the mean within ~1e-2 of 0.25.
  EXPECT_LT(low, -0.24);
  EXPECT_GT(high, 0.74);
  EXPECT_NEAR(mean_of(values), 0.25, 0.01);
}

TEST(Init, NormalHasTheRequestedMoments) {
  Generator generator(11);
  Tensor tensor = Tensor::empty({200, 100}, DType::Float64);
  init::normal_(tensor, 2.0, 0.5, generator);
  std::vector<double> values = tensor.to_vector<double>();
  // Standard errors with 2*10^4 draws: mean 0.0035, std 0.0025.
  EXPECT_NEAR(mean_of(values), 2.0, 0.02);
  EXPECT_NEAR(std_of(values), 0.5, 0.02);
  for (double value : values) EXPECT_TRUE(std::isfinite(value));
}

TEST(Init, SameSeedSameValuesAndTheOffsetAdvances) {
  Generator first(3), second(3);
  Tensor a = Tensor::empty({5, 7}), b = Tensor::empty({5, 7});
  init::normal_(a, 0, 1, first);
  init::normal_(b, 0, 1, second);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_EQ(first.offset(), 2u * 35u);  // two uniforms per normal value
  init::normal_(b, 0, 1, second);
  EXPECT_NE(a.to_vector<float>(), b.to_vector<float>());
}

TEST(Init, SkipInitialisationLeavesTensorsAndTheGeneratorAlone) {
  Generator generator(3);
  Tensor a = Tensor::full({4, 5}, 7.0);
  {
    init::SkipInitialisation skip;
    init::normal_(a, 0, 1, generator);
    init::uniform_(a, -1, 1, generator);
    init::xavier_uniform_(a, 1.0, generator);
    init::zeros_(a);
    EXPECT_THROW(init::uniform_(a, 1, -1, generator), Error);  // arguments still checked
  }
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(20, 7.0f));
  EXPECT_EQ(generator.offset(), 0u);
  init::normal_(a, 0, 1, generator);  // back to drawing once the guard is gone
  EXPECT_EQ(generator.offset(), 40u);
}

TEST(Init, FillsNonContiguousViewsInPlace) {
  Tensor matrix = Tensor::zeros({3, 4});
  // The second column, a strided view.
  Tensor column = matrix.as_strided({3}, {4}, 1);
  init::ones_(column);
  std::vector<float> values = matrix.to_vector<float>();
  for (int row = 0; row < 3; ++row) {
    for (int col = 0; col < 4; ++col) EXPECT_EQ(values[row * 4 + col], col == 1 ? 1.0f : 0.0f);
  }
  init::zeros_(matrix);
  for (float value : matrix.to_vector<float>()) EXPECT_EQ(value, 0.0f);
}

TEST(Init, XavierUniformBound) {
  Generator generator(5);
  Tensor weight = Tensor::empty({30, 20});
  init::xavier_uniform_(weight, 2.0, generator);
  double bound = 2.0 * std::sqrt(6.0 / 50.0);
  double largest = 0;
  for (float value : weight.to_vector<float>())
    largest = std::max(largest, std::abs(double(value)));
  EXPECT_LE(largest, bound * (1 + 1e-6));
  EXPECT_GT(largest, 0.95 * bound);
}

TEST(Init, RejectsIntegerTensors) {
  Tensor indices = Tensor::zeros({3}, DType::Int64);
  EXPECT_THROW(init::uniform_(indices, 0, 1), Error);
  EXPECT_THROW(init::xavier_uniform_(Tensor::empty({4})), Error);
}

}  // namespace
}  // namespace attn::nn
