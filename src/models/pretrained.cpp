// Loading a Hugging Face model folder: config.json -> an architecture's options and
// assembly, model.safetensors through its name table, the tokenizer, and the
// sentence-transformers modules (pooling, normalisation, max_seq_length).
#include "attn/models/pretrained.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/nn/init.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/reduce.h"
#include "attn/ops/views.h"
#include "pretrained_internal.h"

namespace attn::models {
namespace pretrained {

ConfigReader::ConfigReader(const nlohmann::json& config, std::string source)
    : config_(config), source_(std::move(source)) {
  ATTN_CHECK(config_.is_object(), source_, ": expected a JSON object, got ", config_.type_name());
}

const nlohmann::json* ConfigReader::find(const char* key) const {
  auto found = config_.find(key);
  return found == config_.end() || found->is_null() ? nullptr : &*found;
}

std::int64_t ConfigReader::integer(const char* key) const {
  const nlohmann::json* value = find(key);
  ATTN_CHECK(value != nullptr, source_, ": missing \"", key, "\"");
  ATTN_CHECK(value->is_number_integer(), source_, ": \"", key, "\" must be an integer, got ",
             value->dump());
  return value->get<std::int64_t>();
}

std::int64_t ConfigReader::integer(const char* key, std::int64_t fallback) const {
  return find(key) == nullptr ? fallback : integer(key);
}

double ConfigReader::number(const char* key, double fallback) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return fallback;
  ATTN_CHECK(value->is_number(), source_, ": \"", key, "\" must be a number, got ", value->dump());
  return value->get<double>();
}

std::string ConfigReader::string(const char* key, const std::string& fallback) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return fallback;
  ATTN_CHECK(value->is_string(), source_, ": \"", key, "\" must be a string, got ", value->dump());
  return value->get<std::string>();
}

bool ConfigReader::boolean(const char* key, bool fallback) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return fallback;
  ATTN_CHECK(value->is_boolean(), source_, ": \"", key, "\" must be true or false, got ",
             value->dump());
  return value->get<bool>();
}

}  // namespace pretrained

namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& path) {
  std::ifstream stream(path);
  ATTN_CHECK(stream.good(), path.string(), ": cannot open");
  std::stringstream text;
  text << stream.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& error) {
    throw Error(detail::concat(path.string(), ": malformed JSON: ", error.what()));
  }
}

// The one weights file attn reads, with a clear word on the others.
fs::path weights_file(const fs::path& directory) {
  const fs::path weights = directory / "model.safetensors";
  if (fs::exists(weights)) return weights;
  ATTN_CHECK(!fs::exists(directory / "model.safetensors.index.json"), directory.string(),
             ": sharded checkpoints (model.safetensors.index.json) are not supported yet");
  ATTN_CHECK(!fs::exists(directory / "pytorch_model.bin"), directory.string(),
             ": has only pytorch_model.bin; attn reads model.safetensors (convert it with the "
             "safetensors package: safetensors.torch.save_file)");
  throw Error(detail::concat(directory.string(), ": no model.safetensors"));
}

// ---- sentence-transformers ------------------------------------------------------------

constexpr std::array<std::pair<Pooling, std::string_view>, 4> kPoolingNames{{
    {Pooling::Cls, "cls"},
    {Pooling::Mean, "mean"},
    {Pooling::Max, "max"},
    {Pooling::MeanSqrtLength, "mean_sqrt_len"},
}};

