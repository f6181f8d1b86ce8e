// UTF-8 and Python's string operations; the character tables are in unicode_tables.cpp.
#include "attn/metrics/unicode.h"

#include <cstdint>

#include "attn/core/error.h"

namespace attn::metrics::unicode {
namespace {

constexpr char32_t kCapitalSigma = U'\u03A3';
constexpr char32_t kFinalSigma = U'\u03C2';
constexpr char32_t kCapitalIWithDot = U'\u0130';
constexpr char32_t kCombiningDotAbove = U'\u0307';

// The length of a sequence from its lead byte, 0 for a byte that cannot start one.
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Decodes the sequence of `length` bytes at `bytes`, or returns a negative value when it is
// truncated, has a bad continuation byte, is overlong, is a surrogate or exceeds U+10FFFF.
std::int64_t decode_sequence(const unsigned char* bytes, int length) {
  static constexpr std::uint32_t kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  static constexpr std::uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  std::uint32_t code_point = bytes[0] & kLeadMask[length];
  for (int i = 1; i < length; ++i) {
    if ((bytes[i] & 0xC0) != 0x80) return -1;
    code_point = (code_point << 6) | (bytes[i] & 0x3F);
  }
  bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  if (code_point < kSmallest[length] || surrogate || code_point > 0x10FFFF) return -1;
  return code_point;
}

void append_utf8(std::string& out, char32_t c) {
  auto byte = [&out](std::uint32_t value) { out.push_back(static_cast<char>(value)); };
  std::uint32_t value = c;
  if (value < 0x80) {
    byte(value);
  } else if (value < 0x800) {
    byte(0xC0 | (value >> 6));
    byte(0x80 | (value & 0x3F));
  } else if (value < 0x10000) {
    byte(0xE0 | (value >> 12));
    byte(0x80 | ((value >> 6) & 0x3F));
    byte(0x80 | (value & 0x3F));
  } else {
    byte(0xF0 | (value >> 18));
    byte(0x80 | ((value >> 12) & 0x3F));
    byte(0x80 | ((value >> 6) & 0x3F));
    byte(0x80 | (value & 0x3F));
  }
}

}  // namespace

std::u32string decode_utf8(std::string_view text, std::string_view what) {
  std::u32string decoded;
  decoded.reserve(text.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t offset = 0;
  while (offset < text.size()) {
    int length = sequence_length(bytes[offset]);
    std::int64_t code_point = -1;
    if (length > 0 && offset + length <= text.size()) code_point = decode_sequence(bytes + offset, length);
    ATTN_CHECK(code_point >= 0, what, ": expected UTF-8 text, got an invalid byte sequence at byte ",
               offset);
    decoded.push_back(static_cast<char32_t>(code_point));
    offset += length;
  }
  return decoded;
}

std::string encode_utf8(std::u32string_view text) {
  std::string encoded;
  encoded.reserve(text.size());
  for (char32_t c : text) append_utf8(encoded, c);
  return encoded;
}

std::u32string lowercase(std::u32string_view text) {
  std::u32string lowered;
  lowered.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char32_t c = text[i];
    if (c == kCapitalSigma && in_final_sigma_context(text, i)) {
      lowered.push_back(kFinalSigma);
    } else if (c == kCapitalIWithDot) {
      lowered.push_back(U'i');
      lowered.push_back(kCombiningDotAbove);
    } else {
      lowered.push_back(simple_lowercase(c));
    }
  }
  return lowered;
}

std::vector<std::u32string_view> split_whitespace(std::u32string_view text) {
  std::vector<std::u32string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

std::u32string_view rstrip(std::u32string_view text) {
  std::size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  return text.substr(0, end);
}

std::u32string collapse_whitespace(std::u32string_view text) {
  std::u32string collapsed;
  collapsed.reserve(text.size());
  for (std::u32string_view word : split_whitespace(text)) {
    if (!collapsed.empty()) collapsed.push_back(U' ');
    collapsed.append(word);
  }
  return collapsed;
}

}  // namespace attn::metrics::unicode
