// Every score function × mask kind × {reference, fused} × {forward, backward} against
// PyTorch (tests/fixtures/attention, written by tools/make_attention_fixtures.py), and the
// fused implementation against the reference.
//
// Tolerances. The fixtures hold float32 inputs and float64 expected values computed from
// exactly those inputs, so:
//   float64 runs agree to rounding: |error| <= 1e-10 · max(1, max|expected|).
//   float32 runs carry float32 rounding: every value is a sum of at most K = max(d, Nk, a)
//   O(1) products, whose rounding error is bounded by about K·u·max|term| with
//   u = 2^-24 ≈ 6e-8; K <= 129 here gives 8e-6. The check allows
//   |error| <= 2e-5 · max(1, max|expected|): the bound with a margin of 2.5.
//   fused float32 additionally follows FlashAttention's rule: its error is at most twice the
//   reference's error on the same case, plus 1e-6 · max(1, max|expected|) so that a
//   reference that happens to be exact does not demand exactness.
#include <gtest/gtest.h>

#include "ops/attention_test_support.h"

namespace attn {
namespace {

using ops::AttentionImpl;
using testing::AttentionCase;
using testing::load_attention_case;
using testing::magnitude;
using testing::max_error;
using testing::run_attention_case;
using testing::TensorsByName;

constexpr double kFloat64Tolerance = 1e-10;
constexpr double kFloat32Tolerance = 2e-5;
constexpr double kFusedFloor = 1e-6;

class AttentionFixture : public ::testing::TestWithParam<std::string> {
 protected:
  // Runs the case in `dtype` with `impl` and returns each compared quantity's error.
  std::map<std::string, double> errors(AttentionImpl impl, DType dtype) {
    AttentionCase loaded = load_attention_case(GetParam(), dtype);
    TensorsByName values = run_attention_case(loaded, impl);
    std::map<std::string, double> result;
    for (const auto& [name, expected] : loaded.expected) {
      result[name] = max_error(values[name], expected);
    }
    return result;
  }

  double scale_of(const std::string& quantity) {
    AttentionCase loaded = load_attention_case(GetParam(), DType::Float64);
    return magnitude(loaded.expected.at(quantity));
  }

  void expect_within(AttentionImpl impl, DType dtype, double tolerance) {
    for (const auto& [quantity, error] : errors(impl, dtype)) {
      EXPECT_LE(error, tolerance * scale_of(quantity))
          << ops::impl_name(impl) << " " << dtype_name(dtype) << " " << quantity;
    }
  }
};

TEST_P(AttentionFixture, ReferenceMatchesPyTorchInFloat64) {
  expect_within(AttentionImpl::Reference, DType::Float64, kFloat64Tolerance);
}

TEST_P(AttentionFixture, FusedMatchesPyTorchInFloat64) {
  expect_within(AttentionImpl::Fused, DType::Float64, kFloat64Tolerance);
}

TEST_P(AttentionFixture, ReferenceMatchesPyTorchInFloat32) {
  expect_within(AttentionImpl::Reference, DType::Float32, kFloat32Tolerance);
}

TEST_P(AttentionFixture, FusedMatchesPyTorchInFloat32) {
  expect_within(AttentionImpl::Fused, DType::Float32, kFloat32Tolerance);
}

TEST_P(AttentionFixture, FusedErrorIsAtMostTwiceTheReferenceErrorInFloat32) {
  std::map<std::string, double> reference = errors(AttentionImpl::Reference, DType::Float32);
  std::map<std::string, double> fused = errors(AttentionImpl::Fused, DType::Float32);
  for (const auto& [quantity, fused_error] : fused) {
    EXPECT_LE(fused_error, 2 * reference.at(quantity) + kFusedFloor * scale_of(quantity))
        << quantity << ": reference error " << reference.at(quantity);
  }
}

// Every case states what it covers in its name, e.g. "additive_fully_masked".
std::string case_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(PyTorch, AttentionFixture,
                         ::testing::ValuesIn(testing::attention_fixture_names()), case_name);

TEST(AttentionFixtures, CoverEveryScoreAndMaskKind) {
  std::vector<std::string> names = testing::attention_fixture_names();
  for (const char* score :
       {"dot", "scaled_dot", "general", "additive", "cosine", "cosine_learned"}) {
    for (const char* mask :
         {"none", "key_lengths", "key_padding", "causal", "allowed", "bias", "fully_masked"}) {
      std::string name = std::string(score) + "_" + mask;
      EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    }
  }
}

}  // namespace
}  // namespace attn
