#include "attn/text/char_vocabulary.h"

#include "attn/core/error.h"
#include "attn/text/utf8.h"

namespace attn::text {
namespace {

void check_options(const CharVocabularyOptions& options) {
  ATTN_CHECK(options.max_size == 0 || options.max_size >= kNumReservedIds,
             "CharVocabulary: max_size must be 0 (no limit) or at least ", kNumReservedIds,
             " (the reserved ids), got ", options.max_size);
  ATTN_CHECK(options.min_count >= 1, "CharVocabulary: min_count must be at least 1, got ",
             options.min_count);
}

}  // namespace

CharVocabularyBuilder::CharVocabularyBuilder(CharVocabularyOptions options) : options_(options) {
  check_options(options_);
}

void CharVocabularyBuilder::add(std::string_view text) {
  for (char32_t c : decode_utf8(text, "CharVocabulary::build")) counter_.add(c);
}

CharVocabulary CharVocabularyBuilder::build() const {
  std::vector<std::string> characters;
  if (options_.max_size != kNumReservedIds) {  // a max_size of 4 leaves room for no character
    const std::int64_t max_characters =
        options_.max_size == 0 ? 0 : options_.max_size - kNumReservedIds;
    for (char32_t c : counter_.ranked(options_.min_count, max_characters)) {
      characters.push_back(encode_utf8(std::u32string(1, c)));
    }
  }
  return CharVocabulary(PieceTable::with_reserved(characters, "CharVocabulary::build"),
                        "CharVocabulary::build");
}

CharVocabulary CharVocabulary::build(std::span<const std::string> texts,
                                     const CharVocabularyOptions& options) {
  CharVocabularyBuilder builder(options);
  for (const std::string& text : texts) builder.add(text);
  return builder.build();
}

CharVocabulary::CharVocabulary(std::vector<std::string> pieces)
    : CharVocabulary(PieceTable(std::move(pieces), "CharVocabulary"), "CharVocabulary") {}

CharVocabulary::CharVocabulary(PieceTable table, std::string_view source)
    : table_(std::move(table)) {
  for (std::int64_t id = kNumReservedIds; id < table_.size(); ++id) {
    const std::string& piece = table_.pieces()[id];
    const std::u32string code_points = decode_utf8(piece, source);
    ATTN_CHECK(code_points.size() == 1, source, ": piece ", id, " (\"", piece,
               "\") must be one character, got ", code_points.size());
    ids_.emplace(code_points[0], id);
  }
}

CharVocabulary CharVocabulary::load(const std::filesystem::path& vocab_file) {
  const VocabularyFile file = read_vocabulary_file(vocab_file, TokenizerKind::kChar);
  const std::string source = "CharVocabulary: " + vocab_file.string();
  ATTN_CHECK(file.flags.empty(), source, ": unexpected option \"", file.flags.begin()->first,
             "\" (a character vocabulary has none)");
  return CharVocabulary(PieceTable(file.pieces, source), source);
}

std::vector<std::int64_t> CharVocabulary::encode(std::string_view text) const {
  std::vector<std::int64_t> ids;
  ids.reserve(text.size());
  for (char32_t c : decode_utf8(text, "CharVocabulary::encode")) {
    auto found = ids_.find(c);
    ids.push_back(found == ids_.end() ? kUnkId : found->second);
  }
  return ids;
}

std::string CharVocabulary::decode(std::span<const std::int64_t> ids) const {
  std::string text;
  for (std::int64_t id : ids) {
    const std::string& piece = table_.piece(id, "CharVocabulary::decode");
    if (!is_reserved_id(id)) text += piece;
  }
  return text;
}

std::string CharVocabulary::id_to_piece(std::int64_t id) const {
  return table_.piece(id, "CharVocabulary::id_to_piece");
}

std::int64_t CharVocabulary::piece_to_id(std::string_view piece) const {
  return table_.id(std::string(piece));
}

void CharVocabulary::save(const std::filesystem::path& directory, const std::string& name) const {
  tokenizer_descriptor_path(directory, name);  // checks the name before anything is written
  const std::string file_name = name + ".vocab.json";
  VocabularyFile file;
  file.kind = TokenizerKind::kChar;
  file.pieces = table_.pieces();
  write_vocabulary_file(directory / file_name, file);
  write_tokenizer_descriptor(directory, name, kind(), vocab_size(), "vocab", file_name);
}

}  // namespace attn::text
