// Gold alignments from Strong's numbers on hand-written markup: which pairs are possible,
// which are sure, and which words are tagged.
#include "attn/align/gold.h"

#include <gtest/gtest.h>

#include "attn/core/error.h"

namespace attn::align {
namespace {

// Source words: 0 Y, 1 aconteció, 2 en, 3 los, 4 días, 5 que, 6 gobernaban, 7 los, 8 jueces,
// 9 hambre.   Target words: 0 Now, 1 it, 2 came, 3 to, 4 pass, 5 in, 6 the, 7 days, 8 when,
// 9 the, 10 judges, 11 ruled, 12 that, 13 there, 14 was, 15 a, 16 famine.
constexpr const char* kSpanish =
    "<w lemma=\"strong:H1961\">Y aconteció</w> <w lemma=\"strong:H3117\">en los días</w> "
    "<w lemma=\"strong:H8199\">que gobernaban</w> <w lemma=\"strong:H8199\">los jueces</w>, "
    "<w lemma=\"strong:H7458\">hambre</w>";
constexpr const char* kEnglish =
    "Now it came to pass in the <w lemma=\"strong:H3117\">days</w> when the "
    "<w lemma=\"strong:H8199\">judges</w> <w lemma=\"strong:H8199\">ruled</w>, that there was a "
    "<w lemma=\"strong:H7458\">famine</w><note placement=\"foot\">ruled: "
    "<w lemma=\"strong:H7458\">Heb.</w> judged</note>";

TEST(GoldAlignment, SureForOneWordAgainstOneElementPossibleForTheRest) {
  GoldAlignment gold = gold_alignment(kSpanish, kEnglish);
  ASSERT_EQ(gold.source_words.size(), 10u);
  ASSERT_EQ(gold.target_words.size(), 17u);  // the footnote is not verse text
  EXPECT_EQ(gold.source_words[4], "días");
  EXPECT_EQ(gold.target_words[11], "ruled,");
  // H1961 has no English word; H3117: "en los días" -> "days", the element's last word sure;
  // H8199: two Spanish and two English elements, all possible; H7458: one word each, sure.
  EXPECT_EQ(gold.sure, (Alignment{{4, 7}, {9, 16}}));
  Alignment possible{{2, 7}, {3, 7}, {4, 7}, {9, 16}};
  for (std::int64_t source : {5, 6, 7, 8}) {
    for (std::int64_t target : {10, 11}) possible.push_back({source, target});
  }
  EXPECT_EQ(gold.possible, make_alignment(possible));
  EXPECT_EQ(gold.source_tagged, std::vector<bool>(10, true));
  std::vector<bool> target_tagged(17, false);
  for (int i : {7, 10, 11, 16}) target_tagged[i] = true;
  EXPECT_EQ(gold.target_tagged, target_tagged);
}

TEST(GoldAlignment, RepeatedNumbersGiveOnlyPossibleLinks) {
  // "nombre" twice apart on the Spanish side, "name" once: no sure link.
  GoldAlignment gold = gold_alignment(
      "<w lemma=\"strong:H8034\">nombre</w> <w lemma=\"strong:H0376\">varón</w> "
      "<w lemma=\"strong:H8034\">nombre</w>",
      "the <w lemma=\"strong:H8034\">name</w> of the <w lemma=\"strong:H0376\">man</w>");
  EXPECT_EQ(gold.sure, (Alignment{{1, 4}}));
  EXPECT_EQ(gold.possible, (Alignment{{0, 1}, {1, 4}, {2, 1}}));
}

TEST(GoldAlignment, AWordWithTwoNumbersAndAnEnglishElementOfTwoWords) {
  // 0 Jesucristo {G2424, G5547}, 1 el, 2 Hijo {G5207}; 0 Jesus 1 Christ 2 the 3 Son
  GoldAlignment gold = gold_alignment(
      "<w lemma=\"strong:G2424 strong:G5547\">Jesucristo</w> el <w lemma=\"strong:G5207\">Hijo</w>",
      "<w lemma=\"strong:G2424\">Jesus</w> <w lemma=\"strong:G5547\">Christ</w> "
      "<w lemma=\"strong:G5207\">the Son</w>");
  EXPECT_EQ(gold.sure, (Alignment{{0, 0}, {0, 1}, {2, 3}}));
  EXPECT_EQ(gold.possible, (Alignment{{0, 0}, {0, 1}, {2, 2}, {2, 3}}));
  EXPECT_EQ(gold.source_tagged, (std::vector<bool>{true, false, true}));
}

TEST(GoldAlignment, UntaggedVersesHaveNoLinks) {
  GoldAlignment gold =
      gold_alignment("y dijo", "<transChange type=\"added\">and</transChange> said");
  EXPECT_EQ(gold.source_words.size(), 2u);
  EXPECT_EQ(gold.target_words.size(), 2u);
  EXPECT_TRUE(gold.sure.empty());
  EXPECT_TRUE(gold.possible.empty());
  EXPECT_TRUE(gold_alignment("", "").source_words.empty());
}

TEST(GoldAlignment, ScoringKeepsLinksBetweenTaggedWordsOnly) {
  GoldAlignment gold = gold_alignment(kSpanish, kEnglish);
  // (0, 0): "Now" is untagged; (4, 7) and (1, 16) join tagged words.
  Alignment kept = links_between_tagged_words({{0, 0}, {1, 16}, {4, 7}}, gold);
  EXPECT_EQ(kept, (Alignment{{1, 16}, {4, 7}}));
  EXPECT_THROW(links_between_tagged_words({{10, 0}}, gold), Error);
  EXPECT_THROW(links_between_tagged_words({{0, 17}}, gold), Error);
}

TEST(GoldAlignment, MakeAlignmentSortsAndDropsRepeats) {
  EXPECT_EQ(make_alignment({{2, 1}, {0, 3}, {2, 1}, {0, 1}}), (Alignment{{0, 1}, {0, 3}, {2, 1}}));
}

}  // namespace
}  // namespace attn::align
