// SentencePiece subword tokenizers (unigram language model or BPE), trained and run by
// Google's SentencePiece library. Models trained here put the reserved pieces at attn's ids
// (<pad> 0, <unk> 1, <s> 2, </s> 3); a model file from elsewhere is accepted only if it
// does the same.
//
// Training is repeatable: the same sentences and options (seed and num_threads included)
// give the same model file, byte for byte (docs/TOKENIZATION.md says what was checked). The
// seed also goes to SentencePiece's process-wide random seed, so two trainings should not
// run at the same time in one process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attn/text/tokenizer.h"

namespace attn::text {

enum class SentencePieceModelType { kUnigram, kBpe };

// "unigram", "bpe"; the inverse throws attn::Error listing the known types.
std::string_view to_string(SentencePieceModelType type);
SentencePieceModelType sentencepiece_model_type_from_string(std::string_view name);

struct SentencePieceTrainOptions {
  std::int64_t vocab_size = 8000;  // every id, the 4 reserved included
  SentencePieceModelType model_type = SentencePieceModelType::kUnigram;
  // The fraction of the training characters that get a piece; the rarest others become
  // <unk> (or bytes, with byte_fallback). 1.0 for alphabetic scripts, 0.9995 for CJK.
  double character_coverage = 1.0;
  // 0: train on every sentence; otherwise on a uniform sample of this many, drawn with
  // `seed` and kept in corpus order.
  std::int64_t max_sentences = 0;
  // Longer sentences (in bytes) are left out of training by SentencePiece.
  std::int64_t max_sentence_bytes = 4192;
  std::uint32_t seed = 1;
  int num_threads = 1;
  // Unknown characters encode as their UTF-8 bytes (256 extra pieces) instead of <unk>.
  bool byte_fallback = false;
  // true: fail when the text cannot fill vocab_size pieces; false: make a smaller vocabulary.
  bool hard_vocab_limit = true;
  // SentencePiece's normalization rule: "nmt_nfkc" (its default: NFKC, whitespace collapsed),
  // "nfkc", "nmt_nfkc_cf", "nfkc_cf" (case folded) or "identity".
  std::string normalization = "nmt_nfkc";
  bool verbose = false;  // let SentencePiece print its training log to stderr
};

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Reads a .model file (a serialized SentencePiece ModelProto).
  static SentencePieceTokenizer load(const std::filesystem::path& model_file);
  // From the bytes of a .model file; `source` labels errors.
  static SentencePieceTokenizer from_serialized(std::string model_bytes, std::string_view source);

  SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;
  ~SentencePieceTokenizer() override;

  TokenizerKind kind() const override { return TokenizerKind::kSentencePiece; }
  std::int64_t vocab_size() const override;
  // Encodes the text after SentencePiece's normalization (see the option above).
  std::vector<std::int64_t> encode(std::string_view text) const override;
  // decode(encode(text)) gives the normalized text, less any characters that became <unk>.
  std::string decode(std::span<const std::int64_t> ids) const override;
  std::string id_to_piece(std::int64_t id) const override;
  std::int64_t piece_to_id(std::string_view piece) const override;
  // NAME.model and NAME.tokenizer.json.
  void save(const std::filesystem::path& directory, const std::string& name) const override;

  // The pieces of `text` ("▁the", "▁king", ...), for inspection.
  std::vector<std::string> encode_pieces(std::string_view text) const;
  // The bytes of the .model file.
  const std::string& serialized_model() const;

 private:
  struct State;
  explicit SentencePieceTokenizer(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

// Trains on the lines of UTF-8 text files (one sentence per line; empty lines skipped).
// A missing file, bad options or a failure inside SentencePiece throw attn::Error.
SentencePieceTokenizer train_sentencepiece(const std::vector<std::filesystem::path>& text_files,
                                           const SentencePieceTrainOptions& options = {});

// Trains on sentences held in memory (empty ones skipped).
SentencePieceTokenizer train_sentencepiece_on_sentences(
    std::span<const std::string> sentences, const SentencePieceTrainOptions& options = {});

}  // namespace attn::text
