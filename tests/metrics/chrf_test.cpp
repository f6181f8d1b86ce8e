// chrF and chrF++ on cases small enough to compute by hand, and their errors.
#include "attn/metrics/chrf.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"

namespace attn::metrics {
namespace {

TEST(MetricsChrf, IdenticalTextScoresOneHundred) {
  EXPECT_DOUBLE_EQ(corpus_chrf({"Él dijo: ¡hola!"}, {{"Él dijo: ¡hola!"}}).score, 100.0);
  EXPECT_DOUBLE_EQ(
      corpus_chrf({"Él dijo: ¡hola!"}, {{"Él dijo: ¡hola!"}}, ChrfOptions::chrf_plus_plus()).score,
      100.0);
}

TEST(MetricsChrf, AveragesPrecisionAndRecallOverOrdersPresentByHand) {
  // characters: unigrams {a, b} vs {a, c}: P = R = 1/2; bigrams {ab} vs {ac}: P = R = 0;
  // no longer n-grams. Averaged P = R = 1/4, and F2 of (1/4, 1/4) is 1/4.
  EXPECT_NEAR(corpus_chrf({"ab"}, {{"ac"}}).score, 25.0, 1e-12);
  // Whitespace is removed before counting characters.
  EXPECT_NEAR(corpus_chrf({"a b"}, {{"ac"}}).score, 25.0, 1e-12);
}

TEST(MetricsChrf, BetaWeighsRecall) {
  // hypothesis "a" against "ab": unigram P = 1, R = 1/2; bigrams: the hypothesis has none,
  // so only the unigram order counts. F2 = 5 * 1 * 0.5 / (4 * 1 + 0.5) = 5/9.
  EXPECT_NEAR(corpus_chrf({"a"}, {{"ab"}}).score, 100 * 5.0 / 9.0, 1e-12);
  EXPECT_NEAR(corpus_chrf({"a"}, {{"ab"}}, {.beta = 1}).score, 100 * 2.0 / 3.0, 1e-12);
}

TEST(MetricsChrf, ChrfPlusPlusAddsWordNgrams) {
  // Same characters, different word boundaries: chrF is perfect, chrF++ is not.
  EXPECT_DOUBLE_EQ(corpus_chrf({"ab cd"}, {{"abc d"}}).score, 100.0);
  ChrfScore plus = corpus_chrf({"ab cd"}, {{"abc d"}}, ChrfOptions::chrf_plus_plus());
  EXPECT_LT(plus.score, 100.0);
  EXPECT_EQ(plus.name(), "chrF2++");
  EXPECT_EQ(plus.signature, "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0");
}

TEST(MetricsChrf, MultipleReferencesUseTheBestPerLine) {
  ChrfScore best = corpus_chrf({"the cat"}, {{"a dog"}, {"the cat"}});
  EXPECT_DOUBLE_EQ(best.score, 100.0);
  EXPECT_EQ(best.signature.substr(0, 8), "nrefs:2|");
}

TEST(MetricsChrf, EmptyHypothesisScoresZero) {
  EXPECT_EQ(corpus_chrf({""}, {{"abc"}}).score, 0.0);
  EXPECT_EQ(sentence_chrf("", {"abc"}).score, 0.0);
}

TEST(MetricsChrf, FormatsAndWritesJson) {
  ChrfScore chrf = corpus_chrf({"ab"}, {{"ac"}});
  EXPECT_EQ(chrf.to_string(), "chrF2 = 25.00");
  nlohmann::json json = nlohmann::json::parse(chrf.to_json());
  EXPECT_EQ(json["name"], "chrF2");
  EXPECT_EQ(json["word_order"], 0);
  EXPECT_NEAR(json["score"].get<double>(), 25.0, 1e-12);
}

TEST(MetricsChrf, BadInputThrowsClearly) {
  EXPECT_THROW(corpus_chrf({}, {{}}), Error);
  EXPECT_THROW(corpus_chrf({"a"}, {{"a", "b"}}), Error);
  EXPECT_THROW(corpus_chrf({"a"}, {{"a"}}, {.char_order = 0, .word_order = 0}), Error);
  EXPECT_THROW(corpus_chrf({"a"}, {{"a"}}, {.beta = -1}), Error);
  EXPECT_THROW(corpus_chrf({"a"}, {{"\xC3"}}), Error);
  EXPECT_THROW(sentence_chrf("a", {}), Error);
}

}  // namespace
}  // namespace attn::metrics
