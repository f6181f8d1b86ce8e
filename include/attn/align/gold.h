// Gold word alignments of a verse pair from the Strong's numbers that tag its words.
//
// The Reina-Valera 1909 and King James modules tag words with the Strong's number of the
// Hebrew or Greek word they translate. Two words of a verse pair that carry the same number
// translate the same original word, which makes them a gold alignment link. For each number
// n tagged on both sides (src(n) = source words carrying n, tgt(n) = target words carrying n):
//   - possible links: every pair in src(n) x tgt(n);
//   - one sure link when one side has n on exactly one word and the other side on one
//     contiguous run of words (one <w> element): that word and the run's last word.
// The last word stands for a multi-word element because the Spanish tagging attaches the
// function words that precede a content word to it ("en los días" <- H3117 -> "days",
// "de Moab" -> "Moab"). A number on several separate words of either side ("name ... name")
// gives only possible links. Words without a number (articles, most prepositions, the KJV's
// italic additions) get no link, and scoring leaves them out (links_between_tagged_words):
// the tags say nothing about them. docs/ALIGNMENT.md gives the rule's statistics.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/data/osis.h"

namespace attn::align {

// One link between a source word and a target word (indices of words split on spaces).
struct Link {
  std::int64_t source = 0;
  std::int64_t target = 0;
  auto operator<=>(const Link&) const = default;
};

// A set of links, sorted and without repeats.
using Alignment = std::vector<Link>;

// Sorts `links` and drops repeats.
Alignment make_alignment(std::vector<Link> links);

struct GoldAlignment {
  std::vector<std::string> source_words;
  std::vector<std::string> target_words;
  std::vector<bool> source_tagged;  // the word carries a Strong's number
  std::vector<bool> target_tagged;
  Alignment sure;      // S, a subset of P
  Alignment possible;  // P
};

// From the words of both sides with their numbers (data::osis_strongs_words).
GoldAlignment gold_alignment(const std::vector<data::StrongsWord>& source,
                             const std::vector<data::StrongsWord>& target);

// From the OSIS markup of both sides.
GoldAlignment gold_alignment(std::string_view source_markup, std::string_view target_markup);

// The links of `alignment` whose two words both carry a Strong's number. Throws when a link
// names a word the verse does not have.
Alignment links_between_tagged_words(const Alignment& alignment, const GoldAlignment& gold);

}  // namespace attn::align
