// Python's string semantics, checked against Python itself (tests/fixtures/metrics/
// text_processing.json, made by tools/make_metric_fixtures.py).
#include "attn/metrics/unicode.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "support/compare.h"

namespace attn::metrics {
namespace {

nlohmann::json load_text_processing() {
  std::ifstream stream(attn::testing::fixture_path("metrics/text_processing.json"));
  return nlohmann::json::parse(stream);
}

std::string lower_utf8(const std::string& text) {
  return unicode::encode_utf8(unicode::lowercase(unicode::decode_utf8(text)));
}

TEST(MetricsUnicode, Utf8RoundTripsEveryLength) {
  std::u32string text = U"a\u00e9\u6771\U0001F44D";
  text += {U'\0', U'z', U'\U0010FFFF'};
  std::string encoded = unicode::encode_utf8(text);
  EXPECT_EQ(encoded.size(), 1u + 2 + 3 + 4 + 1 + 1 + 4);
  EXPECT_EQ(unicode::decode_utf8(encoded), text);
  EXPECT_EQ(unicode::decode_utf8("\xEF\xBB\xBFx"), std::u32string(U"\uFEFFx"));
}

TEST(MetricsUnicode, InvalidUtf8ThrowsWithTheByteOffset) {
  const char* invalid[] = {"ab\x80",        "\xC0\xAF",         "\xE0\x80\xAF", "\xED\xA0\x80",
                           "\xF4\x90\x80\x80", "\xE6\x9D",       "\xFF",         "x\xC3("};
  for (const char* text : invalid) {
    EXPECT_THROW(unicode::decode_utf8(text), Error) << text;
  }
  try {
    unicode::decode_utf8("ab\x80", "hypothesis line 7");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("hypothesis line 7"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("byte 2"), std::string::npos) << error.what();
  }
}

TEST(MetricsUnicode, WhitespaceIsPythonsIsspace) {
  nlohmann::json fixture = load_text_processing();
  std::vector<char32_t> expected;
  for (const auto& code_point : fixture["whitespace_code_points"]) expected.push_back(code_point.get<char32_t>());
  std::vector<char32_t> actual;
  for (char32_t c = 0; c < 0x110000; ++c) {
    if (unicode::is_space(c)) actual.push_back(c);
  }
  EXPECT_EQ(actual, expected);
}

TEST(MetricsUnicode, SplitRstripAndCollapseFollowPython) {
  std::u32string text = U"\t a\u00a0b\u3000\u3000c \u200b d\r\n";
  std::vector<std::u32string_view> words = unicode::split_whitespace(text);
  ASSERT_EQ(words.size(), 5u);
  EXPECT_EQ(words[0], U"a");
  EXPECT_EQ(words[2], U"c");
  EXPECT_EQ(words[3], U"\u200b");  // zero width space is not whitespace in Python
  EXPECT_EQ(words[4], U"d");
  EXPECT_EQ(unicode::rstrip(text), U"\t a\u00a0b\u3000\u3000c \u200b d");
  EXPECT_EQ(unicode::collapse_whitespace(text), U"a b c \u200b d");
  EXPECT_TRUE(unicode::split_whitespace(U" \t ").empty());
  EXPECT_EQ(unicode::rstrip(U"  "), U"");
}

TEST(MetricsUnicode, LowercaseHandlesSigmaAndDottedI) {
  EXPECT_EQ(lower_utf8("ΟΔΟΣ ΣΑΣ Σ"), "οδος σας σ");
  EXPECT_EQ(lower_utf8("ΟΔΟΣ."), "οδος.");   // a period is case-ignorable, the sigma ends the word
  EXPECT_EQ(lower_utf8("ΑΣΑ"), "ασα");       // inside a word
  EXPECT_EQ(lower_utf8("İ"), "i\u0307");     // the one two-code-point lowercase
  EXPECT_EQ(lower_utf8("ÉL DIJO ÑANDÚ"), "él dijo ñandú");
}

TEST(MetricsUnicode, LowercaseMatchesPythonOnEveryMappingAndRandomStrings) {
  nlohmann::json fixture = load_text_processing();
  ASSERT_GT(fixture["lowercase"].size(), 400u);
  for (const auto& pair : fixture["lowercase"]) {
    std::string input = pair[0], expected = pair[1];
    EXPECT_EQ(lower_utf8(input), expected) << input;
  }
}

}  // namespace
}  // namespace attn::metrics
