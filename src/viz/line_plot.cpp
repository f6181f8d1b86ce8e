#include "attn/viz/line_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

constexpr double kMargin = 16;
constexpr double kPanelGap = 22;     // between a panel's x tick labels and the next panel
constexpr double kTickLabelHeight = 16;
constexpr double kLegendSample = 22;  // length of the line sample before a legend entry
const Font kTickFont{10, false};
const Font kLabelFont{12, false};
const Font kLegendFont{12, false};
const Color kAxisColor{0x33, 0x33, 0x33};
const Color kGridColor{0xe4, 0xe4, 0xe4};
const Color kMutedText{0x44, 0x44, 0x44};

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();

  void include(double value) {
    low = std::min(low, value);
    high = std::max(high, value);
  }
  bool empty() const { return low > high; }
};

// An axis: its ticks, and the data interval they span mapped to pixels [start, end].
struct Axis {
  std::vector<double> ticks;
  double start = 0, end = 1;  // pixels

  double low() const { return ticks.front(); }
  double high() const { return ticks.back(); }
  double step() const { return ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0; }
  double to_pixel(double value) const {
    return start + (value - low()) / (high() - low()) * (end - start);
  }
};

Range x_range(const std::vector<PlotPanel>& panels, bool from_zero) {
  Range range;
  for (const PlotPanel& panel : panels) {
    for (const Series& series : panel.series) {
      for (const Point& point : series.points) range.include(point.x);
    }
  }
  if (range.empty()) return {0, 1};
  if (from_zero && range.low >= 0) range.low = 0;
  return range;
}

Range y_range(const PlotPanel& panel) {
  Range range;
  for (const Series& series : panel.series) {
    for (const Point& point : series.points) {
      if (std::isfinite(point.y)) range.include(point.y);
    }
  }
  return range.empty() ? Range{0, 1} : range;
}

double widest_tick_label(const std::vector<double>& ticks) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  double widest = 0;
  for (double tick : ticks) widest = std::max(widest, text_width(tick_label(tick, step), kTickFont));
  return widest;
}

double legend_width(const std::vector<PlotPanel>& panels) {
  double widest = 0;
  for (const PlotPanel& panel : panels) {
    for (const Series& series : panel.series) widest = std::max(widest, text_width(series.name, kLegendFont));
  }
  return widest > 0 ? 16 + kLegendSample + 6 + widest : 0;
}

void add_grid_and_axes(Drawing& drawing, const Axis& x_axis, const Axis& y_axis, const PlotPanel& panel) {
  for (double tick : y_axis.ticks) {
    const double y = y_axis.to_pixel(tick);
    drawing.add(LineShape{.points = {{x_axis.start, y}, {x_axis.end, y}}, .color = kGridColor, .css_class = "grid"});
  }
  for (double tick : x_axis.ticks) {
    const double x = x_axis.to_pixel(tick);
    drawing.add(LineShape{.points = {{x, y_axis.start}, {x, y_axis.end}}, .color = kGridColor, .css_class = "grid"});
  }
  drawing.add(LineShape{.points = {{x_axis.start, y_axis.end}, {x_axis.start, y_axis.start}, {x_axis.end, y_axis.start}},
                        .color = kAxisColor, .css_class = "axis"});
  for (double tick : y_axis.ticks) {
    drawing.add(TextShape{.at = {x_axis.start - 5, baseline_for_center(y_axis.to_pixel(tick), kTickFont)},
                          .text = tick_label(tick, y_axis.step()), .font = kTickFont, .color = kMutedText,
                          .anchor = TextAnchor::End, .css_class = "y-tick"});
  }
  for (double tick : x_axis.ticks) {
    drawing.add(TextShape{.at = {x_axis.to_pixel(tick), y_axis.start + 13}, .text = tick_label(tick, x_axis.step()),
                          .font = kTickFont, .color = kMutedText, .anchor = TextAnchor::Middle,
                          .css_class = "x-tick"});
  }
  const double middle = (y_axis.start + y_axis.end) / 2;
  drawing.add(TextShape{.at = {kMargin + kLabelFont.size, middle}, .text = panel.y_label, .font = kLabelFont,
                        .anchor = TextAnchor::Middle, .rotation_degrees = -90, .css_class = "axis-label"});
}

void add_series(Drawing& drawing, const Series& series, Color color, const Axis& x_axis, const Axis& y_axis) {
  LineShape line{.color = color, .width = 1.5, .dashed = series.dashed, .css_class = "series"};
  auto flush = [&] {
    if (line.points.size() > 1) drawing.add(line);
    // A point between gaps has no line to sit on: a dot keeps it visible.
    if (line.points.size() == 1 && !series.markers) {
      drawing.add(CircleShape{.center = line.points.front(), .radius = 2, .fill = color, .css_class = "marker"});
    }
    line.points.clear();
  };
  for (const Point& point : series.points) {
    if (!std::isfinite(point.y)) {
      flush();
      continue;
    }
    line.points.push_back({x_axis.to_pixel(point.x), y_axis.to_pixel(point.y)});
  }
  flush();
  if (!series.markers) return;
  for (const Point& point : series.points) {
    if (!std::isfinite(point.y)) continue;
    drawing.add(CircleShape{.center = {x_axis.to_pixel(point.x), y_axis.to_pixel(point.y)}, .radius = 3,
                            .fill = color, .css_class = "marker"});
  }
}

