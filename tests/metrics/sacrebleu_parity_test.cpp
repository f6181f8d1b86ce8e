// BLEU, chrF and chrF++ against sacreBLEU's own numbers on varied cases
// (tests/fixtures/metrics/sacrebleu_cases.json, made by tools/make_metric_fixtures.py).
// The target is 0.01; the tests hold the scores to 1e-9, since the computation follows
// sacreBLEU's order of floating-point operations.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "attn/metrics/bleu.h"
#include "attn/metrics/chrf.h"
#include "support/compare.h"

namespace attn::metrics {
namespace {

constexpr double kTolerance = 1e-9;

const nlohmann::json& fixture() {
  static const nlohmann::json cases = [] {
    std::ifstream stream(attn::testing::fixture_path("metrics/sacrebleu_cases.json"));
    return nlohmann::json::parse(stream);
  }();
  return cases;
}

BleuSmoothing smoothing_named(const std::string& name) {
  if (name == "none") return BleuSmoothing::none;
  if (name == "floor") return BleuSmoothing::floor;
  if (name == "add-k") return BleuSmoothing::add_k;
  EXPECT_EQ(name, "exp");
  return BleuSmoothing::exp;
}

BleuOptions bleu_options(const nlohmann::json& test_case) {
  BleuOptions options;
  options.lowercase = test_case["lowercase"];
  const nlohmann::json& given = test_case["bleu_options"];
  if (given.contains("smooth_method")) options.smoothing = smoothing_named(given["smooth_method"]);
  if (given.contains("smooth_value")) options.smoothing_value = given["smooth_value"].get<double>();
  if (given.contains("tokenize")) {
    EXPECT_EQ(given["tokenize"], "none");
    options.tokenizer = BleuTokenizer::none;
  }
  if (given.contains("effective_order")) options.effective_order = given["effective_order"];
  return options;
}

ChrfOptions chrf_options(const nlohmann::json& test_case, int word_order) {
  ChrfOptions options;
  options.word_order = word_order;
  options.lowercase = test_case["lowercase"];
  const nlohmann::json& given = test_case["chrf_options"];
  if (given.contains("whitespace")) options.whitespace = given["whitespace"];
  if (given.contains("eps_smoothing")) options.eps_smoothing = given["eps_smoothing"];
  if (given.contains("beta")) options.beta = given["beta"];
  return options;
}

std::vector<std::string> references_of_line(const ReferenceSets& references, std::size_t line) {
  std::vector<std::string> line_references;
  for (const auto& set : references) line_references.push_back(set[line]);
  return line_references;
}

TEST(MetricsSacrebleuParity, FixtureRecordsItsVersionAndCoversTheCases) {
  EXPECT_EQ(fixture()["sacrebleu_version"], std::string(kSacrebleuVersion));
  EXPECT_GE(fixture()["cases"].size(), 20u);
}

TEST(MetricsSacrebleuParity, CorpusBleuMatchesScoreAndComponents) {
  for (const nlohmann::json& test_case : fixture()["cases"]) {
    SCOPED_TRACE(test_case["name"].get<std::string>());
    const nlohmann::json& expected = test_case["bleu"];
    BleuScore bleu = corpus_bleu(test_case["hypotheses"], test_case["references"],
                                 bleu_options(test_case));
    EXPECT_NEAR(bleu.score, expected["score"].get<double>(), kTolerance);
    std::vector<std::int64_t> counts = expected["counts"], totals = expected["totals"];
    if (test_case["bleu_options"].value("smooth_method", "") == "add-k") {
      // sacreBLEU reports them after adding k (1) to the orders from 2 up; attn before.
      for (std::size_t n = 1; n < counts.size(); ++n) {
        counts[n] -= 1;
        totals[n] -= 1;
      }
    }
    EXPECT_EQ(bleu.counts, counts);
    EXPECT_EQ(bleu.totals, totals);
    std::vector<double> precisions = expected["precisions"];
    ASSERT_EQ(bleu.precisions.size(), precisions.size());
    for (std::size_t n = 0; n < precisions.size(); ++n) {
      EXPECT_NEAR(bleu.precisions[n], precisions[n], kTolerance) << "order " << n + 1;
    }
    EXPECT_NEAR(bleu.brevity_penalty, expected["bp"].get<double>(), kTolerance);
    EXPECT_EQ(bleu.sys_len, expected["sys_len"].get<std::int64_t>());
    EXPECT_EQ(bleu.ref_len, expected["ref_len"].get<std::int64_t>());
    EXPECT_EQ(bleu.signature, expected["signature"].get<std::string>());
    EXPECT_EQ(bleu.to_string(), expected["formatted"].get<std::string>());
  }
}

TEST(MetricsSacrebleuParity, CorpusChrfAndChrfPlusPlusMatch) {
  for (const nlohmann::json& test_case : fixture()["cases"]) {
    SCOPED_TRACE(test_case["name"].get<std::string>());
    for (int word_order : {0, 2}) {
      const nlohmann::json& expected = test_case[word_order == 0 ? "chrf" : "chrf++"];
      ChrfScore chrf = corpus_chrf(test_case["hypotheses"], test_case["references"],
                                   chrf_options(test_case, word_order));
      EXPECT_NEAR(chrf.score, expected["score"].get<double>(), kTolerance) << "word order " << word_order;
      EXPECT_EQ(chrf.name(), expected["name"].get<std::string>());
      EXPECT_EQ(chrf.signature, expected["signature"].get<std::string>());
    }
  }
}

TEST(MetricsSacrebleuParity, SentenceBleuAndChrfMatch) {
  int lines_checked = 0;
  for (const nlohmann::json& test_case : fixture()["cases"]) {
    if (!test_case.contains("sentence_bleu")) continue;
    SCOPED_TRACE(test_case["name"].get<std::string>());
    std::vector<std::string> hypotheses = test_case["hypotheses"];
    ReferenceSets references = test_case["references"];
    BleuOptions bleu = bleu_options(test_case);
    bleu.effective_order = true;
    ChrfOptions chrf = chrf_options(test_case, 0);
    for (std::size_t line = 0; line < hypotheses.size(); ++line) {
      std::vector<std::string> line_references = references_of_line(references, line);
      EXPECT_NEAR(sentence_bleu(hypotheses[line], line_references, bleu).score,
                  test_case["sentence_bleu"][line].get<double>(), kTolerance)
          << "line " << line;
      EXPECT_NEAR(sentence_chrf(hypotheses[line], line_references, chrf).score,
                  test_case["sentence_chrf"][line].get<double>(), kTolerance)
          << "line " << line;
      ++lines_checked;
    }
  }
  EXPECT_GT(lines_checked, 50);
}

TEST(MetricsSacrebleuParity, StatisticsAddUpToTheCorpusScore) {
  const nlohmann::json& test_case = fixture()["cases"][0];
  std::vector<std::string> hypotheses = test_case["hypotheses"];
  ReferenceSets references = test_case["references"];
  BleuStatistics total;
  for (std::size_t line = 0; line < hypotheses.size(); ++line) {
    total += bleu_statistics(hypotheses[line], references_of_line(references, line));
  }
  BleuScore bleu = bleu_from_statistics(total, BleuOptions{}, 1);
  EXPECT_NEAR(bleu.score, test_case["bleu"]["score"].get<double>(), kTolerance);
}

}  // namespace
}  // namespace attn::metrics
