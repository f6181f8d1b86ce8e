// Heatmaps of weight matrices: one panel per matrix (an attention head, say), laid out in a
// grid, each with its row labels on the left and its column labels on top (reading
// upwards), cells shaded on a sequential colour scale, optional values in the cells, and one
// colour bar for the figure.
//
// The drawing adds, in order: per panel its cells (role "cell", row-major), a frame, its row
// and column labels ("row-label", "column-label") and values ("value"); then the titles
// ("title", "subtitle", "panel-title") and the colour bar ("colorbar", "colorbar-tick").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attn/viz/color.h"
#include "attn/viz/drawing.h"

namespace attn::viz {

struct HeatmapPanel {
  std::string title;  // above the panel, e.g. "head 2"; may be empty
  std::int64_t rows = 0, columns = 0;
  std::vector<float> values;               // [rows, columns], row-major
  std::vector<std::string> row_labels;     // one per row
  std::vector<std::string> column_labels;  // one per column
};

enum class CellValues { Auto, Show, Hide };

struct HeatmapOptions {
  std::string title;     // the figure's title, top left, bold
  std::string subtitle;  // one line under the title, e.g. what the rows and columns are
  Palette palette = Palette::Blues;
  // The value drawn in the darkest colour (larger values too); 0: the largest value shown.
  // Attention weights are probabilities, so 1 keeps colours comparable between figures.
  double color_max = 1.0;
  // Auto writes the values in the cells when the cells are large enough to read them.
  CellValues values = CellValues::Auto;
  std::int64_t grid_columns = 0;  // panels per row; 0: ceil(sqrt(panels)), at most 4
  double cell_size = 0;           // pixels; 0: chosen from the largest panel, 10 to 28
};

// Labels longer than this many pixels are cut with "…".
inline constexpr double kMaxLabelWidth = 160;

// Validates the panels (at least one; sizes and labels consistent; values finite) and lays
// them out.
Drawing draw_heatmaps(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options);

// The cell size draw_heatmaps picks for `options` and these panels.
double heatmap_cell_size(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options);

// A weight as written in a cell: two decimals without the leading zero (".42", "1", "0").
std::string cell_value_text(double value);

}  // namespace attn::viz
