// The WordPiece tokenizer of pretrained BERT models, reproducing Hugging Face's fast
// tokenizer (the `tokenizers` package, 0.23.3) id for id:
//
//   added tokens ([CLS], [MASK], ... written in the text) are split out first;
//   BertNormalizer: clean_text, spaces around CJK ideographs, strip accents, lowercase;
//   BertPreTokenizer: split at whitespace, each punctuation mark a word of its own;
//   WordPiece: greedy longest match first, "##" before a word's later pieces, [UNK] for a
//   word with an unmatched part or longer than max_input_chars_per_word code points;
//   the post-processor: [CLS] A [SEP] and [CLS] A [SEP] B [SEP], type ids 0 and 1.
//
// The character tables are the package's own, probed code point by code point
// (tools/make_bert_unicode_tables.py), so text in any script tokenizes as in Python.
//
// Truncation is the caller's max_length, never the "truncation" or "padding" sections of a
// tokenizer.json (sentence-transformers models ship a fixed 128 there that they do not use).
// docs/TOKENIZATION.md ("WordPiece") has the details.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attn/text/tokenizer.h"

namespace attn::text {

// One encoded text or pair; the three vectors have one entry per token.
struct WordPieceEncoding {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> type_ids;  // 0 for the first text and its specials, 1 for the second
  std::vector<std::string> tokens;     // "[CLS]", "hello", "##s", ...
};

// BertNormalizer's four flags (tokenizer.json's "normalizer"; transformers' do_lower_case,
// tokenize_chinese_chars and strip_accents).
struct BertNormalizerOptions {
  bool clean_text = true;             // drop control characters, whitespace becomes a space
  bool handle_chinese_chars = true;   // a space on each side of every CJK ideograph
  std::optional<bool> strip_accents;  // NFD, then drop nonspacing marks; unset: = lowercase
  bool lowercase = true;

  bool strips_accents() const { return strip_accents.value_or(lowercase); }
};

// encode, decode and the lookups are const and safe to call from several threads at once.
class WordPieceTokenizer {
 public:
  // A tokenizer.json whose model is WordPiece, normalizer BertNormalizer (or none),
  // pre_tokenizer BertPreTokenizer, post_processor TemplateProcessing, BertProcessing (or
  // none) and decoder WordPiece (or none). Added tokens may have lstrip, rstrip and
  // normalized set; single_word is refused. Anything else, a missing file, malformed JSON,
  // a missing field or a repeated token throws attn::Error naming the file and the field.
  static WordPieceTokenizer from_tokenizer_json(const std::filesystem::path& path);

  // A vocab.txt (one token per line, the line number is the id) and, unless the path is
  // empty, a tokenizer_config.json, built as transformers' BertTokenizerFast builds it:
  // do_lower_case, strip_accents, tokenize_chinese_chars and the special token strings
  // (unk_token, sep_token, pad_token, cls_token, mask_token) are read from the config, and
  // each of those tokens must be in vocab.txt.
  static WordPieceTokenizer from_vocab(const std::filesystem::path& vocab_path,
                                       const std::filesystem::path& config_path = {});

  // A model folder: its tokenizer.json when there is one, else vocab.txt with
  // tokenizer_config.json when that exists.
  static WordPieceTokenizer from_directory(const std::filesystem::path& directory);

  WordPieceTokenizer(WordPieceTokenizer&&) noexcept;
  WordPieceTokenizer& operator=(WordPieceTokenizer&&) noexcept;
  ~WordPieceTokenizer();

  // One text. max_length > 0 keeps at most that many tokens, specials included (the end of
  // the text is cut); 0 keeps all. Invalid UTF-8 throws attn::Error naming the byte offset,
  // and so does a max_length smaller than the number of special tokens.
  WordPieceEncoding encode(std::string_view text, std::int64_t max_length = 0,
                           bool add_special_tokens = true) const;

