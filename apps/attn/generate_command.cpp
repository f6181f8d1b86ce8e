// `attn generate --checkpoint RUN_OR_FILE [PROMPT ...] [--input FILE|-] [--output FILE]
// [--method sample|greedy|beam] [--max-length N] [--temperature T] [--top-k K] [--top-p P]
// [--seed S] [--beam-size B]`: continues prompts with a trained language model
// (tasks/language_modeling.h), one paragraph each. Prompts come from the arguments, a file
// (one per line) or stdin; an empty prompt generates a paragraph from nothing. One line out
// per prompt: the prompt followed by its continuation (--continuation: the continuation
// only).
#include <memory>
#include <string>
#include <vector>

#include "attn/core/parallel.h"
#include "attn/tasks/language_modeling.h"
#include "commands.h"
#include "text_input.h"

namespace attn::cli {
namespace {

struct GenerateOptions {
  std::string checkpoint;
  std::vector<std::string> prompts;
  std::string input_path;
  std::string output_path;
  tasks::GenerationSettings generation;
  bool continuation_only = false;
  int threads = 2;
};

void run_generate(const GenerateOptions& options) {
  set_num_threads(options.threads);
  const std::vector<std::string> prompts = read_inputs(options.prompts, options.input_path);
  const tasks::TextGenerator generator = tasks::TextGenerator::load(options.checkpoint);
  const std::vector<tasks::Generation> generations = generator.generate(prompts, options.generation);
  std::vector<std::string> lines;
  lines.reserve(generations.size());
  for (const tasks::Generation& generation : generations) {
    lines.push_back(options.continuation_only ? generation.continuation : generation.text);
  }
  write_outputs(lines, options.output_path);
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* generate = app.add_subcommand("generate", "continue prompts with a trained language model");
  generate->add_option("--checkpoint", options->checkpoint,
                       "a run directory of `attn train` or a checkpoint file")
      ->required();
  generate->add_option("prompts", options->prompts, "prompts to continue (\"\" starts from nothing)");
  generate->add_option("--input,-i", options->input_path, "a file with one prompt per line ('-': stdin)");
  generate->add_option("--output,-o", options->output_path, "where to write (default: stdout)");
  generate->add_option("--method", options->generation.method, "sample (default), greedy or beam")
      ->check(CLI::IsMember({"greedy", "beam", "sample"}));
  generate->add_option("--max-length", options->generation.max_length,
                       "most tokens to generate per prompt (default 100)")
      ->check(CLI::PositiveNumber);
  generate->add_option("--temperature", options->generation.temperature,
                       "sampling temperature (0: the most probable token)")
      ->check(CLI::NonNegativeNumber);
  generate->add_option("--top-k", options->generation.top_k, "sample from the k most likely tokens (0: all)")
      ->check(CLI::NonNegativeNumber);
  generate->add_option("--top-p", options->generation.top_p, "nucleus sampling threshold")
      ->check(CLI::Range(0.0, 1.0));
  generate->add_option("--seed", options->generation.seed, "sampling seed (the same seed, the same text)");
  generate->add_option("--beam-size", options->generation.beam_size, "beam size")->check(CLI::PositiveNumber);
  generate->add_option("--length-penalty", options->generation.length_penalty,
                       "beam search: GNMT length penalty alpha (0: none)");
  generate->add_option("--batch-size", options->generation.batch_size, "prompts generated together")
      ->check(CLI::PositiveNumber);
  generate->add_flag("--continuation", options->continuation_only,
                     "print only the generated text, not the prompt before it");
  generate->add_option("--threads", options->threads, "CPU threads")->check(CLI::PositiveNumber);
  generate->callback([options] {
    int status = run_guarded([&] { run_generate(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
