// The model routes of the API: translate, classify, generate, embed, and the list of models.
#include "handlers.h"

#include <algorithm>
#include <optional>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/text/utf8.h"
#include "batch_queue.h"
#include "request_fields.h"

namespace attn::serve {

namespace {

// A client-supplied string for an error message: quoted, escaped, and cut short.
std::string quote_for_message(const std::string& value) {
  std::string shown = value.size() > 64 ? value.substr(0, 61) + "..." : value;
  return nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string names_of(const std::vector<const ServedModel*>& models) {
  std::string names;
  for (const ServedModel* model : models) names += (names.empty() ? "" : ", ") + model->name();
  return names.empty() ? "none" : names;
}

// The model a request names, or the only model of the route's kind when it names none.
const ServedModel& resolve_model(const Models& models, ModelKind kind,
                                 const std::optional<std::string>& name) {
  const std::string kind_name(model_kind_name(kind));
  if (name) {
    const ServedModel* model = models.find(*name);
    if (model == nullptr) {
      throw HttpError(404, "unknown model " + quote_for_message(*name) + " (loaded: " +
                               names_of(models.all()) + ")");
    }
    if (model->kind() != kind) {
      throw HttpError(400, "model " + quote_for_message(*name) + " is a " +
                               std::string(model_kind_name(model->kind())) + " model, not a " +
                               kind_name + " model");
    }
    return *model;
  }
  const std::vector<const ServedModel*> candidates = models.of_kind(kind);
  if (candidates.empty()) throw HttpError(404, "no " + kind_name + " model is loaded");
  if (candidates.size() > 1) {
    throw HttpError(400, std::to_string(candidates.size()) + " " + kind_name + " models are loaded (" +
                             names_of(candidates) + "): name one with \"model\"");
  }
  return *candidates.front();
}

bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

std::string required_text(const std::optional<std::string>& text) {
  if (!text) throw HttpError(400, "missing field \"text\"");
  const std::size_t invalid = text::find_invalid_utf8(*text);
  if (invalid != std::string::npos) {
    throw HttpError(400, "\"text\": invalid UTF-8 at byte " + std::to_string(invalid));
  }
  if (is_blank(*text)) throw HttpError(400, "\"text\": expected some text, got an empty string");
  return *text;
}

// The input, in the model's tokens, within the model's positions and the server's limit.
void check_input_length(const ServedModel& model, const std::string& text, const Limits& limits) {
  const std::int64_t tokens = model.count_input_tokens(text);
  const std::string length = "\"text\" is " + std::to_string(tokens) + " tokens long; ";
  const std::int64_t model_limit = model.max_input_tokens();
  if (model_limit > 0 && tokens > model_limit) {
    throw HttpError(400, length + "model " + quote_for_message(model.name()) + " takes at most " +
                             std::to_string(model_limit));
  }
  if (tokens > limits.max_input_tokens) {
    throw HttpError(400, length + "this server takes at most " + std::to_string(limits.max_input_tokens));
  }
}

// The most tokens a request may ask to generate.
std::int64_t output_token_limit(const ServedModel& model, const Limits& limits) {
  // A translation is force-decoded again for its attention, <s> first: max_length() - 1 tokens
  // fit. A language model bounds prompt + continuation itself.
  const tasks::Translator* translator = model.translator();
  if (translator != nullptr && translator->model().max_length() > 0) {
    return std::min(limits.max_output_tokens, translator->model().max_length() - 1);
  }
  return limits.max_output_tokens;
}

// The decoding options SearchSettings and GenerationSettings share, by the same names.
template <typename Settings>
void read_decoding_options(RequestFields& fields, const Limits& limits, std::int64_t max_output,
                           Settings& settings) {
  if (auto method = fields.string("method")) {
    if (*method != "greedy" && *method != "beam" && *method != "sample") {
      throw HttpError(400, "\"method\": expected \"greedy\", \"beam\" or \"sample\", got " +
                               quote_for_message(*method));
    }
    settings.method = *method;
  }
  settings.beam_size = fields.integer("beam_size", 1, limits.max_beam_size).value_or(settings.beam_size);
  settings.length_penalty = fields.number("length_penalty", 0.0, 10.0).value_or(settings.length_penalty);
  settings.max_length =
      fields.integer("max_length", 1, max_output).value_or(std::min(settings.max_length, max_output));
  settings.temperature = fields.number("temperature", 0.0, 100.0).value_or(settings.temperature);
  settings.top_k = fields.integer("top_k", 0, 1'000'000).value_or(settings.top_k);
  settings.top_p = fields.number("top_p", 0.0, 1.0).value_or(settings.top_p);
  if (settings.top_p <= 0.0) throw HttpError(400, "\"top_p\": expected a number above 0, up to 1, got 0");
  settings.seed = fields.unsigned_integer("seed").value_or(settings.seed);
}

template <typename Settings>
nlohmann::ordered_json decoding_json(const Settings& settings) {
  return {{"method", settings.method},           {"beam_size", settings.beam_size},
          {"length_penalty", settings.length_penalty}, {"max_length", settings.max_length},
          {"temperature", settings.temperature}, {"top_k", settings.top_k},
          {"top_p", settings.top_p},             {"seed", settings.seed}};
}

// What every model route reads first: the model, the text, whether to add attention.
struct CommonFields {
  const ServedModel* model = nullptr;
  std::optional<std::string> text;
  bool attention = false;
};

CommonFields read_common_fields(RequestFields& fields, const Models& models, ModelKind kind) {
  CommonFields common;
  std::optional<std::string> name = fields.string("model");
  common.text = fields.string("text");
  common.attention = fields.boolean("attention").value_or(false);
  common.model = &resolve_model(models, kind, name);
  return common;
}

// The checks left once every field has been read: no unknown field, the text, its length.
std::string finish_checks(const RequestFields& fields, const CommonFields& common, const Limits& limits) {
  fields.check_no_other_fields();
  std::string text = required_text(common.text);
  check_input_length(*common.model, text, limits);
  return text;
}

// Waits in the model's queue until `job` has run, alone or with others (batch_queue.h).
void run_in_turn(const HandlerContext& context, const ServedModel& model, BatchJob& job) {
  context.queues.at(&model)->submit(job);
}

// The jobs of a batch, all of the type of the job that runs it.
template <typename Job>
std::vector<Job*> jobs_of(const std::vector<BatchJob*>& batch) {
  std::vector<Job*> jobs;
  for (BatchJob* job : batch) jobs.push_back(static_cast<Job*>(job));
  return jobs;
}

template <typename Job>
std::vector<std::string> texts_of(const std::vector<Job*>& jobs) {
  std::vector<std::string> texts;
  for (const Job* job : jobs) texts.push_back(job->text);
  return texts;
}

tasks::SearchSettings default_search_settings(const ServedModel& model, const Limits& limits) {
  tasks::SearchSettings settings;
  settings.max_length = output_token_limit(model, limits);
  settings.n_best = 1;
  settings.batch_size = 1;
  return settings;
}

tasks::GenerationSettings default_generation_settings(const ServedModel& model, const Limits& limits) {
  tasks::GenerationSettings settings;
  settings.max_length = std::min(settings.max_length, output_token_limit(model, limits));
  settings.batch_size = 1;
  return settings;
}

// ---- The jobs of each route: what runs in a batch ------------------------------------------
// Requests with the same decoding settings share a batch. Sampling runs alone: its random
// stream would otherwise depend on the other requests of the batch.

struct TranslateJob final : BatchJob {
  TranslateJob(const tasks::Translator& translator, std::string text, tasks::SearchSettings settings,
               bool attention)
      : translator(translator), text(std::move(text)), settings(std::move(settings)),
        attention(attention) {}

  std::string batch_key() const override {
    return settings.method == "sample" ? std::string() : decoding_json(settings).dump();
  }

  void run_batch(const std::vector<BatchJob*>& batch) override {
    const std::vector<TranslateJob*> jobs = jobs_of<TranslateJob>(batch);
    tasks::SearchSettings batch_settings = settings;
    batch_settings.batch_size = static_cast<std::int64_t>(jobs.size());
    const std::vector<std::vector<tasks::Translation>> found = translator.translate(texts_of(jobs), batch_settings);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!found[i].empty()) jobs[i]->best = found[i].front();
    }
    // Forced decoding of the translations just made, in one pass: the maps of the words
    // each produced.
    std::vector<TranslateJob*> with_maps;
    std::vector<std::string> sources, targets;
    for (TranslateJob* job : jobs) {
      if (!job->attention) continue;
      with_maps.push_back(job);
      sources.push_back(job->text);
      targets.push_back(job->best.text);
    }
    if (with_maps.empty()) return;
    std::vector<inspect::TranslationAttention> maps = inspect::translation_attention(translator, sources, targets);
    for (std::size_t i = 0; i < with_maps.size(); ++i) with_maps[i]->maps = std::move(maps[i]);
  }

