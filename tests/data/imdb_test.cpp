// The IMDB loader on small aclImdb-shaped trees that the tests write.
#include "attn/data/imdb.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "attn/core/error.h"
#include "support/temporary_directory.h"

namespace attn::data {
namespace {

namespace fs = std::filesystem;

class Imdb : public ::testing::Test {
 protected:
  void write(const std::string& relative, const std::string& bytes) {
    fs::path path = directory_.path() / "aclImdb" / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }
  std::string root() const { return (directory_.path() / "aclImdb").string(); }
  void write_small_set() {
    write("train/pos/10_9.txt", "A wonderful film.<br /><br />Loved it.");
    write("train/pos/2_7.txt", "  Good, not great.\n");
    write("train/neg/5_1.txt", "Dreadful.");
    write("train/neg/11_3.txt", "Boring and long.");
    write("train/neg/notes.md", "not a review");
    write("train/urls_pos.txt", "http://example.com");  // beside pos/, not in it
    write("test/pos/0_10.txt", "Best ever.");
    write("test/neg/0_2.txt", "Bad.");
  }
  testing::TemporaryDirectory directory_{"attn_imdb"};
};

TEST_F(Imdb, ReadsReviewsInSortedPathOrderWithLabelsAndRatings) {
  write_small_set();
  ImdbSplit train = load_imdb(root(), "train");
  ASSERT_EQ(train.examples.size(), 4u);
  std::vector<std::string> names;
  for (const ImdbExample& example : train.examples)
    names.push_back(fs::path(example.path).filename());
  EXPECT_EQ(names, (std::vector<std::string>{"11_3.txt", "5_1.txt", "10_9.txt", "2_7.txt"}));
  EXPECT_EQ(train.examples[0].label, 0);
  EXPECT_EQ(train.examples[0].rating, 3);
  EXPECT_EQ(train.examples[2].label, 1);
  EXPECT_EQ(train.examples[2].rating, 9);
  EXPECT_EQ(train.examples[2].text, "A wonderful film.<br /><br />Loved it.");
  EXPECT_EQ(train.examples[3].text, "Good, not great.");  // trimmed
  EXPECT_TRUE(train.skipped.empty());
  EXPECT_TRUE(train.repaired.empty());
  ImdbSplit test = load_imdb(root(), "test");
  ASSERT_EQ(test.examples.size(), 2u);
  EXPECT_EQ(test.examples[1].text, "Best ever.");
  EXPECT_EQ(test.examples[1].rating, 10);
}

TEST_F(Imdb, EmptyReviewsAreSkippedAndReportedOrAnError) {
  write_small_set();
  write("train/pos/3_8.txt", "");
  write("train/neg/4_2.txt", " \n\t ");
  ImdbSplit train = load_imdb(root(), "train");
  EXPECT_EQ(train.examples.size(), 4u);
  ASSERT_EQ(train.skipped.size(), 2u);
  EXPECT_EQ(fs::path(train.skipped[0]).filename(), "4_2.txt");
  try {
    load_imdb(root(), "train", {.skip_empty = false});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("4_2.txt"), std::string::npos) << error.what();
  }
}

TEST_F(Imdb, InvalidUtf8IsReplacedAndReportedOrAnError) {
  write_small_set();
  write("train/pos/7_8.txt", "caf\xC3\xA9 ok, bad \xFF byte, cut \xE2\x82");
  ImdbSplit train = load_imdb(root(), "train");
  ASSERT_EQ(train.repaired.size(), 1u);
  const ImdbExample& repaired = train.examples[4];  // pos/7_8 sorts after pos/2_7
  EXPECT_EQ(repaired.text, "caf\xC3\xA9 ok, bad \xEF\xBF\xBD byte, cut \xEF\xBF\xBD\xEF\xBF\xBD");
  try {
    load_imdb(root(), "train", {.repair_utf8 = false});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("7_8.txt"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("byte 14"), std::string::npos) << error.what();
  }
}

TEST_F(Imdb, MissingDirectoriesAndBadSplitsAreErrors) {
  EXPECT_THROW(load_imdb(root(), "train"), Error);  // no aclImdb at all
  write("train/pos/1_8.txt", "Fine.");
  try {
    load_imdb(root(), "train");  // train/neg is missing
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("neg"), std::string::npos) << error.what();
  }
  EXPECT_THROW(load_imdb(root(), "unsup"), Error);
  EXPECT_THROW(load_imdb(root(), "test"), Error);
}

TEST(Utf8Repair, ReplacesEachInvalidByte) {
  struct Case {
    std::string input, expected;
    std::int64_t replaced;
  };
  const std::string r = "\xEF\xBF\xBD";
  for (const Case& c : std::vector<Case>{
           {"plain", "plain", 0},
           {"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 0},
           {"\xC0\x80", r + r, 2},                  // overlong NUL
           {"\xED\xA0\x80", r + r + r, 3},          // surrogate U+D800
           {"\xF4\x90\x80\x80", r + r + r + r, 4},  // above U+10FFFF
           {"a\x80"
            "b",
            "a" + r + "b", 1},      // stray continuation byte
           {"\xE2\x82", r + r, 2},  // truncated
       }) {
    std::string text = c.input;
    EXPECT_EQ(replace_invalid_utf8(text), c.replaced);
    EXPECT_EQ(text, c.expected);
  }
}

}  // namespace
}  // namespace attn::data
