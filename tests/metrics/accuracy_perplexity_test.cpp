// Accuracy and perplexity.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/metrics/accuracy.h"
#include "attn/metrics/perplexity.h"

namespace attn::metrics {
namespace {

TEST(MetricsAccuracy, CountsEqualLabels) {
  std::vector<std::string> predicted = {"pos", "neg", "neg", "pos"}, gold = {"pos", "neg", "pos", "pos"};
  AccuracyResult result = accuracy(predicted, gold);
  EXPECT_EQ(result.correct, 3);
  EXPECT_EQ(result.total, 4);
  EXPECT_DOUBLE_EQ(result.accuracy, 0.75);
  EXPECT_EQ(result.to_string(), "accuracy = 75.00% (3/4)");
  nlohmann::json json = nlohmann::json::parse(result.to_json());
  EXPECT_EQ(json["correct"], 3);
  EXPECT_DOUBLE_EQ(json["score"].get<double>(), 0.75);

  std::vector<std::int64_t> predicted_ids = {0, 5, 2}, gold_ids = {1, 5, 2};
  EXPECT_NEAR(accuracy(predicted_ids, gold_ids).accuracy, 2.0 / 3.0, 1e-15);
}

TEST(MetricsAccuracy, MismatchedOrEmptyLabelsThrow) {
  std::vector<std::string> two = {"a", "b"}, three = {"a", "b", "c"}, none;
  EXPECT_THROW(accuracy(two, three), Error);
  EXPECT_THROW(accuracy(none, none), Error);
}

TEST(MetricsPerplexity, IsExpOfTheMeanNll) {
  // four tokens each with probability 1/2
  PerplexityResult result = perplexity(4 * std::log(2.0), 4);
  EXPECT_NEAR(result.perplexity, 2.0, 1e-12);
  EXPECT_NEAR(result.mean_nll, std::log(2.0), 1e-15);
  EXPECT_NEAR(result.bits_per_token(), 1.0, 1e-12);
  EXPECT_EQ(result.to_string(), "perplexity = 2.00 (mean NLL 0.6931 nats/token over 4 tokens)");
  EXPECT_DOUBLE_EQ(perplexity(0.0, 10).perplexity, 1.0);
}

TEST(MetricsPerplexity, AccumulatesBatches) {
  PerplexityAccumulator accumulator;
  accumulator.add(3 * std::log(4.0), 3);
  accumulator.add(0.0, 0);
  accumulator.add(std::log(4.0), 1);
  EXPECT_EQ(accumulator.tokens(), 4);
  EXPECT_NEAR(accumulator.result().perplexity, 4.0, 1e-12);
  nlohmann::json json = nlohmann::json::parse(accumulator.result().to_json());
  EXPECT_EQ(json["tokens"], 4);
}

TEST(MetricsPerplexity, BadInputThrows) {
  EXPECT_THROW(perplexity(1.0, 0), Error);
  EXPECT_THROW(perplexity(-1.0, 3), Error);
  EXPECT_THROW(perplexity(std::numeric_limits<double>::quiet_NaN(), 3), Error);
  EXPECT_THROW(perplexity(std::numeric_limits<double>::infinity(), 3), Error);
  PerplexityAccumulator accumulator;
  EXPECT_THROW(accumulator.result(), Error);
  EXPECT_THROW(accumulator.add(1.0, -1), Error);
}

}  // namespace
}  // namespace attn::metrics
