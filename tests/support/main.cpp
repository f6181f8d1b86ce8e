// The test program's entry point: GoogleTest's, after pinning the SIMD target named by
// ATTN_SIMD_TARGET (scripts/test.sh runs the suite once per target the CPU has, so one
// machine checks the code that machines with fewer instruction sets run).
#include <gtest/gtest.h>

#include <cstdio>
#include <exception>

#include "attn/kernels/simd_target.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  try {
    const std::string target = attn::kernels::apply_simd_target_from_environment();
    // stderr: ctest's test discovery reads the test list from stdout.
    std::fprintf(stderr, "attn_tests: SIMD target %s\n", target.c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "attn_tests: %s\n", error.what());
    return 2;
  }
  return RUN_ALL_TESTS();
}
