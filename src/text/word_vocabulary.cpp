#include "attn/text/word_vocabulary.h"

#include "attn/core/error.h"
#include "attn/text/utf8.h"

namespace attn::text {
namespace {

constexpr const char* kLowercaseFlag = "lowercase";
constexpr const char* kKeepPunctuationFlag = "keep_punctuation";

// Whitespace, and control characters, which have no business inside a word.
bool is_separator_space(char32_t c) {
  if (c <= 0x20 || c == 0x7F || c == 0x85 || c == 0xA0 || c == 0x1680) return true;
  if (c >= 0x2000 && c <= 0x200A) return true;
  return c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_apostrophe(char32_t c) { return c == U'\'' || c == 0x2019; }

bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

// Apostrophes are not included: they are handled by where they stand in a word.
bool is_punctuation(char32_t c) {
  if (is_apostrophe(c)) return false;
  if (is_ascii_punctuation(c)) return true;
  switch (c) {
    case 0xA1: case 0xA7: case 0xAB: case 0xB6: case 0xB7: case 0xBB: case 0xBF:
      return true;  // ¡ § « ¶ · » ¿
    default:
      return c >= 0x2010 && c <= 0x205E;  // General Punctuation (its spaces are tested first)
  }
}

// Collects words code point by code point (the rules are in word_vocabulary.h).
class WordSplitter {
 public:
  explicit WordSplitter(const WordSplitOptions& options) : options_(options) {}

  void add(char32_t c) {
    if (is_separator_space(c)) {
      finish_word();
    } else if (is_punctuation(c)) {
      finish_word();
      if (options_.keep_punctuation) words_.push_back(encode_utf8(std::u32string(1, c)));
    } else if (is_apostrophe(c)) {
      word_.push_back('\'');
    } else {
      append_utf8(options_.lowercase ? simple_lowercase(c) : c, word_);
    }
  }

  std::vector<std::string> finish() {
    finish_word();
    return std::move(words_);
  }

 private:
  // Apostrophes at either end of a word are punctuation, not part of it.
  void finish_word() {
    const std::size_t begin = word_.find_first_not_of('\'');
    const std::size_t end = begin == std::string::npos ? 0 : word_.find_last_not_of('\'') + 1;
    const std::size_t leading = begin == std::string::npos ? word_.size() : begin;
    emit_apostrophes(leading);
    if (end > leading) words_.push_back(word_.substr(leading, end - leading));
    emit_apostrophes(begin == std::string::npos ? 0 : word_.size() - end);
    word_.clear();
  }

  void emit_apostrophes(std::size_t count) {
    if (!options_.keep_punctuation) return;
    for (std::size_t index = 0; index < count; ++index) words_.emplace_back("'");
  }

  const WordSplitOptions& options_;
  std::vector<std::string> words_;
  std::string word_;
};

void check_options(const WordVocabularyOptions& options) {
  ATTN_CHECK(options.max_size == 0 || options.max_size >= kNumReservedIds,
             "WordVocabulary: max_size must be 0 (no limit) or at least ", kNumReservedIds,
             " (the reserved ids), got ", options.max_size);
  ATTN_CHECK(options.min_count >= 1, "WordVocabulary: min_count must be at least 1, got ",
             options.min_count);
}

bool required_flag(const VocabularyFile& file, const char* key, const std::filesystem::path& path) {
  auto found = file.flags.find(key);
  ATTN_CHECK(found != file.flags.end(), "WordVocabulary: ", path.string(), ": missing \"", key,
             "\"");
  return found->second;
}

}  // namespace

std::vector<std::string> split_words(std::string_view text, const WordSplitOptions& options) {
  WordSplitter splitter(options);
  for (char32_t c : decode_utf8(text, "split_words")) splitter.add(c);
  return splitter.finish();
}

WordVocabularyBuilder::WordVocabularyBuilder(WordVocabularyOptions options)
    : options_(options) {
  check_options(options_);
}

void WordVocabularyBuilder::add(std::string_view text) {
  for (const std::string& word : split_words(text, options_.split)) counter_.add(word);
}

WordVocabulary WordVocabularyBuilder::build() const {
  std::vector<std::string> words;
  if (options_.max_size != kNumReservedIds) {  // a max_size of 4 leaves room for no word
    const std::int64_t max_words = options_.max_size == 0 ? 0 : options_.max_size - kNumReservedIds;
    words = counter_.ranked(options_.min_count, max_words);
  }
  return WordVocabulary(PieceTable::with_reserved(words, "WordVocabulary::build"), options_.split,
                        "WordVocabulary::build");
}

WordVocabulary WordVocabulary::build(std::span<const std::string> texts,
                                     const WordVocabularyOptions& options) {
  WordVocabularyBuilder builder(options);
  for (const std::string& text : texts) builder.add(text);
  return builder.build();
}

WordVocabulary::WordVocabulary(std::vector<std::string> pieces, WordSplitOptions split)
    : WordVocabulary(PieceTable(std::move(pieces), "WordVocabulary"), split, "WordVocabulary") {}

WordVocabulary::WordVocabulary(PieceTable table, WordSplitOptions split, std::string_view source)
    : table_(std::move(table)), split_(split) {
  for (std::int64_t id = kNumReservedIds; id < table_.size(); ++id) {
    const std::string& piece = table_.pieces()[id];
    const std::vector<std::string> words = split_words(piece, split_);
    ATTN_CHECK(words.size() == 1 && words[0] == piece, source, ": piece ", id, " (\"",
               piece, "\") is not one word under the vocabulary's splitting rules");
  }
}

WordVocabulary WordVocabulary::load(const std::filesystem::path& vocab_file) {
  const VocabularyFile file = read_vocabulary_file(vocab_file, TokenizerKind::kWord);
  WordSplitOptions split;
  split.lowercase = required_flag(file, kLowercaseFlag, vocab_file);
  split.keep_punctuation = required_flag(file, kKeepPunctuationFlag, vocab_file);
  ATTN_CHECK(file.flags.size() == 2, "WordVocabulary: ", vocab_file.string(),
             ": unknown option among the file's fields (expected only \"", kLowercaseFlag,
             "\" and \"", kKeepPunctuationFlag, "\")");
  const std::string source = "WordVocabulary: " + vocab_file.string();
  return WordVocabulary(PieceTable(file.pieces, source), split, source);
}

std::vector<std::int64_t> WordVocabulary::encode(std::string_view text) const {
  std::vector<std::int64_t> ids;
  for (const std::string& word : split_words(text, split_)) ids.push_back(table_.id(word));
  return ids;
}

std::string WordVocabulary::decode(std::span<const std::int64_t> ids) const {
  std::string text;
  for (std::int64_t id : ids) {
    const std::string& piece = table_.piece(id, "WordVocabulary::decode");
    if (is_reserved_id(id)) continue;
    if (!text.empty()) text.push_back(' ');
    text += piece;
  }
  return text;
}

std::string WordVocabulary::id_to_piece(std::int64_t id) const {
  return table_.piece(id, "WordVocabulary::id_to_piece");
}

std::int64_t WordVocabulary::piece_to_id(std::string_view piece) const {
  return table_.id(std::string(piece));
}

void WordVocabulary::save(const std::filesystem::path& directory, const std::string& name) const {
  tokenizer_descriptor_path(directory, name);  // checks the name before anything is written
  const std::string file_name = name + ".vocab.json";
  VocabularyFile file;
  file.kind = TokenizerKind::kWord;
  file.flags = {{kLowercaseFlag, split_.lowercase}, {kKeepPunctuationFlag, split_.keep_punctuation}};
  file.pieces = table_.pieces();
  write_vocabulary_file(directory / file_name, file);
  write_tokenizer_descriptor(directory, name, kind(), vocab_size(), "vocab", file_name);
}

}  // namespace attn::text
