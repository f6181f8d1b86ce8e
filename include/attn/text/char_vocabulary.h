// A character-level vocabulary: one id per Unicode code point seen in the training texts,
// after the four reserved ids, most frequent first (ties by first occurrence).
//
// Text is decoded as strict UTF-8 (invalid bytes throw attn::Error naming the byte offset).
// No normalization is applied: a combining mark is a code point of its own, so "é" written
// as e + U+0301 is two ids while the precomposed U+00E9 is one. Every code point counts,
// whitespace and newlines included. Unseen code points encode as <unk>.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attn/text/tokenizer.h"
#include "attn/text/vocabulary.h"

namespace attn::text {

struct CharVocabularyOptions {
  std::int64_t max_size = 0;   // ids in all, the 4 reserved included; 0: no limit
  std::int64_t min_count = 1;  // characters seen fewer times are left out
};

class CharVocabularyBuilder {
 public:
  explicit CharVocabularyBuilder(CharVocabularyOptions options = {});
  void add(std::string_view text);
  class CharVocabulary build() const;

 private:
  CharVocabularyOptions options_;
  FrequencyCounter<char32_t> counter_;
};

class CharVocabulary final : public Tokenizer {
 public:
  static CharVocabulary build(std::span<const std::string> texts,
                              const CharVocabularyOptions& options = {});
  // pieces[0..3] must be the reserved pieces, every other piece one code point.
  explicit CharVocabulary(std::vector<std::string> pieces);
  // Reads a NAME.vocab.json file written by save().
  static CharVocabulary load(const std::filesystem::path& vocab_file);

  TokenizerKind kind() const override { return TokenizerKind::kChar; }
  std::int64_t vocab_size() const override { return table_.size(); }
  std::vector<std::int64_t> encode(std::string_view text) const override;
  // The characters concatenated.
  std::string decode(std::span<const std::int64_t> ids) const override;
  std::string id_to_piece(std::int64_t id) const override;
  std::int64_t piece_to_id(std::string_view piece) const override;
  void save(const std::filesystem::path& directory, const std::string& name) const override;

  const std::vector<std::string>& pieces() const { return table_.pieces(); }

 private:
  friend class CharVocabularyBuilder;
  // Checks that every real piece is one code point; `source` labels the errors.
  CharVocabulary(PieceTable table, std::string_view source);

  PieceTable table_;
  std::unordered_map<char32_t, std::int64_t> ids_;  // code point -> id, real tokens only
};

}  // namespace attn::text