// 1_Pooling/config.json: exactly one of the modes attn supports.
Pooling read_pooling(const fs::path& path) {
  const nlohmann::json config = read_json(path);
  pretrained::ConfigReader reader(config, path.string());
  constexpr std::array<std::pair<const char*, Pooling>, 4> kModes{{
      {"pooling_mode_cls_token", Pooling::Cls},
      {"pooling_mode_mean_tokens", Pooling::Mean},
      {"pooling_mode_max_tokens", Pooling::Max},
      {"pooling_mode_mean_sqrt_len_tokens", Pooling::MeanSqrtLength},
  }};
  for (const char* unsupported : {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    ATTN_CHECK(!reader.boolean(unsupported, false), path.string(), ": ", unsupported,
               " is not supported (attn pools by cls, mean, max or mean_sqrt_len)");
  }
  std::vector<Pooling> chosen;
  for (const auto& [key, pooling] : kModes) {
    if (reader.boolean(key, false)) chosen.push_back(pooling);
  }
  ATTN_CHECK(chosen.size() == 1, path.string(), ": expected exactly one pooling mode set, got ",
             chosen.size(), " (attn does not concatenate several poolings)");
  return chosen.front();
}

struct SentenceTransformerFolder {
  bool present = false;
  SentenceEmbeddingOptions options;
};

// modules.json: a Transformer at the folder's root, then Pooling and optionally Normalize.
SentenceTransformerFolder read_sentence_transformer(const fs::path& directory) {
  SentenceTransformerFolder folder;
  const fs::path modules_path = directory / "modules.json";
  if (!fs::exists(modules_path)) return folder;
  folder.present = true;
  const nlohmann::json modules = read_json(modules_path);
  ATTN_CHECK(modules.is_array(), modules_path.string(), ": expected a list of modules");
  bool has_pooling = false;
  for (const nlohmann::json& module : modules) {
    pretrained::ConfigReader reader(module, modules_path.string());
    const std::string type = reader.string("type", "");
    const std::string path = reader.string("path", "");
    if (type == "sentence_transformers.models.Transformer") {
      ATTN_CHECK(path.empty(), modules_path.string(),
                 ": the Transformer module must be the folder itself, got path \"", path, "\"");
    } else if (type == "sentence_transformers.models.Pooling") {
      folder.options.pooling = read_pooling(directory / path / "config.json");
      has_pooling = true;
    } else if (type == "sentence_transformers.models.Normalize") {
      folder.options.normalize = true;
    } else {
      throw Error(detail::concat(modules_path.string(), ": module type \"", type,
                                 "\" is not supported (attn supports Transformer, Pooling and "
                                 "Normalize)"));
    }
  }
  ATTN_CHECK(has_pooling, modules_path.string(), ": no sentence_transformers.models.Pooling module");
  const fs::path settings_path = directory / "sentence_bert_config.json";
  if (fs::exists(settings_path)) {
    const nlohmann::json settings = read_json(settings_path);
    pretrained::ConfigReader reader(settings, settings_path.string());
    folder.options.max_seq_length = reader.integer("max_seq_length", 0);
    ATTN_CHECK(folder.options.max_seq_length >= 0, settings_path.string(),
               ": max_seq_length must not be negative, got ", folder.options.max_seq_length);
    ATTN_CHECK(!reader.boolean("do_lower_case", false), settings_path.string(),
               ": do_lower_case = true is not supported (the tokenizer's own lowercasing is)");
  }
  return folder;
}

// ---- pooling helpers --------------------------------------------------------------------

// x with every element below `floor` raised to it: clamp_min, differentiable where x is kept.
Tensor clamp_min(const Tensor& x, double floor) {
  Tensor contiguous = x.contiguous();
  Tensor below = Tensor::empty(x.shape(), DType::Bool);
  const float* values = contiguous.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) below.data<bool>()[i] = values[i] < floor;
  return ops::where(below, Tensor::full({}, floor, x.dtype()), x);
}

}  // namespace

std::string_view pooling_name(Pooling pooling) {
  for (const auto& [value, name] : kPoolingNames) {
    if (value == pooling) return name;
  }
  ATTN_ASSERT(false, "unknown Pooling ", static_cast<int>(pooling));
}

Pooling parse_pooling(std::string_view name) {
  for (const auto& [value, known] : kPoolingNames) {
    if (known == name) return value;
  }
  throw Error(detail::concat("unknown pooling '", name, "', expected cls, mean, max or mean_sqrt_len"));
}

