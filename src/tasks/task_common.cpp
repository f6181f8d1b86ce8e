#include "attn/tasks/task_common.h"

#include <fstream>

#include "attn/core/error.h"
#include "attn/text/char_vocabulary.h"

namespace attn::tasks {
namespace fs = std::filesystem;

void add_options_keys(train::Schema& schema, const std::string& section,
                      const nlohmann::json& defaults, const std::set<std::string>& excluded,
                      const std::string& help) {
  for (const auto& [name, value] : defaults.items()) {
    if (excluded.count(name) != 0) continue;
    const std::string key = section + "." + name;
    if (value.is_boolean()) {
      schema.add(key, value.get<bool>(), help);
    } else if (value.is_number_integer()) {
      schema.add(key, value.get<std::int64_t>(), help);
    } else if (value.is_number()) {
      schema.add(key, value.get<double>(), help);
    } else if (value.is_string()) {
      schema.add(key, value.get<std::string>(), help);
    } else {
      ATTN_ASSERT(false, "add_options_keys: unsupported option type for ", key);
    }
  }
}

nlohmann::json section_options(const train::Config& config, const std::string& section) {
  return nlohmann::json::parse(config.section_json(section));
}

CheckpointLocation locate_checkpoint(const fs::path& path) {
  ATTN_CHECK(fs::exists(path), "no checkpoint at '", path.string(), "' (no such file or directory)");
  if (fs::is_directory(path)) {
    for (const fs::path& candidate : {path / "checkpoints" / "best.safetensors",
                                      path / "checkpoints" / "last.safetensors",
                                      path / "best.safetensors", path / "last.safetensors"}) {
      if (fs::exists(candidate)) return {candidate, candidate.parent_path()};
    }
    ATTN_CHECK(false, "'", path.string(),
               "' is a directory without checkpoints/best.safetensors or "
               "checkpoints/last.safetensors: is it a run directory of `attn train`?");
  }
  return {path, path.parent_path().empty() ? fs::path(".") : path.parent_path()};
}

nlohmann::json checkpoint_task_config(const io::Checkpoint& checkpoint, const fs::path& path,
                                      const std::string& expected_task) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(checkpoint.config_json);
  } catch (const nlohmann::json::exception& error) {
    ATTN_CHECK(false, path.string(), ": the checkpoint's config is not valid JSON: ", error.what());
  }
  ATTN_CHECK(config.is_object() && config.contains("task") && config["task"].is_string(),
             path.string(), ": not a checkpoint of an attn training run (its config has no \"task\")");
  const std::string task = config["task"].get<std::string>();
  ATTN_CHECK(task == expected_task, path.string(), ": a ", task, " model, not a ", expected_task,
             " model");
  return config;
}

fs::path tokenizer_directory(const std::string& run_dir) { return fs::path(run_dir) / "checkpoints"; }

std::vector<std::int64_t> encode_limited(const text::Tokenizer& tokenizer, const std::string& text,
                                         std::int64_t max_length, bool truncate,
                                         const std::string& what) {
  std::vector<std::int64_t> ids = tokenizer.encode(text);
  if (max_length > 0 && static_cast<std::int64_t>(ids.size()) > max_length) {
    ATTN_CHECK(truncate, what, " is ", ids.size(), " tokens long; the model takes at most ",
               max_length);
    ids.resize(static_cast<std::size_t>(max_length));
  }
  return ids;
}

text::SentencePieceTrainOptions sentencepiece_options(const train::Config& config) {
  text::SentencePieceTrainOptions options;
  options.vocab_size = config.get<std::int64_t>("tokenizer.vocab_size");
  options.model_type =
      text::sentencepiece_model_type_from_string(config.get<std::string>("tokenizer.model_type"));
  options.max_sentences = config.get<std::int64_t>("tokenizer.max_sentences");
  options.seed = static_cast<std::uint32_t>(config.get<std::int64_t>("train.seed"));
  return options;
}

std::unique_ptr<text::Tokenizer> build_char_vocabulary(const train::Config& config,
                                                       const std::vector<std::string>& texts) {
  text::CharVocabularyOptions options;
  options.max_size = config.get<std::int64_t>("tokenizer.vocab_size");
  options.min_count = config.get<std::int64_t>("tokenizer.min_count");
  return std::make_unique<text::CharVocabulary>(text::CharVocabulary::build(texts, options));
}

double weighted_mean(const std::vector<double>& values, const std::vector<double>& weights) {
  double sum = 0, total = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    sum += values[i] * weights[i];
    total += weights[i];
  }
  return total > 0 ? sum / total : 0.0;
}

}  // namespace attn::tasks
