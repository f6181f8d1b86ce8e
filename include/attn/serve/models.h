// The models `attn serve` answers with: trained translation, classification and language
// models, and pretrained encoders (Hugging Face folders, for sentence embeddings), each under
// a name, loaded once at start-up and shared by every request.
//
// A model is given on the command line as DIR or NAME=DIR, where DIR is a run directory of
// `attn train`, a checkpoint file, or a Hugging Face model folder (config.json;
// models/pretrained.h). Without NAME the model is named after its run directory
// (for a checkpoint inside RUN/checkpoints/, RUN's name; for another file, the file's stem).
// The task kind comes from the checkpoint's config ("task"), read from the file's header
// alone, so the weights are read once.
//
// Thread safety: the tokenizers' const methods may be called from several threads at once
// (text/tokenizer.h), but a model run is serialised per model (ServedModel::lock): the
// server's worker threads would otherwise each start their own OpenMP team on the same
// cores, and one run at a time per model keeps the latency of each request predictable.
// Different models run side by side.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "attn/models/pretrained.h"
#include "attn/tasks/classification.h"
#include "attn/tasks/language_modeling.h"
#include "attn/tasks/translation.h"

namespace attn::serve {

enum class ModelKind { Translation, Classification, LanguageModel, Embedding };

// "translation", "classification", "language_model" (the checkpoints' task names) and
// "embedding" (a pretrained encoder).
std::string_view model_kind_name(ModelKind kind);
// The inverse of model_kind_name; throws attn::Error naming the three kinds.
ModelKind parse_model_kind(std::string_view name);

// One --model argument: NAME=DIR or DIR.
struct ModelSpec {
  std::string name;
  std::filesystem::path path;
};

// Splits NAME=DIR (NAME non-empty and valid) or names a bare DIR as the header says.
// Throws attn::Error for an empty argument or an invalid name.
ModelSpec parse_model_argument(std::string_view argument);

// A name may use letters, digits, '_', '-' and '.', 1 to 64 of them: it travels in JSON and
// in the page's selector, and a plain name keeps it unambiguous in logs.
bool is_valid_model_name(std::string_view name);

// The task kind of a trained model: `path` is a run directory or checkpoint file
// (tasks::locate_checkpoint). Reads only the safetensors header. Throws attn::Error naming
// the file when it is not an attn checkpoint of a known task.
ModelKind checkpoint_model_kind(const std::filesystem::path& path);

class ServedModel {
 public:
  using Model = std::variant<tasks::Translator, tasks::Classifier, tasks::TextGenerator,
                             std::shared_ptr<const models::PretrainedEncoder>>;

  ServedModel(std::string name, Model model);

  const std::string& name() const { return name_; }
  ModelKind kind() const;
  std::string arch() const;  // "transformer", "rnn", "bigru", or a pretrained model_type ("bert")
  // The longest input the model takes, in tokens of its input tokenizer, without the
  // markers the task adds (</s>); 0: no limit (a classifier cuts longer texts instead).
  std::int64_t max_input_tokens() const;
  // The length of `text` in the model's input tokens (without the markers the task adds).
  std::int64_t count_input_tokens(const std::string& text) const;

  // The model of this kind, or null.
  const tasks::Translator* translator() const { return std::get_if<tasks::Translator>(&model_); }
  const tasks::Classifier* classifier() const { return std::get_if<tasks::Classifier>(&model_); }
  const tasks::TextGenerator* generator() const {
    return std::get_if<tasks::TextGenerator>(&model_);
  }
  const models::PretrainedEncoder* encoder() const {
    const auto* held = std::get_if<std::shared_ptr<const models::PretrainedEncoder>>(&model_);
    return held != nullptr ? held->get() : nullptr;
  }

  // Held for the length of one model run (see the header comment).
  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }

 private:
  std::string name_;
  Model model_;
  mutable std::mutex mutex_;
};

class Models {
 public:
  // Loads the model a spec names (its kind read from the checkpoint). Throws attn::Error for
  // a name already taken, an invalid name, or a model that does not load.
  void load(const ModelSpec& spec);
  // Adds a model already in memory (tests, or a program that trains and serves).
  void add(std::string name, ServedModel::Model model);

  // The model of that name, or null.
  const ServedModel* find(std::string_view name) const;
  std::vector<const ServedModel*> of_kind(ModelKind kind) const;
  // In the order they were added.
  std::vector<const ServedModel*> all() const;
  bool empty() const { return models_.empty(); }

 private:
  std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace attn::serve
