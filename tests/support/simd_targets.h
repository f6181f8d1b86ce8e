// Tests whose body runs once per SIMD instruction set compiled into attn and supported by
// this CPU. Derive the fixture from PerSimdTargetTest and instantiate it with
// ATTN_INSTANTIATE_PER_SIMD_TARGET; the instances are named Targets/<fixture>.<test>/<target>.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cstdint>
#include <string>

#include "attn/kernels/simd_target.h"

namespace attn::testing {

class PerSimdTargetTest : public ::testing::TestWithParam<std::int64_t> {
 protected:
  void SetUp() override { hwy::SetSupportedTargetsForTest(GetParam()); }
  // Back to what the run started with: the best target, or ATTN_SIMD_TARGET's.
  void TearDown() override {
    kernels::reset_simd_target();
    kernels::apply_simd_target_from_environment();
  }
};

inline std::string simd_target_test_name(const ::testing::TestParamInfo<std::int64_t>& info) {
  return hwy::TargetName(info.param);
}

}  // namespace attn::testing

#define ATTN_INSTANTIATE_PER_SIMD_TARGET(fixture)                                     \
  INSTANTIATE_TEST_SUITE_P(Targets, fixture,                                          \
                           ::testing::ValuesIn(hwy::SupportedAndGeneratedTargets()), \
                           ::attn::testing::simd_target_test_name)
