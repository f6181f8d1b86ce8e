// Tokenizer input: arbitrary bytes encoded by each kind of tokenizer (SentencePiece unigram,
// SentencePiece BPE with byte fallback, word and character vocabularies), all built when the
// target starts from a small built-in corpus.
//
// Input: the first byte picks the tokenizer, the rest is the text. Properties: encode throws
// attn::Error exactly when the text is not valid UTF-8; otherwise every id is in
// [0, vocab_size) and decode accepts the ids. A word or character vocabulary built from the
// text itself encodes it without <unk>.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/error.h"
#include "attn/text/char_vocabulary.h"
#include "attn/text/sentencepiece.h"
#include "attn/text/utf8.h"
#include "attn/text/word_vocabulary.h"
#include "fuzz_support.h"

namespace {

std::vector<std::string> training_sentences() {
  return {
      "In the beginning God created the heaven and the earth.",
      "En el principio creó Dios los cielos y la tierra.",
      "It is a truth universally acknowledged, that a single man in possession of a good "
      "fortune, must be in want of a wife.",
      "This movie was great! 10/10 would watch again :)",
      "The worst film I have seen this year... a waste of two hours.",
      "«¿Qué es la verdad?», dijo Pilato. Ελληνικά, русский, 日本語 — ümlaut.",
      "Numbers 1234567890 and symbols #$%&*+=<>[]{}|~^ with\ttabs.",
  };
}

struct Tokenizers {
  std::vector<std::unique_ptr<attn::text::Tokenizer>> all;
  Tokenizers() {
    std::vector<std::string> sentences = training_sentences();
    attn::text::SentencePieceTrainOptions options;
    options.vocab_size = 120;
    options.hard_vocab_limit = false;
    all.push_back(std::make_unique<attn::text::SentencePieceTokenizer>(
        attn::text::train_sentencepiece_on_sentences(sentences, options)));
    options.model_type = attn::text::SentencePieceModelType::kBpe;
    options.byte_fallback = true;
    options.vocab_size = 400;
    options.normalization = "identity";
    all.push_back(std::make_unique<attn::text::SentencePieceTokenizer>(
        attn::text::train_sentencepiece_on_sentences(sentences, options)));
    all.push_back(std::make_unique<attn::text::WordVocabulary>(
        attn::text::WordVocabulary::build(sentences)));
    attn::text::WordVocabularyOptions punctuation;
    punctuation.split.keep_punctuation = true;
    punctuation.split.lowercase = false;
    all.push_back(std::make_unique<attn::text::WordVocabulary>(
        attn::text::WordVocabulary::build(sentences, punctuation)));
    all.push_back(std::make_unique<attn::text::CharVocabulary>(
        attn::text::CharVocabulary::build(sentences)));
  }
};

const Tokenizers& tokenizers() {
  static const Tokenizers built;
  return built;
}

void check_encoding(const attn::text::Tokenizer& tokenizer, std::string_view text) {
  bool valid = attn::text::find_invalid_utf8(text) == std::string_view::npos;
  std::vector<std::int64_t> ids;
  try {
    ids = tokenizer.encode(text);
  } catch (const attn::Error&) {
    if (valid) attn::fuzz::property_failed("encode rejected valid UTF-8");
    return;
  }
  if (!valid) attn::fuzz::property_failed("encode accepted invalid UTF-8");
  for (std::int64_t id : ids) {
    if (id < 0 || id >= tokenizer.vocab_size()) attn::fuzz::property_failed("id out of range");
  }
  (void)tokenizer.decode(ids);
}

// A vocabulary built from the text itself knows every one of its words or characters.
template <typename Vocabulary>
void check_own_vocabulary(std::string_view text) {
  std::vector<std::string> texts{std::string(text)};
  try {
    Vocabulary vocabulary = Vocabulary::build(texts);
    for (std::int64_t id : vocabulary.encode(text)) {
      if (id == attn::text::kUnkId) attn::fuzz::property_failed("own vocabulary gave <unk>");
    }
  } catch (const attn::Error&) {
    if (attn::text::find_invalid_utf8(text) == std::string_view::npos)
      attn::fuzz::property_failed("vocabulary building rejected valid UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizers();  // train once, before the first input, so a slow start is not a "timeout"
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& all = tokenizers().all;
  std::size_t choice = data[0] % (all.size() + 2);
  std::string_view text = attn::fuzz::as_text(data + 1, size - 1);
  if (choice < all.size()) {
    check_encoding(*all[choice], text);
  } else if (choice == all.size()) {
    check_own_vocabulary<attn::text::WordVocabulary>(text);
  } else {
    check_own_vocabulary<attn::text::CharVocabulary>(text);
  }
  return 0;
}
