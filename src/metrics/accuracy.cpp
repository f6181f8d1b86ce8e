#include "attn/metrics/accuracy.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"

namespace attn::metrics {
namespace {

template <typename Label>
AccuracyResult count_matches(std::span<const Label> predicted, std::span<const Label> gold) {
  ATTN_CHECK(predicted.size() == gold.size(), "accuracy: expected as many predictions as gold labels, got ",
             predicted.size(), " predictions and ", gold.size(), " gold labels");
  ATTN_CHECK(!gold.empty(), "accuracy: expected at least one label, got none");
  AccuracyResult result;
  result.total = static_cast<std::int64_t>(gold.size());
  for (std::size_t i = 0; i < gold.size(); ++i) result.correct += predicted[i] == gold[i] ? 1 : 0;
  result.accuracy = static_cast<double>(result.correct) / static_cast<double>(result.total);
  return result;
}

}  // namespace

std::string AccuracyResult::to_string() const {
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), "accuracy = %.2f%% (%lld/%lld)", 100 * accuracy,
                static_cast<long long>(correct), static_cast<long long>(total));
  return buffer;
}

std::string AccuracyResult::to_json() const {
  nlohmann::ordered_json json = {
      {"name", "accuracy"}, {"score", accuracy}, {"correct", correct}, {"total", total}};
  return json.dump();
}

AccuracyResult accuracy(std::span<const std::string> predicted, std::span<const std::string> gold) {
  return count_matches(predicted, gold);
}

AccuracyResult accuracy(std::span<const std::int64_t> predicted, std::span<const std::int64_t> gold) {
  return count_matches(predicted, gold);
}

}  // namespace attn::metrics
