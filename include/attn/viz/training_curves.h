// Training curves from a run's metrics log (metrics.jsonl, attn/train/metrics_log.h): the
// training loss at every logged step and the validation results, as line plots against
// steps, tokens trained on, or time.
//
// Metric names: a train record's numeric fields under their own names ("loss",
// "learning_rate", "grad_norm", "tokens_per_second"); a validation record's under "valid_"
// ("valid_loss", "valid_bleu", "valid_accuracy", "valid_perplexity", ...). Metrics of one
// quantity ("loss" and "valid_loss") share a panel; every other quantity gets its own.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "attn/viz/drawing.h"

namespace attn::viz {

enum class CurveAxis { Step, Tokens, Time };

// "step", "tokens", "time"; anything else is an error listing them.
CurveAxis parse_curve_axis(std::string_view name);

struct MetricSample {
  double step = 0;
  double tokens = 0;   // trained on so far; for validation, interpolated from the train records
  double seconds = 0;  // elapsed over the whole run
  double value = 0;    // NaN where the log has null (a non-finite value)
};

struct MetricsHistory {
  std::vector<std::string> names;                            // in order of first appearance
  std::map<std::string, std::vector<MetricSample>> samples;  // by name, in log order

  bool has(const std::string& name) const { return samples.count(name) > 0; }
};

// Parses the JSON lines of a metrics log. Blank lines are skipped, records of other types
// (start, resume, end, error) ignored; a line that is not a JSON object with a "type", or a
// train or validation record without a numeric "step", is an error naming `source_name` and
// the line number.
MetricsHistory parse_metrics_log(std::string_view text, const std::string& source_name);

// `path`: a metrics.jsonl file, or a run directory holding one.
MetricsHistory read_metrics_log(const std::string& path);

// "loss", "valid_loss" and every other validation metric but perplexity (the exponential
// of the loss, already shown), those the history has.
std::vector<std::string> default_curve_metrics(const MetricsHistory& history);

// One run's history, labelled for the legend when several runs share a figure.
struct LabelledHistory {
  std::string label;
  MetricsHistory history;
};

struct TrainingCurveOptions {
  std::vector<std::string> metrics;  // empty: default_curve_metrics of the first run
  CurveAxis x = CurveAxis::Step;
  std::string title;
  double width = 720;
  double panel_height = 220;
};

// A metric that no run has is an error listing the ones they have. With several runs, each
// series is named "LABEL: metric", each run has one colour, and validation lines are dashed.
Drawing draw_training_curves(const std::vector<LabelledHistory>& runs, const TrainingCurveOptions& options);

}  // namespace attn::viz
