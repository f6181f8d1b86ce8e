// Shaded words: one box per piece shaded by weight / largest weight, pieces joined the way
// their tokenizer splits text, lines wrapped between words, and errors for bad input.
#include "attn/viz/weighted_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

template <typename ShapeType>
std::vector<ShapeType> shapes_with_role(const Drawing& drawing, const std::string& role) {
  std::vector<ShapeType> found;
  for (const Element& element : drawing.elements()) {
    if (const auto* typed = std::get_if<ShapeType>(&element); typed != nullptr && typed->css_class == role) {
      found.push_back(*typed);
    }
  }
  return found;
}

TEST(VizWeightedText, ShadesAreRelativeToTheLargestWeight) {
  const Drawing drawing = draw_weighted_text({"a", "fine", "film"}, {0.1, 0.4, 0.2}, {});
  const auto boxes = shapes_with_role<RectShape>(drawing, "word");
  ASSERT_EQ(boxes.size(), 3u);
  EXPECT_EQ(boxes[0].fill, scale_color(Palette::Reds, 0.25));
  EXPECT_EQ(boxes[1].fill, scale_color(Palette::Reds, 1.0));
  EXPECT_EQ(boxes[2].fill, scale_color(Palette::Reds, 0.5));
  EXPECT_EQ(boxes[1].tooltip, "fine: 0.4");
  const auto words = shapes_with_role<TextShape>(drawing, "word-text");
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[1].color, kWhite);  // on the darkest shade
  EXPECT_EQ(words[0].color, kBlack);
}

TEST(VizWeightedText, WordPiecesAreSeparatedBySpacesAndSentencePiecesJoinWithinWords) {
  WeightedTextOptions words;
  const auto word_boxes =
      shapes_with_role<RectShape>(draw_weighted_text({"no", "me"}, {1, 1}, words), "word");
  EXPECT_GT(word_boxes[1].x, word_boxes[0].x + word_boxes[0].width);  // a space between

  WeightedTextOptions pieces;
  pieces.join = PieceJoin::SentencePiece;
  const Drawing drawing = draw_weighted_text({"\u2581rue", "gues", "\u2581me"}, {0.5, 0.3, 0.2}, pieces);
  const auto boxes = shapes_with_role<RectShape>(drawing, "word");
  EXPECT_DOUBLE_EQ(boxes[1].x, boxes[0].x + boxes[0].width);  // "gues" continues "rue"
  EXPECT_GT(boxes[2].x, boxes[1].x + boxes[1].width);           // "▁me" starts a word
  std::vector<std::string> texts;
  for (const TextShape& text : shapes_with_role<TextShape>(drawing, "word-text")) texts.push_back(text.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"rue", "gues", "me"}));

  WeightedTextOptions characters;
  characters.join = PieceJoin::Characters;
  const Drawing chars = draw_weighted_text({"a", " ", "b"}, {1, 1, 1}, characters);
  EXPECT_EQ(shapes_with_role<RectShape>(chars, "word").size(), 3u);      // the space has a box
  EXPECT_EQ(shapes_with_role<TextShape>(chars, "word-text").size(), 2u);  // but no text
}

TEST(VizWeightedText, LongTextWrapsBetweenWordsWithinTheWidth) {
  std::vector<std::string> pieces;
  std::vector<double> weights;
  for (int i = 0; i < 60; ++i) {
    pieces.push_back("word" + std::to_string(i));
    weights.push_back(0.01 * (i % 7));
  }
  WeightedTextOptions options;
  options.width = 400;
  const Drawing drawing = draw_weighted_text(pieces, weights, options);
  const auto boxes = shapes_with_role<RectShape>(drawing, "word");
  ASSERT_EQ(boxes.size(), 60u);
  int lines = 1;
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    EXPECT_LE(boxes[i].x + boxes[i].width, options.width - 16 + 1e-9) << "box " << i;
    if (i > 0 && boxes[i].y > boxes[i - 1].y) ++lines;
  }
  EXPECT_GT(lines, 3);
  EXPECT_GT(drawing.height(), boxes.back().y + boxes.back().height);  // room for the legend
}

TEST(VizWeightedText, BadInputIsAnErrorNamingIt) {
  EXPECT_THROW(draw_weighted_text({}, {}, {}), Error);
  try {
    draw_weighted_text({"a", "b"}, {0.5}, {});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected one weight per piece (2), got 1"), std::string::npos);
  }
  EXPECT_THROW(draw_weighted_text({"a"}, {-0.5}, {}), Error);
}

TEST(VizWeightedText, JoinFollowsTheTokenizerKind) {
  EXPECT_EQ(piece_join_for(text::TokenizerKind::kSentencePiece), PieceJoin::SentencePiece);
  EXPECT_EQ(piece_join_for(text::TokenizerKind::kWord), PieceJoin::Words);
  EXPECT_EQ(piece_join_for(text::TokenizerKind::kChar), PieceJoin::Characters);
}

}  // namespace
}  // namespace attn::viz
