// Saving and loading the checkpoints of a run (layout and crash safety: run_directory.h).
#include "attn/train/run_directory.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/io/checkpoint.h"
#include "attn/io/safetensors.h"

namespace attn::train {
namespace {

constexpr const char* kStateFormat = "attn-training-state";
constexpr const char* kStateFormatKey = "format";
constexpr const char* kTrainerStateKey = "trainer_state";
constexpr const char* kStepKey = "step";
constexpr const char* kStateFileKey = "training_state";  // in last.safetensors
constexpr const char* kOptimizerPrefix = "optimizer.";

nlohmann::json to_json(const TrainingState& state) {
  nlohmann::json generators = nlohmann::json::array();
  for (const GeneratorState& generator : state.generators) {
    generators.push_back({{"seed", generator.seed}, {"offset", generator.offset}});
  }
  return {
      {"step", state.step},
      {"epoch", state.epoch},
      {"batch_index", state.batch_index},
      {"tokens", state.tokens},
      {"elapsed_seconds", state.elapsed_seconds},
      {"best_score", state.best_score ? nlohmann::json(*state.best_score) : nlohmann::json()},
      {"best_step", state.best_step},
      {"validations_without_improvement", state.validations_without_improvement},
      {"last_validation_step", state.last_validation_step},
      {"window_loss_sum", state.window_loss_sum},
      {"window_grad_norm_sum", state.window_grad_norm_sum},
      {"window_tokens", state.window_tokens},
      {"window_steps", state.window_steps},
      {"skipped_steps", state.skipped_steps},
      {"consecutive_skipped_steps", state.consecutive_skipped_steps},
      {"generators", generators},
      {"optimizer", state.optimizer},
  };
}

TrainingState state_from_json(const nlohmann::json& json) {
  TrainingState state;
  state.step = json.at("step").get<std::int64_t>();
  state.epoch = json.at("epoch").get<std::int64_t>();
  state.batch_index = json.at("batch_index").get<std::int64_t>();
  state.tokens = json.at("tokens").get<std::int64_t>();
  state.elapsed_seconds = json.at("elapsed_seconds").get<double>();
  if (!json.at("best_score").is_null()) state.best_score = json.at("best_score").get<double>();
  state.best_step = json.at("best_step").get<std::int64_t>();
  state.validations_without_improvement =
      json.at("validations_without_improvement").get<std::int64_t>();
  state.last_validation_step = json.at("last_validation_step").get<std::int64_t>();
  state.window_loss_sum = json.at("window_loss_sum").get<double>();
  state.window_grad_norm_sum = json.at("window_grad_norm_sum").get<double>();
  state.window_tokens = json.at("window_tokens").get<std::int64_t>();
  state.window_steps = json.at("window_steps").get<std::int64_t>();
  // Absent from state files written before steps could be skipped.
  state.skipped_steps = json.value("skipped_steps", std::int64_t{0});
  state.consecutive_skipped_steps = json.value("consecutive_skipped_steps", std::int64_t{0});
  for (const nlohmann::json& generator : json.at("generators")) {
    state.generators.push_back(
        {generator.at("seed").get<std::uint64_t>(), generator.at("offset").get<std::uint64_t>()});
  }
  state.optimizer = json.at("optimizer").get<std::string>();
  return state;
}

TrainingState parse_state(const std::string& text, const std::string& path) {
  try {
    return state_from_json(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& error) {
    ATTN_CHECK(false, "train: ", path, ": unreadable trainer state: ", error.what());
  }
  ATTN_ASSERT(false);
}

const std::string& required(const io::Metadata& metadata, const char* key,
                            const std::string& path) {
  auto found = metadata.find(key);
  ATTN_CHECK(found != metadata.end(), "train: ", path, ": not a training checkpoint (no \"", key,
             "\" in its metadata)");
  return found->second;
}

// Removes every state file but `keep`; a leftover file is harmless, so failures are ignored.
void remove_stale_state_files(const RunDirectory& run, const std::filesystem::path& keep) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(run.checkpoint_dir(), error)) {
    std::string name = entry.path().filename().string();
    bool is_state = name.starts_with("state-") && name.ends_with(".safetensors");
    if (is_state && entry.path().filename() != keep.filename()) {
      std::filesystem::remove(entry.path(), error);
    }
  }
}

std::map<std::string, Tensor> optimizer_entries(const io::TensorMap& tensors) {
  std::map<std::string, Tensor> entries;
  std::string prefix = kOptimizerPrefix;
  for (const auto& [name, tensor] : tensors) {
    if (name.starts_with(prefix)) entries.emplace(name.substr(prefix.size()), tensor);
  }
  return entries;
}

}  // namespace

