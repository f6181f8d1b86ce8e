// `attn eval` end to end: runs the built command-line program on files written from the
// sacreBLEU fixture (tests/fixtures/metrics/sacrebleu_cases.json) and checks its scores and
// its errors. The program is a separate target, so a build of attn_tests alone may not have
// produced it; then these tests are skipped (the metrics are tested in tests/metrics/).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/compare.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;

const nlohmann::json& sacrebleu_case(const std::string& name) {
  static const nlohmann::json cases = [] {
    std::ifstream stream(attn::testing::fixture_path("metrics/sacrebleu_cases.json"));
    return nlohmann::json::parse(stream)["cases"];
  }();
  for (const nlohmann::json& test_case : cases) {
    if (test_case["name"] == name) return test_case;
  }
  throw std::runtime_error("no sacreBLEU case named " + name);
}

class EvalCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    program_ = fs::path(ATTN_BINARY_DIR) / "apps" / "attn";
    if (!fs::exists(program_)) GTEST_SKIP() << "the attn program is not built: " << program_;
  }

  struct Outcome {
    int status = -1;
    std::string out, err;
  };
  // `input`, when given, is the program's standard input.
  Outcome run(const std::string& arguments, const std::string& input = "") const {
    fs::path out = directory_.path() / "stdout.txt", err = directory_.path() / "stderr.txt";
    std::string command = program_.string() + " " + arguments + " > " + out.string() + " 2> " +
                          err.string();
    if (!input.empty()) command += " < " + input;
    int raw = std::system(command.c_str());
    Outcome outcome;
    outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    outcome.out = read(out);
    outcome.err = read(err);
    return outcome;
  }
  static std::string read(const fs::path& file) {
    std::ifstream stream(file);
    std::stringstream text;
    text << stream.rdbuf();
    return text.str();
  }
  std::string write_lines(const std::string& name, const std::vector<std::string>& lines) const {
    std::string path = directory_.file(name);
    std::ofstream stream(path, std::ios::binary);
    for (const std::string& line : lines) stream << line << '\n';
    return path;
  }
  // Writes the case's hypotheses and reference sets; returns "--hyp H --ref R1 --ref R2 ...".
  std::string write_case(const nlohmann::json& test_case) const {
    std::string arguments = "--hyp " + write_lines("hyp.txt", test_case["hypotheses"]);
    int index = 0;
    for (const nlohmann::json& references : test_case["references"]) {
      arguments += " --ref " + write_lines("ref" + std::to_string(index++) + ".txt", references);
    }
    return arguments;
  }

  fs::path program_;
  testing::TemporaryDirectory directory_{"attn_eval_command"};
};

TEST_F(EvalCommand, JsonScoresMatchSacrebleuWithSeveralReferences) {
  const nlohmann::json& test_case = sacrebleu_case("multiple_references");
  Outcome outcome = run("eval --metric bleu,chrf --metric chrf++ --json " + write_case(test_case));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  nlohmann::json result = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(result["lines"], test_case["hypotheses"].size());
  EXPECT_NEAR(result["bleu"]["score"].get<double>(), test_case["bleu"]["score"].get<double>(), 1e-9);
  EXPECT_EQ(result["bleu"]["counts"], test_case["bleu"]["counts"]);
  EXPECT_EQ(result["bleu"]["ref_len"], test_case["bleu"]["ref_len"]);
  EXPECT_EQ(result["bleu"]["signature"], test_case["bleu"]["signature"]);
  EXPECT_NEAR(result["chrf"]["score"].get<double>(), test_case["chrf"]["score"].get<double>(), 1e-9);
  EXPECT_NEAR(result["chrf++"]["score"].get<double>(), test_case["chrf++"]["score"].get<double>(),
              1e-9);
  EXPECT_EQ(result["chrf++"]["name"], "chrF2++");
}

