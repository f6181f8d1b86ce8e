// Alignment error rate, precision and recall (Och and Ney 2003) on a hand-made gold set with
// the values worked out by hand.
#include "attn/align/aer.h"

#include <gtest/gtest.h>

#include "attn/core/error.h"

namespace attn::align {
namespace {

// Sentence 1: S = {(0,0), (1,1)}, P = S + {(1,2), (2,2)}, A = {(0,0), (1,2), (2,1)}
//   |A| = 3, |S| = 2, |A∩S| = 1 ((0,0)), |A∩P| = 2 ((0,0), (1,2))
//   precision 2/3, recall 1/2, AER = 1 - (1 + 2) / (3 + 2) = 2/5
// Sentence 2: S = {(0,0)}, P = {(0,0), (0,1)}, A = {(0,0), (0,1)}
//   |A| = 2, |S| = 1, |A∩S| = 1, |A∩P| = 2
// Corpus: |A| = 5, |S| = 3, |A∩S| = 2, |A∩P| = 4
//   precision 4/5, recall 2/3, AER = 1 - (2 + 4) / (5 + 3) = 1/4
struct HandMadeCorpus {
  GoldAlignment first{{"a", "b", "c"}, {"x", "y", "z"}, {true, true, true}, {true, true, true},
                      {{0, 0}, {1, 1}}, {{0, 0}, {1, 1}, {1, 2}, {2, 2}}};
  Alignment first_hypothesis{{0, 0}, {1, 2}, {2, 1}};
  GoldAlignment second{{"a"}, {"x", "y"}, {true}, {true, true}, {{0, 0}}, {{0, 0}, {0, 1}}};
  Alignment second_hypothesis{{0, 0}, {0, 1}};
};

TEST(AlignmentErrorRate, OneSentenceByHand) {
  HandMadeCorpus corpus;
  AlignmentCounts counts = count_links(corpus.first_hypothesis, corpus.first);
  EXPECT_EQ(counts.hypothesis, 3);
  EXPECT_EQ(counts.sure, 2);
  EXPECT_EQ(counts.possible, 4);
  EXPECT_EQ(counts.hypothesis_sure, 1);
  EXPECT_EQ(counts.hypothesis_possible, 2);
  EXPECT_DOUBLE_EQ(counts.precision(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(counts.recall(), 0.5);
  EXPECT_DOUBLE_EQ(counts.alignment_error_rate(), 0.4);
}

TEST(AlignmentErrorRate, CorpusSumsTheCountsBeforeTheRatios) {
  HandMadeCorpus corpus;
  AlignmentCounts counts;
  counts.add(corpus.first_hypothesis, corpus.first.sure, corpus.first.possible);
  counts += count_links(corpus.second_hypothesis, corpus.second);
  EXPECT_EQ(counts.hypothesis, 5);
  EXPECT_EQ(counts.sure, 3);
  EXPECT_EQ(counts.hypothesis_sure, 2);
  EXPECT_EQ(counts.hypothesis_possible, 4);
  EXPECT_DOUBLE_EQ(counts.precision(), 0.8);
  EXPECT_DOUBLE_EQ(counts.recall(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(counts.alignment_error_rate(), 0.25);
}

TEST(AlignmentErrorRate, SureLinksAloneScoreZeroAndPossibleLinksCostNoPrecision) {
  HandMadeCorpus corpus;
  EXPECT_DOUBLE_EQ(count_links(corpus.first.sure, corpus.first).alignment_error_rate(), 0.0);
  AlignmentCounts all_possible = count_links(corpus.first.possible, corpus.first);
  EXPECT_DOUBLE_EQ(all_possible.precision(), 1.0);
  EXPECT_DOUBLE_EQ(all_possible.recall(), 1.0);
  // 1 - (2 + 4) / (4 + 2) = 0: possible links beyond the sure ones are never wrong.
  EXPECT_DOUBLE_EQ(all_possible.alignment_error_rate(), 0.0);
}

TEST(AlignmentErrorRate, EmptySetsCountAsZeroRatios) {
  HandMadeCorpus corpus;
  AlignmentCounts empty_hypothesis = count_links({}, corpus.first);
  EXPECT_DOUBLE_EQ(empty_hypothesis.precision(), 0.0);
  EXPECT_DOUBLE_EQ(empty_hypothesis.recall(), 0.0);
  EXPECT_DOUBLE_EQ(empty_hypothesis.alignment_error_rate(), 1.0);
  AlignmentCounts nothing;
  EXPECT_DOUBLE_EQ(nothing.alignment_error_rate(), 1.0);
}

TEST(AlignmentErrorRate, RejectsSureLinksOutsideThePossibleAndUnsortedLinks) {
  AlignmentCounts counts;
  EXPECT_THROW(counts.add({}, {{0, 0}}, {{0, 1}}), Error);
  EXPECT_THROW(counts.add({{1, 0}, {0, 0}}, {}, {}), Error);
  EXPECT_THROW(counts.add({{0, 0}, {0, 0}}, {}, {}), Error);
  EXPECT_EQ(counts.hypothesis, 0);  // nothing was counted
}

}  // namespace
}  // namespace attn::align
