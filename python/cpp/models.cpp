#include "models.h"

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "attention_maps.h"
#include "attn/inspect/attention_maps.h"
#include "attn/tasks/classification.h"
#include "attn/tasks/language_modeling.h"
#include "attn/tasks/translation.h"

namespace attn::python {

namespace nb = nanobind;

namespace {

using tasks::Classifier;
using tasks::TextGenerator;
using tasks::Translator;

// Loads under a released GIL: reading a checkpoint takes a while.
template <typename Model>
Model load(const std::filesystem::path& path) {
  nb::gil_scoped_release unlocked;
  return Model::load(path);
}

nb::list translations_list(const std::vector<std::vector<tasks::Translation>>& all) {
  nb::list list;
  for (const auto& n_best : all) {
    nb::list entries;
    for (const tasks::Translation& translation : n_best) {
      nb::dict entry;
      entry["text"] = translation.text;
      entry["score"] = translation.score;
      entry["log_prob"] = translation.log_prob;
      entry["num_tokens"] = translation.num_tokens;
      entries.append(entry);
    }
    list.append(entries);
  }
  return list;
}

nb::dict classification_dict(const tasks::Classification& result) {
  nb::dict dict;
  dict["label"] = result.label;
  dict["label_name"] = result.label_name;
  dict["probabilities"] = result.probabilities;
  dict["tokens"] = result.tokens;
  dict["attention"] = result.attention;
  return dict;
}

nb::dict generation_dict(const tasks::Generation& generation) {
  nb::dict dict;
  dict["prompt"] = generation.prompt;
  dict["continuation"] = generation.continuation;
  dict["text"] = generation.text;
  dict["tokens"] = generation.tokens;
  dict["log_prob"] = generation.log_prob;
  dict["finished"] = generation.finished;
  return dict;
}

void bind_translator(nb::module_& module) {
  nb::class_<Translator>(module, "Translator", "A trained translation model with its tokenizers.")
      .def_static("load", &load<Translator>, nb::arg("path"),
                  "From a checkpoint file, or a run directory (its best checkpoint, else its last).")
      .def_prop_ro("source_tokenizer", &Translator::source_tokenizer, nb::rv_policy::reference_internal)
      .def_prop_ro("target_tokenizer", &Translator::target_tokenizer, nb::rv_policy::reference_internal)
      .def(
          "translate",
          [](const Translator& translator, const std::vector<std::string>& sentences,
             const std::string& method, std::int64_t beam_size, double length_penalty,
             std::int64_t n_best, double temperature, std::int64_t top_k, double top_p,
             std::uint64_t seed, std::int64_t max_length, std::int64_t batch_size) {
            tasks::SearchSettings settings{method, beam_size, length_penalty, n_best, temperature,
                                           top_k, top_p, seed, max_length, batch_size};
            std::vector<std::vector<tasks::Translation>> translations;
            {
              nb::gil_scoped_release unlocked;
              translations = translator.translate(sentences, settings);
            }
            return translations_list(translations);
          },
          nb::arg("sentences"), nb::arg("method"), nb::arg("beam_size"), nb::arg("length_penalty"),
          nb::arg("n_best"), nb::arg("temperature"), nb::arg("top_k"), nb::arg("top_p"),
          nb::arg("seed"), nb::arg("max_length"), nb::arg("batch_size"),
          "n-best lists of {text, score, log_prob, num_tokens}, best first.")
      .def(
          "attention",
          [](const Translator& translator, const std::string& source, const std::string& target) {
            inspect::TranslationAttention attention;
            {
              nb::gil_scoped_release unlocked;
              attention = inspect::translation_attention(translator, source, target);
            }
            nb::dict dict;
            dict["source_tokens"] = attention.source_tokens;
            dict["target_tokens"] = attention.target_tokens;
            dict["maps"] = maps_list(attention.maps);
            return dict;
          },
          nb::arg("source"), nb::arg("target"),
          "Forced decoding of target after source: the encoder, decoder and cross maps.");
}

void bind_classifier(nb::module_& module) {
  nb::class_<Classifier>(module, "Classifier", "A trained classifier with its tokenizer.")
      .def_static("load", &load<Classifier>, nb::arg("path"))
      .def_prop_ro("label_names", &Classifier::label_names)
      .def_prop_ro("tokenizer", &Classifier::tokenizer, nb::rv_policy::reference_internal)
      .def(
          "classify",
          [](const Classifier& classifier, const std::vector<std::string>& texts,
             std::int64_t batch_size) {
            std::vector<tasks::Classification> results;
            {
              nb::gil_scoped_release unlocked;
              results = classifier.classify(texts, batch_size);
            }
            nb::list list;
            for (const tasks::Classification& result : results) {
              list.append(classification_dict(result));
            }
            return list;
          },
          nb::arg("texts"), nb::arg("batch_size"),
          "{label, label_name, probabilities, tokens, attention} per text.")
      .def(
          "attention",
          [](const Classifier& classifier, const std::string& text) {
            inspect::ClassificationAttention attention;
            {
              nb::gil_scoped_release unlocked;
              attention = inspect::classification_attention(classifier, text);
            }
            nb::dict dict = classification_dict(attention.result);
            dict["maps"] = maps_list(attention.maps);
            return dict;
          },
          nb::arg("text"), "The classification of one text with its attention maps.");
}

void bind_generator(nb::module_& module) {
  nb::class_<TextGenerator>(module, "TextGenerator", "A trained language model with its tokenizer.")
      .def_static("load", &load<TextGenerator>, nb::arg("path"))
      .def_prop_ro("max_length", &TextGenerator::max_length)
      .def_prop_ro("tokenizer", &TextGenerator::tokenizer, nb::rv_policy::reference_internal)
      .def(
          "generate",
          [](const TextGenerator& generator, const std::vector<std::string>& prompts,
             const std::string& method, std::int64_t max_length, double temperature,
             std::int64_t top_k, double top_p, std::uint64_t seed, std::int64_t beam_size,
             double length_penalty, std::int64_t batch_size) {
            tasks::GenerationSettings settings{method, max_length,     temperature, top_k,     top_p,
                                               seed,   beam_size,      length_penalty, batch_size};
            std::vector<tasks::Generation> generations;
            {
              nb::gil_scoped_release unlocked;
              generations = generator.generate(prompts, settings);
            }
            nb::list list;
            for (const tasks::Generation& generation : generations) {
              list.append(generation_dict(generation));
            }
            return list;
          },
          nb::arg("prompts"), nb::arg("method"), nb::arg("max_length"), nb::arg("temperature"),
          nb::arg("top_k"), nb::arg("top_p"), nb::arg("seed"), nb::arg("beam_size"),
          nb::arg("length_penalty"), nb::arg("batch_size"),
          "{prompt, continuation, text, tokens, log_prob, finished} per prompt.")
      .def(
          "perplexity",
          [](const TextGenerator& generator, const std::vector<std::string>& paragraphs,
             std::int64_t batch_size) {
            metrics::PerplexityResult result;
            {
              nb::gil_scoped_release unlocked;
              result = generator.perplexity(paragraphs, batch_size);
            }
            nb::dict dict;
            dict["perplexity"] = result.perplexity;
            dict["mean_nll"] = result.mean_nll;
            dict["tokens"] = result.tokens;
            dict["bits_per_token"] = result.bits_per_token();
            return dict;
          },
          nb::arg("paragraphs"), nb::arg("batch_size"))
      .def(
          "attention",
          [](const TextGenerator& generator, const std::string& text) {
            inspect::LanguageModelAttention attention;
            {
              nb::gil_scoped_release unlocked;
              attention = inspect::language_model_attention(generator, text);
            }
            nb::dict dict;
            dict["tokens"] = attention.tokens;
            dict["maps"] = maps_list(attention.maps);
            return dict;
          },
          nb::arg("text"), "The causal self-attention of every layer on the text.");
}

}  // namespace

void bind_models(nb::module_& module) {
  bind_translator(module);
  bind_classifier(module);
  bind_generator(module);
}

}  // namespace attn::python
