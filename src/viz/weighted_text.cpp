#include "attn/viz/weighted_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

constexpr double kMargin = 16;
constexpr double kPadding = 1.5;  // inside each box, left and right
constexpr double kLegendWidth = 160;
constexpr const char* kWordMark = "\u2581";  // SentencePiece's "▁"
const Color kMutedText{0x44, 0x44, 0x44};
const Color kFrameColor{0xb0, 0xb0, 0xb0};

// A piece as drawn: its text and whether a space separates it from the piece before.
struct Item {
  std::string text;
  double weight = 0;
  bool starts_word = false;
};

bool is_blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

Item item_of(const std::string& piece, double weight, PieceJoin join, bool first) {
  switch (join) {
    case PieceJoin::Words: return {piece, weight, !first};
    case PieceJoin::Characters: return {is_blank(piece) ? "" : piece, weight, false};
    case PieceJoin::WordPiece:
      if (!first && piece.rfind("##", 0) == 0) return {piece.substr(2), weight, false};
      return {piece, weight, !first};
    case PieceJoin::SentencePiece: break;
  }
  const std::string mark = kWordMark;
  if (piece.rfind(mark, 0) == 0) return {piece.substr(mark.size()), weight, !first};
  return {piece, weight, false};
}

double line_height(const WeightedTextOptions& options) { return std::round(options.font_size * 1.6); }

double box_width(const Item& item, const Font& font) {
  // An empty piece (a lone "▁" or a space) still gets a box a space wide, to show its weight.
  const double width = item.text.empty() ? text_width(" ", font) : text_width(item.text, font);
  return width + 2 * kPadding;
}

// The width of the word starting at items[begin]: it and the pieces that continue it.
double word_width(const std::vector<Item>& items, std::size_t begin, const Font& font) {
  double width = box_width(items[begin], font);
  for (std::size_t i = begin + 1; i < items.size() && !items[i].starts_word; ++i) {
    width += box_width(items[i], font);
  }
  return width;
}

std::string weight_text(double weight) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", weight);
  return text;
}

// Where each piece's box goes: left to right from `top`, wrapping between words.
struct Box {
  double x = 0, y = 0, width = 0;
};

std::vector<Box> layout_boxes(const std::vector<Item>& items, double top, const WeightedTextOptions& options) {
  const Font font{options.font_size, false};
  const double right = options.width - kMargin;
  const double space = text_width(" ", font);
  std::vector<Box> boxes;
  double x = kMargin, y = top;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].starts_word) {
      x += space;
      if (x + word_width(items, i, font) > right && x > kMargin + space) {
        x = kMargin;
        y += line_height(options) + 4;
      }
    }
    boxes.push_back({x, y, box_width(items[i], font)});
    x += boxes.back().width;
  }
  return boxes;
}

// The boxes first, then the texts, so each kind forms one SVG group.
void add_words(Drawing& drawing, const std::vector<Item>& items, const std::vector<Box>& boxes,
               const std::vector<std::string>& pieces, double largest, const WeightedTextOptions& options) {
  const Font font{options.font_size, false};
  const double height = line_height(options);
  std::vector<Color> fills;
  for (std::size_t i = 0; i < items.size(); ++i) {
    fills.push_back(scale_color(options.palette, largest > 0 ? items[i].weight / largest : 0.0));
    drawing.add(RectShape{.x = boxes[i].x, .y = boxes[i].y, .width = boxes[i].width, .height = height,
                          .fill = fills.back(), .css_class = "word",
                          .tooltip = pieces[i] + ": " + weight_text(items[i].weight)});
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].text.empty()) continue;
    drawing.add(TextShape{.at = {boxes[i].x + kPadding, baseline_for_center(boxes[i].y + height / 2, font)},
                          .text = items[i].text, .font = font, .color = text_color_on(fills[i]),
                          .css_class = "word-text"});
  }
}

double header_height(const WeightedTextOptions& options) {
  double height = 0;
  if (!options.title.empty()) height += 15 + 8;
  if (!options.caption.empty()) height += 13 + 8;
  return height > 0 ? height + 6 : 0;
}

