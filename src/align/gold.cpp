#include "attn/align/gold.h"

#include <algorithm>
#include <map>
#include <utility>

#include "attn/core/error.h"

namespace attn::align {
namespace {

// Strong's number -> the indices of the words carrying it, in order.
using WordsOfNumber = std::map<std::string, std::vector<std::int64_t>>;

WordsOfNumber words_of_numbers(const std::vector<data::StrongsWord>& words) {
  WordsOfNumber positions;
  for (std::size_t i = 0; i < words.size(); ++i) {
    for (const std::string& number : words[i].strongs) {
      positions[number].push_back(static_cast<std::int64_t>(i));
    }
  }
  return positions;
}

bool is_one_run(const std::vector<std::int64_t>& positions) {
  for (std::size_t i = 1; i < positions.size(); ++i) {
    if (positions[i] != positions[i - 1] + 1) return false;
  }
  return true;
}

void add_possible_links(const std::vector<std::int64_t>& source,
                        const std::vector<std::int64_t>& target, std::vector<Link>& links) {
  for (std::int64_t s : source) {
    for (std::int64_t t : target) links.push_back({s, t});
  }
}

// A single word on one side and one run on the other: the word and the run's last word.
void add_sure_link(const std::vector<std::int64_t>& source,
                   const std::vector<std::int64_t>& target, std::vector<Link>& links) {
  bool one_to_run = source.size() == 1 && is_one_run(target);
  bool run_to_one = target.size() == 1 && is_one_run(source);
  if (one_to_run || run_to_one) links.push_back({source.back(), target.back()});
}

std::vector<std::string> texts(const std::vector<data::StrongsWord>& words) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const data::StrongsWord& word : words) out.push_back(word.text);
  return out;
}

std::vector<bool> tagged(const std::vector<data::StrongsWord>& words) {
  std::vector<bool> out;
  out.reserve(words.size());
  for (const data::StrongsWord& word : words) out.push_back(!word.strongs.empty());
  return out;
}

}  // namespace

Alignment make_alignment(std::vector<Link> links) {
  std::sort(links.begin(), links.end());
  links.erase(std::unique(links.begin(), links.end()), links.end());
  return links;
}

GoldAlignment gold_alignment(const std::vector<data::StrongsWord>& source,
                             const std::vector<data::StrongsWord>& target) {
  const WordsOfNumber source_positions = words_of_numbers(source);
  const WordsOfNumber target_positions = words_of_numbers(target);
  std::vector<Link> sure, possible;
  for (const auto& [number, source_words] : source_positions) {
    auto found = target_positions.find(number);
    if (found == target_positions.end()) continue;
    add_possible_links(source_words, found->second, possible);
    add_sure_link(source_words, found->second, sure);
  }
  return {texts(source),          texts(target),
          tagged(source),         tagged(target),
          make_alignment(std::move(sure)), make_alignment(std::move(possible))};
}

GoldAlignment gold_alignment(std::string_view source_markup, std::string_view target_markup) {
  return gold_alignment(data::osis_strongs_words(source_markup),
                        data::osis_strongs_words(target_markup));
}

Alignment links_between_tagged_words(const Alignment& alignment, const GoldAlignment& gold) {
  const auto num_source = static_cast<std::int64_t>(gold.source_words.size());
  const auto num_target = static_cast<std::int64_t>(gold.target_words.size());
  Alignment kept;
  for (const Link& link : alignment) {
    ATTN_CHECK(link.source >= 0 && link.source < num_source && link.target >= 0 &&
                   link.target < num_target,
               "alignment: link (", link.source, ", ", link.target, ") outside a verse of ",
               num_source, " source and ", num_target, " target words");
    if (gold.source_tagged[link.source] && gold.target_tagged[link.target]) kept.push_back(link);
  }
  return kept;
}

}  // namespace attn::align
