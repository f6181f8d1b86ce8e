#include "attn/nn/dropout.h"

#include <gtest/gtest.h>

namespace attn::nn {
namespace {

TEST(Dropout, EvaluationModeIsTheIdentity) {
  Dropout dropout(0.5);
  dropout.eval();
  Tensor x = Tensor::from_list({4}, {1, -2, 3, 4});
  EXPECT_EQ(dropout.forward(x).to_vector<float>(), x.to_vector<float>());
}

TEST(Dropout, TrainingZeroesAboutPAndScalesTheRest) {
  Generator generator(9);
  Dropout dropout(0.25, generator);
  ASSERT_TRUE(dropout.is_training());
  std::vector<float> y = dropout.forward(Tensor::ones({100, 100})).to_vector<float>();
  int zeros = 0;
  for (float value : y) {
    if (value == 0.0f) {
      ++zeros;
    } else {
      EXPECT_FLOAT_EQ(value, 1.0f / 0.75f);
    }
  }
  // 10^4 Bernoulli(0.25) draws: standard deviation of the count ~43.
  EXPECT_NEAR(zeros, 2500, 250);
}

TEST(Dropout, MasksRepeatForTheSameSeedAndAdvanceBetweenCalls) {
  Generator first(4), second(4);
  Dropout a(0.5, first), b(0.5, second);
  Tensor x = Tensor::ones({64});
  std::vector<float> mask = a.forward(x).to_vector<float>();
  EXPECT_EQ(mask, b.forward(x).to_vector<float>());
  EXPECT_NE(mask, a.forward(x).to_vector<float>());
}

TEST(Dropout, ElementIUsesPositionOffsetPlusIOfThePhiloxStream) {
  // Offsets that are not multiples of 4 start inside a Philox block.
  for (std::uint64_t skip : {0, 1, 3, 6}) {
    Generator generator(11);
    generator.reserve(skip);
    Dropout dropout(0.5, generator);
    std::vector<float> y = dropout.forward(Tensor::ones({37})).to_vector<float>();
    for (std::size_t i = 0; i < y.size(); ++i) {
      bool kept = philox_uniform(11, skip, i) >= 0.5f;
      EXPECT_EQ(y[i], kept ? 2.0f : 0.0f) << "skip " << skip << ", element " << i;
    }
  }
}

TEST(Dropout, RejectsInvalidProbability) {
  EXPECT_THROW(Dropout(1.0), Error);
  EXPECT_THROW(Dropout(-0.1), Error);
}

}  // namespace
}  // namespace attn::nn
