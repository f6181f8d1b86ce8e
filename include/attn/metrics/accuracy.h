// Classification accuracy: the fraction of predictions equal to the gold labels.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace attn::metrics {

struct AccuracyResult {
  std::int64_t correct = 0;
  std::int64_t total = 0;
  double accuracy = 0;  // correct / total, in [0, 1]

  std::string to_string() const;  // "accuracy = 75.00% (3/4)"
  std::string to_json() const;    // {"name": "accuracy", "score": 0.75, "correct": 3, "total": 4}
};

// Compares predicted[i] with gold[i]. Throws attn::Error when the lengths differ or there
// are no labels at all.
AccuracyResult accuracy(std::span<const std::string> predicted, std::span<const std::string> gold);
AccuracyResult accuracy(std::span<const std::int64_t> predicted, std::span<const std::int64_t> gold);

}  // namespace attn::metrics
