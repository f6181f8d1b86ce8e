#include "attn/data/imdb.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "attn/core/error.h"

namespace attn::data {
namespace fs = std::filesystem;
namespace {

// The length of the valid UTF-8 sequence starting at text[i], or 0 when it is invalid.
std::size_t valid_sequence_length(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (length == 0 || lead > 0xF4 || i + length > text.size()) return 0;
  char32_t code = lead & (0xFF >> (length + 1));
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  bool overlong = code < kSmallest[length];
  bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  return overlong || surrogate || code > 0x10FFFF ? 0 : length;
}

std::string read_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  ATTN_CHECK(stream.is_open(), "load_imdb: cannot read ", path.string());
  std::ostringstream contents;
  contents << stream.rdbuf();
  ATTN_CHECK(!stream.bad(), "load_imdb: error while reading ", path.string());
  return contents.str();
}

std::string trimmed(const std::string& text) {
  const char* kSpace = " \t\r\n\f\v";
  std::size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

// "123_8.txt" -> 8; -1 when the name is not ID_RATING.txt.
std::int64_t rating_of(const std::string& stem) {
  std::size_t underscore = stem.rfind('_');
  if (underscore == std::string::npos) return -1;
  std::int64_t rating = -1;
  const char* begin = stem.data() + underscore + 1;
  const char* end = stem.data() + stem.size();
  auto [stop, error] = std::from_chars(begin, end, rating);
  return error == std::errc() && stop == end && begin != end ? rating : -1;
}

std::vector<fs::path> review_files(const fs::path& folder) {
  ATTN_CHECK(fs::is_directory(folder), "load_imdb: ", folder.string(),
             " is not a directory (expected the aclImdb layout {train,test}/{pos,neg}/*.txt; "
             "see docs/DATA.md)");
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt")
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void add_review(const fs::path& file, std::int64_t label, const ImdbOptions& options,
                ImdbSplit& split) {
  std::string text = trimmed(read_file(file));
  if (text.empty()) {
    ATTN_CHECK(options.skip_empty, "load_imdb: ", file.string(), " is an empty review");
    split.skipped.push_back(file.string());
    return;
  }
  if (options.repair_utf8) {
    if (replace_invalid_utf8(text) > 0) split.repaired.push_back(file.string());
  } else {
    for (std::size_t i = 0; i < text.size();) {
      std::size_t length = valid_sequence_length(text, i);
      ATTN_CHECK(length > 0, "load_imdb: ", file.string(), ": invalid UTF-8 at byte ", i);
      i += length;
    }
  }
  split.examples.push_back(
      {std::move(text), label, rating_of(file.stem().string()), file.string()});
}

}  // namespace

std::int64_t replace_invalid_utf8(std::string& text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::int64_t replaced = 0;
  std::string repaired;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = valid_sequence_length(text, i);
    if (length == 0) {
      if (replaced++ == 0) repaired.assign(text, 0, i);
      repaired += kReplacement;
      ++i;
      continue;
    }
    if (replaced > 0) repaired.append(text, i, length);
    i += length;
  }
  if (replaced > 0) text = std::move(repaired);
  return replaced;
}

ImdbSplit load_imdb(const std::string& directory, std::string_view split_name,
                    const ImdbOptions& options) {
  ATTN_CHECK(split_name == "train" || split_name == "test",
             "load_imdb: expected split train or test, got '", split_name, "'");
  fs::path root = fs::path(directory) / std::string(split_name);
  ATTN_CHECK(fs::is_directory(directory), "load_imdb: directory ", directory,
             " does not exist (download aclImdb_v1.tar.gz and unpack it; see docs/DATA.md)");
  ImdbSplit split;
  // "neg" sorts before "pos": the whole split is in sorted-path order.
  for (auto [folder, label] : {std::pair{"neg", 0}, std::pair{"pos", 1}}) {
    for (const fs::path& file : review_files(root / folder))
      add_review(file, label, options, split);
  }
  return split;
}

}  // namespace attn::data
