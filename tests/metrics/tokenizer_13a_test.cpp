// sacreBLEU's 13a tokenizer, on hand-written cases and against sacreBLEU itself on
// hand-picked and random strings (tests/fixtures/metrics/text_processing.json).
#include "attn/metrics/tokenizer_13a.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "support/compare.h"

namespace attn::metrics {
namespace {

TEST(MetricsTokenizer13a, SplitsPunctuationButNotNumbers) {
  EXPECT_EQ(tokenize_13a("Hello, world!"), "Hello , world !");
  EXPECT_EQ(tokenize_13a("It costs 1,000.50 dollars."), "It costs 1,000.50 dollars .");
  EXPECT_EQ(tokenize_13a("state-of-the-art"), "state-of-the-art");
  EXPECT_EQ(tokenize_13a("pages 10-20"), "pages 10 - 20");
  EXPECT_EQ(tokenize_13a("don't (see) \"this\""), "don't ( see ) \" this \"");
  EXPECT_EQ(tokenize_13a("&quot;hi&quot; &amp; &lt;b&gt;"), "\" hi \" & < b >");
  EXPECT_EQ(tokenize_13a("<skipped> a-\nb\nc"), "ab c");
  EXPECT_EQ(tokenize_13a("  \t "), "");
  EXPECT_EQ(tokenize_13a(""), "");
}

TEST(MetricsTokenizer13a, InvalidUtf8Throws) { EXPECT_THROW(tokenize_13a("a\xFF"), Error); }

TEST(MetricsTokenizer13a, MatchesSacrebleu) {
  std::ifstream stream(attn::testing::fixture_path("metrics/text_processing.json"));
  nlohmann::json fixture = nlohmann::json::parse(stream);
  ASSERT_GT(fixture["tokenize_13a"].size(), 400u);
  for (const auto& pair : fixture["tokenize_13a"]) {
    std::string input = pair[0], expected = pair[1];
    EXPECT_EQ(tokenize_13a(input), expected) << "input: [" << input << "]";
  }
}

}  // namespace
}  // namespace attn::metrics
