// Heatmap layout: one cell per value in row-major order at the chosen size, labels per row
// and column, values shown only when the cells are large enough, the colour scale's range,
// the grid of panels, and clear errors for inconsistent panels.
#include "attn/viz/heatmap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

HeatmapPanel uniform_panel(std::int64_t rows, std::int64_t columns, float value = 0.5f) {
  HeatmapPanel panel;
  panel.rows = rows;
  panel.columns = columns;
  panel.values.assign(static_cast<std::size_t>(rows * columns), value);
  for (std::int64_t i = 0; i < rows; ++i) panel.row_labels.push_back("r" + std::to_string(i));
  for (std::int64_t j = 0; j < columns; ++j) panel.column_labels.push_back("c" + std::to_string(j));
  return panel;
}

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

TEST(VizHeatmap, CellsAreRowMajorSquaresOfTheCellSizeInsideTheDrawing) {
  HeatmapPanel panel = uniform_panel(3, 5);
  for (std::size_t i = 0; i < panel.values.size(); ++i) panel.values[i] = static_cast<float>(i) / 14;
  HeatmapOptions options;
  options.cell_size = 20;
  const Drawing drawing = draw_heatmaps({panel}, options);
  const auto cells = shapes_with_role<RectShape>(drawing, "cell");
  ASSERT_EQ(cells.size(), 15u);
  for (std::size_t k = 0; k < cells.size(); ++k) {
    const std::size_t i = k / 5, j = k % 5;
    EXPECT_DOUBLE_EQ(cells[k].width, 20);
    EXPECT_DOUBLE_EQ(cells[k].height, 20);
    EXPECT_DOUBLE_EQ(cells[k].x, cells[0].x + 20.0 * j);
    EXPECT_DOUBLE_EQ(cells[k].y, cells[0].y + 20.0 * i);
    EXPECT_EQ(cells[k].fill, scale_color(Palette::Blues, panel.values[k]));
    EXPECT_LE(cells[k].x + cells[k].width, drawing.width());
    EXPECT_LE(cells[k].y + cells[k].height, drawing.height());
  }
  // Cell edges on whole pixels.
  EXPECT_EQ(cells[0].x, std::floor(cells[0].x));
  EXPECT_EQ(cells[0].y, std::floor(cells[0].y));
  EXPECT_EQ(shapes_with_role<TextShape>(drawing, "row-label").size(), 3u);
  EXPECT_EQ(shapes_with_role<TextShape>(drawing, "column-label").size(), 5u);
}

TEST(VizHeatmap, CellSizeShrinksWithTheLargestPanelWithinBounds) {
  EXPECT_EQ(heatmap_cell_size({uniform_panel(3, 4)}, {}), 28);
  EXPECT_EQ(heatmap_cell_size({uniform_panel(40, 20)}, {}), 11);  // floor(440 / 40)
  EXPECT_EQ(heatmap_cell_size({uniform_panel(3, 4), uniform_panel(200, 3)}, {}), 10);
  HeatmapOptions fixed;
  fixed.cell_size = 17;
  EXPECT_EQ(heatmap_cell_size({uniform_panel(200, 3)}, fixed), 17);
}

TEST(VizHeatmap, ValuesAppearOnlyInLargeEnoughCellsUnlessAsked) {
  EXPECT_EQ(shapes_with_role<TextShape>(draw_heatmaps({uniform_panel(4, 4)}, {}), "value").size(), 16u);
  EXPECT_TRUE(shapes_with_role<TextShape>(draw_heatmaps({uniform_panel(30, 30)}, {}), "value").empty());
  HeatmapOptions show;
  show.values = CellValues::Show;
  EXPECT_EQ(shapes_with_role<TextShape>(draw_heatmaps({uniform_panel(30, 30)}, show), "value").size(), 900u);
  HeatmapOptions hide;
  hide.values = CellValues::Hide;
  EXPECT_TRUE(shapes_with_role<TextShape>(draw_heatmaps({uniform_panel(4, 4)}, hide), "value").empty());
}

TEST(VizHeatmap, ValueTextIsTwoDecimalsWithoutTheLeadingZero) {
  EXPECT_EQ(cell_value_text(0.0), "0");
  EXPECT_EQ(cell_value_text(0.004), "0");
  EXPECT_EQ(cell_value_text(0.4217), ".42");
  EXPECT_EQ(cell_value_text(0.5), ".50");
  EXPECT_EQ(cell_value_text(0.999), "1");
  EXPECT_EQ(cell_value_text(1.0), "1");
  EXPECT_EQ(cell_value_text(3.5), "3.5");
}

