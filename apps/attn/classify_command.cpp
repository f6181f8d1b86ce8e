// `attn classify --checkpoint RUN_OR_FILE [TEXT ...] [--input FILE|-] [--output FILE]
// [--probabilities | --json]`: labels texts with a trained classifier (tasks/classification.h).
// Input comes from the arguments, a file (one text per line) or stdin; one line out per text:
//   default          the label's name
//   --probabilities  name<TAB>label1=p1<TAB>label2=p2 ... (every label, in label order)
//   --json           a JSON object: label, index, probabilities, tokens and, for the BiGRU,
//                    the attention weight of each token
// An empty input line is an error naming the line.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/core/parallel.h"
#include "attn/tasks/classification.h"
#include "commands.h"
#include "text_input.h"

namespace attn::cli {
namespace {

struct ClassifyOptions {
  std::string checkpoint;
  std::vector<std::string> texts;
  std::string input_path;
  std::string output_path;
  bool probabilities = false;
  bool json = false;
  std::int64_t batch_size = 64;
  int threads = 2;
};

// Where text i came from, for error messages: "argument 2", "line 3 of reviews.txt".
std::string origin(const ClassifyOptions& options, std::size_t index) {
  if (!options.texts.empty()) return "argument " + std::to_string(index + 1);
  const std::string source = options.input_path.empty() || options.input_path == "-"
                                 ? std::string("standard input")
                                 : options.input_path;
  return "line " + std::to_string(index + 1) + " of " + source;
}

bool is_blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n\f\v") == std::string::npos;
}

std::string format_probability(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

std::string format_line(const tasks::Classification& result, const tasks::Classifier& classifier,
                        const ClassifyOptions& options) {
  if (options.json) {
    nlohmann::ordered_json line;  // keys and labels in a fixed order
    line["label"] = result.label_name;
    line["index"] = result.label;
    nlohmann::ordered_json probabilities = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < result.probabilities.size(); ++i) {
      probabilities[classifier.label_names()[i]] = result.probabilities[i];
    }
    line["probabilities"] = probabilities;
    line["tokens"] = result.tokens;
    if (!result.attention.empty()) line["attention"] = result.attention;
    return line.dump();
  }
  std::string line = result.label_name;
  if (options.probabilities) {
    for (std::size_t i = 0; i < result.probabilities.size(); ++i) {
      line += "\t" + classifier.label_names()[i] + "=" + format_probability(result.probabilities[i]);
    }
  }
  return line;
}

void run_classify(const ClassifyOptions& options) {
  set_num_threads(options.threads);
  const std::vector<std::string> texts = read_inputs(options.texts, options.input_path);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    ATTN_CHECK(!is_blank(texts[i]), "classify: ", origin(options, i),
               " is empty (give one text per line)");
  }
  const tasks::Classifier classifier = tasks::Classifier::load(options.checkpoint);
  const std::vector<tasks::Classification> results = classifier.classify(texts, options.batch_size);
  std::vector<std::string> lines;
  lines.reserve(results.size());
  for (const tasks::Classification& result : results) lines.push_back(format_line(result, classifier, options));
  write_outputs(lines, options.output_path);
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto options = std::make_shared<ClassifyOptions>();
  CLI::App* classify = app.add_subcommand("classify", "label texts with a trained classifier");
  classify->add_option("--checkpoint", options->checkpoint,
                       "a run directory of `attn train` or a checkpoint file")
      ->required();
  classify->add_option("texts", options->texts, "texts to classify");
  classify->add_option("--input,-i", options->input_path, "a file with one text per line ('-': stdin)");
  classify->add_option("--output,-o", options->output_path, "where to write (default: stdout)");
  auto* probabilities = classify->add_flag(
      "--probabilities", options->probabilities,
      "also print every label's probability (name<TAB>label=p ...)");
  classify->add_flag("--json", options->json,
                     "one JSON object per text: label, probabilities, tokens, attention weights")
      ->excludes(probabilities);
  classify->add_option("--batch-size", options->batch_size, "texts classified together")
      ->check(CLI::PositiveNumber);
  classify->add_option("--threads", options->threads, "CPU threads")->check(CLI::PositiveNumber);
  classify->callback([options] {
    int status = run_guarded([&] { run_classify(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