  const tasks::Translator& translator;
  std::string text;
  tasks::SearchSettings settings;
  bool attention;
  tasks::Translation best;
  std::optional<inspect::TranslationAttention> maps;
};

struct ClassifyJob final : BatchJob {
  ClassifyJob(const tasks::Classifier& classifier, std::string text, bool attention)
      : classifier(classifier), text(std::move(text)), attention(attention) {}

  // With attention, the maps and the label come from one pass of its own.
  std::string batch_key() const override { return attention ? std::string() : "labels"; }

  void run_batch(const std::vector<BatchJob*>& batch) override {
    const std::vector<ClassifyJob*> jobs = jobs_of<ClassifyJob>(batch);
    if (attention) {
      result = inspect::classification_attention(classifier, text);
      return;
    }
    const std::vector<tasks::Classification> labels =
        classifier.classify(texts_of(jobs), static_cast<std::int64_t>(jobs.size()));
    for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i]->result.result = labels[i];
  }

  const tasks::Classifier& classifier;
  std::string text;
  bool attention;
  inspect::ClassificationAttention result;
};

struct GenerateJob final : BatchJob {
  GenerateJob(const tasks::TextGenerator& generator, std::string text,
              tasks::GenerationSettings settings, bool attention)
      : generator(generator), text(std::move(text)), settings(std::move(settings)),
        attention(attention) {}

