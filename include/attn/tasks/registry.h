// The training tasks by name, for `attn train`: the configuration file's task.kind picks the
// schema of keys and the Task that trains.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "attn/train/config.h"
#include "attn/train/task.h"

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

}  // namespace attn::tasks
