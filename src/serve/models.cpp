#include "attn/serve/models.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/io/checkpoint.h"
#include "attn/io/safetensors.h"
#include "attn/tasks/task_common.h"

namespace attn::serve {

namespace fs = std::filesystem;

std::string_view model_kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::Translation: return "translation";
    case ModelKind::Classification: return "classification";
    case ModelKind::LanguageModel: return "language_model";
    case ModelKind::Embedding: return "embedding";
  }
  ATTN_ASSERT(false, "unknown model kind");
  return "";
}

ModelKind parse_model_kind(std::string_view name) {
  for (ModelKind kind : {ModelKind::Translation, ModelKind::Classification, ModelKind::LanguageModel,
                        ModelKind::Embedding}) {
    if (model_kind_name(kind) == name) return kind;
  }
  ATTN_CHECK(false,
             "model kind: expected translation, classification, language_model or embedding, got '",
             name, "'");
  return ModelKind::Translation;
}

bool is_valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
}

namespace {

// The run directory's name for DIR, RUN/checkpoints/FILE and RUN/FILE; a file's stem
// otherwise.
std::string default_model_name(const fs::path& path) {
  fs::path clean = path.lexically_normal();
  if (!clean.has_filename()) clean = clean.parent_path();  // "runs/x/" -> "runs/x"
  if (clean.extension() != ".safetensors") return fs::absolute(clean).filename().string();
  fs::path folder = fs::absolute(clean).parent_path();
  if (folder.filename() == "checkpoints" && folder.has_parent_path()) {
    return folder.parent_path().filename().string();
  }
  return clean.stem().string();
}

std::uint64_t read_little_endian_u64(const std::array<unsigned char, 8>& bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[static_cast<std::size_t>(i)];
  return value;
}

// The "__metadata__" object of a safetensors file, from its header alone.
nlohmann::json safetensors_metadata(const fs::path& file) {
  std::ifstream stream(file, std::ios::binary);
  ATTN_CHECK(stream.good(), file.string(), ": cannot open the checkpoint");
  std::array<unsigned char, 8> length_bytes{};
  stream.read(reinterpret_cast<char*>(length_bytes.data()), 8);
  ATTN_CHECK(stream.gcount() == 8, file.string(), ": not a safetensors file (shorter than 8 bytes)");
  const std::uint64_t header_length = read_little_endian_u64(length_bytes);
  const std::uint64_t file_size = fs::file_size(file);
  ATTN_CHECK(header_length <= io::kMaxSafetensorsHeaderBytes && header_length <= file_size - 8,
             file.string(), ": not a safetensors file (header length ", header_length,
             " in a file of ", file_size, " bytes)");
  std::string header(header_length, '\0');
  stream.read(header.data(), static_cast<std::streamsize>(header_length));
  ATTN_CHECK(static_cast<std::uint64_t>(stream.gcount()) == header_length, file.string(),
             ": the header is cut short");
  const nlohmann::json parsed = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  ATTN_CHECK(parsed.is_object(), file.string(), ": the safetensors header is not a JSON object");
  auto metadata = parsed.find("__metadata__");
  return metadata != parsed.end() && metadata->is_object() ? *metadata : nlohmann::json::object();
}

// The string at `key`, or "" when there is none or it is not a string.
std::string string_field(const nlohmann::json& object, const char* key) {
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace

ModelSpec parse_model_argument(std::string_view argument) {
  ATTN_CHECK(!argument.empty(), "--model: expected DIR or NAME=DIR, got an empty argument");
  const std::size_t equals = argument.find('=');
  ModelSpec spec;
  if (equals == std::string_view::npos) {
    spec.path = fs::path(std::string(argument));
    spec.name = default_model_name(spec.path);
  } else {
    spec.name = std::string(argument.substr(0, equals));
    spec.path = fs::path(std::string(argument.substr(equals + 1)));
    ATTN_CHECK(!spec.path.empty(), "--model ", argument, ": no directory after '='");
  }
  ATTN_CHECK(is_valid_model_name(spec.name), "--model ", argument, ": the name '", spec.name,
             "' is not valid (1 to 64 letters, digits, '_', '-' or '.'); name it with NAME=DIR");
  return spec;
}

ModelKind checkpoint_model_kind(const fs::path& path) {
  const tasks::CheckpointLocation location = tasks::locate_checkpoint(path);
  const nlohmann::json metadata = safetensors_metadata(location.checkpoint);
  const std::string file = location.checkpoint.string();
  ATTN_CHECK(string_field(metadata, io::kFormatKey) == io::kCheckpointFormat, file,
             ": not an attn checkpoint (no \"format\": \"attn\" in its metadata)");
  const nlohmann::json config = nlohmann::json::parse(
      string_field(metadata, io::kConfigKey), nullptr, /*allow_exceptions=*/false);
  ATTN_CHECK(config.is_object() && config.contains("task") && config["task"].is_string(), file,
             ": not a checkpoint of an attn training run (its config has no \"task\")");
  return parse_model_kind(config["task"].get<std::string>());
}

// ---- ServedModel ---------------------------------------------------------------------------

ServedModel::ServedModel(std::string name, Model model)
    : name_(std::move(name)), model_(std::move(model)) {}

ModelKind ServedModel::kind() const {
  if (translator() != nullptr) return ModelKind::Translation;
  if (classifier() != nullptr) return ModelKind::Classification;
  if (encoder() != nullptr) return ModelKind::Embedding;
  return ModelKind::LanguageModel;
}

std::string ServedModel::arch() const {
  if (const auto* model = translator()) return model->model().arch();
  if (const auto* model = classifier()) return model->model().arch();
  if (const auto* model = encoder()) return model->model_type();
  return "transformer";
}

std::int64_t ServedModel::max_input_tokens() const {
  // Translation and language models take max_length() positions, one of them the </s> the
  // task adds (after the source; before the prompt).
  std::int64_t positions = 0;
  if (const auto* model = translator()) positions = model->model().max_length();
  if (const auto* model = generator()) positions = model->max_length();
  // A pretrained encoder adds [CLS] and [SEP] (and cuts longer texts; the limit says where).
  if (const auto* model = encoder()) return model->max_length() - 2;
  return positions > 0 ? positions - 1 : 0;
}

std::int64_t ServedModel::count_input_tokens(const std::string& text) const {
  if (const auto* model = encoder()) {
    return std::int64_t(model->tokenizer().encode(text, 0, /*add_special_tokens=*/false).ids.size());
  }
  const text::Tokenizer& tokenizer = translator()   ? translator()->source_tokenizer()
                                     : classifier() ? classifier()->tokenizer()
                                                    : generator()->tokenizer();
  return std::int64_t(tokenizer.encode(text).size());
}

// ---- Models --------------------------------------------------------------------------------

void Models::load(const ModelSpec& spec) {
  ATTN_CHECK(is_valid_model_name(spec.name), "model name '", spec.name, "' is not valid");
  ATTN_CHECK(find(spec.name) == nullptr, "two models named '", spec.name,
             "': name them apart with NAME=DIR");
  if (fs::is_directory(spec.path) && fs::exists(spec.path / "config.json")) {
    add(spec.name, std::shared_ptr<const models::PretrainedEncoder>(models::load_pretrained(spec.path)));
    return;
  }
  switch (checkpoint_model_kind(spec.path)) {
    case ModelKind::Translation: add(spec.name, tasks::Translator::load(spec.path)); break;
    case ModelKind::Classification: add(spec.name, tasks::Classifier::load(spec.path)); break;
    case ModelKind::LanguageModel: add(spec.name, tasks::TextGenerator::load(spec.path)); break;
    case ModelKind::Embedding:
      throw Error(detail::concat(spec.path.string(), ": an embedding model is a Hugging Face "
                                                     "folder with config.json, not a checkpoint"));
  }
}

void Models::add(std::string name, ServedModel::Model model) {
  ATTN_CHECK(is_valid_model_name(name), "model name '", name, "' is not valid");
  ATTN_CHECK(find(name) == nullptr, "two models named '", name, "'");
  models_.push_back(std::make_unique<ServedModel>(std::move(name), std::move(model)));
}

const ServedModel* Models::find(std::string_view name) const {
  for (const auto& model : models_) {
    if (model->name() == name) return model.get();
  }
  return nullptr;
}

std::vector<const ServedModel*> Models::of_kind(ModelKind kind) const {
  std::vector<const ServedModel*> found;
  for (const auto& model : models_) {
    if (model->kind() == kind) found.push_back(model.get());
  }
  return found;
}

std::vector<const ServedModel*> Models::all() const {
  std::vector<const ServedModel*> found;
  for (const auto& model : models_) found.push_back(model.get());
  return found;
}

}  // namespace attn::serve
