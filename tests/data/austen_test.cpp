// Austen: the split and passage rules on small made-up novels, the Rscript failure modes
// with stand-in programs, and the real package (installed by scripts/setup.sh).
#include "attn/data/austen.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "attn/core/error.h"
#include "support/temporary_directory.h"

namespace attn::data {
namespace {

AustenNovel made_up_novel(std::size_t label, std::vector<std::string> lines) {
  return {austen_titles()[label], std::move(lines)};
}

TEST(AustenSplits, LastTenPercentIsTestAndTheFiveBeforeIsValid) {
  EXPECT_EQ(austen_split_lines(100, Split::Train).begin, 0);
  EXPECT_EQ(austen_split_lines(100, Split::Train).end, 85);
  EXPECT_EQ(austen_split_lines(100, Split::Valid).begin, 85);
  EXPECT_EQ(austen_split_lines(100, Split::Valid).end, 90);
  EXPECT_EQ(austen_split_lines(100, Split::Test).begin, 90);
  EXPECT_EQ(austen_split_lines(100, Split::Test).end, 100);
  for (std::int64_t n : {0, 1, 7, 19, 12624, 16235}) {
    LineRange train = austen_split_lines(n, Split::Train),
              valid = austen_split_lines(n, Split::Valid),
              test = austen_split_lines(n, Split::Test);
    EXPECT_EQ(train.end, valid.begin);
    EXPECT_EQ(valid.end, test.begin);
    EXPECT_EQ(test.end, n);
    EXPECT_GE(test.end - test.begin, n / 10);
  }
  EXPECT_THROW(austen_split_lines(-1, Split::Test), Error);
}

TEST(AustenSplits, ParagraphsJoinLinesAndStopAtSplitBoundaries) {
  // 20 lines: train [0, 17), valid [17, 18), test [18, 20).
  std::vector<std::string> lines = {"TITLE",
                                    "",
                                    "CHAPTER 1",
                                    "",
                                    "It is a truth",
                                    "  universally",
                                    "acknowledged.",
                                    "",
                                    "Second",
                                    "paragraph.",
                                    "",
                                    "",
                                    "Third",
                                    "",
                                    "x",
                                    "y",
                                    "z",
                                    "valid line",
                                    "test one",
                                    "test two"};
  std::vector<AustenNovel> novels = {made_up_novel(0, lines)};
  EXPECT_EQ(
      austen_lm_paragraphs(novels, Split::Train),
      (std::vector<std::string>{"TITLE", "CHAPTER 1", "It is a truth universally acknowledged.",
                                "Second paragraph.", "Third", "x y z"}));
  EXPECT_EQ(austen_lm_paragraphs(novels, Split::Valid), std::vector<std::string>{"valid line"});
  EXPECT_EQ(austen_lm_paragraphs(novels, Split::Test),
            std::vector<std::string>{"test one test two"});
}

TEST(AustenPassages, FixedWordCountsWithoutHeadingsOrFrontMatter) {
  std::vector<std::string> first = {
      "EMMA", "By Jane Austen", "",          "VOLUME I", "",           "CHAPTER I",
      "",     "one two three",  "four five", "",         "Chapter 2.", "six seven eight",
      "nine", "THE END"};
  std::vector<std::string> second = {"Chapter 1", "alpha beta gamma delta epsilon zeta"};
  std::vector<AustenNovel> novels = {made_up_novel(0, first), made_up_novel(1, second)};
  // Train covers lines [0, 11) of the first novel and [0, 1) of the second.
  std::vector<LabeledText> passages = austen_passages(novels, Split::Train, 2);
  ASSERT_EQ(passages.size(), 3u);
  EXPECT_EQ(passages[0].text, "one two");
  EXPECT_EQ(passages[1].text, "three four");
  EXPECT_EQ(passages[2].text, "five");  // a last piece of at least half a passage stays
  EXPECT_EQ(passages[2].label, 0);
  // The test part of a 2-line novel is its last line.
  std::vector<LabeledText> short_test = austen_passages({made_up_novel(1, second)}, Split::Test, 4);
  ASSERT_EQ(short_test.size(), 2u);
  EXPECT_EQ(short_test[0].text, "alpha beta gamma delta");
  EXPECT_EQ(short_test[1].text, "epsilon zeta");
  EXPECT_EQ(short_test[1].label, 1);
  // 20 lines: the test part is the last two.
  novels[1].lines.insert(novels[1].lines.begin() + 1, 18, "filler words here");
  std::vector<LabeledText> test = austen_passages(novels, Split::Test, 4);
  ASSERT_EQ(test.size(), 2u);
  EXPECT_EQ(test[0].label, 1);
  EXPECT_EQ(test[0].text, "filler words here alpha");
  EXPECT_EQ(test[1].text, "beta gamma delta epsilon");  // "zeta" alone is under half: dropped
  EXPECT_THROW(austen_passages(novels, Split::Train, 0), Error);
}

void write_program(const std::string& path, const std::string& script) {
  std::ofstream(path) << "#!/bin/sh\n" << script << "\n";
  ::chmod(path.c_str(), 0755);
}

std::string error_of(const AustenOptions& options) {
  try {
    load_austen(options);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(AustenRscript, FailuresSayWhatToInstall) {
  testing::TemporaryDirectory directory("attn_austen_rscript");
  std::string missing = error_of({.rscript = directory.file("no-such-Rscript")});
  EXPECT_NE(missing.find("r-base-core"), std::string::npos) << missing;
  std::string no_package = directory.file("no_package");
  write_program(no_package, "exit 3");
  std::string message = error_of({.rscript = no_package});
  EXPECT_NE(message.find("r-cran-janeaustenr"), std::string::npos) << message;
  std::string failing = directory.file("failing");
  write_program(failing, "echo 'Error: something broke' >&2; exit 1");
  message = error_of({.rscript = failing});
  EXPECT_NE(message.find("exit status 1"), std::string::npos) << message;
  EXPECT_NE(message.find("something broke"), std::string::npos) << message;
  std::string garbage = directory.file("garbage");
  write_program(garbage, "echo 'not a novel'");
  message = error_of({.rscript = garbage});
  EXPECT_NE(message.find("unexpected output"), std::string::npos) << message;
  std::string short_output = directory.file("short");
  write_program(short_output, "printf '\\001novel sensesensibility 5\\nonly one line\\n'");
  message = error_of({.rscript = short_output});
  EXPECT_NE(message.find("ends inside sensesensibility"), std::string::npos) << message;
}

TEST(Austen, ReadsTheSixNovelsAndExportsThem) {
  std::vector<AustenNovel> novels = load_austen();
  ASSERT_EQ(novels.size(), 6u);
  const char* first_lines[] = {"SENSE AND SENSIBILITY", "PRIDE AND PREJUDICE",
                               "MANSFIELD PARK",        "EMMA",
                               "NORTHANGER ABBEY",      "Persuasion"};
  for (std::size_t i = 0; i < novels.size(); ++i) {
    EXPECT_GT(novels[i].lines.size(), 5000u) << novels[i].title.slug;
    EXPECT_EQ(novels[i].lines.front(), first_lines[i]) << novels[i].title.slug;
  }
  EXPECT_EQ(novels[1].lines[9],
            "It is a truth universally acknowledged, that a single man in possession");
  testing::TemporaryDirectory directory("attn_austen_export");
  std::string out = (directory.path() / "austen").string();
  std::vector<std::string> written = export_austen(novels, out);
  EXPECT_EQ(written.size(), 6u + 3u + 3u + 2u);
  std::vector<AustenNovel> again = read_austen(out + "/novels");
  for (std::size_t i = 0; i < novels.size(); ++i) EXPECT_EQ(again[i].lines, novels[i].lines);
  std::vector<LabeledText> test = read_labeled_tsv(out + "/classify/test.tsv");
  EXPECT_GT(test.size(), 600u);
  std::vector<int> per_label(6, 0);
  for (const LabeledText& passage : test) ++per_label.at(passage.label);
  for (int count : per_label) EXPECT_GT(count, 50);
  EXPECT_EQ(read_lines(out + "/classify/labels.txt").front(), "sense-and-sensibility");
  EXPECT_EQ(read_lines(out + "/lm/test.txt"), austen_lm_paragraphs(novels, Split::Test));
  EXPECT_TRUE(std::filesystem::exists(out + "/manifest.json"));
}

}  // namespace
}  // namespace attn::data
