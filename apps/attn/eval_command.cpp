// `attn eval --metric bleu,chrf --hyp FILE|- --ref FILE [--ref FILE ...] [--json]`: scores
// hypothesis lines against reference lines (one reference file per reference set) with the
// metrics of attn::metrics. The computations live in the library; this file reads the files,
// checks that they line up, and prints. docs/EVALUATION.md describes the metrics.
//
// Each metric is an entry of kMetrics: a name for --metric and a function from the inputs to
// a report. The texts are read when a metric first asks for them, so a metric that needs
// other inputs (a checkpoint and a text file, say) adds its options to EvalOptions and
// add_eval_command, and its entry to kMetrics, without requiring --hyp and --ref.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/data/text_files.h"
#include "attn/metrics/metrics.h"
#include "attn/tasks/language_modeling.h"
#include "commands.h"

namespace attn::cli {
namespace {

namespace fs = std::filesystem;

struct EvalOptions {
  std::vector<std::string> metrics;
  std::string hypothesis_path;
  std::vector<std::string> reference_paths;
  bool lowercase = false;
  std::string tokenize = "13a";
  bool json = false;
  std::string checkpoint;  // perplexity: a language model run or checkpoint
  std::string text_path;   // perplexity: the text, one paragraph per line
};

// The lines of one input file ("-" is standard input), without their '\n'.
struct TextFile {
  std::string name;
  std::vector<std::string> lines;
};

// The hypotheses and, in the same order as the --ref options, the reference files.
struct EvalTexts {
  TextFile hypotheses;
  std::vector<TextFile> references;

  metrics::ReferenceSets reference_sets() const {
    metrics::ReferenceSets sets;
    for (const TextFile& file : references) sets.push_back(file.lines);
    return sets;
  }
};

// One metric's result: the readable lines and a JSON object.
struct MetricReport {
  std::string text;
  std::string json;
};

std::vector<std::string> split_lines(const std::string& content) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string read_content(const std::string& path, const std::string& role) {
  if (path == "-") {
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  }
  ATTN_CHECK(fs::exists(path), "eval: ", role, " file not found: ", path);
  ATTN_CHECK(!fs::is_directory(path), "eval: ", role, " file is a directory: ", path);
  std::ifstream stream(path, std::ios::binary);
  ATTN_CHECK(stream.good(), "eval: cannot open ", role, " file ", path);
  std::stringstream content;
  content << stream.rdbuf();
  return content.str();
}

// Checks the encoding here, so that an error names the file.
TextFile read_text_file(const std::string& path, const std::string& role) {
  TextFile file{path == "-" ? "<stdin>" : path, split_lines(read_content(path, role))};
  for (std::size_t i = 0; i < file.lines.size(); ++i) {
    metrics::unicode::decode_utf8(file.lines[i], "eval: " + file.name + " line " + std::to_string(i + 1));
  }
  return file;
}

EvalTexts read_texts(const EvalOptions& options) {
  ATTN_CHECK(!options.hypothesis_path.empty(), "eval: --hyp FILE (or - for standard input) is required");
  ATTN_CHECK(!options.reference_paths.empty(), "eval: at least one --ref FILE is required");
  std::size_t from_stdin = options.hypothesis_path == "-" ? 1 : 0;
  for (const std::string& path : options.reference_paths) from_stdin += path == "-" ? 1 : 0;
  ATTN_CHECK(from_stdin <= 1, "eval: only one input can be read from standard input ('-')");

  EvalTexts texts{read_text_file(options.hypothesis_path, "hypothesis"), {}};
  ATTN_CHECK(!texts.hypotheses.lines.empty(), "eval: ", texts.hypotheses.name,
             " is empty: no hypotheses to score");
  for (const std::string& path : options.reference_paths) {
    TextFile reference = read_text_file(path, "reference");
    ATTN_CHECK(reference.lines.size() == texts.hypotheses.lines.size(), "eval: ",
               texts.hypotheses.name, " has ", texts.hypotheses.lines.size(), " lines but ",
               reference.name, " has ", reference.lines.size(),
               " (a reference file needs one line per hypothesis)");
    texts.references.push_back(std::move(reference));
  }
  return texts;
}

metrics::BleuOptions bleu_options(const EvalOptions& options) {
  metrics::BleuOptions bleu;
  bleu.lowercase = options.lowercase;
  bleu.tokenizer = options.tokenize == "none" ? metrics::BleuTokenizer::none
                                              : metrics::BleuTokenizer::mteval_13a;
  return bleu;
}

// What the metrics read: the options, and the texts, read on first use.
class EvalInputs {
 public:
  explicit EvalInputs(const EvalOptions& options) : options_(options) {}
  const EvalOptions& options() const { return options_; }
  const EvalTexts& texts() {
    if (!texts_) texts_ = read_texts(options_);
    return *texts_;
  }
  const std::optional<EvalTexts>& texts_if_read() const { return texts_; }