std::filesystem::path RunDirectory::state_file(std::int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof(name), "state-%08lld.safetensors", static_cast<long long>(step));
  return checkpoint_dir() / name;
}

void RunDirectory::create() const {
  std::error_code error;
  std::filesystem::create_directories(checkpoint_dir(), error);
  ATTN_CHECK(!error, "train: cannot create the run directory '", checkpoint_dir().string(),
             "': ", error.message());
}

void save_last_checkpoint(const RunDirectory& run, const nn::Module& model,
                          const std::string& model_config_json, const optim::Optimizer& optimizer,
                          const TrainingState& state) {
  std::filesystem::path state_path = run.state_file(state.step);
  io::TensorMap tensors;
  for (const auto& [name, tensor] : optimizer.state_dict())
    tensors[kOptimizerPrefix + name] = tensor;
  std::string step = std::to_string(state.step);
  io::save_safetensors(state_path.string(), tensors,
                       {{kStateFormatKey, kStateFormat},
                        {kTrainerStateKey, to_json(state).dump()},
                        {kStepKey, step}});
  // last.safetensors is the commit point: written only once its state file is complete.
  io::save_checkpoint(run.last_checkpoint().string(), model, model_config_json,
                      {{kStepKey, step}, {kStateFileKey, state_path.filename().string()}});
  remove_stale_state_files(run, state_path);
}

TrainingState load_last_checkpoint(const RunDirectory& run, nn::Module& model,
                                   optim::Optimizer& optimizer) {
  std::string last_path = run.last_checkpoint().string();
  ATTN_CHECK(run.has_last_checkpoint(), "train: cannot resume: there is no checkpoint '", last_path,
             "'");
  io::Checkpoint checkpoint = io::load_checkpoint(last_path);
  std::string state_path =
      (run.checkpoint_dir() / required(checkpoint.extra, kStateFileKey, last_path)).string();
  ATTN_CHECK(std::filesystem::exists(state_path), "train: cannot resume: ", last_path,
             " names the state file '", state_path, "', which is missing");
  io::SafetensorsData state_data = io::load_safetensors(state_path);
  ATTN_CHECK(required(state_data.metadata, kStateFormatKey, state_path) == kStateFormat,
             "train: ", state_path, ": not a training state file");
  TrainingState state =
      parse_state(required(state_data.metadata, kTrainerStateKey, state_path), state_path);
  ATTN_CHECK(required(checkpoint.extra, kStepKey, last_path) == std::to_string(state.step),
             "train: ", last_path, " and ", state_path, " are from different steps");
  ATTN_CHECK(state.optimizer == optimizer.name(), "train: cannot resume: the run was trained with ",
             state.optimizer, " but the configuration asks for ", optimizer.name());
  optimizer.load_state_dict(optimizer_entries(state_data.tensors));
  io::load_into(checkpoint, model);
  return state;
}

void save_best_checkpoint(const RunDirectory& run, const nn::Module& model,
                          const std::string& model_config_json, std::int64_t step,
                          const std::string& metric, double score) {
  nlohmann::json score_text = score;
  io::save_checkpoint(
      run.best_checkpoint().string(), model, model_config_json,
      {{kStepKey, std::to_string(step)}, {"metric", metric}, {"score", score_text.dump()}});
}

}  // namespace attn::train
