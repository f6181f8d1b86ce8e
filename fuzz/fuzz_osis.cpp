// OSIS verse markup, the text SWORD Bible modules store, on arbitrary bytes: the markup
// parser of data/osis.h (osis_plain_text, osis_strongs_words, osis_strongs_numbers). Reading
// the modules themselves is SWORD's code and needs the installed modules, so it is not
// fuzzed here; every verse it returns goes through these functions.
//
// Properties: the words joined with single spaces are the plain text, and every Strong's
// number of a word is among the verse's sorted numbers (a tag around no visible text adds a
// number but no word).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/data/osis.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view markup = attn::fuzz::as_text(data, size);
  try {
    std::string plain = attn::data::osis_plain_text(markup);
    std::vector<attn::data::StrongsWord> words = attn::data::osis_strongs_words(markup);
    std::vector<std::string> numbers = attn::data::osis_strongs_numbers(markup);

    std::string joined;
    std::set<std::string> word_numbers;
    for (const attn::data::StrongsWord& word : words) {
      if (!joined.empty()) joined += ' ';
      joined += word.text;
      word_numbers.insert(word.strongs.begin(), word.strongs.end());
    }
    if (joined != plain) attn::fuzz::property_failed("words joined differ from the plain text");
    if (!std::is_sorted(numbers.begin(), numbers.end()))
      attn::fuzz::property_failed("Strong's numbers are not sorted");
    if (!std::includes(numbers.begin(), numbers.end(), word_numbers.begin(), word_numbers.end()))
      attn::fuzz::property_failed("a word's Strong's number is missing from the verse's");
  } catch (const attn::Error&) {
  }
  return 0;
}
