// OSIS verse markup -> plain text and Strong's-tagged words, on entries shaped like those of
// the installed modules (the real modules are read in bible_test.cpp).
#include "attn/data/osis.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace attn::data {
namespace {

std::string joined(const std::vector<StrongsWord>& words) {
  std::string text;
  for (const StrongsWord& word : words) text += (text.empty() ? "" : " ") + word.text;
  return text;
}

TEST(Osis, StripsTagsAndFootnotesAndNormalizesSpace) {
  std::string markup =
      "Now it came to pass in the <w lemma=\"strong:H3117\">days</w> when the "
      "<w lemma=\"strong:H8199\">judges</w>  <w lemma=\"strong:H8199\">ruled</w>,\n that "
      "<transChange type=\"added\">there was</transChange> a famine.<note placement=\"foot\">"
      "<reference type=\"annotateRef\">1.1 </reference>ruled: Heb. judged</note>";
  EXPECT_EQ(osis_plain_text(markup),
            "Now it came to pass in the days when the judges ruled, that there was a famine.");
}

TEST(Osis, KeepsCanonicalPsalmTitlesAndDropsHeadings) {
  std::string markup =
      "<div type=\"x-milestone\" subType=\"x-preverse\" sID=\"pv1\"/><title canonical=\"true\" "
      "type=\"psalm\">A <w lemma=\"strong:H4210\">Psalm</w> of David.</title> <lg sID=\"g1\"/>"
      "<l level=\"1\" sID=\"g2\"/><title><foreign>BETH.</foreign></title>Hear me."
      "<l eID=\"g2\" level=\"1\"/><l level=\"2\" sID=\"g3\"/>Have mercy.";
  EXPECT_EQ(osis_plain_text(markup), "A Psalm of David. Hear me. Have mercy.");
}

TEST(Osis, DropsParagraphSignsStrayMarkersAndSpeakers) {
  EXPECT_EQ(osis_plain_text("\xC2\xB6 And God said, Let there be light."),
            "And God said, Let there be light.");
  EXPECT_EQ(osis_plain_text("Because the \\nd <w lemma=\"strong:H3050\">LORD</w></divineName> "
                            "hath sworn"),
            "Because the LORD hath sworn");
  EXPECT_EQ(osis_plain_text("<speaker>Beloved</speaker> <l level=\"1\" sID=\"a\"/>Let him kiss me"),
            "Let him kiss me");
}

TEST(Osis, CapitalizesTheDivineNameButNotItsPossessive) {
  EXPECT_EQ(osis_plain_text("I meet <transChange type=\"added\">the <seg type=\"x-nested\">"
                            "<divineName>Lord</divineName></seg></transChange> yonder."),
            "I meet the LORD yonder.");
  EXPECT_EQ(osis_plain_text("the <divineName>LORD\xE2\x80\x99s</divineName> house"),
            "the LORD\xE2\x80\x99s house");
}

TEST(Osis, ADroppedNoteSeparatesWordsButNotPunctuation) {
  // As the WEB writes them: a footnote glued between two words, and one before ");".
  EXPECT_EQ(osis_plain_text("<w lemma=\"strong:H0430\">God</w><note placement=\"foot\">Elohim"
                            "</note><w lemma=\"strong:H1254\">created</w> the heavens"),
            "God created the heavens");
  EXPECT_EQ(osis_plain_text("(twenty <w lemma=\"strong:H1626\">gerahs</w><note placement=\"foot\">"
                            "a gerah is 0.5 grams</note>); half"),
            "(twenty gerahs); half");
}

TEST(Osis, DecodesEntitiesAndStopsAtTheEndOfTheBook) {
  EXPECT_EQ(osis_plain_text("bread &amp; wine &lt;ok&gt; &#233;l &#x00E9;l"),
            "bread & wine <ok> \xC3\xA9l \xC3\xA9l");
  EXPECT_EQ(osis_plain_text("be with all the saints. Amen. <chapter eID=\"Rev.22\"/> <div "
                            "canonical=\"true\" eID=\"g9\" osisID=\"Rev\" type=\"book\"/> <div "
                            "sID=\"g10\" type=\"glossary\"/> Abaddon Abaddon is Hebrew"),
            "be with all the saints. Amen.");
}

TEST(Osis, EmptyOrTagOnlyEntriesGiveEmptyText) {
  EXPECT_EQ(osis_plain_text(""), "");
  EXPECT_EQ(osis_plain_text("  <div type=\"x-p\" sID=\"a\"/> <note>only a note</note> "), "");
  EXPECT_TRUE(osis_strongs_words("<note>x</note>").empty());
}

TEST(Osis, WordsCarryTheStrongsNumbersOfTheirElements) {
  std::string markup =
      "<w lemma=\"strong:H1961\">Y ACONTECI\xC3\x93</w> <w lemma=\"strong:H3117\">en los "
      "d\xC3\xAD"
      "as</w> que <w lemma=\"strong:H8199\">gobernaban</w>, <w lemma=\"strong:G2424 "
      "G0846\">Jes\xC3\xBAs</w> <w savlm=\"strong:H0776\">tierra</w>";
  std::vector<StrongsWord> words = osis_strongs_words(markup);
  ASSERT_EQ(words.size(), 9u);
  EXPECT_EQ(words[0].text, "Y");
  EXPECT_EQ(words[0].strongs, std::vector<std::string>{"H1961"});
  EXPECT_EQ(words[1].strongs, std::vector<std::string>{"H1961"});
  EXPECT_EQ(words[3].text, "los");
  EXPECT_EQ(words[3].strongs, std::vector<std::string>{"H3117"});
  EXPECT_EQ(words[5].text, "que");
  EXPECT_TRUE(words[5].strongs.empty());
  EXPECT_EQ(words[6].text, "gobernaban,");  // the comma joins the tagged word
  EXPECT_EQ(words[6].strongs, std::vector<std::string>{"H8199"});
  EXPECT_EQ(words[7].strongs, (std::vector<std::string>{"G2424", "G0846"}));
  EXPECT_EQ(words[8].strongs, std::vector<std::string>{"H0776"});  // savlm= as SWORD renders it
  EXPECT_EQ(joined(words), osis_plain_text(markup));
}

TEST(Osis, AWordSpanningTwoElementsGetsBothNumbers) {
  std::vector<StrongsWord> words =
      osis_strongs_words("<w lemma=\"strong:H1\">Beth</w><w lemma=\"strong:H2\">-lehem</w>");
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0].text, "Beth-lehem");
  EXPECT_EQ(words[0].strongs, (std::vector<std::string>{"H1", "H2"}));
}

TEST(Osis, ToleratesUnbalancedAndTruncatedTags) {
  EXPECT_EQ(osis_plain_text("a </w></divineName> b <q marker=\"\">c"), "a b c");
  EXPECT_EQ(osis_plain_text("a <w lemma=\"strong:H1\">b</w> <note>never closed"), "a b");
  EXPECT_EQ(osis_plain_text("a b <w lemma=\"strong"), "a b");
}

}  // namespace
}  // namespace attn::data
