// The line-oriented text loaders (data/text_files.h): read_lines, read_labeled_tsv and
// load_parallel on arbitrary file bytes. They read only from disk, so each input is written
// to scratch files first.
//
// Input: up to three files separated by a line "====" (the .es, .en and .ref of a parallel
// split); the first is also read as a labelled TSV file. Properties: what the readers accept,
// the writers write back and the readers read again unchanged (TSV text with its tabs and
// line breaks made spaces, as write_labeled_tsv promises).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/error.h"
#include "attn/data/split.h"
#include "attn/data/text_files.h"
#include "fuzz_support.h"

namespace {

const attn::fuzz::ScratchDirectory& scratch() {
  static const attn::fuzz::ScratchDirectory directory;
  return directory;
}

std::vector<std::string_view> split_files(std::string_view input) {
  constexpr std::string_view kSeparator = "\n====\n";
  std::vector<std::string_view> parts;
  while (parts.size() < 2) {
    std::size_t at = input.find(kSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(input.substr(0, at));
    input.remove_prefix(at + kSeparator.size());
  }
  parts.push_back(input);
  return parts;
}

// A line ending in '\r' reads back without it ("\r\n" is a line break), so only other lines
// must survive a round trip unchanged.
bool round_trips(const std::string& line) { return line.empty() || line.back() != '\r'; }

void check_lines(const std::string& path) {
  std::vector<std::string> lines = attn::data::read_lines(path);
  std::string copy = (scratch().path() / "copy.txt").string();
  attn::data::write_lines(copy, lines);
  std::vector<std::string> reread = attn::data::read_lines(copy);
  if (reread.size() != lines.size()) attn::fuzz::property_failed("line count changed");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (round_trips(lines[i]) && reread[i] != lines[i])
      attn::fuzz::property_failed("a line changed in a write/read round trip");
  }
}

std::string with_spaces(std::string text) {
  for (char& c : text) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

void check_labeled(const std::string& path) {
  std::vector<attn::data::LabeledText> examples;
  try {
    examples = attn::data::read_labeled_tsv(path);
  } catch (const attn::Error&) {
    return;
  }
  std::string copy = (scratch().path() / "copy.tsv").string();
  attn::data::write_labeled_tsv(copy, examples);
  std::vector<attn::data::LabeledText> reread = attn::data::read_labeled_tsv(copy);
  if (reread.size() != examples.size()) attn::fuzz::property_failed("example count changed");
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (reread[i].label != examples[i].label || reread[i].text != with_spaces(examples[i].text))
      attn::fuzz::property_failed("an example changed in a write/read round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string_view> files = split_files(attn::fuzz::as_text(data, size));
  std::string first = scratch().write("train.es", files[0]).string();
  scratch().write("train.en", files.size() > 1 ? files[1] : files[0]);
  std::filesystem::remove(scratch().path() / "train.ref");
  if (files.size() > 2) scratch().write("train.ref", files[2]);

  check_lines(first);
  check_labeled(first);
  try {
    attn::data::ParallelText text =
        attn::data::load_parallel(scratch().path().string(), attn::data::Split::Train);
    if (text.source.size() != text.target.size())
      attn::fuzz::property_failed("parallel sides differ in length");
  } catch (const attn::Error&) {
  }
  return 0;
}