  std::string batch_key() const override {
    return settings.method == "sample" ? std::string() : decoding_json(settings).dump();
  }

  void run_batch(const std::vector<BatchJob*>& batch) override {
    const std::vector<GenerateJob*> jobs = jobs_of<GenerateJob>(batch);
    tasks::GenerationSettings batch_settings = settings;
    batch_settings.batch_size = static_cast<std::int64_t>(jobs.size());
    const std::vector<tasks::Generation> generations = generator.generate(texts_of(jobs), batch_settings);
    for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i]->generation = generations[i];
    for (GenerateJob* job : jobs) {
      if (!job->attention) continue;
      // The prompt and the generated ids, read as the generator read them: what each token
      // attended to. Should the maps fail, the generation still stands.
      try {
        job->maps = inspect::language_model_attention(generator, job->text, job->generation.tokens);
      } catch (const Error& error) {
        job->attention_error = error.what();
      }
    }
  }

  const tasks::TextGenerator& generator;
  std::string text;
  tasks::GenerationSettings settings;
  bool attention;
  tasks::Generation generation;
  std::optional<inspect::LanguageModelAttention> maps;
  std::string attention_error;
};

struct EmbedJob final : BatchJob {
  EmbedJob(const models::PretrainedEncoder& encoder, std::string text, std::optional<std::string> pair,
           bool attention)
      : encoder(encoder), text(std::move(text)), pair(std::move(pair)), attention(attention) {}

