// The model routes of the API: translate, classify, generate, embed, and the list of models.
#include "handlers.h"

#include <algorithm>
#include <optional>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/text/utf8.h"
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

// Runs `run` holding one of the server's run slots (503 when none is free) and the model's
// lock, so that a model runs one request at a time (models.h).
template <typename Run>
void run_exclusively(const HandlerContext& context, const ServedModel& model, Run&& run) {
  const ConcurrencyLimit::Slot slot = context.runs.try_acquire();
  if (!slot) {
    throw HttpError(503, "the server is busy: " + std::to_string(context.limits.max_concurrent) +
                             " model runs are under way (its limit); try again shortly");
  }
  const auto lock = model.lock();
  run();
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

}  // namespace

nlohmann::ordered_json translate(const HandlerContext& context, std::string_view body) {
  RequestFields fields = RequestFields::parse(body);
  const CommonFields common = read_common_fields(fields, context.models, ModelKind::Translation);
  tasks::SearchSettings settings = default_search_settings(*common.model, context.limits);
  read_decoding_options(fields, context.limits, output_token_limit(*common.model, context.limits), settings);
  const std::string text = finish_checks(fields, common, context.limits);

  const tasks::Translator& translator = *common.model->translator();
  tasks::Translation best;
  std::optional<inspect::TranslationAttention> maps;
  run_exclusively(context, *common.model, [&] {
    const std::vector<tasks::Translation> found = translator.translate({text}, settings).front();
    if (!found.empty()) best = found.front();
    // Forced decoding of the translation just made: the maps of the words it produced.
    if (common.attention) maps = inspect::translation_attention(translator, text, best.text);
  });
  nlohmann::ordered_json response = {{"model", common.model->name()}, {"text", text},
                                     {"translation", best.text}, {"score", best.score},
                                     {"log_prob", best.log_prob}};
  if (maps) {
    response["attention"] = {{"source_tokens", maps->source_tokens},
                             {"target_tokens", maps->target_tokens},
                             {"maps", maps_json(maps->maps)}};
  }
  return response;
}

nlohmann::ordered_json classify(const HandlerContext& context, std::string_view body) {
  RequestFields fields = RequestFields::parse(body);
  const CommonFields common = read_common_fields(fields, context.models, ModelKind::Classification);
  const std::string text = finish_checks(fields, common, context.limits);

  const tasks::Classifier& classifier = *common.model->classifier();
  inspect::ClassificationAttention result;
  run_exclusively(context, *common.model, [&] {
    if (common.attention) {
      result = inspect::classification_attention(classifier, text);
    } else {
      result.result = classifier.classify({text}).front();
    }
  });
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

  const tasks::TextGenerator& generator = *common.model->generator();
  tasks::Generation generation;
  std::optional<inspect::LanguageModelAttention> maps;
  std::string attention_error;
  run_exclusively(context, *common.model, [&] {
    generation = generator.generate({text}, settings).front();
    if (!common.attention) return;
    // The prompt and the generated ids, read as the generator read them: what each token
    // attended to. Should the maps fail, the generation still stands.
    try {
      maps = inspect::language_model_attention(generator, text, generation.tokens);
    } catch (const Error& error) {
      attention_error = error.what();
    }
  });
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

  const models::PretrainedEncoder& encoder = *common.model->encoder();
  Tensor embedding;
  std::optional<inspect::PretrainedAttention> maps;
  run_exclusively(context, *common.model, [&] {
    // A pair is one input ([CLS] A [SEP] B [SEP]); its embedding pools over both texts.
    if (pair) {
      NoGradGuard no_grad;
      const models::TokenBatch batch = encoder.tokenize_pairs({{text, *pair}});
      embedding = models::pool(encoder.hidden_states(batch), batch.padding,
                               encoder.sentence_options().pooling);
      if (encoder.sentence_options().normalize) embedding = models::normalize_rows(embedding);
      embedding = embedding.contiguous();
    } else {
      embedding = encoder.embed({text});
    }
    if (common.attention) maps = inspect::pretrained_attention(encoder, text, pair.value_or(""));
  });
  const float* values = embedding.data<float>();
  std::vector<float> numbers(values, values + embedding.size(1));
  nlohmann::ordered_json response = {{"model", common.model->name()}, {"text", text}};
  if (pair) response["pair"] = *pair;
  response["dimensions"] = embedding.size(1);
  response["embedding"] = float32_array_json(numbers);
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