Tensor pool(const Tensor& hidden, const Tensor& padding, Pooling pooling) {
  ATTN_CHECK(hidden.defined() && hidden.dim() == 3 && hidden.dtype() == DType::Float32,
             "pool: expected hidden float32 [B, N, E], got ",
             hidden.defined() ? hidden.describe() : "undefined");
  ATTN_CHECK(padding.defined() && padding.dtype() == DType::Bool &&
                 padding.shape() == Shape({hidden.size(0), hidden.size(1)}),
             "pool: expected padding bool [", hidden.size(0), ", ", hidden.size(1), "], got ",
             padding.defined() ? padding.describe() : "undefined");
  if (pooling == Pooling::Cls) return ops::select(hidden, 1, 0);
  Tensor padded = ops::unsqueeze(padding, -1);  // [B, N, 1]
  if (pooling == Pooling::Max) {
    // sentence-transformers sets padded positions to -1e9 before the maximum.
    return ops::max(ops::masked_fill(hidden, padded, -1e9), 1);
  }
  Tensor real = ops::eq(padded, Tensor::zeros({}, DType::Bool)).to(hidden.dtype());
  Tensor sums = ops::sum(ops::mul(hidden, real), {1});  // [B, E]
  Tensor counts = clamp_min(ops::sum(real, {1}), 1e-9);  // [B, 1]
  return ops::div(sums, pooling == Pooling::Mean ? counts : ops::sqrt(counts));
}

Tensor normalize_rows(const Tensor& x) {
  ATTN_CHECK(x.defined() && x.dim() == 2 && x.dtype() == DType::Float32,
             "normalize_rows: expected float32 [B, E], got ", x.defined() ? x.describe() : "undefined");
  Tensor norms = ops::sqrt(ops::sum(ops::mul(x, x), {1}, /*keepdim=*/true));  // [B, 1]
  return ops::div(x, clamp_min(norms, 1e-12));
}

// ---- PretrainedEncoder ------------------------------------------------------------------

PretrainedEncoder::PretrainedEncoder(std::string model_type, std::shared_ptr<BertModel> model,
                                     text::WordPieceTokenizer tokenizer,
                                     SentenceEmbeddingOptions sentence, bool is_sentence_transformer)
    : model_type_(std::move(model_type)),
      model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      sentence_(sentence),
      is_sentence_transformer_(is_sentence_transformer),
      inference_weights_(std::make_unique<const InferenceWeights>()) {}

BertModel& PretrainedEncoder::model() {
  inference_weights_.reset();
  return *model_;
}

std::shared_ptr<BertModel> PretrainedEncoder::shared_model() {
  inference_weights_.reset();
  return model_;
}

std::int64_t PretrainedEncoder::max_length() const {
  const std::int64_t positions = model_->options().max_position_embeddings;
  return sentence_.max_seq_length > 0 ? std::min(sentence_.max_seq_length, positions) : positions;
}

namespace {

TokenBatch pad_batch(const std::vector<text::WordPieceEncoding>& encodings, std::int64_t pad_id) {
  ATTN_CHECK(!encodings.empty(), "tokenize: expected at least one text");
  std::int64_t longest = 1;
  for (const auto& encoding : encodings) longest = std::max<std::int64_t>(longest, std::int64_t(encoding.ids.size()));
  const auto count = std::int64_t(encodings.size());
  TokenBatch batch;
  batch.ids = Tensor::full({count, longest}, double(pad_id), DType::Int64);
  batch.type_ids = Tensor::zeros({count, longest}, DType::Int64);
  batch.padding = Tensor::ones({count, longest}, DType::Bool);
  for (std::int64_t row = 0; row < count; ++row) {
    const text::WordPieceEncoding& encoding = encodings[std::size_t(row)];
    for (std::size_t j = 0; j < encoding.ids.size(); ++j) {
      const std::int64_t at = row * longest + std::int64_t(j);
      batch.ids.data<std::int64_t>()[at] = encoding.ids[j];
      batch.type_ids.data<std::int64_t>()[at] = encoding.type_ids[j];
      batch.padding.data<bool>()[at] = false;
    }
    batch.tokens.push_back(encoding.tokens);
  }
  return batch;
}

}  // namespace

TokenBatch PretrainedEncoder::tokenize(const std::vector<std::string>& texts) const {
  std::vector<text::WordPieceEncoding> encodings;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      encodings.push_back(tokenizer_.encode(texts[i], max_length()));
    } catch (const Error& error) {
      throw Error(detail::concat("text ", i + 1, ": ", error.what()));
    }
  }
  return pad_batch(encodings, tokenizer_.pad_id());
}

