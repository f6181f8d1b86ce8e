// The files of a training run, and the checkpoints that let it resume.
//
//   <run_dir>/config.toml                           the resolved configuration
//   <run_dir>/metrics.jsonl                         the metrics log (metrics_log.h)
//   <run_dir>/checkpoints/best.safetensors          model at the best validation score
//   <run_dir>/checkpoints/last.safetensors          model at the last save
//   <run_dir>/checkpoints/state-<step>.safetensors  optimizer and trainer state of "last"
//
// best and last are ordinary model checkpoints (io::load_checkpoint reads them; the
// commands that translate, classify or generate load either). The state file holds what
// only resuming needs. last.safetensors names its state file in its metadata and is
// written after it, so the pair is consistent whenever a crash happens: a reader sees the
// old last with its old state file, or the new last with its new one. Old state files are
// removed once the new last is in place. Every file is written atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "attn/nn/module.h"
#include "attn/optim/optimizer.h"

namespace attn::train {

class RunDirectory {
 public:
  explicit RunDirectory(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path config_file() const { return root_ / "config.toml"; }
  std::filesystem::path metrics_log() const { return root_ / "metrics.jsonl"; }
  std::filesystem::path checkpoint_dir() const { return root_ / "checkpoints"; }
  std::filesystem::path best_checkpoint() const { return checkpoint_dir() / "best.safetensors"; }
  std::filesystem::path last_checkpoint() const { return checkpoint_dir() / "last.safetensors"; }
  // "state-00001234.safetensors": zero-padded so that names sort by step.
  std::filesystem::path state_file(std::int64_t step) const;

  bool has_last_checkpoint() const { return std::filesystem::exists(last_checkpoint()); }
  // Creates the root and the checkpoint folder; throws attn::Error when it cannot.
  void create() const;

 private:
  std::filesystem::path root_;
};

// A random generator's position, as attn::Generator holds it.
struct GeneratorState {
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
};

// Everything besides model and optimizer that an exact resume needs.
struct TrainingState {
  std::int64_t step = 0;         // updates done
  std::int64_t epoch = 0;        // position of the next batch (0-based)
  std::int64_t batch_index = 0;  //
  std::int64_t tokens = 0;       // units trained on so far
  double elapsed_seconds = 0.0;  // over every session of the run
  std::optional<double> best_score;
  std::int64_t best_step = 0;
  std::int64_t validations_without_improvement = 0;
  std::int64_t last_validation_step = -1;
  // The logging window: the steps since the last training record of the metrics log.
  double window_loss_sum = 0.0;  // sum of loss * num_tokens
  double window_grad_norm_sum = 0.0;
  std::int64_t window_tokens = 0;
  std::int64_t window_steps = 0;
  // Steps skipped for a non-finite loss or gradient norm: in all, and in a row up to now.
  std::int64_t skipped_steps = 0;
  std::int64_t consecutive_skipped_steps = 0;
  // default_generator() first, then the task's extra_generators().
  std::vector<GeneratorState> generators;
  std::string optimizer;  // its name, checked on resume
};

// Writes the state file, then last.safetensors (with `model_config_json` and the step in
// its metadata), then removes older state files.
void save_last_checkpoint(const RunDirectory& run, const nn::Module& model,
                          const std::string& model_config_json, const optim::Optimizer& optimizer,
                          const TrainingState& state);

// Loads last.safetensors into `model` and its state file into `optimizer`, and returns the
// trainer state. Throws attn::Error naming the file on a missing or mismatched piece; the
// model and optimizer are unchanged when the error is about them.
TrainingState load_last_checkpoint(const RunDirectory& run, nn::Module& model,
                                   optim::Optimizer& optimizer);

// Writes best.safetensors with metadata "step", "metric" and "score".
void save_best_checkpoint(const RunDirectory& run, const nn::Module& model,
                          const std::string& model_config_json, std::int64_t step,
                          const std::string& metric, double score);

}  // namespace attn::train
