// `attn align-eval --model RUN_DIR [--data data/bible] [--split test] [--json FILE]
// [--limit N] [--target-rows predicting|reading] [--all-words] [--threads N]`: word
// alignments from a translation model's cross-attention, by forced decoding of the reference,
// scored against the Strong's-number gold alignments with AER, precision and recall, per
// layer and head, per layer's head mean and over all layers (docs/ALIGNMENT.md). The work is
// attn::align::evaluate_alignments.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attn/align/evaluation.h"
#include "attn/core/parallel.h"
#include "attn/io/atomic_file.h"
#include "attn/tasks/translation.h"
#include "commands.h"

namespace attn::cli {
namespace {

struct AlignEvalOptions {
  std::string model;
  std::string data_dir = "data/bible";
  std::string split = "test";
  std::string json_path;
  std::int64_t limit = 0;
  std::string target_rows = "predicting";
  bool all_words = false;
  int threads = 2;
};

void run_align_eval(const AlignEvalOptions& options) {
  set_num_threads(options.threads);
  std::vector<align::VersePair> verses = align::read_verse_pairs(options.data_dir, options.split);
  if (options.limit > 0 && static_cast<std::size_t>(options.limit) < verses.size()) {
    verses.resize(static_cast<std::size_t>(options.limit));
  }
  const tasks::Translator translator = tasks::Translator::load(options.model);
  const align::AlignmentEvaluation evaluation =
      align::evaluate_alignments(translator, verses,
                                 {.target_rows = align::parse_target_rows(options.target_rows),
                                  .all_words = options.all_words});
  std::printf("attn align-eval: %s on %s/%s\n%s", options.model.c_str(), options.data_dir.c_str(),
              options.split.c_str(), evaluation.to_table().c_str());
  if (!options.json_path.empty()) {
    io::write_file_atomic(options.json_path, evaluation.to_json() + "\n");
  }
}

}  // namespace

void add_align_eval_command(CLI::App& app) {
  auto options = std::make_shared<AlignEvalOptions>();
  CLI::App* command = app.add_subcommand(
      "align-eval",
      "score the word alignments of a translation model's cross-attention against the "
      "Strong's-number gold alignments (AER, precision, recall per layer and head)");
  command->add_option("--model", options->model, "a translation run directory or checkpoint")
      ->required();
  command->add_option("--data", options->data_dir,
                      "folder with {split}.es.markup, {split}.en.markup (attn data fetch bible)")
      ->capture_default_str();
  command->add_option("--split", options->split, "which split to score")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  command->add_option("--json", options->json_path, "also write the results as JSON to FILE");
  command->add_option("--limit", options->limit, "score only the first N verses (0: all)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--target-rows", options->target_rows,
                      "the attention row of target piece y_t: the step predicting it, or the "
                      "step reading it as input")
      ->check(CLI::IsMember({"predicting", "reading"}))
      ->capture_default_str();
  command->add_flag("--all-words", options->all_words,
                    "score every link, also those of words without a Strong's number");
  command->add_option("--threads", options->threads, "CPU threads")->check(CLI::PositiveNumber);
  command->callback([options] {
    int status = run_guarded([&] { run_align_eval(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
