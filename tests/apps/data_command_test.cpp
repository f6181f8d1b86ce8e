// `attn data fetch` end to end: runs the built command-line program. The program is a
// separate target, so a build of attn_tests alone may not have produced it; then these tests
// are skipped (the library functions are tested in tests/data/).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "attn/data/text_files.h"
#include "support/attn_program.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;

class DataCommand : public attn::testing::AttnProgramTest {};

TEST_F(DataCommand, FetchBibleWritesSplitsAndPrintsCounts) {
  std::string out = path("bible");
  Outcome outcome = run("data fetch bible --out " + out + " --books 'Ruth,Joel,Genesis'");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("spaRV1909eb -> engKJV2006eb"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("test      85 verses"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("valid     73 verses"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("train   1533 verses"), std::string::npos) << outcome.out;
  data::ParallelText test = data::load_parallel(out, data::Split::Test);
  ASSERT_EQ(test.source.size(), 85u);
  EXPECT_TRUE(test.target.front().starts_with("Now it came to pass in the days when the judges"));
  EXPECT_EQ(data::read_lines(out + "/train.ref").front(), "Genesis 1:1");
  EXPECT_TRUE(fs::exists(out + "/manifest.json"));
}

TEST_F(DataCommand, FetchBibleWithTheWorldEnglishTarget) {
  std::string out = path("web");
  Outcome outcome = run("data fetch bible --target web --books Jonah --out " + out);
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("engWEB2015eb"), std::string::npos) << outcome.out;
  // Jonah 1:17 is empty in the Spanish module and Jonah 2 is numbered the Hebrew way.
  EXPECT_EQ(data::load_parallel(out, data::Split::Test).target.size(), 48u - 11u);
}

TEST_F(DataCommand, BadArgumentsFailWithAMessage) {
  Outcome target = run("data fetch bible --target niv --out " + path("x"));
  EXPECT_NE(target.status, 0);
  EXPECT_NE(target.err.find("niv"), std::string::npos) << target.err;
  Outcome corpus = run("data fetch quran");
  EXPECT_NE(corpus.status, 0);
  Outcome book = run("data fetch bible --books Hezekiah --out " + path("y"));
  EXPECT_EQ(book.status, 1);
  EXPECT_NE(book.err.find("unknown book 'Hezekiah'"), std::string::npos) << book.err;
  EXPECT_FALSE(fs::exists(path("y")));
}

TEST_F(DataCommand, FetchAustenWritesNovelsLanguageModelAndClassifierFiles) {
  std::string out = path("austen");
  Outcome outcome = run("data fetch austen --out " + out + " --passage-words 100");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("austen: 6 novels"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("passages of 100 words"), std::string::npos) << outcome.out;
  for (const char* file :
       {"novels/emma.txt", "lm/train.txt", "lm/valid.txt", "lm/test.txt", "classify/train.tsv",
        "classify/valid.tsv", "classify/test.tsv", "classify/labels.txt", "manifest.json"}) {
    EXPECT_TRUE(fs::exists(out + "/" + file)) << file;
  }
  std::vector<data::LabeledText> valid = data::read_labeled_tsv(out + "/classify/valid.tsv");
  ASSERT_FALSE(valid.empty());
  std::stringstream words(valid.front().text);
  int count = 0;
  for (std::string word; words >> word;) ++count;
  EXPECT_EQ(count, 100);
}

}  // namespace
}  // namespace attn
