// Pinning the SIMD target: what the kernels dispatch to follows the pin, and a name this
// build or CPU lacks is an error that lists what is there.
#include "attn/kernels/simd_target.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "attn/core/error.h"

namespace attn::kernels {
namespace {

// Back to what the run started with (ATTN_SIMD_TARGET, or the best) after each test.
class SimdTarget : public ::testing::Test {
 protected:
  void TearDown() override {
    reset_simd_target();
    apply_simd_target_from_environment();
  }
};

TEST_F(SimdTarget, EveryAvailableTargetCanBePinnedAndIsWhatTheKernelsRun) {
  const std::vector<std::string> targets = available_simd_targets();
  ASSERT_FALSE(targets.empty());
  // Highway always compiles its portable fallback (SCALAR or EMU128, as the Highway build
  // chooses), so every CPU has it.
  EXPECT_TRUE(targets.back() == "SCALAR" || targets.back() == "EMU128") << targets.back();
  for (const std::string& target : targets) {
    set_simd_target(target);
    EXPECT_EQ(simd_target(), target);
  }
  reset_simd_target();
  EXPECT_EQ(simd_target(), targets.front());
}

TEST_F(SimdTarget, NamesAreCaseInsensitive) {
  const std::string fallback = available_simd_targets().back();
  std::string lower = fallback;
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  set_simd_target(lower);
  EXPECT_EQ(simd_target(), fallback);
}

TEST_F(SimdTarget, AnUnknownTargetIsAnErrorListingTheAvailableOnes) {
  const std::string before = simd_target();
  try {
    set_simd_target("AVX1024");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'AVX1024' is not a SIMD target"), std::string::npos) << message;
    EXPECT_NE(message.find(available_simd_targets().back()), std::string::npos) << message;
  }
  EXPECT_EQ(simd_target(), before);
}

}  // namespace
}  // namespace attn::kernels
