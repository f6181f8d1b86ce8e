// The pieces shared by the word and character vocabularies: a frequency count that ranks
// deterministically, and an id <-> piece table whose first four entries are the reserved
// pieces.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attn/text/tokenizer.h"

namespace attn::text {

// Counts keys (words, code points) and ranks them: most frequent first, ties broken by
// first occurrence (the order Keras's Tokenizer gives, as it sorts its insertion-ordered
// counts with a stable sort). The ranking therefore depends only on the input sequence.
template <typename Key>
class FrequencyCounter {
 public:
  void add(const Key& key) {
    auto [entry, inserted] = entries_.try_emplace(key, Entry{0, entries_.size()});
    ++entry->second.count;
  }

  std::int64_t count(const Key& key) const {
    auto found = entries_.find(key);
    return found == entries_.end() ? 0 : found->second.count;
  }

  std::size_t num_distinct() const { return entries_.size(); }

  // Keys seen at least `min_count` times, ranked; at most `max_keys` of them (0: all).
  std::vector<Key> ranked(std::int64_t min_count, std::int64_t max_keys) const {
    std::vector<std::pair<Key, Entry>> kept;
    for (const auto& [key, entry] : entries_) {
      if (entry.count >= min_count) kept.emplace_back(key, entry);
    }
    std::sort(kept.begin(), kept.end(), [](const auto& left, const auto& right) {
      if (left.second.count != right.second.count) return left.second.count > right.second.count;
      return left.second.first_seen < right.second.first_seen;
    });
    if (max_keys > 0 && kept.size() > static_cast<std::size_t>(max_keys)) kept.resize(max_keys);
    std::vector<Key> keys;
    keys.reserve(kept.size());
    for (auto& [key, entry] : kept) keys.push_back(std::move(key));
    return keys;
  }

 private:
  struct Entry {
    std::int64_t count;
    std::size_t first_seen;  // the number of distinct keys seen before this one
  };
  std::unordered_map<Key, Entry> entries_;
};

// id <-> piece. pieces[0..3] are "<pad>", "<unk>", "<s>", "</s>"; the others are distinct
// and non-empty.
class PieceTable {
 public:
  // Checks the rules above; `source` (a file name, a function) labels the errors.
  PieceTable(std::vector<std::string> pieces, std::string_view source);

  // Reserved pieces followed by `ranked` (which must not contain a reserved piece).
  static PieceTable with_reserved(const std::vector<std::string>& ranked, std::string_view source);

  std::int64_t size() const { return static_cast<std::int64_t>(pieces_.size()); }
  // kUnkId when `piece` is not in the table.
  std::int64_t id(const std::string& piece) const;
  // Throws attn::Error "<context>: id N is out of range for a vocabulary of M" when needed.
  const std::string& piece(std::int64_t id, std::string_view context) const;
  const std::vector<std::string>& pieces() const { return pieces_; }

 private:
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

// The vocabulary file of the word and character vocabularies (NAME.vocab.json):
//
//   {"format": "attn-vocabulary", "format_version": 1, "kind": "word",
//    "lowercase": true, "keep_punctuation": false, "pieces": ["<pad>", "<unk>", ...]}
//
// The options are boolean fields beside "pieces", whose index is the id.
struct VocabularyFile {
  TokenizerKind kind = TokenizerKind::kWord;
  std::map<std::string, bool> flags;
  std::vector<std::string> pieces;
};

// Written atomically.
void write_vocabulary_file(const std::filesystem::path& path, const VocabularyFile& file);
// Throws attn::Error naming the file when it is missing, not JSON, of another kind, or
// malformed. The pieces are not checked here (PieceTable does that).
VocabularyFile read_vocabulary_file(const std::filesystem::path& path, TokenizerKind expected_kind);

// Throws unless 0 <= id < vocab_size, naming `context`.
void check_token_id(std::int64_t id, std::int64_t vocab_size, std::string_view context);

}  // namespace attn::text
