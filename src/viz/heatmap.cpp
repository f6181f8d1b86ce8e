#include "attn/viz/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

constexpr double kMargin = 16;
constexpr double kPanelGap = 28;    // between panels of the grid
constexpr double kLabelGap = 4;     // between a label and the cells
constexpr double kTitleFontSize = 15;
constexpr double kSubtitleFontSize = 12;
constexpr double kPanelTitleFontSize = 12;
constexpr double kPanelTitleHeight = 20;
constexpr double kMinValueCellSize = 26;  // smallest cell that shows its value legibly
constexpr double kColorBarWidth = 14;
constexpr double kColorBarGap = 24;
constexpr int kColorBarSteps = 64;
const Color kFrameColor{0xb0, 0xb0, 0xb0};
const Color kMutedText{0x44, 0x44, 0x44};

Font label_font(double cell_size) { return {std::clamp(cell_size * 0.75, 8.0, 12.0), false}; }

double widest_label(const std::vector<std::string>& labels, const Font& font) {
  double widest = 0;
  for (const std::string& label : labels) {
    widest = std::max(widest, std::min(text_width(label, font), kMaxLabelWidth));
  }
  return widest;
}

void check_panel(const HeatmapPanel& panel, std::size_t index) {
  ATTN_CHECK(panel.rows > 0 && panel.columns > 0, "heatmap: panel ", index,
             " expected at least one row and one column, got ", panel.rows, " x ", panel.columns);
  ATTN_CHECK(static_cast<std::int64_t>(panel.values.size()) == panel.rows * panel.columns,
             "heatmap: panel ", index, " expected ", panel.rows * panel.columns, " values (",
             panel.rows, " x ", panel.columns, "), got ", panel.values.size());
  ATTN_CHECK(static_cast<std::int64_t>(panel.row_labels.size()) == panel.rows, "heatmap: panel ",
             index, " expected ", panel.rows, " row labels, got ", panel.row_labels.size());
  ATTN_CHECK(static_cast<std::int64_t>(panel.column_labels.size()) == panel.columns,
             "heatmap: panel ", index, " expected ", panel.columns, " column labels, got ",
             panel.column_labels.size());
  for (float value : panel.values) {
    ATTN_CHECK(std::isfinite(value), "heatmap: panel ", index, " has a non-finite value ", value);
  }
}

// Where one panel's parts go, relative to its slot's top-left corner.
struct PanelBox {
  double cells_x = 0, cells_y = 0;  // top-left corner of the cells
  double width = 0, height = 0;     // the whole panel
};

PanelBox panel_box(const HeatmapPanel& panel, double cell_size) {
  const Font font = label_font(cell_size);
  PanelBox box;
  // Whole pixels, so cell edges fall on pixel boundaries in a PNG.
  box.cells_x = std::ceil(widest_label(panel.row_labels, font) + kLabelGap);
  box.cells_y = std::ceil(kPanelTitleHeight + widest_label(panel.column_labels, font) + kLabelGap);
  box.width = box.cells_x + panel.columns * cell_size;
  box.height = box.cells_y + panel.rows * cell_size;
  return box;
}

// The figure's layout: one slot per panel, all slots the size of the largest panel.
struct Layout {
  double cell_size = 0;
  double color_max = 1;
  bool show_values = false;
  std::int64_t grid_columns = 1, grid_rows = 1;
  double slot_width = 0, slot_height = 0;
  double header_height = 0;  // title and subtitle
  double cells_y = 0;        // of the largest panel, for the colour bar
  double width = 0, height = 0;
};

double largest_value(const std::vector<HeatmapPanel>& panels) {
  float largest = 0;
  for (const HeatmapPanel& panel : panels) {
    for (float value : panel.values) largest = std::max(largest, value);
  }
  return largest > 0 ? largest : 1.0;
}

double header_height(const HeatmapOptions& options) {
  double height = 0;
  if (!options.title.empty()) height += kTitleFontSize + 8;
  if (!options.subtitle.empty()) height += kSubtitleFontSize + 8;
  return height > 0 ? height + 4 : 0;
}