 private:
  const EvalOptions& options_;
  std::optional<EvalTexts> texts_;
};

MetricReport report_bleu(EvalInputs& inputs) {
  const EvalTexts& texts = inputs.texts();
  metrics::BleuScore score = metrics::corpus_bleu(texts.hypotheses.lines, texts.reference_sets(),
                                                  bleu_options(inputs.options()));
  return {score.to_string() + "\n  signature: " + score.signature, score.to_json()};
}

MetricReport report_chrf(EvalInputs& inputs, int word_order) {
  const EvalTexts& texts = inputs.texts();
  metrics::ChrfOptions chrf{.word_order = word_order, .lowercase = inputs.options().lowercase};
  metrics::ChrfScore score = metrics::corpus_chrf(texts.hypotheses.lines, texts.reference_sets(), chrf);
  return {score.to_string() + "\n  signature: " + score.signature, score.to_json()};
}

// Labels are compared without surrounding whitespace (a trailing '\r' included).
std::vector<std::string> trimmed(const std::vector<std::string>& lines) {
  std::vector<std::string> labels;
  for (const std::string& line : lines) {
    std::size_t first = line.find_first_not_of(" \t\r\v\f");
    std::size_t last = line.find_last_not_of(" \t\r\v\f");
    labels.push_back(first == std::string::npos ? "" : line.substr(first, last - first + 1));
  }
  return labels;
}

MetricReport report_accuracy(EvalInputs& inputs) {
  const EvalTexts& texts = inputs.texts();
  ATTN_CHECK(texts.references.size() == 1,
             "eval: accuracy compares with one file of gold labels, got ", texts.references.size(),
             " --ref files");
  metrics::AccuracyResult result =
      metrics::accuracy(trimmed(texts.hypotheses.lines), trimmed(texts.references[0].lines));
  return {result.to_string(), result.to_json()};
}

// Perplexity of a language model (--checkpoint) on a text (--text), one paragraph per line.
MetricReport report_perplexity(EvalInputs& inputs) {
  const EvalOptions& options = inputs.options();
  ATTN_CHECK(!options.checkpoint.empty() && !options.text_path.empty(),
             "eval: perplexity needs --checkpoint (a language model run) and --text (a file, one "
             "paragraph per line)");
  const tasks::TextGenerator generator = tasks::TextGenerator::load(options.checkpoint);
  const metrics::PerplexityResult result =
      generator.perplexity(data::read_lines(options.text_path));
  return {result.to_string(), result.to_json()};
}

struct Metric {
  const char* name;  // as given to --metric, and the key in the --json output
  MetricReport (*report)(EvalInputs& inputs);
};

const Metric kMetrics[] = {
    {"bleu", report_bleu},
    {"chrf", [](EvalInputs& inputs) { return report_chrf(inputs, 0); }},
    {"chrf++", [](EvalInputs& inputs) { return report_chrf(inputs, 2); }},
    {"accuracy", report_accuracy},
    {"perplexity", report_perplexity},
};

std::vector<std::string> metric_names() {
  std::vector<std::string> names;
  for (const Metric& metric : kMetrics) names.emplace_back(metric.name);
  return names;
}

const Metric& find_metric(const std::string& name) {
  for (const Metric& metric : kMetrics) {
    if (name == metric.name) return metric;
  }
  throw Error("eval: unknown metric '" + name + "'");
}

// Each name once, in the order first given.
std::vector<std::string> unique(const std::vector<std::string>& names) {
  std::vector<std::string> unique_names;
  for (const std::string& name : names) {
    if (std::find(unique_names.begin(), unique_names.end(), name) == unique_names.end()) {
      unique_names.push_back(name);
    }
  }
  return unique_names;
}

void print_text(const std::optional<EvalTexts>& texts, const std::vector<MetricReport>& reports) {
  if (texts) {
    std::string references;
    for (const TextFile& file : texts->references) {
      references += (references.empty() ? "" : ", ") + file.name;
    }
    std::printf("hypotheses: %s (%zu lines); references: %s\n", texts->hypotheses.name.c_str(),
                texts->hypotheses.lines.size(), references.c_str());
  }
  for (const MetricReport& report : reports) std::printf("%s\n", report.text.c_str());
}

// {"lines": N, "<metric>": {...}, ...} in the order the metrics were asked for; "lines"
// (the number of hypotheses) only when texts were read.
void print_json(const std::optional<EvalTexts>& texts, const std::vector<std::string>& names,
                const std::vector<MetricReport>& reports) {
  std::vector<std::string> members;
  if (texts) members.push_back("\"lines\": " + std::to_string(texts->hypotheses.lines.size()));
  for (std::size_t i = 0; i < reports.size(); ++i) {
    members.push_back("\"" + names[i] + "\": " + reports[i].json);
  }
  std::string json;
  for (const std::string& member : members) json += (json.empty() ? "{" : ", ") + member;
  std::printf("%s}\n", json.empty() ? "{" : json.c_str());
}

void run_eval(const EvalOptions& options) {
  std::vector<std::string> names = unique(options.metrics.empty() ? std::vector<std::string>{"bleu"}
                                                                  : options.metrics);
  EvalInputs inputs(options);
  std::vector<MetricReport> reports;
  for (const std::string& name : names) reports.push_back(find_metric(name).report(inputs));
  if (options.json) {
    print_json(inputs.texts_if_read(), names, reports);
  } else {
    print_text(inputs.texts_if_read(), reports);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* eval = app.add_subcommand(
      "eval", "score hypotheses against references (BLEU and chrF as sacreBLEU, accuracy) or a language model on a text (perplexity)");
  eval->add_option("--metric,-m", options->metrics,
                   "bleu, chrf, chrf++, accuracy or perplexity; repeat or separate with commas")
      ->delimiter(',')
      ->check(CLI::IsMember(metric_names()))
      ->default_str("bleu");
  eval->add_option("--hyp", options->hypothesis_path,
                   "hypotheses (or predicted labels), one per line; - reads standard input");
  eval->add_option("--ref", options->reference_paths,
                   "references (or gold labels), one per line; repeat for more reference sets");
  eval->add_flag("--lowercase,-l", options->lowercase, "case-insensitive BLEU and chrF");
  eval->add_option("--tokenize", options->tokenize, "BLEU tokenization: 13a (default) or none")
      ->check(CLI::IsMember({"13a", "none"}));
  eval->add_flag("--json", options->json, "print one JSON object instead of text");
  eval->add_option("--checkpoint", options->checkpoint,
                   "perplexity: a language model (run directory or checkpoint)");
  eval->add_option("--text", options->text_path, "perplexity: a text file, one paragraph per line");
  eval->callback([options] {
    int status = run_guarded([&] { run_eval(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