TokenBatch PretrainedEncoder::tokenize_pairs(
    const std::vector<std::pair<std::string, std::string>>& pairs) const {
  std::vector<text::WordPieceEncoding> encodings;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    try {
      encodings.push_back(tokenizer_.encode_pair(pairs[i].first, pairs[i].second, max_length()));
    } catch (const Error& error) {
      throw Error(detail::concat("pair ", i + 1, ": ", error.what()));
    }
  }
  return pad_batch(encodings, tokenizer_.pad_id());
}

Tensor PretrainedEncoder::hidden_states(const TokenBatch& batch) const {
  const InferenceWeights::Scope scope(inference_weights_.get());
  return model_->forward(batch.ids, batch.type_ids, batch.padding);
}

Tensor PretrainedEncoder::embed(const std::vector<std::string>& texts,
                                std::int64_t batch_size) const {
  ATTN_CHECK(batch_size > 0, "embed: batch_size must be positive, got ", batch_size);
  const auto count = std::int64_t(texts.size());
  const std::int64_t width = model_->options().hidden_size;
  Tensor result = Tensor::zeros({count, width});
  if (count == 0) return result;
  NoGradGuard no_grad;
  // Lengths first, so that each batch pads as little as possible.
  std::vector<std::int64_t> lengths(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      lengths[i] = std::int64_t(tokenizer_.encode(texts[i], max_length()).ids.size());
    } catch (const Error& error) {
      throw Error(detail::concat("text ", i + 1, ": ", error.what()));
    }
  }
  std::vector<std::int64_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return lengths[a] > lengths[b]; });
  for (std::int64_t begin = 0; begin < count; begin += batch_size) {
    const std::int64_t end = std::min(count, begin + batch_size);
    std::vector<std::string> chunk;
    for (std::int64_t i = begin; i < end; ++i) chunk.push_back(texts[std::size_t(order[i])]);
    TokenBatch batch = tokenize(chunk);
    Tensor pooled = pool(hidden_states(batch), batch.padding, sentence_.pooling);
    if (sentence_.normalize) pooled = normalize_rows(pooled);
    pooled = pooled.contiguous();
    for (std::int64_t i = begin; i < end; ++i) {
      std::copy_n(pooled.data<float>() + (i - begin) * width, width,
                  result.data<float>() + order[i] * width);
    }
  }
  return result;
}

// ---- load_pretrained --------------------------------------------------------------------

std::vector<std::string> supported_model_types() { return {"bert"}; }

std::shared_ptr<PretrainedEncoder> load_pretrained(const std::filesystem::path& directory) {
  ATTN_CHECK(fs::is_directory(directory), directory.string(), ": not a directory");
  const fs::path config_path = directory / "config.json";
  const nlohmann::json config = read_json(config_path);
  pretrained::ConfigReader reader(config, config_path.string());
  const std::string model_type = reader.string("model_type", "");
  ATTN_CHECK(model_type == "bert", config_path.string(), ": model_type \"", model_type,
             "\" is not supported (attn loads: bert)");
  const BertOptions options = pretrained::bert_options(reader);
  std::shared_ptr<BertModel> model;
  {
    // Every parameter is loaded below (load_checkpoint checks that none is missing).
    nn::init::SkipInitialisation skip;
    model = std::make_shared<BertModel>(options);
  }
  const fs::path weights = weights_file(directory);
  pretrained::load_checkpoint(*model, io::load_safetensors(weights.string()).tensors,
                              pretrained::bert_names(), weights.string());
  model->eval();
  text::WordPieceTokenizer tokenizer = text::WordPieceTokenizer::from_directory(directory);
  ATTN_CHECK(tokenizer.vocab_size() <= model->options().vocab_size, directory.string(),
             ": the tokenizer has ", tokenizer.vocab_size(), " tokens but the model only ",
             model->options().vocab_size, " embeddings");
  SentenceTransformerFolder sentence = read_sentence_transformer(directory);
  return std::make_shared<PretrainedEncoder>(model_type, std::move(model), std::move(tokenizer),
                                             sentence.options, sentence.present);
}

}  // namespace attn::models
