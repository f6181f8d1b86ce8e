// `attn train --config configs/NAME.toml [key=value ...] [--max-minutes M] [--max-steps N]
// [--run-dir DIR]` trains the task the configuration describes (tasks/registry.h) with
// train::Trainer; `attn train --resume RUN_DIR [key=value ...]` continues a stopped run
// from its own resolved configuration (RUN_DIR/config.toml). Any configuration key can be
// overridden with key=value; --keys lists them all with their defaults.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/dist/communicator.h"
#include "attn/tasks/registry.h"
#include "attn/train/task.h"
#include "attn/train/trainer.h"
#include "commands.h"

namespace attn::cli {
namespace {

struct TrainOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string resume_dir;
  double max_minutes = -1;
  std::int64_t max_steps = -1;
  std::string run_dir;
  bool list_keys = false;
};

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

void print_result(const train::TrainResult& result, const train::TrainerOptions& options,
                  const std::string& unit) {
  std::cout << "stopped: " << train::stop_reason_name(result.reason) << " after " << result.steps
            << " steps (" << format_number(result.elapsed_seconds / 60.0) << " min, "
            << result.tokens << (unit == "ex" ? " examples" : " tokens") << ")\n";
  if (result.best_score) {
    std::cout << "best " << options.best_metric << ": " << format_number(*result.best_score)
              << " at step " << result.best_step << " -> " << result.run.best_checkpoint().string()
              << "\n";
  }
  if (result.last_validation) {
    std::cout << "last validation: loss " << format_number(result.last_validation->loss);
    for (const auto& [name, value] : result.last_validation->metrics) {
      std::cout << ", " << name << " " << format_number(value);
    }
    std::cout << "\n";
  }
  std::cout << "last checkpoint: " << result.run.last_checkpoint().string() << "\n";
}

// A hash of this program's executable: ranks of one job must all run the same build.
std::uint64_t program_fingerprint() {
  std::ifstream executable("/proc/self/exe", std::ios::binary);
  ATTN_CHECK(executable.good(), "train: cannot read /proc/self/exe to compare programs");
  train::Fingerprint fingerprint;
  std::string chunk(1 << 20, '\0');
  while (executable.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) ||
         executable.gcount() > 0) {
    fingerprint.add(std::string_view(chunk.data(), static_cast<std::size_t>(executable.gcount())));
  }
  return fingerprint.value();
}

// "2 processes: node-a (1), node-b (1)": the machines of the job, for rank 0 to print.
void run_train(const TrainOptions& options, const std::shared_ptr<dist::Communicator>& world) {
  tasks::TrainRequest request;
  request.config_path = options.config_path;
  request.overrides = options.overrides;
  request.resume_dir = options.resume_dir;
  if (request.resume_dir.empty() && request.config_path.empty()) {
    throw Error("train: --config is required (or --resume RUN_DIR)");
  }
  if (options.max_minutes >= 0) {
    request.overrides.push_back("train.max_minutes=" + format_number(options.max_minutes));
  }
  if (options.max_steps >= 0) {
    request.overrides.push_back("train.max_steps=" + std::to_string(options.max_steps));
  }
  if (!options.run_dir.empty() && request.resume_dir.empty()) {
    request.overrides.push_back("train.run_dir=" + options.run_dir);
  }
  if (options.list_keys) {
    const std::string config_path =
        request.resume_dir.empty()
            ? request.config_path
            : (std::filesystem::path(request.resume_dir) / "config.toml").string();
    std::cout << tasks::task_schema(tasks::task_kind_of(config_path, request.overrides)).help();
    return;
  }
  request.world = world;
  if (world->size() > 1) request.program_fingerprint = program_fingerprint();
  // Only rank 0 speaks; the others' messages would repeat its own.
  const bool speaks = world->rank() == 0;
  std::ostream quiet(nullptr);
  const tasks::TrainOutcome outcome = tasks::train_from_config(request, speaks ? std::cout : quiet);
  if (speaks) print_result(outcome.result, outcome.options, outcome.unit);
}

// Under mpirun, an error on one rank must end the whole job: the others would wait for it
// in the next exchange. Each rank names itself, since mpirun mixes their output.
int run_train_guarded(const TrainOptions& options) {
  std::shared_ptr<dist::Communicator> world;
  int status = run_guarded([&] { world = dist::world_from_environment(); });
  if (status != 0) return status;
  if (world->size() == 1) return run_guarded([&] { run_train(options, world); });
  try {
    run_train(options, world);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "attn train: rank " << world->rank() << " of " << world->size() << " (" << world->host()
              << "): " << error.what() << std::endl;
    world->abort(1);
  }
  return 1;  // not reached: abort ends the process
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* train = app.add_subcommand("train", "train a model from a configuration file");
  train->add_option("--config", options->config_path, "the TOML configuration (configs/*.toml)");
  train->add_option("overrides", options->overrides,
                    "configuration keys to override, as key=value (e.g. train.max_steps=100)");
  train->add_option("--resume", options->resume_dir,
                    "continue the run in this directory exactly where it stopped, with its "
                    "configuration (RUN_DIR/config.toml) and any overrides");
  train->add_option("--max-minutes", options->max_minutes,
                    "stop after this many minutes of training (train.max_minutes)")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--max-steps", options->max_steps, "stop after this many updates (train.max_steps)")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--run-dir", options->run_dir, "where checkpoints and logs go (train.run_dir)");
  train->add_flag("--keys", options->list_keys,
                  "list every configuration key of the task with its default, then exit");
  train->callback([options] {
    int status = run_train_guarded(*options);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