TEST_F(EvalCommand, ReadsHypothesesFromStandardInputAndPrintsText) {
  const nlohmann::json& test_case = sacrebleu_case("spanish");
  std::string hypotheses = write_lines("stdin.txt", test_case["hypotheses"]);
  std::string references = write_lines("ref.txt", test_case["references"][0]);
  Outcome outcome = run("eval -m bleu -m chrf --hyp - --ref " + references, hypotheses);
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find(test_case["bleu"]["formatted"].get<std::string>()), std::string::npos)
      << outcome.out;
  EXPECT_NE(outcome.out.find(test_case["bleu"]["signature"].get<std::string>()), std::string::npos)
      << outcome.out;
  char chrf[64];
  std::snprintf(chrf, sizeof(chrf), "chrF2 = %.2f", test_case["chrf"]["score"].get<double>());
  EXPECT_NE(outcome.out.find(chrf), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("4 lines"), std::string::npos) << outcome.out;
}

TEST_F(EvalCommand, LowercaseMatchesSacrebleu) {
  const nlohmann::json& test_case = sacrebleu_case("lowercase");
  Outcome outcome = run("eval --lowercase --metric bleu,chrf --json " + write_case(test_case));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  nlohmann::json result = nlohmann::json::parse(outcome.out);
  EXPECT_NEAR(result["bleu"]["score"].get<double>(), test_case["bleu"]["score"].get<double>(), 1e-9);
  EXPECT_NEAR(result["chrf"]["score"].get<double>(), test_case["chrf"]["score"].get<double>(), 1e-9);
  EXPECT_EQ(result["bleu"]["signature"], test_case["bleu"]["signature"]);
}

TEST_F(EvalCommand, AccuracyComparesTrimmedLabels) {
  std::string predicted = write_lines("predicted.txt", {"pos", "neg\r", " neg", "pos"});
  std::string gold = write_lines("gold.txt", {"pos", "neg", "pos", "pos"});
  Outcome outcome = run("eval --metric accuracy --json --hyp " + predicted + " --ref " + gold);
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  nlohmann::json result = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(result["accuracy"]["correct"], 3);
  EXPECT_EQ(result["accuracy"]["total"], 4);
  EXPECT_DOUBLE_EQ(result["accuracy"]["score"].get<double>(), 0.75);
}

TEST_F(EvalCommand, LineCountMismatchNamesBothFilesAndCounts) {
  std::string hypotheses = write_lines("hyp.txt", {"a b", "c d", "e f"});
  std::string references = write_lines("ref.txt", {"a b", "c d"});
  Outcome outcome = run("eval --hyp " + hypotheses + " --ref " + references);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_TRUE(outcome.out.empty()) << outcome.out;
  EXPECT_NE(outcome.err.find(hypotheses + " has 3 lines"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find(references + " has 2"), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find('\n'), outcome.err.size() - 1) << "more than one line: " << outcome.err;
}

TEST_F(EvalCommand, MissingFilesAndMissingOptionsAreNamed) {
  std::string references = write_lines("ref.txt", {"a"});
  std::string missing = directory_.file("missing.txt");
  Outcome outcome = run("eval --hyp " + missing + " --ref " + references);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("not found: " + missing), std::string::npos) << outcome.err;

  outcome = run("eval --hyp " + references + " --ref " + missing);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("reference file not found: " + missing), std::string::npos) << outcome.err;

  outcome = run("eval --ref " + references);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("--hyp"), std::string::npos) << outcome.err;
}

TEST_F(EvalCommand, InvalidUtf8NamesTheFileAndLine) {
  std::string hypotheses = write_lines("hyp.txt", {"fine", "bad \xFF byte"});
  std::string references = write_lines("ref.txt", {"fine", "good"});
  Outcome outcome = run("eval --metric chrf --hyp " + hypotheses + " --ref " + references);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find(hypotheses + " line 2"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("UTF-8"), std::string::npos) << outcome.err;
}

TEST_F(EvalCommand, EmptyHypothesesAndUnknownMetricsAreRejected) {
  std::string empty = write_lines("empty.txt", {});
  std::string references = write_lines("ref.txt", {"a"});
  Outcome outcome = run("eval --hyp " + empty + " --ref " + references);
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("empty"), std::string::npos) << outcome.err;

  outcome = run("eval --metric blue --hyp " + references + " --ref " + references);
  EXPECT_NE(outcome.status, 0);
  EXPECT_NE(outcome.err.find("blue"), std::string::npos) << outcome.err;
}

}  // namespace
}  // namespace attn
