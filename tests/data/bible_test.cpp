// The Bible corpus read from the installed SWORD modules (scripts/setup.sh installs them, so
// a missing module fails these tests). Reading the whole Bible takes about a second, so one
// test does it and the others read a few books.
#include "attn/data/bible.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "attn/core/error.h"
#include "attn/data/osis.h"
#include "attn/data/text_files.h"
#include "support/temporary_directory.h"

namespace attn::data {
namespace {

const BibleVerse* find_verse(const BibleCorpus& corpus, const std::string& reference) {
  for (const BibleVerse& verse : corpus.verses) {
    if (verse.reference == reference) return &verse;
  }
  return nullptr;
}

BibleCorpus load_books(std::vector<std::string> books) {
  BibleOptions options;
  options.books = std::move(books);
  return load_bible(options);
}

TEST(BibleKingJames, RuthOneOneInBothLanguages) {
  BibleCorpus corpus = load_books({"Ruth"});
  const BibleVerse* verse = find_verse(corpus, "Ruth 1:1");
  ASSERT_NE(verse, nullptr);
  EXPECT_EQ(verse->book, "Ruth");
  EXPECT_EQ(verse->chapter, 1);
  EXPECT_EQ(verse->verse, 1);
  EXPECT_EQ(verse->split, Split::Test);
  EXPECT_EQ(verse->source,
            "Y ACONTECI\xC3\x93 en los d\xC3\xAD"
            "as que gobernaban los jueces, que hubo hambre "
            "en la tierra. Y un var\xC3\xB3n de Beth-lehem de Jud\xC3\xA1, fu\xC3\xA9 \xC3\xA1 "
            "peregrinar en los campos de Moab, \xC3\xA9l y su mujer, y dos hijos suyos.");
  EXPECT_EQ(verse->target,
            "Now it came to pass in the days when the judges ruled, that there was a famine in "
            "the land. And a certain man of Beth-lehem-judah went to sojourn in the country of "
            "Moab, he, and his wife, and his two sons.");
  EXPECT_NE(verse->target_markup.find("<w lemma=\"strong:H3117\">days</w>"), std::string::npos);
  EXPECT_NE(verse->target_markup.find("<note"), std::string::npos);  // the footnote stays here
  EXPECT_NE(verse->source_markup.find("strong:H7458\">hambre</w>"), std::string::npos);
}

TEST(BibleKingJames, MarkupGivesStrongsAlignedWords) {
  BibleCorpus corpus = load_books({"Ruth"});
  const BibleVerse* verse = find_verse(corpus, "Ruth 1:1");
  ASSERT_NE(verse, nullptr);
  std::vector<StrongsWord> english = osis_strongs_words(verse->target_markup);
  std::vector<StrongsWord> spanish = osis_strongs_words(verse->source_markup);
  auto tagged = [](const std::vector<StrongsWord>& words, const std::string& text) {
    for (const StrongsWord& word : words) {
      if (word.text == text) return word.strongs;
    }
    return std::vector<std::string>{"absent"};
  };
  EXPECT_EQ(tagged(english, "famine"), std::vector<std::string>{"H7458"});
  EXPECT_EQ(tagged(spanish, "hambre"), std::vector<std::string>{"H7458"});
  EXPECT_EQ(tagged(english, "Moab,"), std::vector<std::string>{"H4124"});
  EXPECT_EQ(english.size(), 42u);
  EXPECT_EQ(english.size(), static_cast<std::size_t>(
                                std::count(verse->target.begin(), verse->target.end(), ' ') + 1));
}

TEST(BibleKingJames, WholeBibleCountsSplitsAndLeftOutPassages) {
  BibleCorpus corpus = load_bible();
  // 31,102 verses in the KJV versification; a few are empty in the Spanish module and about
  // 190 are left out as misaligned.
  EXPECT_GT(corpus.verses.size(), 30800u);
  EXPECT_LE(corpus.verses.size(), 31102u);
  EXPECT_EQ(corpus.count(Split::Train) + corpus.count(Split::Valid) + corpus.count(Split::Test),
            static_cast<std::int64_t>(corpus.verses.size()));
  // Ruth 85 + Jonah 48 + Philippians 104 + 1 John 105 verses, less Jonah 1:17 (empty in the
  // Spanish module, which moves it to 2:1) and Jonah 2:1-10 (numbered the Hebrew way).
  EXPECT_EQ(corpus.count(Split::Test), 342 - 1 - 10);
  EXPECT_GT(corpus.count(Split::Valid), 200);
  EXPECT_LT(corpus.count(Split::Valid), 600);
  EXPECT_EQ(corpus.verses.front().reference, "Genesis 1:1");
  EXPECT_EQ(corpus.verses.back().reference, "Revelation 22:21");

  std::set<std::string> books[3];
  for (const BibleVerse& verse : corpus.verses) {
    books[static_cast<int>(verse.split)].insert(verse.book);
    EXPECT_FALSE(verse.source.empty() || verse.target.empty()) << verse.reference;
    EXPECT_EQ(verse.target.find('\n'), std::string::npos) << verse.reference;
  }
  const std::vector<std::string>& test = bible_test_books();
  const std::vector<std::string>& valid = bible_valid_books();
  EXPECT_EQ(books[static_cast<int>(Split::Test)], std::set<std::string>(test.begin(), test.end()));
  EXPECT_EQ(books[static_cast<int>(Split::Valid)],
            std::set<std::string>(valid.begin(), valid.end()));
  EXPECT_EQ(books[static_cast<int>(Split::Train)].size(), 66u - 4u - 5u);
  for (const std::string& book : test) {
    EXPECT_EQ(books[static_cast<int>(Split::Train)].count(book), 0u) << book;
    EXPECT_EQ(books[static_cast<int>(Split::Valid)].count(book), 0u) << book;
  }

  // Spanish Jonah 2:1 is "Mas Jehová había prevenido un gran pez...", the KJV's Jonah 1:17.
  const std::vector<std::string>& left_out = corpus.misaligned;
  for (int verse = 1; verse <= 10; ++verse) {
    std::string reference = "Jonah 2:" + std::to_string(verse);
    EXPECT_NE(std::find(left_out.begin(), left_out.end(), reference), left_out.end()) << reference;
    EXPECT_EQ(find_verse(corpus, reference), nullptr) << reference;
  }
  EXPECT_NE(std::find(left_out.begin(), left_out.end(), "Numbers 13:5"), left_out.end());
  EXPECT_GT(left_out.size(), 100u);
  EXPECT_LT(left_out.size(), 300u);
  ASSERT_NE(find_verse(corpus, "Jonah 3:1"), nullptr);  // the next chapter is aligned again
  EXPECT_TRUE(find_verse(corpus, "Jonah 3:1")->source.starts_with("Y FU\xC3\x89 palabra de Jehov"))
      << find_verse(corpus, "Jonah 3:1")->source;
}

TEST(BibleKingJames, PsalmTitlesAndDivineNamesAsPrinted) {
  BibleCorpus corpus = load_books({"Genesis", "Exodus", "Psalms"});
  const BibleVerse* psalm = find_verse(corpus, "Psalms 3:1");
  ASSERT_NE(psalm, nullptr);
  EXPECT_TRUE(
      psalm->target.starts_with("A Psalm of David, when he fled from Absalom his son. LORD,"))
      << psalm->target;
  EXPECT_TRUE(psalm->source.starts_with("Salmo de David")) << psalm->source;
  const BibleVerse* exodus = find_verse(corpus, "Exodus 17:16");
  ASSERT_NE(exodus, nullptr);
  EXPECT_EQ(exodus->target.find('\\'), std::string::npos) << exodus->target;
  const BibleVerse* genesis = find_verse(corpus, "Genesis 1:6");
  ASSERT_NE(genesis, nullptr);
  EXPECT_TRUE(genesis->target.starts_with("And God said")) << genesis->target;
}

TEST(Bible, WorldEnglishTargetOnSelectedBooks) {
  BibleOptions options;
  options.target_module = bible_target_module("web");
  options.books = {"Jonah", "Ruth"};
  BibleCorpus corpus = load_bible(options);
  EXPECT_EQ(corpus.target_module, "engWEB2015eb");
  ASSERT_EQ(corpus.verses.size(), 85u + 48u - 1u - 10u);  // as with the KJV
  EXPECT_EQ(corpus.misaligned.size(), 10u);
  EXPECT_EQ(corpus.verses.front().reference, "Ruth 1:1");  // canonical order
  EXPECT_EQ(corpus.verses.front().target,
            "In the days when the judges judged, there was a famine in the land. A certain man "
            "of Bethlehem Judah went to live in the country of Moab with his wife and his two "
            "sons.");
  EXPECT_EQ(corpus.count(Split::Test), 122);
}

TEST(Bible, MisalignedPairsAreKeptOnRequest) {
  BibleOptions options;
  options.books = {"Jonah"};
  options.drop_misaligned = false;
  BibleCorpus corpus = load_bible(options);
  EXPECT_EQ(corpus.verses.size(), 48u - 1u);  // only the empty Jonah 1:17 is missing
  EXPECT_TRUE(corpus.misaligned.empty());
  const BibleVerse* shifted = find_verse(corpus, "Jonah 2:1");
  ASSERT_NE(shifted, nullptr);
  EXPECT_TRUE(shifted->source.starts_with("MAS Jehov")) << shifted->source;
  EXPECT_TRUE(shifted->target.starts_with("Then Jonah prayed")) << shifted->target;
}

TEST(Bible, MissingModuleNamesTheDebianPackage) {
  testing::TemporaryDirectory empty("attn_bible_empty");
  BibleOptions options;
  options.sword_path = empty.path().string();
  try {
    load_bible(options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("spaRV1909eb"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("sword-text-sparv"), std::string::npos)
        << error.what();
  }
  BibleOptions web;
  web.target_module = "engWEB2015ebX";
  EXPECT_THROW(load_bible(web), Error);
  BibleOptions alignment;
  alignment.target_module = std::string(kWorldEnglishModule);
  alignment.alignment_module = "noSuchModule";
  EXPECT_THROW(load_bible(alignment), Error);
}

TEST(Bible, RejectsUnknownBooksAndTargets) {
  BibleOptions options;
  options.books = {"Ruth", "Hezekiah"};
  try {
    load_bible(options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("Hezekiah"), std::string::npos) << error.what();
  }
  EXPECT_THROW(bible_target_module("niv"), Error);
  EXPECT_EQ(bible_target_module("kjv"), "engKJV2006eb");
}

TEST(Bible, SplitOfBooks) {
  EXPECT_EQ(bible_split_of("1 John"), Split::Test);
  EXPECT_EQ(bible_split_of("Philippians"), Split::Test);
  EXPECT_EQ(bible_split_of("Titus"), Split::Valid);
  EXPECT_EQ(bible_split_of("2 John"), Split::Train);
  EXPECT_EQ(bible_split_of("Genesis"), Split::Train);
}

TEST(Bible, ExportWritesAlignedFilesAndAManifest) {
  BibleOptions options;
  options.books = {"Ruth", "Joel", "Obadiah"};
  BibleCorpus corpus = load_bible(options);
  testing::TemporaryDirectory directory("attn_bible_export");
  std::string out = (directory.path() / "bible").string();
  std::vector<std::string> written = export_bible(corpus, out);
  EXPECT_EQ(written.size(), 16u);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "manifest.json", "test.en", "test.en.markup", "test.es", "test.es.markup",
                       "test.ref", "train.en", "train.en.markup", "train.es", "train.es.markup",
                       "train.ref", "valid.en", "valid.en.markup", "valid.es", "valid.es.markup",
                       "valid.ref"}));  // and no temporary files left behind
  ParallelText test = load_parallel(out, Split::Test);
  ASSERT_EQ(test.source.size(), 85u);
  EXPECT_EQ(test.references.front(), "Ruth 1:1");
  EXPECT_EQ(test.target.front(), corpus.verses.front().target);
  EXPECT_EQ(read_lines(out + "/test.en.markup").front(), corpus.verses.front().target_markup);
  EXPECT_EQ(load_parallel(out, Split::Valid).source.size(), 73u);  // Joel
  EXPECT_EQ(load_parallel(out, Split::Train).references.front(), "Obadiah 1:1");
}

}  // namespace
}  // namespace attn::data
