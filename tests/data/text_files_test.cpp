#include "attn/data/text_files.h"

#include <gtest/gtest.h>

#include <fstream>

#include "attn/core/error.h"
#include "attn/data/split.h"
#include "support/temporary_directory.h"

namespace attn::data {
namespace {

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(TextFiles, LinesRoundTripAndCrLfIsRead) {
  testing::TemporaryDirectory directory("attn_text_files");
  std::string path = directory.file("lines.txt");
  write_lines(path, {"first", "", "third \xC3\xA9"});
  EXPECT_EQ(read_lines(path), (std::vector<std::string>{"first", "", "third \xC3\xA9"}));
  write_raw(path, "a\r\nb\nc");
  EXPECT_EQ(read_lines(path), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THROW(write_lines(path, {"two\nlines"}), Error);
  EXPECT_EQ(read_lines(path).size(), 3u);  // the failed write left the file as it was
  EXPECT_EQ(directory.entries(), std::vector<std::string>{"lines.txt"});
  EXPECT_THROW(read_lines(directory.file("missing.txt")), Error);
  EXPECT_THROW(read_lines(directory.path().string()), Error);
}

TEST(TextFiles, LabeledTsv) {
  testing::TemporaryDirectory directory("attn_text_files");
  std::string path = directory.file("classify.tsv");
  write_labeled_tsv(path, {{2, "a\tb"}, {0, "plain"}});
  std::vector<LabeledText> examples = read_labeled_tsv(path);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].label, 2);
  EXPECT_EQ(examples[0].text, "a b");
  EXPECT_EQ(examples[1].text, "plain");
  for (const std::string& bad : {"no tab here\n", "x\ttext\n", "-1\ttext\n", "\ttext\n"}) {
    write_raw(path, bad);
    EXPECT_THROW(read_labeled_tsv(path), Error) << bad;
  }
  write_raw(path, "0\tfine\n3\tsecond line\tkeeps its tab\n");
  examples = read_labeled_tsv(path);
  EXPECT_EQ(examples[1].text, "second line\tkeeps its tab");
}

TEST(TextFiles, ParallelFilesMustAlign) {
  testing::TemporaryDirectory directory("attn_text_files");
  write_lines(directory.file("valid.es"), {"hola", "adi\xC3\xB3s"});
  write_lines(directory.file("valid.en"), {"hello", "goodbye"});
  ParallelText text = load_parallel(directory.path().string(), Split::Valid);
  EXPECT_EQ(text.target[1], "goodbye");
  EXPECT_TRUE(text.references.empty());
  write_lines(directory.file("valid.ref"), {"A 1:1"});
  EXPECT_THROW(load_parallel(directory.path().string(), Split::Valid), Error);
  write_lines(directory.file("valid.en"), {"hello"});
  EXPECT_THROW(load_parallel(directory.path().string(), Split::Valid), Error);
  EXPECT_THROW(load_parallel(directory.path().string(), Split::Test), Error);
}

TEST(TextFiles, SplitNames) {
  EXPECT_EQ(split_name(Split::Valid), "valid");
  EXPECT_EQ(parse_split("test"), Split::Test);
  EXPECT_THROW(parse_split("dev"), Error);
}

}  // namespace
}  // namespace attn::data
