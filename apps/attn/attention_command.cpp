// `attn attention run --in CASE.safetensors --out RESULT.safetensors [--compare]`: runs one
// attention case (docs/ATTENTION.md, "attn attention run", has the file schema) and writes
// its results; --compare also runs the reference and fused implementations and prints their
// largest differences. The work is tasks::run_attention_case_file; this file is the command.
#include <cstdio>
#include <memory>
#include <string>

#include "attn/tasks/attention_case.h"
#include "commands.h"

namespace attn::cli {
namespace {

struct AttentionRunOptions {
  std::string input_path;
  std::string output_path;
  bool compare = false;
};

void print_summary(const tasks::AttentionCaseRun& run, const std::string& output_path) {
  const io::Metadata& settings = run.result.metadata;
  std::printf("attention case: score %s, impl %s, causal %s\n", settings.at("score").c_str(),
              settings.at("impl").c_str(), settings.at("causal").c_str());
  for (const auto& [name, tensor] : run.result.tensors) {
    std::printf("  %-22s %s\n", name.c_str(), tensor.describe().c_str());
  }
  if (!output_path.empty()) std::printf("wrote %s\n", output_path.c_str());
}

void print_differences(const tasks::AttentionCaseRun& run) {
  std::printf("fused vs reference: largest differences\n");
  std::printf("  %-22s %-16s %12s %12s %12s\n", "tensor", "shape", "max abs", "max rel",
              "max |ref|");
  for (const tasks::TensorDifference& difference : run.differences) {
    std::printf("  %-22s %-16s %12.3e %12.3e %12.3e\n", difference.name.c_str(),
                to_string(difference.shape).c_str(), difference.max_absolute,
                difference.max_relative, difference.max_expected);
  }
}

void run_attention(const AttentionRunOptions& options) {
  if (options.output_path.empty() && !options.compare) {
    throw Error("attention run: --out is required (unless --compare is given)");
  }
  tasks::AttentionCaseRun run =
      tasks::run_attention_case_file(options.input_path, options.output_path, options.compare);
  print_summary(run, options.output_path);
  if (options.compare) print_differences(run);
}

}  // namespace

void add_attention_command(CLI::App& app) {
  CLI::App* attention = app.add_subcommand("attention", "attention checks");
  attention->require_subcommand(1);
  auto options = std::make_shared<AttentionRunOptions>();
  CLI::App* run = attention->add_subcommand(
      "run", "run an attention case file and write its results (schema: docs/ATTENTION.md)");
  run->add_option("--in", options->input_path, "the case, a safetensors file")->required();
  run->add_option("--out", options->output_path, "where to write the results (safetensors)");
  run->add_flag("--compare", options->compare,
                "also run the reference and fused implementations and print their largest "
                "differences");
  run->callback([options] {
    int status = run_guarded([&] { run_attention(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
