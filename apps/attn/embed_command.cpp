// `attn embed --model DIR [TEXT ...] [--input FILE|-] [--output FILE] [--format F]`: one
// sentence embedding per text with a pretrained model folder (docs/PRETRAINED.md), written
// as .npy, safetensors or JSON lines (the format from --format or the output's extension;
// JSON lines on stdout when no output is given).
// `attn similarity --model DIR TEXT TEXT [TEXT ...]`: the cosine similarity of the first
// text with each of the others, one line each.
// The work is tasks/embedding.h; these are the commands.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/parallel.h"
#include "attn/models/pretrained.h"
#include "attn/ops/views.h"
#include "attn/tasks/embedding.h"
#include "commands.h"
#include "text_input.h"

namespace attn::cli {
namespace {

struct EmbedOptions {
  std::string model;
  std::vector<std::string> texts;
  std::string input_path;
  std::string output_path;
  std::string format;
  std::int64_t batch_size = 32;
  int threads = 2;
};

void run_embed(const EmbedOptions& options) {
  set_num_threads(options.threads);
  // Check the output's format before the slow part.
  const tasks::EmbeddingFormat format = tasks::embedding_format(options.output_path, options.format);
  ATTN_CHECK(!options.output_path.empty() || format == tasks::EmbeddingFormat::JsonLines,
             "embed: --output is required for the ", options.format, " format");
  const std::vector<std::string> texts = read_inputs(options.texts, options.input_path);
  auto model = models::load_pretrained(options.model);
  const Tensor embeddings = model->embed(texts, options.batch_size);
  tasks::write_embeddings(options.output_path, embeddings, format);
  if (!options.output_path.empty()) {
    std::fprintf(stderr, "embed: %lld texts -> %s [%lld, %lld]\n", static_cast<long long>(texts.size()),
                 options.output_path.c_str(), static_cast<long long>(embeddings.size(0)),
                 static_cast<long long>(embeddings.size(1)));
  }
}

struct SimilarityOptions {
  std::string model;
  std::vector<std::string> texts;
  int threads = 2;
};

void run_similarity(const SimilarityOptions& options) {
  set_num_threads(options.threads);
  ATTN_CHECK(options.texts.size() >= 2, "similarity: give at least two texts, got ",
             options.texts.size());
  auto model = models::load_pretrained(options.model);
  const Tensor embeddings = model->embed(options.texts);
  const std::vector<std::vector<double>> scores =
      tasks::cosine_similarities(ops::slice(embeddings, 0, 0, 1), embeddings);
  for (std::size_t i = 1; i < options.texts.size(); ++i) {
    std::printf("%.6f\t%s\n", scores[0][i], options.texts[i].c_str());
  }
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto options = std::make_shared<EmbedOptions>();
  CLI::App* embed = app.add_subcommand("embed", "sentence embeddings with a pretrained model folder");
  embed->add_option("--model", options->model,
                    "a Hugging Face model folder (config.json, model.safetensors, tokenizer)")
      ->required();
  embed->add_option("texts", options->texts, "texts to embed");
  embed->add_option("--input,-i", options->input_path, "a file with one text per line ('-': stdin)");
  embed->add_option("--output,-o", options->output_path,
                    "where to write: .npy, .safetensors or .jsonl (default: JSON lines on stdout)");
  embed->add_option("--format", options->format, "npy, safetensors or jsonl (default: by extension)");
  embed->add_option("--batch-size", options->batch_size, "texts embedded together")
      ->check(CLI::PositiveNumber);
  embed->add_option("--threads", options->threads, "CPU threads")->check(CLI::PositiveNumber);
  embed->callback([options] {
    int status = run_guarded([&] { run_embed(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });

  auto similarity_options = std::make_shared<SimilarityOptions>();
  CLI::App* similarity = app.add_subcommand(
      "similarity", "cosine similarity of the first text with each of the others");
  similarity->add_option("--model", similarity_options->model, "a Hugging Face model folder")
      ->required();
  similarity->add_option("texts", similarity_options->texts, "two or more texts")->required();
  similarity->add_option("--threads", similarity_options->threads, "CPU threads")
      ->check(CLI::PositiveNumber);
  similarity->callback([similarity_options] {
    int status = run_guarded([&] { run_similarity(*similarity_options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