void add_legend(Drawing& drawing, const PlotPanel& panel, std::size_t first_color, double x, double top) {
  double y = top + 8;
  for (std::size_t i = 0; i < panel.series.size(); ++i) {
    const Series& series = panel.series[i];
    const Color color = series.color.value_or(series_color(first_color + i));
    drawing.add(LineShape{.points = {{x, y}, {x + kLegendSample, y}}, .color = color, .width = 1.5,
                          .dashed = series.dashed, .css_class = "legend"});
    if (series.markers) {
      drawing.add(CircleShape{.center = {x + kLegendSample / 2, y}, .radius = 3, .fill = color, .css_class = "legend"});
    }
    drawing.add(TextShape{.at = {x + kLegendSample + 6, baseline_for_center(y, kLegendFont)}, .text = series.name,
                          .font = kLegendFont, .css_class = "legend-text"});
    y += 18;
  }
}

void check_panels(const std::vector<PlotPanel>& panels, const LinePlotOptions& options) {
  ATTN_CHECK(!panels.empty(), "line plot: expected at least one panel");
  for (std::size_t p = 0; p < panels.size(); ++p) {
    for (const Series& series : panels[p].series) {
      for (const Point& point : series.points) {
        ATTN_CHECK(std::isfinite(point.x), "line plot: series '", series.name, "' has a non-finite x");
      }
    }
  }
  ATTN_CHECK(options.panel_height >= 40, "line plot: expected a panel height of at least 40, got ",
             options.panel_height);
}

}  // namespace

std::vector<double> nice_ticks(double low, double high, int target_count) {
  ATTN_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high && target_count > 0,
             "nice_ticks: expected finite low <= high and a positive count, got [", low, ", ", high,
             "] and ", target_count);
  if (high - low < 1e-12 * std::max(1.0, std::abs(high))) {
    const double spread = low == 0 ? 1.0 : std::abs(low) * 0.1;
    low -= spread;
    high += spread;
  }
  const double rough = (high - low) / target_count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  const double residual = rough / magnitude;
  const double step = magnitude * (residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10);
  const double first = std::floor(low / step + 1e-9), last = std::ceil(high / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last; ++k) ticks.push_back(k * step);
  return ticks;
}

std::string tick_label(double value, double step) {
  const char* suffix = "";
  double scale = 1;
  if (step >= 1e5) {
    suffix = "M";
    scale = 1e6;
  } else if (step >= 1e3) {
    suffix = "k";
    scale = 1e3;
  }
  const double scaled_step = step / scale;
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(scaled_step) + 1e-9)));
  // 2.5-style steps need one decimal more than their power of ten.
  const bool extra = std::abs(std::round(scaled_step * std::pow(10.0, decimals)) -
                              scaled_step * std::pow(10.0, decimals)) > 1e-6;
  char text[48];
  std::snprintf(text, sizeof text, "%.*f%s", decimals + (extra ? 1 : 0), value / scale, suffix);
  std::string out = text;
  if (out.rfind("-0", 0) == 0 && out.find_first_not_of("-0.") == std::string::npos) out.erase(0, 1);
  return out;
}

Drawing draw_line_plots(const std::vector<PlotPanel>& panels, const LinePlotOptions& options) {
  check_panels(panels, options);
  const Range xs = x_range(panels, options.x_from_zero);
  Axis x_axis{nice_ticks(xs.low, xs.high, 6)};
  std::vector<Axis> y_axes;
  double tick_width = 0;
  for (const PlotPanel& panel : panels) {
    const Range ys = y_range(panel);
    y_axes.push_back(Axis{nice_ticks(ys.low, ys.high, 5)});
    tick_width = std::max(tick_width, widest_tick_label(y_axes.back().ticks));
  }
  const double title_height = options.title.empty() ? 0 : 15 + 14;
  x_axis.start = kMargin + kLabelFont.size + 8 + tick_width + 6;
  x_axis.end = options.width - kMargin - legend_width(panels);
  ATTN_CHECK(x_axis.end - x_axis.start >= 40, "line plot: the width ", options.width,
             " leaves no room to plot beside the labels and legend");
  const double panel_step = options.panel_height + kTickLabelHeight + kPanelGap;
  const double height = kMargin + title_height + panels.size() * panel_step - kPanelGap + 22 + kMargin;
  Drawing drawing(options.width, std::ceil(height));
  drawing.title = options.title;
  std::size_t color = 0;
  for (std::size_t p = 0; p < panels.size(); ++p) {
    Axis& y_axis = y_axes[p];
    const double top = kMargin + title_height + p * panel_step;
    y_axis.start = top + options.panel_height;  // y grows downwards: the low value at the bottom
    y_axis.end = top;
    add_grid_and_axes(drawing, x_axis, y_axis, panels[p]);
    for (std::size_t s = 0; s < panels[p].series.size(); ++s) {
      const Series& series = panels[p].series[s];
      add_series(drawing, series, series.color.value_or(series_color(color + s)), x_axis, y_axis);
    }
    add_legend(drawing, panels[p], color, x_axis.end + 16, top);
    color += panels[p].series.size();
  }
  if (!options.title.empty()) {
    drawing.add(TextShape{.at = {kMargin, kMargin + 15}, .text = options.title, .font = {15, true},
                          .css_class = "title"});
  }
  drawing.add(TextShape{.at = {(x_axis.start + x_axis.end) / 2, height - kMargin - 4}, .text = options.x_label,
                        .font = kLabelFont, .anchor = TextAnchor::Middle, .css_class = "axis-label"});
  return drawing;
}

}  // namespace attn::viz