Layout layout_of(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options) {
  Layout layout;
  layout.cell_size = heatmap_cell_size(panels, options);
  layout.color_max = options.color_max > 0 ? options.color_max : largest_value(panels);
  layout.show_values = options.values == CellValues::Show ||
                       (options.values == CellValues::Auto && layout.cell_size >= kMinValueCellSize);
  const auto count = static_cast<std::int64_t>(panels.size());
  // By default a square-ish grid, at most four panels wide.
  const auto square = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  layout.grid_columns = std::min(count, options.grid_columns > 0 ? options.grid_columns : std::min<std::int64_t>(square, 4));
  layout.grid_rows = (count + layout.grid_columns - 1) / layout.grid_columns;
  for (const HeatmapPanel& panel : panels) {
    const PanelBox box = panel_box(panel, layout.cell_size);
    layout.slot_width = std::max(layout.slot_width, box.width);
    layout.slot_height = std::max(layout.slot_height, box.height);
    layout.cells_y = std::max(layout.cells_y, box.cells_y);
  }
  layout.header_height = header_height(options);
  const double grid_width = layout.grid_columns * layout.slot_width + (layout.grid_columns - 1) * kPanelGap;
  const Font tick_font{10, false};
  const double color_bar_width = kColorBarGap + kColorBarWidth + 6 + text_width("0.00", tick_font);
  const double title_width = std::max(text_width(options.title, {kTitleFontSize, true}),
                                      text_width(options.subtitle, {kSubtitleFontSize, false}));
  layout.width = std::ceil(2 * kMargin + std::max(grid_width + color_bar_width, title_width));
  layout.height = std::ceil(2 * kMargin + layout.header_height + layout.grid_rows * layout.slot_height +
                            (layout.grid_rows - 1) * kPanelGap);
  return layout;
}

void add_cells(Drawing& drawing, const HeatmapPanel& panel, const Layout& layout, Point origin,
               Palette palette) {
  const double size = layout.cell_size;
  for (std::int64_t i = 0; i < panel.rows; ++i) {
    for (std::int64_t j = 0; j < panel.columns; ++j) {
      const float value = panel.values[i * panel.columns + j];
      drawing.add(RectShape{.x = origin.x + j * size, .y = origin.y + i * size, .width = size,
                            .height = size, .fill = scale_color(palette, value / layout.color_max),
                            .css_class = "cell"});
    }
  }
  const double right = origin.x + panel.columns * size, bottom = origin.y + panel.rows * size;
  drawing.add(LineShape{.points = {origin, {right, origin.y}, {right, bottom}, {origin.x, bottom}, origin},
                        .color = kFrameColor, .width = 0.5, .css_class = "frame"});
}

void add_labels(Drawing& drawing, const HeatmapPanel& panel, const Layout& layout, Point origin) {
  const Font font = label_font(layout.cell_size);
  const double size = layout.cell_size;
  for (std::int64_t i = 0; i < panel.rows; ++i) {
    drawing.add(TextShape{.at = {origin.x - kLabelGap, baseline_for_center(origin.y + (i + 0.5) * size, font)},
                          .text = fit_text(panel.row_labels[i], font, kMaxLabelWidth),
                          .font = font, .anchor = TextAnchor::End, .css_class = "row-label"});
  }
  for (std::int64_t j = 0; j < panel.columns; ++j) {
    // Rotated -90 degrees the glyphs lie left of the baseline, so the baseline sits where a
    // horizontal label's baseline would sit below its centre.
    drawing.add(TextShape{.at = {baseline_for_center(origin.x + (j + 0.5) * size, font), origin.y - kLabelGap},
                          .text = fit_text(panel.column_labels[j], font, kMaxLabelWidth),
                          .font = font, .rotation_degrees = -90, .css_class = "column-label"});
  }
}

void add_values(Drawing& drawing, const HeatmapPanel& panel, const Layout& layout, Point origin,
                Palette palette) {
  const double size = layout.cell_size;
  const Font font{std::min(size * 0.38, 11.0), false};
  for (std::int64_t i = 0; i < panel.rows; ++i) {
    for (std::int64_t j = 0; j < panel.columns; ++j) {
      const float value = panel.values[i * panel.columns + j];
      const Color background = scale_color(palette, value / layout.color_max);
      drawing.add(TextShape{.at = {origin.x + (j + 0.5) * size, baseline_for_center(origin.y + (i + 0.5) * size, font)},
                            .text = cell_value_text(value), .font = font,
                            .color = text_color_on(background), .anchor = TextAnchor::Middle,
                            .css_class = "value"});
    }
  }
}

// The top-left corner of panel `index`'s slot.
Point slot_origin(const Layout& layout, std::size_t index) {
  const auto column = static_cast<double>(static_cast<std::int64_t>(index) % layout.grid_columns);
  const auto row = static_cast<double>(static_cast<std::int64_t>(index) / layout.grid_columns);
  return {kMargin + column * (layout.slot_width + kPanelGap),
          kMargin + layout.header_height + row * (layout.slot_height + kPanelGap)};
}

void add_panel(Drawing& drawing, const HeatmapPanel& panel, const Layout& layout, std::size_t index,
               const HeatmapOptions& options) {
  const Point slot = slot_origin(layout, index);
  const PanelBox box = panel_box(panel, layout.cell_size);
  // Panels smaller than the slot sit at its bottom right, so the cells of a grid row align.
  const Point cells{slot.x + layout.slot_width - box.width + box.cells_x,
                    slot.y + layout.slot_height - box.height + box.cells_y};
  add_cells(drawing, panel, layout, cells, options.palette);
  add_labels(drawing, panel, layout, cells);
  if (layout.show_values) add_values(drawing, panel, layout, cells, options.palette);
}