  // A pair is one input of its own ([CLS] A [SEP] B [SEP]).
  std::string batch_key() const override { return pair ? std::string() : "sentences"; }

  void run_batch(const std::vector<BatchJob*>& batch) override {
    const std::vector<EmbedJob*> jobs = jobs_of<EmbedJob>(batch);
    Tensor rows;
    if (pair) {
      NoGradGuard no_grad;
      const models::TokenBatch tokens = encoder.tokenize_pairs({{text, *pair}});
      rows = models::pool(encoder.hidden_states(tokens), tokens.padding,
                          encoder.sentence_options().pooling);
      if (encoder.sentence_options().normalize) rows = models::normalize_rows(rows);
      rows = rows.contiguous();
    } else {
      rows = encoder.embed(texts_of(jobs), static_cast<std::int64_t>(jobs.size()));
    }
    const std::int64_t dimensions = rows.size(1);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const float* row = rows.data<float>() + static_cast<std::int64_t>(i) * dimensions;
      jobs[i]->embedding.assign(row, row + dimensions);
      if (jobs[i]->attention) {
        jobs[i]->maps = inspect::pretrained_attention(encoder, jobs[i]->text, jobs[i]->pair.value_or(""));
      }
    }
  }

  const models::PretrainedEncoder& encoder;
  std::string text;
  std::optional<std::string> pair;
  bool attention;
  std::vector<float> embedding;
  std::optional<inspect::PretrainedAttention> maps;
};

}  // namespace

nlohmann::ordered_json translate(const HandlerContext& context, std::string_view body) {
  RequestFields fields = RequestFields::parse(body);
  const CommonFields common = read_common_fields(fields, context.models, ModelKind::Translation);
  tasks::SearchSettings settings = default_search_settings(*common.model, context.limits);
  read_decoding_options(fields, context.limits, output_token_limit(*common.model, context.limits), settings);
  const std::string text = finish_checks(fields, common, context.limits);

  TranslateJob job(*common.model->translator(), text, settings, common.attention);
  run_in_turn(context, *common.model, job);
  nlohmann::ordered_json response = {{"model", common.model->name()}, {"text", text},
                                     {"translation", job.best.text}, {"score", job.best.score},
                                     {"log_prob", job.best.log_prob}};
  if (job.maps) {
    response["attention"] = {{"source_tokens", job.maps->source_tokens},
                             {"target_tokens", job.maps->target_tokens},
                             {"maps", maps_json(job.maps->maps)}};
  }
  return response;
}

nlohmann::ordered_json classify(const HandlerContext& context, std::string_view body) {
  RequestFields fields = RequestFields::parse(body);
  const CommonFields common = read_common_fields(fields, context.models, ModelKind::Classification);
  const std::string text = finish_checks(fields, common, context.limits);

  const tasks::Classifier& classifier = *common.model->classifier();
  ClassifyJob job(classifier, text, common.attention);
  run_in_turn(context, *common.model, job);
  const inspect::ClassificationAttention& result = job.result;
  nlohmann::ordered_json probabilities = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < result.result.probabilities.size(); ++i) {
    probabilities.push_back({{"label", classifier.label_names().at(i)},
                             {"probability", result.result.probabilities[i]}});
  }
  nlohmann::ordered_json response = {{"model", common.model->name()}, {"text", text},
                                     {"label", result.result.label_name},
                                     {"label_index", result.result.label},
                                     {"probabilities", probabilities},
                                     {"tokens", result.result.tokens}};
  if (common.attention) {
    response["attention"] = {{"tokens", result.result.tokens}, {"maps", maps_json(result.maps)}};
  }
  return response;
}

