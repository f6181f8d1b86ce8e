// `attn attention run` end to end: runs the built command-line program on a case file. The
// program is a separate target, so a build of attn_tests alone may not have produced it;
// then these tests are skipped (the case runner itself is tested in
// tests/ops/attention_case_test.cpp).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "attn/io/safetensors.h"
#include "support/attn_program.h"
#include "support/compare.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;

class AttentionCommand : public attn::testing::AttnProgramTest {};

TEST_F(AttentionCommand, RunsACaseWritesResultsAndCompares) {
  std::string input = attn::testing::fixture_path("attention_modules/case_multihead.safetensors");
  std::string output = path("result.safetensors");
  Outcome outcome = run("attention run --in " + input + " --out " + output + " --compare");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_TRUE(outcome.err.empty()) << outcome.err;
  EXPECT_NE(outcome.out.find("fused vs reference"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("grad_in_proj_weight"), std::string::npos) << outcome.out;
  io::TensorMap expected =
      attn::testing::load_fixture("attention_modules/case_multihead_expected.safetensors").tensors;
  io::TensorMap written = io::load_safetensors(output).tensors;
  ASSERT_EQ(written.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    EXPECT_TRUE(attn::testing::all_close(written.at(name), tensor, 1e-5, 1e-6)) << name;
  }
}

TEST_F(AttentionCommand, BadCaseExitsWithOneLineAndNoOutput) {
  io::TensorMap tensors = io::load_safetensors(attn::testing::fixture_path(
                                                   "attention_modules/case_multihead.safetensors"))
                              .tensors;
  std::string input = path("bad.safetensors");
  io::save_safetensors(input, tensors, {{"score", "multihead"}, {"num_heads", "3"}});
  std::string output = path("result.safetensors");
  Outcome outcome = run("attention run --in " + input + " --out " + output);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("num_heads"), std::string::npos) << outcome.err;
  ASSERT_FALSE(outcome.err.empty());
  EXPECT_EQ(outcome.err.find('\n'), outcome.err.size() - 1) << "more than one line: " << outcome.err;
  EXPECT_FALSE(fs::exists(output));
}

TEST_F(AttentionCommand, OutIsRequiredWithoutCompare) {
  std::string input = attn::testing::fixture_path("attention_modules/case_multihead.safetensors");
  Outcome outcome = run("attention run --in " + input);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("--out"), std::string::npos) << outcome.err;
}

}  // namespace
}  // namespace attn
