// The training tasks by name, for `attn train`: the configuration file's task.kind picks the
// schema of keys and the Task that trains.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "attn/dist/communicator.h"
#include "attn/train/config.h"
#include "attn/train/task.h"
#include "attn/train/trainer.h"

namespace attn::tasks {

// "translation", "classification", "language_model".
std::vector<std::string> task_kinds();

// The task.kind of a configuration: from an override "task.kind=..." if one is given, else
// from the TOML file, else "translation". Throws attn::Error for a missing or unreadable
// file, invalid TOML or an unknown kind.
std::string task_kind_of(const std::string& config_path, const std::vector<std::string>& overrides);

train::Schema task_schema(const std::string& kind);

// Builds the task (data, tokenizers, model) from a resolved configuration; progress notes go
// to `log`.
std::unique_ptr<train::Task> make_task(const std::string& kind, const train::Config& config,
                                       bool resume, std::ostream& log);

// One training run from a configuration file, as `attn train` and Python's attn.train do it.
struct TrainRequest {
  std::string config_path;             // ignored when resuming
  std::vector<std::string> overrides;  // key=value, applied in order
  std::string resume_dir;              // non-empty: continue that run with its config.toml
  bool handle_interrupt = true;        // Ctrl-C stops at the next step with a checkpoint
  std::shared_ptr<dist::Communicator> world;  // null: a process alone
  std::uint64_t program_fingerprint = 0;      // checked across the processes of a job
};

struct TrainOutcome {
  std::string kind;  // the task.kind that was trained
  train::TrainerOptions options;
  train::TrainResult result;
  std::string unit;  // what the task counts ("tokens", "examples")
};

// Resolves the configuration (file, then overrides), seeds the generator with train.seed,
// builds the task and runs the trainer. The start line and progress go to `log`, which the
// caller silences on ranks other than 0. Throws attn::Error naming a bad file, key or value.
TrainOutcome train_from_config(const TrainRequest& request, std::ostream& log);

}  // namespace attn::tasks
