// Elementwise comparison against reference values, and fixture loading.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attn/core/tensor.h"
#include "attn/io/safetensors.h"

namespace attn::testing {

// Passes when |actual - expected| <= absolute + relative * |expected| for every element,
// and the shapes match. The failure names the first offending element.
inline ::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                            double relative, double absolute) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << to_string(actual.shape())
                                         << " != expected " << to_string(expected.shape());
  }
  std::vector<double> got = actual.to_vector<double>();
  std::vector<double> want = expected.to_vector<double>();
  for (std::size_t i = 0; i < got.size(); ++i) {
    bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (both_nan) continue;
    double difference = std::abs(got[i] - want[i]);
    if (!(difference <= absolute + relative * std::abs(want[i]))) {
      return ::testing::AssertionFailure() << "element " << i << ": got " << got[i]
                                           << ", expected " << want[i] << " (difference "
                                           << difference << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

inline std::string fixture_path(const std::string& relative) {
  return std::string(ATTN_FIXTURE_DIR) + "/" + relative;
}

inline io::SafetensorsData load_fixture(const std::string& relative) {
  return io::load_safetensors(fixture_path(relative));
}

}  // namespace attn::testing
