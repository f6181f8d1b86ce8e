// `attn plot RUN_OR_METRICS [RUN_OR_METRICS ...] -o OUT.svg|OUT.png [--metrics a,b]
// [--x step|tokens|time]`: draws training curves from runs' metrics logs
// (attn/viz/training_curves.h): the training loss and the validation results by default.
// With several runs, their curves share the panels and each legend entry names its run.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/viz/image_file.h"
#include "attn/viz/training_curves.h"
#include "commands.h"

namespace attn::cli {
namespace {

namespace fs = std::filesystem;

struct PlotOptions {
  std::vector<std::string> runs;
  std::string output_path;
  std::vector<std::string> metrics;
  std::string x = "step";
  std::string title;
  double width = 720;
  double panel_height = 220;
  double png_scale = 2;
};

// The run's name for the legend: its directory, also when the log file itself is given.
std::string run_label(const std::string& path) {
  fs::path run = fs::path(path).lexically_normal();
  if (run.has_filename() && !fs::is_directory(run)) run = run.parent_path();
  if (!run.has_filename()) run = run.parent_path();  // "runs/x/" -> "runs/x"
  const std::string name = run.filename().string();
  return name.empty() || name == "." ? path : name;
}

void run_plot(const PlotOptions& options) {
  viz::image_format_of(options.output_path);  // a wrong extension fails before any reading
  std::vector<viz::LabelledHistory> runs;
  for (const std::string& path : options.runs) runs.push_back({run_label(path), viz::read_metrics_log(path)});
  viz::TrainingCurveOptions curves;
  curves.metrics = options.metrics;
  curves.x = viz::parse_curve_axis(options.x);
  curves.title = options.title.empty() && runs.size() == 1 ? "Training of " + runs.front().label : options.title;
  curves.width = options.width;
  curves.panel_height = options.panel_height;
  viz::save_image(viz::draw_training_curves(runs, curves), options.output_path, options.png_scale);
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto options = std::make_shared<PlotOptions>();
  CLI::App* plot = app.add_subcommand("plot", "draw training curves from runs' metrics logs (SVG or PNG)");
  plot->add_option("runs", options->runs, "run directories of `attn train`, or their metrics.jsonl files")
      ->required();
  plot->add_option("--output,-o", options->output_path, "the image: a .svg or .png file")->required();
  plot->add_option("--metrics", options->metrics,
                   "metrics to plot, e.g. loss,valid_loss,valid_bleu,learning_rate (default: the loss "
                   "and the validation results)")
      ->delimiter(',');
  plot->add_option("--x", options->x, "the x axis: step, tokens or time")->check(CLI::IsMember({"step", "tokens", "time"}));
  plot->add_option("--title", options->title, "the figure's title");
  plot->add_option("--width", options->width, "width in pixels")->check(CLI::Range(300.0, 4000.0));
  plot->add_option("--panel-height", options->panel_height, "height of each panel in pixels")
      ->check(CLI::Range(60.0, 2000.0));
  plot->add_option("--png-scale", options->png_scale, "PNG pixels per figure pixel (default 2)")->check(CLI::Range(0.25, 8.0));
  plot->callback([options] {
    int status = run_guarded([&] { run_plot(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
