// Text with each piece on a background shaded by its weight: a classifier's attention over
// the words it read, drawn as in the seeds' IMDB example (every word highlighted in
// proportion to its weight). Shades are relative to the largest weight, so the most
// attended piece is always the darkest; the legend gives that weight.
//
// Roles: "word" (the shaded boxes, each with a tooltip "piece: weight"), "word-text", "title",
// "caption", "legend", "legend-text".
#pragma once

#include <string>
#include <vector>

#include "attn/text/tokenizer.h"
#include "attn/viz/color.h"
#include "attn/viz/drawing.h"

namespace attn::viz {

// How pieces join into text:
//   Words          every piece is a word, separated by spaces (word tokenizers);
//   SentencePiece  a leading "▁" starts a word (drawn as a space), other pieces continue
//                  the word before them;
//   Characters     pieces join without spaces; a whitespace piece is a blank box.
//   WordPiece      a piece starting "##" continues the word before it (the "##" dropped);
//                  other pieces start words.
enum class PieceJoin { Words, SentencePiece, Characters, WordPiece };

PieceJoin piece_join_for(text::TokenizerKind kind);

struct WeightedTextOptions {
  std::string title;
  std::string caption;  // a line under the title, e.g. the predicted label and probability
  Palette palette = Palette::Reds;
  double width = 720;    // the figure's width in pixels; lines wrap between words to fit
  double font_size = 16;
  PieceJoin join = PieceJoin::Words;
};

// One box per piece (pieces and weights the same length, at least one; weights finite and
// not negative).
Drawing draw_weighted_text(const std::vector<std::string>& pieces, const std::vector<double>& weights,
                           const WeightedTextOptions& options);

}  // namespace attn::viz
