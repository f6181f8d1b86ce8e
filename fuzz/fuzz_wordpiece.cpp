// The WordPiece tokenizer of pretrained models: its tokenizer.json reader, and encoding
// arbitrary text with the committed test tokenizers (tests/fixtures/text/wordpiece/).
//
// Input: the first byte picks what runs.
//   0       the rest is a tokenizer.json (written to a scratch file and read back); an accepted
//           one must encode and decode a fixed sentence.
//   1..255  the rest is text (or, split at the first 0x00 byte, a pair of texts), encoded by
//           the cased or the variant tokenizer with max_length = byte (0: none).
// Properties: encode throws attn::Error exactly when the text is not valid UTF-8 (or
// max_length is shorter than the special tokens); ids are in [0, vocab_size), ids, type ids
// and tokens have one entry per token, max_length holds, and decode accepts the ids.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "attn/core/error.h"
#include "attn/text/utf8.h"
#include "attn/text/wordpiece.h"
#include "fuzz_support.h"

namespace {

using attn::text::WordPieceEncoding;
using attn::text::WordPieceTokenizer;

const WordPieceTokenizer& tokenizer(int which) {
  static const WordPieceTokenizer cased = WordPieceTokenizer::from_tokenizer_json(
      ATTN_FIXTURE_DIR "/text/wordpiece/cased/tokenizer.json");
  static const WordPieceTokenizer variant = WordPieceTokenizer::from_tokenizer_json(
      ATTN_FIXTURE_DIR "/text/wordpiece/variant.tokenizer.json");
  return which == 0 ? cased : variant;
}

void check_encoding(const WordPieceTokenizer& tokenizer, const WordPieceEncoding& encoding,
                    std::int64_t max_length) {
  if (encoding.type_ids.size() != encoding.ids.size() || encoding.tokens.size() != encoding.ids.size())
    attn::fuzz::property_failed("ids, type ids and tokens differ in length");
  if (max_length > 0 && std::int64_t(encoding.ids.size()) > max_length)
    attn::fuzz::property_failed("an encoding is longer than max_length");
  for (std::int64_t id : encoding.ids) {
    if (id < 0 || id >= tokenizer.vocab_size()) attn::fuzz::property_failed("an id is out of range");
  }
  try {
    tokenizer.decode(encoding.ids);
  } catch (const attn::Error&) {
    attn::fuzz::property_failed("decode rejected ids that encode produced");
  }
}

void fuzz_tokenizer_json(std::string_view bytes) {
  static const attn::fuzz::ScratchDirectory scratch;
  const auto path = scratch.write("tokenizer.json", bytes);
  try {
    const WordPieceTokenizer parsed = WordPieceTokenizer::from_tokenizer_json(path);
    check_encoding(parsed, parsed.encode("Hello, world! [CLS] naïve 東京"), 0);
  } catch (const attn::Error&) {
    // Rejected with a message (or no [CLS]/[SEP] to add): the expected answer.
  }
}

void fuzz_encode(std::uint8_t selector, std::string_view text) {
  const WordPieceTokenizer& chosen = tokenizer(selector & 1);
  const std::int64_t max_length = selector >> 1;
  const std::size_t split = text.find('\0');
  const bool valid = attn::text::find_invalid_utf8(text) == std::string_view::npos;
  try {
    const WordPieceEncoding encoding =
        split == std::string_view::npos
            ? chosen.encode(text, max_length)
            : chosen.encode_pair(text.substr(0, split), text.substr(split + 1), max_length);
    if (!valid) attn::fuzz::property_failed("encode accepted invalid UTF-8");
    check_encoding(chosen, encoding, max_length);
  } catch (const attn::Error&) {
    // Invalid UTF-8, or a max_length shorter than the special tokens.
    const std::int64_t specials = split == std::string_view::npos ? 2 : 3;
    if (valid && (max_length == 0 || max_length >= specials))
      attn::fuzz::property_failed("encode rejected valid UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest = attn::fuzz::as_text(data + 1, size - 1);
  if (data[0] == 0) {
    fuzz_tokenizer_json(rest);
  } else {
    fuzz_encode(data[0], rest);
  }
  return 0;
}
