// Line plots: tick values and labels as known answers, a series broken at missing values,
// markers for sparse series, panels sharing the x axis, and colours unique across panels.
#include "attn/viz/line_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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

std::vector<std::string> texts(const std::vector<TextShape>& shapes) {
  std::vector<std::string> out;
  for (const TextShape& shape : shapes) out.push_back(shape.text);
  return out;
}

TEST(VizLinePlot, NiceTicksUseOneTwoOrFiveTimesAPowerOfTen) {
  EXPECT_EQ(nice_ticks(0, 486, 6), (std::vector<double>{0, 100, 200, 300, 400, 500}));
  EXPECT_EQ(nice_ticks(3.8, 8.4, 5), (std::vector<double>{3, 4, 5, 6, 7, 8, 9}));
  const std::vector<double> small = nice_ticks(0.013, 0.042, 5);
  ASSERT_EQ(small.size(), 8u);  // about 0.0058 per interval rounds to a step of 0.005
  EXPECT_NEAR(small.front(), 0.01, 1e-12);
  EXPECT_NEAR(small[1] - small[0], 0.005, 1e-12);
  EXPECT_NEAR(small.back(), 0.045, 1e-12);
  // A constant series still gets an axis around its value.
  const std::vector<double> flat = nice_ticks(2, 2, 5);
  EXPECT_LE(flat.front(), 2);
  EXPECT_GE(flat.back(), 2);
  EXPECT_GT(flat.size(), 1u);
  EXPECT_THROW(nice_ticks(1, 0, 5), Error);
}

TEST(VizLinePlot, TickLabelsCarryTheDecimalsTheStepNeedsAndSuffixes) {
  EXPECT_EQ(tick_label(300, 100), "300");
  EXPECT_EQ(tick_label(0.25, 0.05), "0.25");
  EXPECT_EQ(tick_label(0.3, 0.1), "0.3");
  EXPECT_EQ(tick_label(2.5, 0.5), "2.5");
  EXPECT_EQ(tick_label(20000, 5000), "20k");
  EXPECT_EQ(tick_label(1500000, 500000), "1.5M");
  EXPECT_EQ(tick_label(2000000, 1000000), "2M");
  EXPECT_EQ(tick_label(-0.0, 0.5), "0.0");
}

TEST(VizLinePlot, MissingValuesBreakTheLineAndMarkersMarkEachPoint) {
  PlotPanel panel{.y_label = "loss", .series = {}};
  panel.series.push_back(Series{.name = "train", .points = {{0, 5}, {1, 4}, {2, kNaN}, {3, 3}, {4, 2}}});
  panel.series.push_back(Series{.name = "valid", .points = {{2, 4.5}, {4, 2.5}}, .markers = true});
  const Drawing drawing = draw_line_plots({panel}, {});
  const auto lines = shapes_with_role<LineShape>(drawing, "series");
  ASSERT_EQ(lines.size(), 3u);  // train in two pieces, valid in one
  EXPECT_EQ(lines[0].points.size(), 2u);
  EXPECT_EQ(lines[1].points.size(), 2u);
  EXPECT_EQ(lines[0].color, lines[1].color);
  EXPECT_NE(lines[2].color, lines[0].color);
  EXPECT_EQ(shapes_with_role<CircleShape>(drawing, "marker").size(), 2u);
  // Larger values sit higher: y pixels grow downwards.
  EXPECT_GT(lines[0].points[1].y, lines[0].points[0].y);
}

TEST(VizLinePlot, PanelsShareTheXAxisAndColoursRunOn) {
  PlotPanel loss{.y_label = "loss", .series = {}};
  loss.series.push_back(Series{.name = "train loss", .points = {{100, 4}, {200, 3}}});
  PlotPanel bleu{.y_label = "BLEU", .series = {}};
  bleu.series.push_back(Series{.name = "validation BLEU", .points = {{200, 10}, {400, 20}}, .markers = true});
  const Drawing drawing = draw_line_plots({loss, bleu}, {.title = "t", .x_label = "step"});
  const auto lines = shapes_with_role<LineShape>(drawing, "series");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].color, lines[1].color);
  // x = 200 lands on the same pixel column in both panels.
  EXPECT_DOUBLE_EQ(lines[0].points[1].x, lines[1].points[0].x);
  EXPECT_GT(lines[1].points[0].y, lines[0].points[0].y);  // the second panel is below
  const std::vector<std::string> ticks = texts(shapes_with_role<TextShape>(drawing, "x-tick"));
  EXPECT_EQ(ticks.front(), "0");  // the x axis starts at zero
  EXPECT_EQ(texts(shapes_with_role<TextShape>(drawing, "legend-text")),
            (std::vector<std::string>{"train loss", "validation BLEU"}));
}

}  // namespace
}  // namespace attn::viz
