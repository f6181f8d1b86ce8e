#include "attn/data/verse_alignment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "attn/core/error.h"

namespace attn::data {
namespace {

using Numbers = std::vector<std::string>;

// Verse i of a made-up book carries the numbers H{10i}..H{10i+4}: five of its own.
Numbers verse_numbers(int i) {
  Numbers numbers;
  for (int k = 0; k < 5; ++k) numbers.push_back("H" + std::to_string(1000 + 10 * i + k));
  return numbers;
}

std::vector<Numbers> book(int verses) {
  std::vector<Numbers> all;
  for (int i = 0; i < verses; ++i) all.push_back(verse_numbers(i));
  return all;
}

TEST(VerseAlignment, AlignedVersesPass) {
  std::vector<Numbers> reference = book(20), source = book(20);
  source[3].pop_back();  // translations differ a little
  source[7].push_back("H9999");
  EXPECT_EQ(misaligned_verses(source, reference), std::vector<bool>(20, false));
}

TEST(VerseAlignment, AShiftedPassageIsFoundAndItsMergedEndToo) {
  // Source verses 10..14 hold reference verses 9..13; source 15 holds 14 and 15 together.
  std::vector<Numbers> reference = book(20), source = book(20);
  for (int i = 10; i <= 14; ++i) source[i] = verse_numbers(i - 1);
  Numbers both = verse_numbers(14);
  for (const std::string& number : verse_numbers(15)) both.push_back(number);
  std::sort(both.begin(), both.end());
  source[15] = both;
  source[9] = {};  // its text moved to verse 10: empty, so not judged here
  std::vector<bool> expected(20, false);
  for (int i = 10; i <= 15; ++i) expected[i] = true;
  EXPECT_EQ(misaligned_verses(source, reference), expected);
}

TEST(VerseAlignment, AFarShiftAndUnrelatedText) {
  std::vector<Numbers> reference = book(30), source = book(30);
  source[20] = verse_numbers(25);        // five verses away, as in Job 40
  source[5] = {"G1", "G2", "G3", "G4"};  // nothing in common with anything
  std::vector<bool> flags = misaligned_verses(source, reference);
  EXPECT_TRUE(flags[20]);
  EXPECT_TRUE(flags[5]);
  EXPECT_EQ(std::count(flags.begin(), flags.end(), true), 2);
}

TEST(VerseAlignment, SparselyTaggedVersesAreNotJudged) {
  std::vector<Numbers> reference = book(5), source = book(5);
  source[2] = {"H1040", "H1041"};  // two numbers only: too few to judge
  reference[3] = {};               // untagged
  EXPECT_EQ(misaligned_verses(source, reference), std::vector<bool>(5, false));
  EXPECT_THROW(misaligned_verses(book(3), book(4)), Error);
}

}  // namespace
}  // namespace attn::data
