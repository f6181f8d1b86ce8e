#include "attn/text/utf8.h"

#include <cstdint>
#include <cstdio>

#include "attn/core/error.h"

namespace attn::text {
namespace {

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The length of the sequence a lead byte starts, or 0 for a byte that cannot start one
// (a continuation byte, or 0xC0, 0xC1, 0xF5..0xFF, which could only start overlong or
// out-of-range forms).
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Decodes the sequence at `offset`; returns its length, or 0 when it is invalid.
int decode_one(std::string_view text, std::size_t offset, char32_t& code_point) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  const int length = sequence_length(lead);
  if (length == 0 || offset + length > text.size()) return 0;
  if (length == 1) {
    code_point = lead;
    return 1;
  }
  char32_t value = lead & (0x7F >> length);
  for (int index = 1; index < length; ++index) {
    const auto byte = static_cast<unsigned char>(text[offset + index]);
    if (!is_continuation(byte)) return 0;
    value = (value << 6) | (byte & 0x3F);
  }
  static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  const bool overlong = value < kSmallest[length];
  const bool surrogate = value >= 0xD800 && value <= 0xDFFF;
  if (overlong || surrogate || value > 0x10FFFF) return 0;
  code_point = value;
  return length;
}

[[noreturn]] void throw_invalid_utf8(std::string_view text, std::size_t offset,
                                     std::string_view context) {
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[offset]));
  throw Error(detail::concat(context, ": invalid UTF-8 at byte ", offset, " (", byte, ")"));
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t offset = 0;
  char32_t ignored = 0;
  while (offset < text.size()) {
    const int length = decode_one(text, offset, ignored);
    if (length == 0) return offset;
    offset += length;
  }
  return std::string_view::npos;
}

void check_utf8(std::string_view text, std::string_view context) {
  const std::size_t offset = find_invalid_utf8(text);
  if (offset != std::string_view::npos) throw_invalid_utf8(text, offset, context);
}

std::u32string decode_utf8(std::string_view text, std::string_view context) {
  std::u32string code_points;
  code_points.reserve(text.size());
  std::size_t offset = 0;
  while (offset < text.size()) {
    char32_t code_point = 0;
    const int length = decode_one(text, offset, code_point);
    if (length == 0) throw_invalid_utf8(text, offset, context);
    code_points.push_back(code_point);
    offset += length;
  }
  return code_points;
}

void append_utf8(char32_t code_point, std::string& out) {
  ATTN_ASSERT(code_point <= 0x10FFFF && !(code_point >= 0xD800 && code_point <= 0xDFFF),
              "not a Unicode scalar value: ", static_cast<std::uint32_t>(code_point));
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t code_point : code_points) append_utf8(code_point, out);
  return out;
}

namespace {

// Latin Extended-A pairs capitals with the next code point, starting on an even code point
// in some runs and on an odd one in others.
bool is_latin_extended_a_capital(char32_t c) {
  if (c >= 0x100 && c <= 0x137) return c % 2 == 0;
  if (c >= 0x139 && c <= 0x148) return c % 2 == 1;
  if (c >= 0x14A && c <= 0x177) return c % 2 == 0;
  if (c >= 0x179 && c <= 0x17E) return c % 2 == 1;
  return false;
}

char32_t greek_lowercase(char32_t c) {
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  return c;
}

char32_t cyrillic_lowercase(char32_t c) {
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

}  // namespace

char32_t simple_lowercase(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 0x20;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 0x20;  // U+00D7 is the multiplication sign
  if (c == 0x130) return U'i';                     // capital I with dot above
  if (c == 0x178) return 0xFF;                     // Ÿ
  if (is_latin_extended_a_capital(c)) return c + 1;
  if (c >= 0x370 && c <= 0x3FF) return greek_lowercase(c);
  if (c >= 0x400 && c <= 0x42F) return cyrillic_lowercase(c);
  return c;
}

}  // namespace attn::text
