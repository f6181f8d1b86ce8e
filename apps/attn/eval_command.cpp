// `attn eval --metric bleu,chrf --hyp FILE|- --ref FILE [--ref FILE ...] [--json]`: scores
// hypothesis lines against reference lines (one reference file per reference set) with the
// metrics of attn::metrics. The computations live in the library; this file reads the files,
// checks that they line up, and prints. docs/EVALUATION.md describes the metrics.
//
// Each metric is an entry of kTextMetrics: a name for --metric and a function from the
// loaded texts to a report. A metric that needs other inputs (a checkpoint, say) adds its
// options in add_eval_command and its entry beside these.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/metrics/metrics.h"
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

TextFile read_text_file(const std::string& path, const std::string& role) {
  if (path == "-") {
    std::string content{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    return {"<stdin>", split_lines(content)};
  }
  ATTN_CHECK(fs::exists(path), "eval: ", role, " file not found: ", path);
  ATTN_CHECK(!fs::is_directory(path), "eval: ", role, " file is a directory: ", path);
  std::ifstream stream(path, std::ios::binary);
  ATTN_CHECK(stream.good(), "eval: cannot open ", role, " file ", path);
  std::stringstream content;
  content << stream.rdbuf();
  return {path, split_lines(content.str())};
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

MetricReport report_bleu(const EvalTexts& texts, const EvalOptions& options) {
  metrics::BleuScore score =
      metrics::corpus_bleu(texts.hypotheses.lines, texts.reference_sets(), bleu_options(options));
  return {score.to_string() + "\n  signature: " + score.signature, score.to_json()};
}

MetricReport report_chrf(const EvalTexts& texts, const EvalOptions& options, int word_order) {
  metrics::ChrfOptions chrf{.word_order = word_order, .lowercase = options.lowercase};
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

MetricReport report_accuracy(const EvalTexts& texts, const EvalOptions&) {
  ATTN_CHECK(texts.references.size() == 1,
             "eval: accuracy compares with one file of gold labels, got ", texts.references.size(),
             " --ref files");
  metrics::AccuracyResult result =
      metrics::accuracy(trimmed(texts.hypotheses.lines), trimmed(texts.references[0].lines));
  return {result.to_string(), result.to_json()};
}

struct TextMetric {
  const char* name;  // as given to --metric, and the key in the --json output
  MetricReport (*report)(const EvalTexts&, const EvalOptions&);
};

const TextMetric kTextMetrics[] = {
    {"bleu", report_bleu},
    {"chrf", [](const EvalTexts& t, const EvalOptions& o) { return report_chrf(t, o, 0); }},
    {"chrf++", [](const EvalTexts& t, const EvalOptions& o) { return report_chrf(t, o, 2); }},
    {"accuracy", report_accuracy},
};

const TextMetric& find_metric(const std::string& name) {
  for (const TextMetric& metric : kTextMetrics) {
    if (name == metric.name) return metric;
  }
  throw Error("eval: unknown metric '" + name + "' (expected bleu, chrf, chrf++ or accuracy)");
}

void print_text(const EvalTexts& texts, const std::vector<MetricReport>& reports) {
  std::string references;
  for (const TextFile& file : texts.references) references += (references.empty() ? "" : ", ") + file.name;
  std::printf("hypotheses: %s (%zu lines); references: %s\n", texts.hypotheses.name.c_str(),
              texts.hypotheses.lines.size(), references.c_str());
  for (const MetricReport& report : reports) std::printf("%s\n", report.text.c_str());
}

// {"lines": N, "<metric>": {...}, ...} in the order the metrics were asked for.
void print_json(const EvalTexts& texts, const std::vector<std::string>& names,
                const std::vector<MetricReport>& reports) {
  std::string json = "{\"lines\": " + std::to_string(texts.hypotheses.lines.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    json += ", \"" + names[i] + "\": " + reports[i].json;
  }
  std::printf("%s}\n", json.c_str());
}

void run_eval(EvalOptions options) {
  // Each metric once, in the order first asked for.
  std::vector<std::string> names;
  for (const std::string& name : options.metrics) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  options.metrics = names;
  std::vector<const TextMetric*> chosen;
  for (const std::string& name : options.metrics) chosen.push_back(&find_metric(name));
  EvalTexts texts = read_texts(options);
  std::vector<MetricReport> reports;
  for (const TextMetric* metric : chosen) reports.push_back(metric->report(texts, options));
  if (options.json) {
    print_json(texts, options.metrics, reports);
  } else {
    print_text(texts, reports);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* eval = app.add_subcommand(
      "eval", "score hypotheses against references: BLEU and chrF as sacreBLEU, accuracy");
  eval->add_option("--metric,-m", options->metrics,
                   "bleu, chrf, chrf++ or accuracy; repeat or separate with commas")
      ->delimiter(',')
      ->check(CLI::IsMember({"bleu", "chrf", "chrf++", "accuracy"}))
      ->default_str("bleu");
  eval->add_option("--hyp", options->hypothesis_path,
                   "hypotheses (or predicted labels), one per line; - reads standard input");
  eval->add_option("--ref", options->reference_paths,
                   "references (or gold labels), one per line; repeat for more reference sets");
  eval->add_flag("--lowercase,-l", options->lowercase, "case-insensitive BLEU and chrF");
  eval->add_option("--tokenize", options->tokenize, "BLEU tokenization: 13a (default) or none")
      ->check(CLI::IsMember({"13a", "none"}));
  eval->add_flag("--json", options->json, "print one JSON object instead of text");
  eval->callback([options] {
    if (options->metrics.empty()) options->metrics = {"bleu"};
    int status = run_guarded([&] { run_eval(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
