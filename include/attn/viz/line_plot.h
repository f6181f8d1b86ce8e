// Line plots: one or more panels stacked vertically over a shared x axis, each with its own
// y axis, grid lines at "nice" tick values (1, 2 or 5 times a power of ten), and a legend to
// its right. Series colours run through the series palette across all panels, so a legend
// entry's colour is unique in the figure, unless a series names its own.
//
// Roles: "grid", "axis", "x-tick", "y-tick", "axis-label", "series" (one polyline per
// unbroken run of points), "marker", "legend", "legend-text", "title".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attn/viz/drawing.h"

namespace attn::viz {

struct Series {
  std::string name;           // the legend entry
  std::vector<Point> points;  // in data units, in drawing order; a non-finite y breaks the line
  bool markers = false;       // a dot at each point (for sparse series such as validation)
  bool dashed = false;
  std::optional<Color> color{};  // default: the next colour of the series palette
};

struct PlotPanel {
  std::string y_label;
  std::vector<Series> series;
};

struct LinePlotOptions {
  std::string title;
  std::string x_label;
  double width = 720;          // pixels
  double panel_height = 220;   // of each panel's plotting area
  bool x_from_zero = true;     // start the x axis at 0 when every x is >= 0
};

// At least one panel; every x finite.
Drawing draw_line_plots(const std::vector<PlotPanel>& panels, const LinePlotOptions& options);

// Tick values covering [low, high] at a step of 1, 2 or 5 times a power of ten, chosen for
// about `target_count` intervals; the first tick is at or below low, the last at or above
// high. low == high gives ticks around the value.
std::vector<double> nice_ticks(double low, double high, int target_count = 5);

// A tick value written with as many decimals as the step needs, large values with a k or M
// suffix: (0.25, 0.05) -> "0.25", (20000, 5000) -> "20k", (1500000, 500000) -> "1.5M".
std::string tick_label(double value, double step);

}  // namespace attn::viz
