// UTF-8 <-> Unicode code points, strictly: the decoder rejects what RFC 3629 forbids
// (overlong forms, surrogates U+D800..U+DFFF, code points above U+10FFFF, stray
// continuation bytes, truncated sequences) instead of guessing, so a bad byte in a corpus is
// reported where it is rather than silently becoming a different character.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace attn::text {

// The byte offset of the first invalid sequence in `text`, or std::string_view::npos.
std::size_t find_invalid_utf8(std::string_view text);

// Throws attn::Error "<context>: invalid UTF-8 at byte N (0xXX)" when `text` is not valid.
void check_utf8(std::string_view text, std::string_view context);

// The code points of `text`; throws as check_utf8 does.
std::u32string decode_utf8(std::string_view text, std::string_view context);

// Appends the UTF-8 encoding of one code point (which must be a valid scalar value).
void append_utf8(char32_t code_point, std::string& out);
std::string encode_utf8(std::u32string_view code_points);

// Lowercase without locale data, identical on every system: maps the capitals of ASCII,
// Latin-1, Latin Extended-A, Greek and Cyrillic (the scripts of the corpora attn uses) to
// their simple lowercase; every other code point is returned unchanged.
char32_t simple_lowercase(char32_t code_point);

}  // namespace attn::text
