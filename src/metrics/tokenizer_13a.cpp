// sacreBLEU's Tokenizer13a and TokenizerRegexp (sacrebleu/tokenizers/tokenizer_13a.py,
// tokenizer_re.py). Each regular expression there matches exactly two characters (or one),
// so Python's re.sub is a left-to-right scan that, after a match, resumes behind it; the
// scans below do the same, which matters for runs like "a.." or "1-2-3".
#include "attn/metrics/tokenizer_13a.h"

#include "attn/metrics/unicode.h"

namespace attn::metrics {
namespace {

void replace_all(std::u32string& text, std::u32string_view from, std::u32string_view to) {
  std::u32string replaced;
  std::size_t start = 0;
  for (std::size_t found = text.find(from); found != std::u32string::npos;
       found = text.find(from, start)) {
    replaced.append(text, start, found - start);
    replaced.append(to);
    start = found + from.size();
  }
  replaced.append(text, start, std::u32string::npos);
  text = std::move(replaced);
}

// [0-9] in a Python str pattern is the ASCII digits only.
bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_period_or_comma(char32_t c) { return c == U'.' || c == U','; }

// The class [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII symbols and the space, but not the
// apostrophe, comma, hyphen, period or digits.
bool is_split_symbol(char32_t c) {
  return (c >= U'{' && c <= U'~') || (c >= U'[' && c <= U'`') || (c >= U' ' && c <= U'&') ||
         (c >= U'(' && c <= U'+') || (c >= U':' && c <= U'@') || c == U'/';
}

// ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
std::u32string split_symbols(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size() * 2);
  for (char32_t c : text) {
    if (is_split_symbol(c)) {
      out += U' ';
      out += c;
      out += U' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Applies a two-character rule: where matches(first, second), appends replace(first, second)
// and skips both; elsewhere copies one character.
template <typename Matches, typename Replace>
std::u32string substitute_pairs(std::u32string_view text, Matches matches, Replace replace) {
  std::u32string out;
  out.reserve(text.size() * 2);
  std::size_t i = 0;
  while (i < text.size()) {
    if (i + 1 < text.size() && matches(text[i], text[i + 1])) {
      replace(out, text[i], text[i + 1]);
      i += 2;
    } else {
      out += text[i];
      i += 1;
    }
  }
  return out;
}

std::u32string apply_post_tokenizer(std::u32string_view line) {
  std::u32string text = split_symbols(line);
  // ([^0-9])([\.,]) -> "\1 \2 ": a period or comma not preceded by a digit
  text = substitute_pairs(
      text, [](char32_t a, char32_t b) { return !is_digit(a) && is_period_or_comma(b); },
      [](std::u32string& out, char32_t a, char32_t b) { out += {a, U' ', b, U' '}; });
  // ([\.,])([^0-9]) -> " \1 \2": a period or comma not followed by a digit
  text = substitute_pairs(
      text, [](char32_t a, char32_t b) { return is_period_or_comma(a) && !is_digit(b); },
      [](std::u32string& out, char32_t a, char32_t b) { out += {U' ', a, U' ', b}; });
  // ([0-9])(-) -> "\1 \2 ": a dash preceded by a digit
  text = substitute_pairs(
      text, [](char32_t a, char32_t b) { return is_digit(a) && b == U'-'; },
      [](std::u32string& out, char32_t a, char32_t b) { out += {a, U' ', b, U' '}; });
  return unicode::collapse_whitespace(text);
}

}  // namespace

std::u32string tokenize_13a(std::u32string_view line) {
  std::u32string text(line);
  replace_all(text, U"<skipped>", U"");
  replace_all(text, U"-\n", U"");
  replace_all(text, U"\n", U" ");
  if (text.find(U'&') != std::u32string::npos) {
    replace_all(text, U"&quot;", U"\"");
    replace_all(text, U"&amp;", U"&");
    replace_all(text, U"&lt;", U"<");
    replace_all(text, U"&gt;", U">");
  }
  return apply_post_tokenizer(U" " + text + U" ");
}

std::string tokenize_13a(std::string_view line) {
  return unicode::encode_utf8(tokenize_13a(unicode::decode_utf8(line, "tokenize_13a")));
}

}  // namespace attn::metrics
