// The "13a" tokenizer of sacreBLEU (mteval-v13a.pl, used by WMT), the default tokenization
// of BLEU: it splits off punctuation and symbols, and periods and commas unless they sit
// between digits, so "1,000.50" stays one token while "end." gives "end .".
#pragma once

#include <string>
#include <string_view>

namespace attn::metrics {

// sacreBLEU's Tokenizer13a on decoded text: removes "<skipped>" and "-\n", turns newlines
// into spaces, unescapes &quot; &amp; &lt; &gt;, then applies its four regular expressions
// and collapses whitespace (Python's notion of it) to single spaces.
std::u32string tokenize_13a(std::u32string_view line);

// The same on UTF-8 text (throws attn::Error on invalid UTF-8).
std::string tokenize_13a(std::string_view line);

}  // namespace attn::metrics
