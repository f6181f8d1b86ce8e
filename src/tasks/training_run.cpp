// tasks::train_from_config: the sequence `attn train` and Python's attn.train share.
#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/tasks/registry.h"

namespace attn::tasks {

namespace {

// "2 processes: node-a (1), node-b (1)": a collective, so every rank calls it.
std::string describe_processes(dist::Communicator& world) {
  std::vector<std::pair<std::string, int>> hosts;
  for (const std::string& host : dist::gather_strings(world, world.host(), 0)) {
    auto found = std::find_if(hosts.begin(), hosts.end(),
                              [&](const auto& entry) { return entry.first == host; });
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

}  // namespace

TrainOutcome train_from_config(const TrainRequest& request, std::ostream& log) {
  const bool resume = !request.resume_dir.empty();
  // A resumed run reads its own configuration, so that it is the same run.
  const std::string config_path =
      resume ? (std::filesystem::path(request.resume_dir) / "config.toml").string()
             : request.config_path;
  ATTN_CHECK(!config_path.empty(), "train: a configuration file is required (or a run to resume)");
  std::vector<std::string> overrides = request.overrides;
  if (resume) overrides.push_back("train.run_dir=" + request.resume_dir);

  TrainOutcome outcome;
  outcome.kind = task_kind_of(config_path, overrides);
  train::Config config = train::Config::load(config_path, task_schema(outcome.kind));
  config.apply_overrides(overrides);
  outcome.options = train::trainer_options(config);
  outcome.options.resume = resume;
  outcome.options.handle_interrupt = request.handle_interrupt;
  std::shared_ptr<dist::Communicator> world = request.world;
  if (!world) world = dist::single_process();
  outcome.options.communicator = world;
  outcome.options.program_fingerprint = request.program_fingerprint;
  train::check_options(outcome.options);

  // The seed fixes initialisation and dropout; the trainer restores the generator on resume.
  attn::manual_seed(static_cast<std::uint64_t>(config.get<std::int64_t>("train.seed")));
  log << "attn train: " << outcome.kind << " (" << config_path << ") -> "
      << outcome.options.run_dir << (resume ? " (resuming)" : "");
  if (world->size() > 1) log << " on " << describe_processes(*world);
  log << "\n";
  std::unique_ptr<train::Task> task = make_task(outcome.kind, config, resume, log);
  train::Trainer trainer(*task, outcome.options);
  outcome.result = trainer.fit();
  outcome.unit = task->unit_name();
  return outcome;
}

}  // namespace attn::tasks
