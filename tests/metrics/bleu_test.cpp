// BLEU on cases small enough to compute by hand, and its errors.
#include "attn/metrics/bleu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"

namespace attn::metrics {
namespace {

using Lines = std::vector<std::string>;

TEST(MetricsBleu, IdenticalTextScoresOneHundred) {
  BleuScore bleu = corpus_bleu({"The cat sat on the mat."}, {{"The cat sat on the mat."}});
  EXPECT_DOUBLE_EQ(bleu.score, 100.0);
  EXPECT_EQ(bleu.sys_len, 7);  // "The cat sat on the mat ."
  EXPECT_EQ(bleu.counts, (std::vector<std::int64_t>{7, 6, 5, 4}));
  EXPECT_EQ(bleu.totals, bleu.counts);
}

TEST(MetricsBleu, GeometricMeanOfPrecisionsByHand) {
  // unigrams 4/5, bigrams 3/4, trigrams 2/3, 4-grams 1/2, equal lengths
  BleuScore bleu = corpus_bleu({"a b c d e"}, {{"a b c d f"}});
  EXPECT_NEAR(bleu.score, 100 * std::pow(0.8 * 0.75 * (2.0 / 3) * 0.5, 0.25), 1e-9);
  EXPECT_EQ(bleu.brevity_penalty, 1.0);
  EXPECT_NEAR(bleu.precisions[1], 75.0, 1e-12);
}

TEST(MetricsBleu, ExpSmoothingAndBrevityPenaltyByHand) {
  // 3/4, 2/3, 1/2, 0/1: the first order without a match counts as 1 / (2 * total)
  BleuScore bleu = corpus_bleu({"a b c x"}, {{"a b c d"}});
  EXPECT_NEAR(bleu.precisions[3], 50.0, 1e-12);
  EXPECT_NEAR(bleu.score, 100 * std::pow(0.75 * (2.0 / 3) * 0.5 * 0.5, 0.25), 1e-9);
  // a 4-token hypothesis against 6 reference tokens: BP = exp(1 - 6/4)
  BleuScore short_one = corpus_bleu({"a b c d"}, {{"a b c d e f"}});
  EXPECT_NEAR(short_one.brevity_penalty, std::exp(-0.5), 1e-12);
  EXPECT_NEAR(short_one.score, 100 * std::exp(-0.5), 1e-9);
}

TEST(MetricsBleu, ClosestReferenceLengthPrefersTheShorterOnATie) {
  BleuScore bleu = corpus_bleu({"a b c d"}, {{"a b c"}, {"a b c d e"}});
  EXPECT_EQ(bleu.ref_len, 3);
  EXPECT_EQ(bleu.signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
}

TEST(MetricsBleu, ClippedCountsUseTheLargestCountOverReferences) {
  // "the" appears 3 times in the hypothesis, at most twice in one reference
  BleuScore bleu = corpus_bleu({"the the the"}, {{"the cat"}, {"the the dog"}});
  EXPECT_EQ(bleu.counts[0], 2);
  EXPECT_EQ(bleu.totals[0], 3);
}

TEST(MetricsBleu, NoMatchesOrEmptyHypothesesScoreZero) {
  EXPECT_EQ(corpus_bleu({"x y z"}, {{"a b c"}}).score, 0.0);
  BleuScore empty = corpus_bleu({"", ""}, {{"a b", "c"}});
  EXPECT_EQ(empty.score, 0.0);
  EXPECT_EQ(empty.sys_len, 0);
  EXPECT_EQ(empty.brevity_penalty, 0.0);
}

TEST(MetricsBleu, LowercaseOption) {
  Lines hypotheses = {"THE CAT SAT DOWN"};
  EXPECT_LT(corpus_bleu(hypotheses, {{"the cat sat down"}}).score, 1.0);
  BleuScore lowered = corpus_bleu(hypotheses, {{"the cat sat down"}}, {.lowercase = true});
  EXPECT_DOUBLE_EQ(lowered.score, 100.0);
  EXPECT_EQ(lowered.signature, "nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0");
}

TEST(MetricsBleu, SentenceBleuUsesEffectiveOrder) {
  // two tokens: only orders 1 and 2 exist, so the score is their geometric mean
  BleuScore bleu = sentence_bleu("a b", {"a b"});
  EXPECT_DOUBLE_EQ(bleu.score, 100.0);
  EXPECT_EQ(corpus_bleu({"a b"}, {{"a b"}}).score < 1e-6, true);  // without it, 0
}

TEST(MetricsBleu, PreprocessShowsTheTokens) {
  EXPECT_EQ(bleu_preprocess("Hello, World!  "), "Hello , World !");
  EXPECT_EQ(bleu_preprocess("Hello, World!", {.lowercase = true}), "hello , world !");
  EXPECT_EQ(bleu_preprocess("a,b", {.tokenizer = BleuTokenizer::none}), "a,b");
}

TEST(MetricsBleu, FormatsLikeSacrebleuAndWritesJson) {
  BleuScore bleu = corpus_bleu({"a b c x"}, {{"a b c d"}});
  EXPECT_EQ(bleu.to_string(),
            "BLEU = 59.46 75.0/66.7/50.0/50.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)");
  nlohmann::json json = nlohmann::json::parse(bleu.to_json());
  EXPECT_EQ(json["name"], "BLEU");
  EXPECT_NEAR(json["score"].get<double>(), bleu.score, 1e-12);
  EXPECT_EQ(json["counts"], nlohmann::json({3, 2, 1, 0}));
  EXPECT_EQ(json["signature"], bleu.signature);
}

TEST(MetricsBleu, SmoothingSignatures) {
  EXPECT_EQ(bleu_signature({.smoothing = BleuSmoothing::floor}, 1),
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0");
  EXPECT_EQ(bleu_signature({.tokenizer = BleuTokenizer::none, .smoothing = BleuSmoothing::add_k}, 3),
            "nrefs:3|case:mixed|eff:no|tok:none|smooth:add-k[1.00]|version:2.6.0");
}

TEST(MetricsBleu, BadInputThrowsClearly) {
  EXPECT_THROW(corpus_bleu({}, {{}}), Error);
  EXPECT_THROW(corpus_bleu({"a"}, {}), Error);
  EXPECT_THROW(corpus_bleu({"a"}, {{"a"}, {}}), Error);
  EXPECT_THROW(corpus_bleu({"a"}, {{"a"}}, {.max_ngram_order = 0}), Error);
  EXPECT_THROW(corpus_bleu({"a"}, {{"a"}}, {.smoothing_value = -1.0}), Error);
  EXPECT_THROW(sentence_bleu("a", {}), Error);
  try {
    corpus_bleu({"a", "b", "c"}, {{"a", "b"}});
    FAIL() << "no error";
  } catch (const Error& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("expected 3 lines"), std::string::npos) << message;
    EXPECT_NE(message.find("got 2"), std::string::npos) << message;
  }
  try {
    corpus_bleu({"ok", "bad \xFF"}, {{"a", "b"}});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("hypothesis line 2"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace attn::metrics
