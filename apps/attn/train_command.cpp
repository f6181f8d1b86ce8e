// `attn train --config configs/NAME.toml [key=value ...] [--max-minutes M] [--max-steps N]
// [--run-dir DIR]` trains the task the configuration describes (tasks/registry.h) with
// train::Trainer; `attn train --resume RUN_DIR [key=value ...]` continues a stopped run
// from its own resolved configuration (RUN_DIR/config.toml). Any configuration key can be
// overridden with key=value; --keys lists them all with their defaults.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/random.h"
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
std::string describe_processes(dist::Communicator& world) {
  std::vector<std::pair<std::string, int>> hosts;
  for (const std::string& host : dist::gather_strings(world, world.host(), 0)) {
    auto found = std::find_if(hosts.begin(), hosts.end(), [&](const auto& entry) { return entry.first == host; });
    if (found == hosts.end()) {
      hosts.emplace_back(host, 1);
    } else {
      found->second += 1;
    }
  }
  std::string text = std::to_string(world.size()) + " processes:";
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    text += (i == 0 ? " " : ", ") + hosts[i].first + " (" + std::to_string(hosts[i].second) + ")";
  }
  return text;
}

void run_train(TrainOptions options, const std::shared_ptr<dist::Communicator>& world) {
  const bool resume = !options.resume_dir.empty();
  if (resume) {
    // The run's own configuration, so that the resumed run is the same run.
    options.config_path = (std::filesystem::path(options.resume_dir) / "config.toml").string();
    options.run_dir = options.resume_dir;
  }
  if (options.config_path.empty()) throw Error("train: --config is required (or --resume RUN_DIR)");
  if (options.max_minutes >= 0) {
    options.overrides.push_back("train.max_minutes=" + format_number(options.max_minutes));
  }
  if (options.max_steps >= 0) {
    options.overrides.push_back("train.max_steps=" + std::to_string(options.max_steps));
  }
  if (!options.run_dir.empty()) options.overrides.push_back("train.run_dir=" + options.run_dir);

  const std::string kind = tasks::task_kind_of(options.config_path, options.overrides);
  train::Schema schema = tasks::task_schema(kind);
  if (options.list_keys) {
    std::cout << schema.help();
    return;
  }
  train::Config config = train::Config::load(options.config_path, schema);
  config.apply_overrides(options.overrides);
  train::TrainerOptions trainer_options = train::trainer_options(config);
  trainer_options.resume = resume;
  trainer_options.handle_interrupt = true;
  trainer_options.communicator = world;
  if (world->size() > 1) trainer_options.program_fingerprint = program_fingerprint();
  train::check_options(trainer_options);
  // Only rank 0 speaks; the others' messages would repeat its own.
  const bool speaks = world->rank() == 0;
  std::ostream quiet(nullptr);
  std::ostream& out = speaks ? std::cout : quiet;

  // The seed fixes initialisation and dropout; the trainer restores the generator on resume.
  attn::manual_seed(static_cast<std::uint64_t>(config.get<std::int64_t>("train.seed")));
  out << "attn train: " << kind << " (" << options.config_path << ") -> "
      << trainer_options.run_dir << (resume ? " (resuming)" : "");
  if (world->size() > 1) out << " on " << describe_processes(*world);
  out << "\n";
  std::unique_ptr<train::Task> task = tasks::make_task(kind, config, resume, out);
  train::Trainer trainer(*task, trainer_options);
  const train::TrainResult result = trainer.fit();
  if (speaks) print_result(result, trainer_options, task->unit_name());
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
