// A figure as a list of shapes (elements) in pixel coordinates (origin top left, y down), built by the
// layouts (heatmap.h, weighted_text.h, line_plot.h) and rendered by two backends: SVG text
// (svg.h) and PNG through cairo (png.h). Layout happens once, here, so both files show the
// same figure.
//
// Text is set in DejaVu Sans. Layouts measure it with text_width(), from the font's advance
// widths compiled into attn, so an SVG is laid out the same on every machine whatever fonts
// it has installed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "attn/viz/color.h"

namespace attn::viz {

struct Point {
  double x = 0, y = 0;
};

struct Font {
  double size = 12;  // pixels (the em size)
  bool bold = false;
};

enum class TextAnchor { Start, Middle, End };

// Every shape has a role, `css_class`: the SVG writes it as the class of the element (or of
// the group of consecutive shapes with the same role), so a stylesheet or a test can find
// the cells, labels or series of a figure.
struct RectShape {
  double x = 0, y = 0, width = 0, height = 0;
  Color fill = kWhite;
  std::optional<Color> stroke{};  // an outline of stroke_width pixels, centred on the edge
  double stroke_width = 1;
  std::string css_class{};
  std::string tooltip{};  // shown on hover in an SVG viewer; not drawn
};

struct TextShape {
  Point at;  // the anchor point on the baseline
  std::string text{};  // UTF-8
  Font font;
  Color color = kBlack;
  TextAnchor anchor = TextAnchor::Start;
  double rotation_degrees = 0;  // about `at`, clockwise as in SVG (-90: reads upwards)
  std::string css_class{};
};

struct LineShape {
  std::vector<Point> points{};  // a polyline through the points
  Color color = kBlack;
  double width = 1;
  bool dashed = false;
  std::string css_class{};
};

struct CircleShape {
  Point center;
  double radius = 3;
  Color fill = kBlack;
  std::string css_class{};
};

using Element = std::variant<RectShape, TextShape, LineShape, CircleShape>;

class Drawing {
 public:
  // A width x height pixel canvas on a white background; both must be positive.
  Drawing(double width, double height);

  void add(Element element) { elements_.push_back(std::move(element)); }

  double width() const { return width_; }
  double height() const { return height_; }
  const std::vector<Element>& elements() const { return elements_; }

  // The figure's title for an SVG viewer (the SVG's <title>); not drawn.
  std::string title;

 private:
  double width_, height_;
  std::vector<Element> elements_;
};

// The advance width of `text` in DejaVu Sans (regular or bold) at font.size pixels. Code
// points the compiled-in table lacks count as 0.6 em, East Asian wide ones as 1 em. Invalid
// UTF-8 bytes count as one replacement character each.
double text_width(std::string_view text, const Font& font);

// The baseline that centres a line of capitals and lowercase letters on `center_y`.
double baseline_for_center(double center_y, const Font& font);

// `text` with invalid UTF-8 bytes, control characters and the characters XML 1.0 forbids
// replaced by U+FFFD (tabs become spaces): safe in an SVG and in cairo. The renderers apply
// it to every text shape.
std::string printable_text(std::string_view text);

// `text` cut to at most `max_width` pixels, ending in "…" when cut.
std::string fit_text(std::string_view text, const Font& font, double max_width);

}  // namespace attn::viz