void add_header(Drawing& drawing, const WeightedTextOptions& options) {
  double y = kMargin;
  if (!options.title.empty()) {
    y += 15;
    drawing.add(TextShape{.at = {kMargin, y}, .text = fit_text(options.title, {15, true}, options.width - 2 * kMargin),
                          .font = {15, true}, .css_class = "title"});
    y += 8;
  }
  if (!options.caption.empty()) {
    y += 13;
    drawing.add(TextShape{.at = {kMargin, y}, .text = fit_text(options.caption, {13, false}, options.width - 2 * kMargin),
                          .font = {13, false},
                          .color = kMutedText, .css_class = "caption"});
  }
}

// A gradient from 0 to the largest weight, under the text.
void add_legend(Drawing& drawing, double top, double largest, Palette palette) {
  const Font font{11, false};
  const std::string lead = "weight 0";
  double x = kMargin;
  const double center = top + 7;
  drawing.add(TextShape{.at = {x, baseline_for_center(center, font)}, .text = lead, .font = font,
                        .color = kMutedText, .css_class = "legend-text"});
  x += text_width(lead, font) + 6;
  constexpr int kSteps = 32;
  for (int i = 0; i < kSteps; ++i) {
    drawing.add(RectShape{.x = x + i * kLegendWidth / kSteps, .y = top, .width = kLegendWidth / kSteps,
                          .height = 14, .fill = scale_color(palette, (i + 0.5) / kSteps),
                          .css_class = "legend"});
  }
  drawing.add(LineShape{.points = {{x, top}, {x + kLegendWidth, top}, {x + kLegendWidth, top + 14},
                                   {x, top + 14}, {x, top}},
                        .color = kFrameColor, .width = 0.5, .css_class = "frame"});
  drawing.add(TextShape{.at = {x + kLegendWidth + 6, baseline_for_center(center, font)},
                        .text = weight_text(largest) + " (the largest)", .font = font,
                        .color = kMutedText, .css_class = "legend-text"});
}

void check_inputs(const std::vector<std::string>& pieces, const std::vector<double>& weights,
                  const WeightedTextOptions& options) {
  ATTN_CHECK(!pieces.empty(), "weighted text: expected at least one piece");
  ATTN_CHECK(pieces.size() == weights.size(), "weighted text: expected one weight per piece (",
             pieces.size(), "), got ", weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    ATTN_CHECK(std::isfinite(weights[i]) && weights[i] >= 0, "weighted text: weight ", i,
               " expected finite and >= 0, got ", weights[i]);
  }
  ATTN_CHECK(options.font_size > 0 && options.width >= 4 * options.font_size + 2 * kMargin,
             "weighted text: the width (", options.width, ") is too small for the font size (",
             options.font_size, ")");
}

}  // namespace

PieceJoin piece_join_for(text::TokenizerKind kind) {
  switch (kind) {
    case text::TokenizerKind::kSentencePiece: return PieceJoin::SentencePiece;
    case text::TokenizerKind::kChar: return PieceJoin::Characters;
    case text::TokenizerKind::kWord: return PieceJoin::Words;
    case text::TokenizerKind::kWordPiece: return PieceJoin::WordPiece;
  }
  return PieceJoin::Words;
}

Drawing draw_weighted_text(const std::vector<std::string>& pieces, const std::vector<double>& weights,
                           const WeightedTextOptions& options) {
  check_inputs(pieces, weights, options);
  std::vector<Item> items;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    items.push_back(item_of(pieces[i], weights[i], options.join, i == 0));
  }
  const double largest = *std::max_element(weights.begin(), weights.end());
  const double top = kMargin + header_height(options);
  const std::vector<Box> boxes = layout_boxes(items, top, options);
  const double bottom = boxes.back().y + line_height(options);
  Drawing drawing(options.width, std::ceil(bottom + 12 + 14 + kMargin));
  drawing.title = options.title;
  add_header(drawing, options);
  add_words(drawing, items, boxes, pieces, largest, options);
  add_legend(drawing, bottom + 12, largest, options.palette);
  return drawing;
}

}  // namespace attn::viz
