// The IMDB movie review set (Maas et al., 2011) in its distributed layout:
//   aclImdb/{train,test}/{pos,neg}/ID_RATING.txt   one review per file
// attn does not ship the reviews; docs/DATA.md says where to download them. The loader
// reads any tree of that shape, such as the small ones the tests generate.
//
// Policies:
// - order: files sorted by path relative to the split folder ("neg/..." before "pos/...",
//   then byte-wise by name), the same on every machine; shuffle with data/batching.h.
// - only regular files named *.txt in pos/ and neg/ are read; other entries are ignored.
// - a review's text is the file's bytes with leading and trailing whitespace removed.
// - an empty (or all-whitespace) review is skipped and its path reported in `skipped`,
//   or, with skip_empty = false, is an error.
// - invalid UTF-8: each invalid byte becomes U+FFFD and the path is reported in `repaired`,
//   or, with repair_utf8 = false, is an error naming the file and byte offset.
// - a missing folder, or a file that cannot be read, is an error naming the path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attn::data {

struct ImdbExample {
  std::string text;
  std::int64_t label = 0;    // 1 = positive (pos/), 0 = negative (neg/)
  std::int64_t rating = -1;  // the RATING of ID_RATING.txt (1-10), -1 when the name has none
  std::string path;
};

struct ImdbOptions {
  bool skip_empty = true;
  bool repair_utf8 = true;
};

struct ImdbSplit {
  std::vector<ImdbExample> examples;
  std::vector<std::string> skipped;   // empty reviews left out
  std::vector<std::string> repaired;  // reviews whose invalid UTF-8 was replaced
};

// `directory` is the aclImdb folder (holding train/ and test/); `split` is "train" or "test".
ImdbSplit load_imdb(const std::string& directory, std::string_view split,
                    const ImdbOptions& options = {});

// Replaces each byte that does not belong to a valid UTF-8 sequence (RFC 3629: no overlong
// forms, surrogates or code points above U+10FFFF) with U+FFFD. Returns how many it replaced.
std::int64_t replace_invalid_utf8(std::string& text);

}  // namespace attn::data