nlohmann::ordered_json generate(const HandlerContext& context, std::string_view body) {
  RequestFields fields = RequestFields::parse(body);
  const CommonFields common = read_common_fields(fields, context.models, ModelKind::LanguageModel);
  tasks::GenerationSettings settings = default_generation_settings(*common.model, context.limits);
  read_decoding_options(fields, context.limits, output_token_limit(*common.model, context.limits), settings);
  const std::string text = finish_checks(fields, common, context.limits);

  GenerateJob job(*common.model->generator(), text, settings, common.attention);
  run_in_turn(context, *common.model, job);
  const tasks::Generation& generation = job.generation;
  const std::optional<inspect::LanguageModelAttention>& maps = job.maps;
  const std::string& attention_error = job.attention_error;
  nlohmann::ordered_json response = {
      {"model", common.model->name()}, {"text", text},
      {"continuation", generation.continuation}, {"full_text", generation.text},
      {"finished", generation.finished}, {"log_prob", generation.log_prob},
      {"generated_tokens", generation.tokens.size()}};
  if (maps) {
    response["attention"] = {{"tokens", maps->tokens}, {"maps", maps_json(maps->maps)}};
  } else if (common.attention) {
    response["attention"] = nullptr;
    response["attention_error"] = attention_error;
  }
  return response;
}

nlohmann::ordered_json embed(const HandlerContext& context, std::string_view body) {
  RequestFields fields = RequestFields::parse(body);
  const CommonFields common = read_common_fields(fields, context.models, ModelKind::Embedding);
  const std::optional<std::string> pair = fields.string("pair");
  const std::string text = finish_checks(fields, common, context.limits);
  if (pair) {
    const std::string second = required_text(pair);
    check_input_length(*common.model, text + " " + second, context.limits);
  }

  EmbedJob job(*common.model->encoder(), text, pair, common.attention);
  run_in_turn(context, *common.model, job);
  const std::optional<inspect::PretrainedAttention>& maps = job.maps;
  nlohmann::ordered_json response = {{"model", common.model->name()}, {"text", text}};
  if (pair) response["pair"] = *pair;
  response["dimensions"] = static_cast<std::int64_t>(job.embedding.size());
  response["embedding"] = float32_array_json(job.embedding);
  if (maps) {
    response["attention"] = {{"tokens", maps->tokens}, {"type_ids", maps->type_ids},
                             {"maps", maps_json(maps->maps)}};
  }
  return response;
}

nlohmann::ordered_json models_json(const Models& models, const Limits& limits) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ServedModel* model : models.all()) {
    const std::int64_t model_limit = model->max_input_tokens();
    nlohmann::ordered_json entry = {
        {"name", model->name()},
        {"kind", model_kind_name(model->kind())},
        {"arch", model->arch()},
        {"max_input_tokens", model_limit > 0 ? std::min(model_limit, limits.max_input_tokens)
                                             : limits.max_input_tokens}};
    if (const tasks::Classifier* classifier = model->classifier()) {
      entry["labels"] = classifier->label_names();
    } else if (const models::PretrainedEncoder* encoder = model->encoder()) {
      entry["dimensions"] = encoder->model().options().hidden_size;
      entry["pooling"] = models::pooling_name(encoder->sentence_options().pooling);
      entry["normalize"] = encoder->sentence_options().normalize;
    } else {
      entry["max_output_tokens"] = output_token_limit(*model, limits);
      entry["decoding"] = model->translator() ? decoding_json(default_search_settings(*model, limits))
                                              : decoding_json(default_generation_settings(*model, limits));
    }
    list.push_back(std::move(entry));
  }
  nlohmann::ordered_json limits_json = {{"max_body_bytes", limits.max_body_bytes},
                                        {"max_input_tokens", limits.max_input_tokens},
                                        {"max_output_tokens", limits.max_output_tokens},
                                        {"max_beam_size", limits.max_beam_size},
                                        {"max_concurrent", limits.max_concurrent}};
  return {{"models", list}, {"limits", limits_json}};
}

}  // namespace attn::serve