  // Two texts (a sentence pair, a query and a passage), type ids 0 then 1. With max_length,
  // the fast tokenizer's "longest_first": when cutting the end of the longer text is enough,
  // only that one is cut; otherwise both keep half of the room left by the special tokens,
  // the longer (the second, when equal) the odd token.
  WordPieceEncoding encode_pair(std::string_view first, std::string_view second,
                                std::int64_t max_length = 0, bool add_special_tokens = true) const;

  // The WordPiece decoder: "##" pieces are joined to the piece before, other pieces follow a
  // space, except . ? ! and , (the decoder's "cleanup").
  // skip_special_tokens drops the special added tokens ([CLS], [SEP], [PAD], [UNK], ...).
  // An id outside [0, vocab_size()) throws (the fast tokenizer would skip it silently).
  std::string decode(std::span<const std::int64_t> ids, bool skip_special_tokens = true) const;

  // The text after BertNormalizer (no added-token splitting), for inspection.
  std::string normalize(std::string_view text) const;

  // One past the largest id, added tokens included (30522 for bert-base-uncased).
  std::int64_t vocab_size() const;
  // The token of an id; throws for an id outside [0, vocab_size()) or not assigned.
  std::string id_to_token(std::int64_t id) const;
  // The id of a token (an added token or a vocabulary entry), if there is one.
  std::optional<std::int64_t> token_to_id(std::string_view token) const;

  std::int64_t unk_id() const;
  std::int64_t cls_id() const;  // throws when the tokenizer has no [CLS] (no post-processor)
  std::int64_t sep_id() const;  // throws when the tokenizer has no [SEP]
  std::int64_t pad_id() const;  // throws when the vocabulary has no pad token
  const BertNormalizerOptions& normalizer_options() const;

 private:
  struct State;
  explicit WordPieceTokenizer(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

// A pretrained model's WordPiece vocabulary behind the Tokenizer interface, for the tasks that
// take any tokenizer (fine-tuning a pretrained encoder as a classifier). The ids are the
// model's own: encode() gives the pieces without [CLS] and [SEP]; pad_id(), unk_id(),
// bos_id() and eos_id() are [PAD], [UNK], [CLS] and [SEP]. save() writes the very bytes it
// was read from (tokenizer.json, or vocab.txt and tokenizer_config.json) beside the
// descriptor, so a run folder tokenizes as the model folder did, id for id.
class PretrainedWordPiece final : public Tokenizer {
 public:
  static PretrainedWordPiece from_tokenizer_json(const std::filesystem::path& path);
  static PretrainedWordPiece from_vocab(const std::filesystem::path& vocab_path,
                                        const std::filesystem::path& config_path = {});
  // As WordPieceTokenizer::from_directory.
  static PretrainedWordPiece from_directory(const std::filesystem::path& directory);

  TokenizerKind kind() const override { return TokenizerKind::kWordPiece; }
  std::int64_t vocab_size() const override { return wordpiece_.vocab_size(); }
  std::vector<std::int64_t> encode(std::string_view text) const override;
  // The WordPiece decoder, special tokens skipped.
  std::string decode(std::span<const std::int64_t> ids) const override;
  std::string id_to_piece(std::int64_t id) const override { return wordpiece_.id_to_token(id); }
  std::int64_t piece_to_id(std::string_view piece) const override;
  void save(const std::filesystem::path& directory, const std::string& name) const override;

  std::int64_t pad_id() const override { return pad_id_; }
  std::int64_t unk_id() const override { return wordpiece_.unk_id(); }
  std::int64_t bos_id() const override { return wordpiece_.cls_id(); }
  std::int64_t eos_id() const override { return wordpiece_.sep_id(); }

  const WordPieceTokenizer& wordpiece() const { return wordpiece_; }

 private:
  // role ("tokenizer", "vocab", "config") -> the file's bytes
  using SourceFiles = std::vector<std::pair<std::string, std::string>>;
  PretrainedWordPiece(WordPieceTokenizer wordpiece, SourceFiles sources);

  WordPieceTokenizer wordpiece_;
  SourceFiles sources_;
  std::int64_t pad_id_ = 0;
};

}  // namespace attn::text
