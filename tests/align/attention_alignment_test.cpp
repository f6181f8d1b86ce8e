// Hard word alignments from attention over pieces: pieces to words, the argmax of each row
// without </s>, and the diagonal baseline, on hand-made inputs.
#include "attn/align/attention_alignment.h"

#include <gtest/gtest.h>

#include "attn/core/error.h"

namespace attn::align {
namespace {

TEST(WordOfPieces, WordStartsAtEachMarkAndReservedPiecesBelongToNone) {
  EXPECT_EQ(word_of_pieces({"\u2581Y", "\u2581AC", "ONT", "ECIÓ", "\u2581en", "</s>"}),
            (std::vector<std::int64_t>{0, 1, 1, 1, 2, -1}));
  // A first piece without the mark still starts a word; "▁" alone starts one too.
  EXPECT_EQ(word_of_pieces({"<s>", "ab", "\u2581", "¿", "c", "<unk>", "\u2581d"}),
            (std::vector<std::int64_t>{-1, 0, 1, 1, 1, 1, 2}));
  EXPECT_EQ(count_words(word_of_pieces({"\u2581a", "b", "\u2581c", "</s>"})), 2);
  EXPECT_EQ(count_words({}), 0);
}

TEST(HardAlignment, EachTargetPieceLinksItsArgmaxSourcePieceWithoutEndOfSentence) {
  // Source pieces ▁los ▁dí as </s> (words 0 1 1 -), target pieces ▁the ▁day s </s>
  // (words 0 1 1 -). Row 1 puts most weight on </s>; its best word piece is "as" (0.3).
  // Row 3 predicts </s> and links nothing.
  Tensor weights = Tensor::from_list({4, 4}, {0.6, 0.2, 0.1, 0.1,    //
                                              0.1, 0.2, 0.3, 0.4,    //
                                              0.2, 0.5, 0.2, 0.1,    //
                                              0.9, 0.0, 0.0, 0.1});
  Alignment links = hard_alignment(weights, {0, 1, 1, -1}, {0, 1, 1, -1});
  EXPECT_EQ(links, (Alignment{{0, 0}, {1, 1}}));
}

TEST(HardAlignment, TiesGoToTheFirstColumnAndWordsCanLinkSeveral) {
  // Two target words both attend to source word 1; the tie in row 0 picks column 0.
  Tensor weights = Tensor::from_list({3, 3}, {0.5, 0.5, 0.0,  //
                                              0.0, 1.0, 0.0,  //
                                              0.1, 0.8, 0.1});
  EXPECT_EQ(hard_alignment(weights, {0, 1, 2}, {0, 1, -1}),
            (Alignment{{0, 0}, {1, 1}, {1, 2}}));
}

TEST(HardAlignment, RejectsMismatchedSizesAndRowsWithoutASourceWord) {
  Tensor weights = Tensor::from_list({2, 2}, {0.5, 0.5, 0.5, 0.5});
  EXPECT_THROW(hard_alignment(weights, {0}, {0, 1}), Error);
  EXPECT_THROW(hard_alignment(weights, {0, 1}, {0, 1, 2}), Error);
  EXPECT_THROW(hard_alignment(Tensor::zeros({2, 2, 1}), {0, 1}, {0, 1}), Error);
  EXPECT_THROW(hard_alignment(weights, {0, 1}, {-1, -1}), Error);
  EXPECT_TRUE(hard_alignment(weights, {-1, -1}, {-1, -1}).empty());
}

TEST(DiagonalAlignment, LinksEachTargetWordToTheSourceWordAtTheSameRelativePosition) {
  // I = 3, J = 2: floor(0.5 * 3 / 2) = 0, floor(1.5 * 3 / 2) = 2.
  EXPECT_EQ(diagonal_alignment(3, 2), (Alignment{{0, 0}, {2, 1}}));
  // I = 2, J = 4: floor((j + 0.5) / 2) = 0, 0, 1, 1.
  EXPECT_EQ(diagonal_alignment(2, 4), (Alignment{{0, 0}, {0, 1}, {1, 2}, {1, 3}}));
  EXPECT_EQ(diagonal_alignment(3, 3), (Alignment{{0, 0}, {1, 1}, {2, 2}}));
  EXPECT_TRUE(diagonal_alignment(0, 3).empty());
  EXPECT_TRUE(diagonal_alignment(3, 0).empty());
  EXPECT_THROW(diagonal_alignment(-1, 2), Error);
}

}  // namespace
}  // namespace attn::align
