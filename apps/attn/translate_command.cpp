// `attn translate --checkpoint RUN_OR_FILE [SENTENCE ...] [--input FILE|-] [--output FILE]`:
// translates with a trained translation model (tasks/translation.h): beam search by
// default, or greedy decoding or sampling. Input comes from the arguments, a file, or stdin;
// one translation per line (with --n-best, N lines per sentence: index, score, text).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attn/core/parallel.h"
#include "attn/tasks/translation.h"
#include "commands.h"
#include "text_input.h"

namespace attn::cli {
namespace {

struct TranslateOptions {
  std::string checkpoint;
  std::vector<std::string> sentences;
  std::string input_path;
  std::string output_path;
  tasks::SearchSettings search;
  int threads = 2;
};

void run_translate(const TranslateOptions& options) {
  set_num_threads(options.threads);
  const tasks::Translator translator = tasks::Translator::load(options.checkpoint);
  const std::vector<std::string> sentences = read_inputs(options.sentences, options.input_path);
  const auto translations = translator.translate(sentences, options.search);
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < translations.size(); ++i) {
    if (options.search.n_best <= 1) {
      lines.push_back(translations[i].empty() ? "" : translations[i].front().text);
      continue;
    }
    for (const tasks::Translation& translation : translations[i]) {
      char score[32];
      std::snprintf(score, sizeof score, "%.4f", translation.score);
      lines.push_back(std::to_string(i) + "\t" + score + "\t" + translation.text);
    }
  }
  write_outputs(lines, options.output_path);
}

}  // namespace

void add_translate_command(CLI::App& app) {
  auto options = std::make_shared<TranslateOptions>();
  CLI::App* translate = app.add_subcommand("translate", "translate text with a trained model");
  translate->add_option("--checkpoint", options->checkpoint,
                        "a run directory of `attn train` or a checkpoint file")
      ->required();
  translate->add_option("sentences", options->sentences, "sentences to translate");
  translate->add_option("--input,-i", options->input_path, "a file with one sentence per line ('-': stdin)");
  translate->add_option("--output,-o", options->output_path, "where to write (default: stdout)");
  translate->add_option("--method", options->search.method, "greedy, beam or sample")
      ->check(CLI::IsMember({"greedy", "beam", "sample"}));
  translate->add_option("--beam-size", options->search.beam_size, "beam size")->check(CLI::PositiveNumber);
  translate->add_option("--length-penalty", options->search.length_penalty,
                        "GNMT length penalty alpha (0: none)");
  translate->add_option("--n-best", options->search.n_best, "hypotheses per sentence (beam search)")
      ->check(CLI::PositiveNumber);
  translate->add_option("--temperature", options->search.temperature, "sampling temperature")
      ->check(CLI::NonNegativeNumber);
  translate->add_option("--top-k", options->search.top_k, "sample from the k most likely tokens (0: all)")
      ->check(CLI::NonNegativeNumber);
  translate->add_option("--top-p", options->search.top_p, "nucleus sampling threshold")
      ->check(CLI::Range(0.0, 1.0));
  translate->add_option("--seed", options->search.seed, "sampling seed");
  translate->add_option("--max-length", options->search.max_length, "most tokens to generate")
      ->check(CLI::PositiveNumber);
  translate->add_option("--batch-size", options->search.batch_size, "sentences decoded together")
      ->check(CLI::PositiveNumber);
  translate->add_option("--threads", options->threads, "CPU threads")->check(CLI::PositiveNumber);
  translate->callback([options] {
    int status = run_guarded([&] { run_translate(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
