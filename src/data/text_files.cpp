#include "attn/data/text_files.h"

#include <charconv>
#include <filesystem>
#include <fstream>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"

namespace attn::data {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  ATTN_CHECK(stream.is_open() && !std::filesystem::is_directory(path), "read_lines: cannot read ",
             path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  ATTN_CHECK(!stream.bad(), "read_lines: error while reading ", path);
  return lines;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::size_t size = 0;
  for (const std::string& line : lines) {
    ATTN_CHECK(line.find('\n') == std::string::npos, "write_lines: ", path, ": line ",
               &line - lines.data() + 1, " contains a newline");
    size += line.size() + 1;
  }
  std::string contents;
  contents.reserve(size);
  for (const std::string& line : lines) {
    contents += line;
    contents += '\n';
  }
  io::write_file_atomic(path, contents);
}

ParallelText load_parallel(const std::string& directory, Split split,
                           std::string_view source_suffix, std::string_view target_suffix) {
  std::filesystem::path base = std::filesystem::path(directory) / std::string(split_name(split));
  auto file = [&](std::string_view suffix) { return base.string() + "." + std::string(suffix); };
  ParallelText text;
  text.source = read_lines(file(source_suffix));
  text.target = read_lines(file(target_suffix));
  ATTN_CHECK(text.source.size() == text.target.size(), "load_parallel: ", file(source_suffix),
             " has ", text.source.size(), " lines but ", file(target_suffix), " has ",
             text.target.size());
  if (std::filesystem::exists(file("ref"))) {
    text.references = read_lines(file("ref"));
    ATTN_CHECK(text.references.size() == text.source.size(), "load_parallel: ", file("ref"),
               " has ", text.references.size(), " lines, expected ", text.source.size());
  }
  return text;
}

std::vector<LabeledText> read_labeled_tsv(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  std::vector<LabeledText> examples;
  examples.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    std::size_t tab = line.find('\t');
    ATTN_CHECK(tab != std::string::npos, "read_labeled_tsv: ", path, ":", i + 1,
               ": expected label<TAB>text, got no tab");
    LabeledText example;
    auto [end, error] = std::from_chars(line.data(), line.data() + tab, example.label);
    ATTN_CHECK(error == std::errc() && end == line.data() + tab && tab > 0 && example.label >= 0,
               "read_labeled_tsv: ", path, ":", i + 1,
               ": expected a non-negative integer label, got '", line.substr(0, tab), "'");
    example.text = line.substr(tab + 1);
    examples.push_back(std::move(example));
  }
  return examples;
}

void write_labeled_tsv(const std::string& path, const std::vector<LabeledText>& examples) {
  std::vector<std::string> lines;
  lines.reserve(examples.size());
  for (const LabeledText& example : examples) {
    ATTN_CHECK(example.label >= 0, "write_labeled_tsv: ", path, ": negative label ", example.label);
    std::string text = example.text;
    for (char& c : text) {
      if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    }
    lines.push_back(std::to_string(example.label) + "\t" + text);
  }
  write_lines(path, lines);
}

}  // namespace attn::data
