// OSIS verse markup (what SWORD Bible modules store) -> plain text, and the words of a verse
// with the Strong's numbers that tag them.
//
// A verse entry looks like
//   Now it came to pass in the <w lemma="strong:H3117">days</w> when ...<note ...>...</note>
// SWORD's own renderers show the attribute as savlm="..."; both spellings are read.
//
// Plain text keeps the words of the verse and drops: footnotes (<note>, with what they
// contain), headings (<title>, except canonical Psalm titles such as "A Psalm of David",
// which are part of the verse in the Spanish text too), speaker labels (<speaker>),
// whatever follows the end of a book (the WEB appends its glossary to Revelation 22:21),
// the KJV's paragraph sign (U+00B6) and stray USFM markers ("\nd", "\+nd*") that a few
// entries carry. Entities are decoded; whitespace runs become one space; the result is
// trimmed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attn::data {

std::string osis_plain_text(std::string_view markup);

// One whitespace-separated word of osis_plain_text(markup) and the Strong's numbers of the
// <w> elements its characters came from (in order of first appearance, without repeats),
// e.g. {"days", {"H3117"}} or {"ruled,", {"H8199"}}; {} for untagged words such as "the".
struct StrongsWord {
  std::string text;
  std::vector<std::string> strongs;  // "H3117", "G2424", ...
};

// The words, in order; joining their texts with single spaces gives osis_plain_text(markup)
// exactly, so a word's index is its index in the plain text split on spaces.
std::vector<StrongsWord> osis_strongs_words(std::string_view markup);

// Every Strong's number of the verse text (footnotes and headings excluded), sorted, each
// once: what data/verse_alignment.h compares.
std::vector<std::string> osis_strongs_numbers(std::string_view markup);

}  // namespace attn::data
