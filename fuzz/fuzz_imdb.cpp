// The IMDB loader (data/imdb.h) on arbitrary review bytes. load_imdb reads only from disk, so
// each input is written to a review file of a scratch aclImdb tree and loaded from there,
// with UTF-8 repair on and off; replace_invalid_utf8 also gets the bytes directly.
//
// Properties: a repaired review is valid UTF-8 without surrounding whitespace; strict
// loading fails exactly when repair had something to replace; a valid text is left as it is.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "attn/core/error.h"
#include "attn/data/imdb.h"
#include "attn/text/utf8.h"
#include "fuzz_support.h"

namespace {

const attn::fuzz::ScratchDirectory& scratch() {
  static const attn::fuzz::ScratchDirectory directory;
  return directory;
}

void check_replacement(std::string_view bytes) {
  std::string text(bytes);
  std::int64_t replaced = attn::data::replace_invalid_utf8(text);
  if (attn::text::find_invalid_utf8(text) != std::string_view::npos)
    attn::fuzz::property_failed("replace_invalid_utf8 left invalid UTF-8");
  bool was_valid = attn::text::find_invalid_utf8(bytes) == std::string_view::npos;
  if (was_valid != (replaced == 0)) attn::fuzz::property_failed("replacement count is wrong");
  if (was_valid && text != bytes) attn::fuzz::property_failed("valid text was changed");
}

void check_loaded(const attn::data::ImdbSplit& split) {
  for (const attn::data::ImdbExample& example : split.examples) {
    if (example.text.empty()) attn::fuzz::property_failed("an empty review was kept");
    if (attn::text::find_invalid_utf8(example.text) != std::string_view::npos)
      attn::fuzz::property_failed("a loaded review is not valid UTF-8");
    if (std::isspace(static_cast<unsigned char>(example.text.front())) ||
        std::isspace(static_cast<unsigned char>(example.text.back())))
      attn::fuzz::property_failed("a loaded review keeps surrounding whitespace");
    if (example.label != 1 || example.rating != 7) attn::fuzz::property_failed("wrong label");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes = attn::fuzz::as_text(data, size);
  check_replacement(bytes);

  scratch().write("aclImdb/train/pos/1_7.txt", bytes);
  std::filesystem::create_directories(scratch().path() / "aclImdb/train/neg");
  std::string root = (scratch().path() / "aclImdb").string();

  attn::data::ImdbSplit repaired = attn::data::load_imdb(root, "train");
  check_loaded(repaired);
  if (repaired.examples.size() + repaired.skipped.size() != 1)
    attn::fuzz::property_failed("the review was neither loaded nor skipped");

  attn::data::ImdbOptions strict;
  strict.repair_utf8 = false;
  strict.skip_empty = false;
  bool strict_failed = false;
  try {
    check_loaded(attn::data::load_imdb(root, "train", strict));
  } catch (const attn::Error&) {
    strict_failed = true;
  }
  bool expected_failure = !repaired.skipped.empty() || !repaired.repaired.empty();
  if (strict_failed != expected_failure)
    attn::fuzz::property_failed("strict loading disagrees with repair");
  return 0;
}
