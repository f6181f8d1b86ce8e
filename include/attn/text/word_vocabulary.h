// A word-level vocabulary in the style of Keras's IMDB data: the N most frequent words of
// the training text, ids counted from 4 so that the reserved ids stay free:
//
//   0 <pad>, 1 <unk>, 2 <s>, 3 </s>, 4 = the most frequent word (rank 1 + INDEX_FROM 3), ...
//
// max_size N counts every id, so the words of rank > N - 4 encode as <unk>.
//
// Splitting a text into words (split_words), code point by code point:
//   - whitespace (ASCII and Unicode spaces) ends a word;
//   - punctuation ends a word and is dropped, as Keras's default filter does: ASCII
//     punctuation, Latin-1's ¡ ¿ « » § ¶ ·, and the General Punctuation block (dashes,
//     quotation marks, ellipsis, ...). With keep_punctuation it becomes a word of its own;
//   - the apostrophe (' and U+2019, which is written as ') is kept inside a word ("don't")
//     and treated as punctuation at either end of one ("'tis" -> "tis");
//   - everything else, digits included, belongs to the word; with lowercase, letters are
//     lowercased by simple_lowercase (attn/text/utf8.h).
// Ties in frequency are broken by first occurrence in the training texts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attn/text/tokenizer.h"
#include "attn/text/vocabulary.h"

namespace attn::text {

struct WordSplitOptions {
  bool lowercase = true;
  bool keep_punctuation = false;  // false: dropped (Keras); true: one word per mark
};

// The words of `text` by the rules above; throws attn::Error on invalid UTF-8.
std::vector<std::string> split_words(std::string_view text, const WordSplitOptions& options = {});

struct WordVocabularyOptions {
  WordSplitOptions split;
  std::int64_t max_size = 0;   // ids in all, the 4 reserved included; 0: no limit
  std::int64_t min_count = 1;  // words seen fewer times are left out
};

// Counts words text by text, for corpora that are streamed rather than held in memory.
class WordVocabularyBuilder {
 public:
  explicit WordVocabularyBuilder(WordVocabularyOptions options = {});
  void add(std::string_view text);
  class WordVocabulary build() const;

 private:
  WordVocabularyOptions options_;
  FrequencyCounter<std::string> counter_;
};

class WordVocabulary final : public Tokenizer {
 public:
  // From the training texts (throws on bad options or invalid UTF-8).
  static WordVocabulary build(std::span<const std::string> texts,
                              const WordVocabularyOptions& options = {});
  // pieces[0..3] must be the reserved pieces.
  WordVocabulary(std::vector<std::string> pieces, WordSplitOptions split);
  // Reads a NAME.vocab.json file written by save().
  static WordVocabulary load(const std::filesystem::path& vocab_file);

  TokenizerKind kind() const override { return TokenizerKind::kWord; }
  std::int64_t vocab_size() const override { return table_.size(); }
  std::vector<std::int64_t> encode(std::string_view text) const override;
  // The words joined with single spaces.
  std::string decode(std::span<const std::int64_t> ids) const override;
  std::string id_to_piece(std::int64_t id) const override;
  std::int64_t piece_to_id(std::string_view piece) const override;
  // NAME.vocab.json and NAME.tokenizer.json.
  void save(const std::filesystem::path& directory, const std::string& name) const override;

  const WordSplitOptions& split_options() const { return split_; }
  const std::vector<std::string>& pieces() const { return table_.pieces(); }

 private:
  friend class WordVocabularyBuilder;
  // Checks that every piece is one word under `split`; `source` labels the errors.
  WordVocabulary(PieceTable table, WordSplitOptions split, std::string_view source);

  PieceTable table_;
  WordSplitOptions split_;
};

}  // namespace attn::text
