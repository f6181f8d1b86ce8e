// Line-oriented text files: the format of every corpus attn exports (one example per line,
// UTF-8, '\n' after every line including the last), and readers for them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/data/split.h"

namespace attn::data {

// The lines of a file, without their '\n' (or "\r\n"); a final line without '\n' counts.
// Throws attn::Error naming the path when the file cannot be read.
std::vector<std::string> read_lines(const std::string& path);

// Replaces `path` atomically (io/atomic_file.h) with the lines, each followed by '\n'.
// Throws attn::Error if a line contains '\n' (it would break the line alignment).
void write_lines(const std::string& path, const std::vector<std::string>& lines);

// A parallel corpus as export_bible writes it: line i of each vector is the same verse.
struct ParallelText {
  std::vector<std::string> source;
  std::vector<std::string> target;
  std::vector<std::string> references;  // empty when {split}.ref is absent
};

// Reads {split}.{source_suffix} and {split}.{target_suffix} (and {split}.ref if present)
// from `directory`; throws attn::Error when a file is missing or the line counts differ.
ParallelText load_parallel(const std::string& directory, Split split,
                           std::string_view source_suffix = "es",
                           std::string_view target_suffix = "en");

// One labelled example of a classification file: "label<TAB>text", label an integer >= 0.
struct LabeledText {
  std::int64_t label = 0;
  std::string text;
};

// Throws attn::Error naming the file and line for a line without a tab or with a label that
// is not a non-negative integer.
std::vector<LabeledText> read_labeled_tsv(const std::string& path);
// Atomic, like write_lines; tabs and newlines inside a text become spaces.
void write_labeled_tsv(const std::string& path, const std::vector<LabeledText>& examples);

}  // namespace attn::data
