// Tokenizers: text <-> int64 token ids, with the same four reserved ids in every vocabulary
//
//   0 = <pad>   1 = <unk>   2 = <s> (begin)   3 = </s> (end)   real tokens from 4 on.
//
// Three kinds that attn builds implement the interface: SentencePiece subwords
// (attn/text/sentencepiece.h), a word vocabulary (attn/text/word_vocabulary.h) and a
// character vocabulary (attn/text/char_vocabulary.h). A fourth, a pretrained model's
// WordPiece vocabulary (PretrainedWordPiece, attn/text/wordpiece.h), keeps the ids its model
// was trained with: there pad_id(), unk_id(), bos_id() and eos_id() are the vocabulary's
// [PAD], [UNK], [CLS] and [SEP] rather than 0-3. Code that may meet any kind asks the
// tokenizer for those ids instead of using the constants.
//
// A tokenizer is saved beside a checkpoint as NAME.tokenizer.json, a small descriptor, plus
// the files it names in the same directory (NAME.model or NAME.vocab.json):
//
//   {"format": "attn-tokenizer", "format_version": 1, "kind": "sentencepiece",
//    "vocab_size": 8000, "files": {"model": "NAME.model"}}
//
// load_tokenizer(directory, NAME) reads the descriptor and returns the right kind. Every
// file is written atomically; a missing or malformed file gives an attn::Error naming the
// file and what is wrong. docs/TOKENIZATION.md describes the formats.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attn::text {

inline constexpr std::int64_t kPadId = 0;
inline constexpr std::int64_t kUnkId = 1;
inline constexpr std::int64_t kBosId = 2;
inline constexpr std::int64_t kEosId = 3;
inline constexpr std::int64_t kNumReservedIds = 4;  // the first id of a real token

inline constexpr const char* kPadPiece = "<pad>";
inline constexpr const char* kUnkPiece = "<unk>";
inline constexpr const char* kBosPiece = "<s>";
inline constexpr const char* kEosPiece = "</s>";

// The piece of a reserved id ("<pad>", "<unk>", "<s>", "</s>"); throws for other ids.
const char* reserved_piece(std::int64_t id);
inline bool is_reserved_id(std::int64_t id) { return id >= 0 && id < kNumReservedIds; }

enum class TokenizerKind { kSentencePiece, kWord, kChar, kWordPiece };

// "sentencepiece", "word", "char", "wordpiece".
std::string_view to_string(TokenizerKind kind);
// The inverse of to_string; throws attn::Error listing the known kinds.
TokenizerKind tokenizer_kind_from_string(std::string_view name);

// encode, decode and the lookups are const and safe to call from several threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual TokenizerKind kind() const = 0;

  // The number of ids, reserved ones included: every id is in [0, vocab_size()).
  virtual std::int64_t vocab_size() const = 0;

  // Token ids of `text`, without <s> or </s> (callers add them). Pieces not in the
  // vocabulary become <unk>. An empty text gives no ids. Invalid UTF-8 throws attn::Error
  // naming the byte offset.
  virtual std::vector<std::int64_t> encode(std::string_view text) const = 0;

  // The text of `ids`. The reserved ids (<pad>, <unk>, <s>, </s>) are skipped; an id
  // outside [0, vocab_size()) throws attn::Error.
  virtual std::string decode(std::span<const std::int64_t> ids) const = 0;

  // The vocabulary entry of one id (reserved ids give "<pad>" etc.); throws when out of range.
  virtual std::string id_to_piece(std::int64_t id) const = 0;

  // The id of a vocabulary entry, or kUnkId when there is none.
  virtual std::int64_t piece_to_id(std::string_view piece) const = 0;

  // Writes the tokenizer's file(s) and NAME.tokenizer.json into `directory` (which must
  // exist), each file atomically. `name` is a plain file name stem (no '/').
  virtual void save(const std::filesystem::path& directory, const std::string& name) const = 0;

  // The reserved ids (see above); a pretrained vocabulary overrides them.
  virtual std::int64_t pad_id() const { return kPadId; }
  virtual std::int64_t unk_id() const { return kUnkId; }
  virtual std::int64_t bos_id() const { return kBosId; }
  virtual std::int64_t eos_id() const { return kEosId; }
};

// Reads DIRECTORY/NAME.tokenizer.json and the file it names.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& directory,
                                          const std::string& name);

// DIRECTORY/NAME.tokenizer.json (checks that `name` is a plain, non-empty file name stem).
std::filesystem::path tokenizer_descriptor_path(const std::filesystem::path& directory,
                                                const std::string& name);

// For implementations of Tokenizer::save: writes the descriptor naming `file_role` ->
// `file_name` (a file in the same directory), atomically.
void write_tokenizer_descriptor(const std::filesystem::path& directory, const std::string& name,
                                TokenizerKind kind, std::int64_t vocab_size,
                                const std::string& file_role, const std::string& file_name);

// The same with several files, role -> file name (a pretrained WordPiece vocabulary keeps
// vocab.txt and tokenizer_config.json).
void write_tokenizer_descriptor(const std::filesystem::path& directory, const std::string& name,
                                TokenizerKind kind, std::int64_t vocab_size,
                                const std::vector<std::pair<std::string, std::string>>& files);

// For implementations: the bytes of a file, or an attn::Error "<context>: cannot read
// <path>: <reason>".
std::string read_tokenizer_file(const std::filesystem::path& path, std::string_view context);

}  // namespace attn::text
