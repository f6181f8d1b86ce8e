#include "attn/text/utf8.h"

#include <gtest/gtest.h>

#include <string>

#include "attn/core/error.h"

namespace attn::text {
namespace {

std::string error_of(std::string_view text) {
  try {
    check_utf8(text, "test");
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(TextUtf8Test, DecodesEveryLength) {
  // a (1 byte), ñ (2), € (3), 😀 (4)
  const std::u32string code_points = decode_utf8("a\xC3\xB1\xE2\x82\xAC\xF0\x9F\x98\x80", "test");
  EXPECT_EQ(code_points, (std::u32string{U'a', 0xF1, 0x20AC, 0x1F600}));
  EXPECT_EQ(encode_utf8(code_points), "a\xC3\xB1\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(TextUtf8Test, BoundaryCodePointsRoundTrip) {
  const std::u32string boundaries = {0x0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF,
                                     0x10000, 0x10FFFF};
  const std::string bytes = encode_utf8(boundaries);
  EXPECT_EQ(find_invalid_utf8(bytes), std::string_view::npos);
  EXPECT_EQ(decode_utf8(bytes, "test"), boundaries);
}

TEST(TextUtf8Test, EmptyTextIsValid) {
  EXPECT_TRUE(decode_utf8("", "test").empty());
  EXPECT_EQ(find_invalid_utf8(""), std::string_view::npos);
}

TEST(TextUtf8Test, FindsTheFirstInvalidSequence) {
  EXPECT_EQ(find_invalid_utf8("ab\x80"), 2u);                   // stray continuation byte
  EXPECT_EQ(find_invalid_utf8("ab\xC3"), 2u);                   // truncated at the end
  EXPECT_EQ(find_invalid_utf8("\xC3(x"), 0u);                   // lead without continuation
  EXPECT_EQ(find_invalid_utf8("x\xC0\xAF"), 1u);                // overlong '/'
  EXPECT_EQ(find_invalid_utf8("xy\xE0\x80\x80"), 2u);           // overlong NUL, 3 bytes
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);             // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("ok\xF4\x90\x80\x80"), 2u);       // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\xC3\xB1\xF5\x80\x80\x80"), 2u); // 0xF5 never starts one
  EXPECT_EQ(find_invalid_utf8("\xFF"), 0u);
}

TEST(TextUtf8Test, ErrorNamesContextOffsetAndByte) {
  EXPECT_EQ(error_of("abc\xFF" "def"), "test: invalid UTF-8 at byte 3 (0xFF)");
  EXPECT_EQ(error_of("\xC3\xB1\x80"), "test: invalid UTF-8 at byte 2 (0x80)");
  EXPECT_THROW(decode_utf8("\xE2\x82", "test"), Error);
}

TEST(TextUtf8Test, SimpleLowercaseKnownAnswers) {
  EXPECT_EQ(simple_lowercase(U'A'), U'a');
  EXPECT_EQ(simple_lowercase(U'z'), U'z');
  EXPECT_EQ(simple_lowercase(U'1'), U'1');
  EXPECT_EQ(simple_lowercase(0xD1), 0xF1u);    // Ñ -> ñ
  EXPECT_EQ(simple_lowercase(0xC9), 0xE9u);    // É -> é
  EXPECT_EQ(simple_lowercase(0xD7), 0xD7u);    // × is not a letter
  EXPECT_EQ(simple_lowercase(0xDF), 0xDFu);    // ß has no single-letter capital here
  EXPECT_EQ(simple_lowercase(0x178), 0xFFu);   // Ÿ -> ÿ
  EXPECT_EQ(simple_lowercase(0x141), 0x142u);  // Ł -> ł (odd-based run)
  EXPECT_EQ(simple_lowercase(0x152), 0x153u);  // Œ -> œ (even-based run)
  EXPECT_EQ(simple_lowercase(0x153), 0x153u);
  EXPECT_EQ(simple_lowercase(0x3A3), 0x3C3u);  // Σ -> σ
  EXPECT_EQ(simple_lowercase(0x386), 0x3ACu);  // Ά -> ά
  EXPECT_EQ(simple_lowercase(0x414), 0x434u);  // Д -> д
  EXPECT_EQ(simple_lowercase(0x401), 0x451u);  // Ё -> ё
  EXPECT_EQ(simple_lowercase(0x1F600), 0x1F600u);
}

}  // namespace
}  // namespace attn::text