void add_titles(Drawing& drawing, const std::vector<HeatmapPanel>& panels, const Layout& layout,
                const HeatmapOptions& options) {
  double y = kMargin;
  if (!options.title.empty()) {
    y += kTitleFontSize;
    drawing.add(TextShape{.at = {kMargin, y}, .text = options.title, .font = {kTitleFontSize, true},
                          .css_class = "title"});
    y += 8;
  }
  if (!options.subtitle.empty()) {
    y += kSubtitleFontSize;
    drawing.add(TextShape{.at = {kMargin, y}, .text = options.subtitle, .font = {kSubtitleFontSize, false},
                          .color = kMutedText, .css_class = "subtitle"});
  }
  for (std::size_t index = 0; index < panels.size(); ++index) {
    if (panels[index].title.empty()) continue;
    const Point slot = slot_origin(layout, index);
    const PanelBox box = panel_box(panels[index], layout.cell_size);
    const double cells_x = slot.x + layout.slot_width - box.width + box.cells_x;
    const double cells_width = panels[index].columns * layout.cell_size;
    drawing.add(TextShape{.at = {cells_x + cells_width / 2, slot.y + kPanelTitleFontSize + 2},
                          .text = panels[index].title, .font = {kPanelTitleFontSize, true},
                          .anchor = TextAnchor::Middle, .css_class = "panel-title"});
  }
}

std::string tick_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

void add_color_bar(Drawing& drawing, const Layout& layout, const HeatmapOptions& options) {
  const double x = kMargin + layout.grid_columns * layout.slot_width +
                   (layout.grid_columns - 1) * kPanelGap + kColorBarGap;
  const double top = kMargin + layout.header_height + layout.cells_y;
  const double height = std::clamp(layout.slot_height - layout.cells_y, 80.0, 240.0);
  const double step = height / kColorBarSteps;
  for (int i = 0; i < kColorBarSteps; ++i) {
    // Top is the darkest colour; each strip shows the colour of its midpoint.
    const double fraction = 1.0 - (i + 0.5) / kColorBarSteps;
    drawing.add(RectShape{.x = x, .y = top + i * step, .width = kColorBarWidth, .height = step,
                          .fill = scale_color(options.palette, fraction), .css_class = "colorbar"});
  }
  drawing.add(LineShape{.points = {{x, top}, {x + kColorBarWidth, top}, {x + kColorBarWidth, top + height},
                                   {x, top + height}, {x, top}},
                        .color = kFrameColor, .width = 0.5, .css_class = "frame"});
  const Font font{10, false};
  for (double fraction : {0.0, 0.5, 1.0}) {
    const double y = top + height * (1.0 - fraction);
    drawing.add(TextShape{.at = {x + kColorBarWidth + 4, baseline_for_center(y, font)},
                          .text = tick_text(fraction * layout.color_max), .font = font,
                          .color = kMutedText, .css_class = "colorbar-tick"});
  }
}

}  // namespace

std::string cell_value_text(double value) {
  if (value < 0 || value > 1) return tick_text(value);
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  const std::string rounded = text;
  if (rounded == "0.00") return "0";
  if (rounded == "1.00") return "1";
  return rounded.substr(1);  // ".42"
}

double heatmap_cell_size(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options) {
  if (options.cell_size > 0) return options.cell_size;
  std::int64_t largest = 1;
  for (const HeatmapPanel& panel : panels) largest = std::max({largest, panel.rows, panel.columns});
  // About 440 pixels for the longest side, in whole pixels so cell edges stay sharp.
  return std::clamp(std::floor(440.0 / static_cast<double>(largest)), 10.0, 28.0);
}

Drawing draw_heatmaps(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options) {
  ATTN_CHECK(!panels.empty(), "heatmap: expected at least one panel");
  for (std::size_t i = 0; i < panels.size(); ++i) check_panel(panels[i], i);
  ATTN_CHECK(std::isfinite(options.color_max) && options.color_max >= 0,
             "heatmap: expected color_max >= 0 (0: the largest value), got ", options.color_max);
  const Layout layout = layout_of(panels, options);
  Drawing drawing(layout.width, layout.height);
  drawing.title = options.title;
  for (std::size_t i = 0; i < panels.size(); ++i) add_panel(drawing, panels[i], layout, i, options);
  add_titles(drawing, panels, layout, options);
  add_color_bar(drawing, layout, options);
  return drawing;
}

}  // namespace attn::viz
