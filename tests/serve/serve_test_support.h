// Tiny untrained models written as run directories (checkpoints/best.safetensors with the
// tokenizers beside it), as `attn train` leaves them, for the serve tests: each loads in
// milliseconds and runs a request in a few.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/random.h"
#include "attn/io/checkpoint.h"
#include "attn/models/language_model.h"
#include "attn/tasks/classification.h"
#include "attn/tasks/translation.h"
#include "attn/text/char_vocabulary.h"

namespace attn::testing {

inline text::CharVocabulary tiny_vocabulary() {
  const std::vector<std::string> texts = {"el perro come pan y la gata bebe agua.",
                                          "the dog eats bread and the cat drinks water."};
  return text::CharVocabulary::build(texts);
}

// RUN/checkpoints/best.safetensors with `config`, and the tokenizer saved under each name.
inline void write_run(const std::filesystem::path& run, const nn::Module& module,
                      const nlohmann::json& config, const text::Tokenizer& tokenizer,
                      const std::vector<std::string>& tokenizer_names) {
  const std::filesystem::path checkpoints = run / "checkpoints";
  std::filesystem::create_directories(checkpoints);
  io::save_checkpoint((checkpoints / "best.safetensors").string(), module, config.dump());
  for (const std::string& name : tokenizer_names) tokenizer.save(checkpoints, name);
}

// A 2 + 2 layer Transformer of 32 positions over characters.
inline std::filesystem::path write_translation_run(const std::filesystem::path& run) {
  const text::CharVocabulary vocabulary = tiny_vocabulary();
  const nlohmann::json options = {{"source_vocab_size", vocabulary.vocab_size()},
                                  {"target_vocab_size", vocabulary.vocab_size()},
                                  {"d_model", 16}, {"num_heads", 2}, {"d_ff", 32},
                                  {"encoder_layers", 2}, {"decoder_layers", 2}, {"dropout", 0.0},
                                  {"max_length", 32}, {"norm", "pre"}};
  manual_seed(11);
  auto model = tasks::TranslationModel::create("transformer", options);
  const nlohmann::json config = {{"task", "translation"}, {"arch", "transformer"},
                                 {"model", model->options_json()}};
  write_run(run, model->module(), config, vocabulary, {"source", "target"});
  return run;
}

// A BiGRU + attention classifier of three labels, texts cut to 24 characters.
inline std::filesystem::path write_classifier_run(const std::filesystem::path& run) {
  const text::CharVocabulary vocabulary = tiny_vocabulary();
  const nlohmann::json options = {{"vocab_size", vocabulary.vocab_size()}, {"max_length", 24},
                                  {"embedding_size", 8}, {"hidden_size", 8},
                                  {"attention_size", 4}, {"dropout", 0.0}, {"num_classes", 3}};
  manual_seed(12);
  auto model = tasks::ClassificationModel::create("bigru", options);
  const nlohmann::json config = {{"task", "classification"}, {"arch", "bigru"},
                                 {"model", model->options_json()},
                                 {"labels", {"red", "green", "blue"}},
                                 {"max_length", 24}, {"truncation", "keep_start"}};
  write_run(run, model->module(), config, vocabulary, {"input"});
  return run;
}

// A 2-layer decoder-only Transformer of 48 positions over characters.
inline std::filesystem::path write_language_model_run(const std::filesystem::path& run) {
  const text::CharVocabulary vocabulary = tiny_vocabulary();
  models::LanguageModelOptions options;
  options.vocab_size = vocabulary.vocab_size();
  options.d_model = 16;
  options.num_heads = 2;
  options.d_ff = 32;
  options.num_layers = 2;
  options.dropout = 0.0;
  options.max_length = 48;
  manual_seed(13);
  models::TransformerLanguageModel model(options);
  const nlohmann::json config = {{"task", "language_model"}, {"model", options.to_json()},
                                 {"context_length", options.max_length}};
  write_run(run, model, config, vocabulary, {"text"});
  return run;
}

// Where two API answers differ, or "" when they are the same answer: every string, integer,
// flag and key equal, every other number within `relative` of the other. A request decoded in
// a batch has the text and maps it has alone, but its scores add float32 sums whose rounding
// depends on the batch's shapes (docs/SERVE.md).
inline std::string answer_difference(const nlohmann::json& got, const nlohmann::json& expected,
                                     double relative = 1e-6, const std::string& where = "") {
  if (got.is_number_float() || expected.is_number_float()) {
    if (!got.is_number() || !expected.is_number()) return where + ": a number and something else";
    const double a = got.get<double>(), b = expected.get<double>();
    const double scale = std::max({std::abs(a), std::abs(b), 1.0});
    return std::abs(a - b) <= relative * scale ? "" : where + ": " + got.dump() + " vs " + expected.dump();
  }
  if (got.type() != expected.type() || got.size() != expected.size()) {
    return where + ": " + got.dump().substr(0, 80) + " vs " + expected.dump().substr(0, 80);
  }
  if (got.is_object()) {
    for (auto item = expected.begin(); item != expected.end(); ++item) {
      if (!got.contains(item.key())) return where + "." + item.key() + " is missing";
      const std::string difference = answer_difference(got[item.key()], item.value(), relative, where + "." + item.key());
      if (!difference.empty()) return difference;
    }
    return "";
  }
  if (got.is_array()) {
    for (std::size_t i = 0; i < got.size(); ++i) {
      const std::string difference = answer_difference(got[i], expected[i], relative, where + "[" + std::to_string(i) + "]");
      if (!difference.empty()) return difference;
    }
    return "";
  }
  return got == expected ? "" : where + ": " + got.dump() + " vs " + expected.dump();
}

}  // namespace attn::testing
