#include "attn/viz/training_curves.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/viz/line_plot.h"

namespace attn::viz {
namespace {

namespace fs = std::filesystem;
// Ordered, so metrics keep the order of the log's fields.
using json = nlohmann::ordered_json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kValidPrefix = "valid_";

// Fields of a train record that are coordinates or bookkeeping, not metrics.
bool is_train_coordinate(const std::string& key) {
  return key == "type" || key == "step" || key == "epoch" || key == "tokens" || key == "elapsed_seconds";
}

double number_or_nan(const json& value) { return value.is_number() ? value.get<double>() : kNaN; }

void add_sample(MetricsHistory& history, const std::string& name, MetricSample sample) {
  if (!history.has(name)) history.names.push_back(name);
  history.samples[name].push_back(sample);
}

json parse_line(std::string_view line, const std::string& where) {
  json record;
  try {
    record = json::parse(line);
  } catch (const json::exception& error) {
    ATTN_CHECK(false, where, ": not valid JSON (", error.what(), ")");
  }
  ATTN_CHECK(record.is_object() && record.contains("type") && record["type"].is_string(), where,
             ": expected a JSON object with a string \"type\"");
  return record;
}

MetricSample sample_of(const json& record, const std::string& where) {
  ATTN_CHECK(record.contains("step") && record["step"].is_number(), where, ": a ",
             record["type"].get<std::string>(), " record without a numeric \"step\"");
  MetricSample sample;
  sample.step = record["step"].get<double>();
  sample.tokens = record.contains("tokens") ? number_or_nan(record["tokens"]) : kNaN;
  sample.seconds = record.contains("elapsed_seconds") ? number_or_nan(record["elapsed_seconds"]) : kNaN;
  return sample;
}

void add_train_record(MetricsHistory& history, const json& record, const std::string& where) {
  const MetricSample coordinates = sample_of(record, where);
  for (const auto& [key, value] : record.items()) {
    if (is_train_coordinate(key) || !(value.is_number() || value.is_null())) continue;
    MetricSample sample = coordinates;
    sample.value = number_or_nan(value);
    add_sample(history, key, sample);
  }
}

void add_validation_record(MetricsHistory& history, const json& record, const std::string& where) {
  const MetricSample coordinates = sample_of(record, where);
  ATTN_CHECK(record.contains("validation") && record["validation"].is_object(), where,
             ": a validation record without a \"validation\" object");
  for (const auto& [key, value] : record["validation"].items()) {
    if (!(value.is_number() || value.is_null())) continue;
    MetricSample sample = coordinates;
    sample.value = number_or_nan(value);
    add_sample(history, kValidPrefix + key, sample);
  }
}

// (step, tokens) of the train records, in step order: how many tokens a step had seen.
std::vector<std::pair<double, double>> tokens_by_step(const MetricsHistory& history) {
  std::vector<std::pair<double, double>> points{{0.0, 0.0}};
  for (const std::string& name : history.names) {
    for (const MetricSample& sample : history.samples.at(name)) {
      if (std::isfinite(sample.tokens)) points.emplace_back(sample.step, sample.tokens);
    }
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               points.end());
  return points;
}

// Linear interpolation between the train records around `step`, continued past the last
// at its average rate.
double interpolate_tokens(const std::vector<std::pair<double, double>>& points, double step) {
  if (points.size() < 2) return kNaN;
  auto after = std::lower_bound(points.begin(), points.end(), step,
                                [](const auto& point, double value) { return point.first < value; });
  if (after == points.end()) {
    const auto& last = points.back();
    return last.first > 0 ? last.second * step / last.first : kNaN;
  }
  if (after->first == step || after == points.begin()) return after->second;
  const auto& before = *(after - 1);
  const double t = (step - before.first) / (after->first - before.first);
  return before.second + t * (after->second - before.second);
}

void fill_missing_tokens(MetricsHistory& history) {
  const auto points = tokens_by_step(history);
  for (auto& [name, samples] : history.samples) {
    for (MetricSample& sample : samples) {
      if (!std::isfinite(sample.tokens)) sample.tokens = interpolate_tokens(points, sample.step);
    }
  }
}

// How time is shown: the unit that keeps the axis numbers small.
struct TimeUnit {
  double seconds = 1;
  const char* label = "time (seconds)";
};

TimeUnit time_unit(double largest_seconds) {
  if (largest_seconds > 3 * 3600) return {3600, "time (hours)"};
  if (largest_seconds > 600) return {60, "time (minutes)"};
  return {};
}

double largest_seconds(const std::vector<LabelledHistory>& runs) {
  double largest = 0;
  for (const LabelledHistory& run : runs) {
    for (const auto& [name, samples] : run.history.samples) {
      for (const MetricSample& sample : samples) {
        if (std::isfinite(sample.seconds)) largest = std::max(largest, sample.seconds);
      }
    }
  }
  return largest;
}

double x_of(const MetricSample& sample, CurveAxis axis, const TimeUnit& unit) {
  switch (axis) {
    case CurveAxis::Step: return sample.step;
    case CurveAxis::Tokens: return sample.tokens;
    case CurveAxis::Time: return sample.seconds / unit.seconds;
  }
  return sample.step;
}

std::string quantity_of(const std::string& metric) {
  return metric.rfind(kValidPrefix, 0) == 0 ? metric.substr(std::string(kValidPrefix).size()) : metric;
}

std::string readable(std::string name) {
  if (name == "bleu") return "BLEU";
  if (name == "chrf") return "chrF";
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

std::string series_name(const std::string& metric, const std::string& run_label, bool several_runs) {
  const bool validation = metric.rfind(kValidPrefix, 0) == 0;
  const std::string quantity = readable(quantity_of(metric));
  std::string name = validation ? "validation " + quantity : metric == "loss" ? "train loss" : quantity;
  return several_runs ? run_label + ": " + name : name;
}

Series series_of(const std::vector<MetricSample>& samples, const std::string& name, CurveAxis axis,
                 const TimeUnit& unit, bool validation) {
  Series series;
  series.name = name;
  series.markers = validation || samples.size() < 2;
  for (const MetricSample& sample : samples) {
    const double x = x_of(sample, axis, unit);
    if (std::isfinite(x)) series.points.push_back({x, sample.value});
  }
  return series;
}

void check_metrics(const std::vector<LabelledHistory>& runs, const std::vector<std::string>& metrics) {
  std::vector<std::string> available;
  for (const LabelledHistory& run : runs) {
    for (const std::string& name : run.history.names) {
      if (std::find(available.begin(), available.end(), name) == available.end()) available.push_back(name);
    }
  }
  ATTN_CHECK(!available.empty(), "training curves: the metrics log has no train or validation records");
  for (const std::string& metric : metrics) {
    if (std::find(available.begin(), available.end(), metric) != available.end()) continue;
    std::string list;
    for (const std::string& name : available) list += (list.empty() ? "" : ", ") + name;
    ATTN_CHECK(false, "training curves: no metric '", metric, "' in the log; it has ", list);
  }
}

std::vector<PlotPanel> panels_of(const std::vector<LabelledHistory>& runs, const std::vector<std::string>& metrics,
                                 CurveAxis axis, const TimeUnit& unit) {
  std::vector<PlotPanel> panels;
  std::vector<std::string> quantities;
  for (const std::string& metric : metrics) {
    const std::string quantity = quantity_of(metric);
    auto found = std::find(quantities.begin(), quantities.end(), quantity);
    if (found == quantities.end()) {
      quantities.push_back(quantity);
      panels.push_back(PlotPanel{.y_label = readable(quantity), .series = {}});
      found = quantities.end() - 1;
    }
    PlotPanel& panel = panels[found - quantities.begin()];
    const bool validation = metric.rfind(kValidPrefix, 0) == 0;
    for (std::size_t r = 0; r < runs.size(); ++r) {
      if (!runs[r].history.has(metric)) continue;
      Series series = series_of(runs[r].history.samples.at(metric), series_name(metric, runs[r].label, runs.size() > 1),
                                axis, unit, validation);
      if (runs.size() > 1) {
        // Several runs: one colour per run, validation dashed, so runs compare at a glance.
        series.color = series_color(r);
        series.dashed = validation;
      }
      panel.series.push_back(std::move(series));
    }
  }
  return panels;
}

std::string x_label(CurveAxis axis, const TimeUnit& unit) {
  switch (axis) {
    case CurveAxis::Step: return "step";
    case CurveAxis::Tokens: return "tokens trained on";
    case CurveAxis::Time: return unit.label;
  }
  return "step";
}

}  // namespace

CurveAxis parse_curve_axis(std::string_view name) {
  if (name == "step") return CurveAxis::Step;
  if (name == "tokens") return CurveAxis::Tokens;
  if (name == "time") return CurveAxis::Time;
  ATTN_CHECK(false, "training curves: expected an x axis of step, tokens or time, got '", name, "'");
  return CurveAxis::Step;
}

MetricsHistory parse_metrics_log(std::string_view text, const std::string& source_name) {
  MetricsHistory history;
  std::size_t line_number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = source_name + " line " + std::to_string(line_number);
    const json record = parse_line(line, where);
    const std::string type = record["type"].get<std::string>();
    if (type == "train") add_train_record(history, record, where);
    if (type == "validation") add_validation_record(history, record, where);
  }
  fill_missing_tokens(history);
  return history;
}

MetricsHistory read_metrics_log(const std::string& path) {
  fs::path file = path;
  if (fs::is_directory(file)) file /= "metrics.jsonl";
  ATTN_CHECK(fs::is_regular_file(file), "training curves: no metrics log at ", file.string(),
             " (expected a run directory or its metrics.jsonl)");
  std::ifstream stream(file, std::ios::binary);
  ATTN_CHECK(stream.good(), "training curves: cannot read ", file.string());
  std::ostringstream content;
  content << stream.rdbuf();
  return parse_metrics_log(content.str(), file.string());
}

std::vector<std::string> default_curve_metrics(const MetricsHistory& history) {
  std::vector<std::string> metrics;
  if (history.has("loss")) metrics.push_back("loss");
  if (history.has("valid_loss")) metrics.push_back("valid_loss");
  for (const std::string& name : history.names) {
    const bool validation = name.rfind(kValidPrefix, 0) == 0;
    if (validation && name != "valid_loss" && name != "valid_perplexity") metrics.push_back(name);
  }
  return metrics;
}

Drawing draw_training_curves(const std::vector<LabelledHistory>& runs, const TrainingCurveOptions& options) {
  ATTN_CHECK(!runs.empty(), "training curves: expected at least one run");
  const std::vector<std::string> metrics =
      options.metrics.empty() ? default_curve_metrics(runs.front().history) : options.metrics;
  check_metrics(runs, metrics);
  ATTN_CHECK(!metrics.empty(), "training curves: the log has neither a training loss nor validation "
             "results; name the metrics to plot");
  const TimeUnit unit = time_unit(largest_seconds(runs));
  LinePlotOptions plot;
  plot.title = options.title;
  plot.x_label = x_label(options.x, unit);
  plot.width = options.width;
  plot.panel_height = options.panel_height;
  return draw_line_plots(panels_of(runs, metrics, options.x, unit), plot);
}

}  // namespace attn::viz