TEST(VizHeatmap, ValueTextContrastsWithItsCell) {
  HeatmapPanel panel = uniform_panel(1, 2);
  panel.values = {0.05f, 0.95f};
  const auto values = shapes_with_role<TextShape>(draw_heatmaps({panel}, {}), "value");
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0].color, kBlack);
  EXPECT_EQ(values[1].color, kWhite);
}

TEST(VizHeatmap, ColorMaxZeroScalesToTheLargestValue) {
  HeatmapPanel panel = uniform_panel(1, 2);
  panel.values = {0.1f, 0.2f};
  HeatmapOptions options;
  options.color_max = 0;
  const auto cells = shapes_with_role<RectShape>(draw_heatmaps({panel}, options), "cell");
  EXPECT_EQ(cells[1].fill, scale_color(Palette::Blues, 1.0));
  EXPECT_EQ(cells[0].fill, scale_color(Palette::Blues, 0.1f / 0.2f));
  // And the colour bar's top tick reads the largest value.
  const auto ticks = shapes_with_role<TextShape>(draw_heatmaps({panel}, options), "colorbar-tick");
  ASSERT_EQ(ticks.size(), 3u);
  EXPECT_EQ(ticks.back().text, "0.2");
}

TEST(VizHeatmap, PanelsFillAGridRowByRow) {
  std::vector<HeatmapPanel> panels(4, uniform_panel(2, 2));
  for (int h = 0; h < 4; ++h) panels[h].title = "head " + std::to_string(h);
  const Drawing grid = draw_heatmaps(panels, {});  // 2 x 2 by default
  const auto titles = shapes_with_role<TextShape>(grid, "panel-title");
  ASSERT_EQ(titles.size(), 4u);
  EXPECT_DOUBLE_EQ(titles[0].at.y, titles[1].at.y);
  EXPECT_LT(titles[0].at.x, titles[1].at.x);
  EXPECT_GT(titles[2].at.y, titles[0].at.y);
  EXPECT_DOUBLE_EQ(titles[2].at.x, titles[0].at.x);
  HeatmapOptions one_row;
  one_row.grid_columns = 4;
  const auto row_titles = shapes_with_role<TextShape>(draw_heatmaps(panels, one_row), "panel-title");
  EXPECT_DOUBLE_EQ(row_titles[3].at.y, row_titles[0].at.y);
}

TEST(VizHeatmap, LongLabelsAreCutWithAnEllipsis) {
  HeatmapPanel panel = uniform_panel(1, 1);
  panel.row_labels = {std::string(200, 'w')};
  const auto labels = shapes_with_role<TextShape>(draw_heatmaps({panel}, {}), "row-label");
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_LE(text_width(labels[0].text, labels[0].font), kMaxLabelWidth);
  EXPECT_EQ(labels[0].text.substr(labels[0].text.size() - 3), "\u2026");
}

TEST(VizHeatmap, InconsistentPanelsAreErrorsNamingWhatWasWrong) {
  auto message = [](const std::vector<HeatmapPanel>& panels) {
    try {
      draw_heatmaps(panels, {});
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({}).find("at least one panel"), std::string::npos);
  HeatmapPanel short_values = uniform_panel(2, 3);
  short_values.values.pop_back();
  EXPECT_NE(message({short_values}).find("expected 6 values (2 x 3), got 5"), std::string::npos);
  HeatmapPanel missing_label = uniform_panel(2, 3);
  missing_label.column_labels.pop_back();
  EXPECT_NE(message({missing_label}).find("expected 3 column labels, got 2"), std::string::npos);
  HeatmapPanel not_finite = uniform_panel(1, 1, std::numeric_limits<float>::quiet_NaN());
  EXPECT_NE(message({not_finite}).find("non-finite"), std::string::npos);
}

TEST(VizText, WidthsFollowDejaVuSansAdvances) {
  // "W" is 989/1000 em, "i" 278/1000, the space 318/1000 in DejaVu Sans.
  EXPECT_NEAR(text_width("W", {10, false}), 9.89, 1e-9);
  EXPECT_NEAR(text_width("Wi i", {10, false}), 9.89 + 2.78 + 3.18 + 2.78, 1e-9);
  EXPECT_GT(text_width("W", {10, true}), text_width("W", {10, false}));
  EXPECT_NEAR(text_width("\u00f1", {10, false}), text_width("n", {10, false}), 1e-9);  // ñ
  EXPECT_NEAR(text_width("\u4e2d", {10, false}), 10.0, 1e-9);                          // wide: 1 em
  EXPECT_EQ(fit_text("short", {12, false}, 100), "short");
}

}  // namespace
}  // namespace attn::viz
