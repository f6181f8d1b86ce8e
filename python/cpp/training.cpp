#include "training.h"

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "attn/tasks/registry.h"

namespace attn::python {

namespace nb = nanobind;

namespace {

nb::dict result_dict(const tasks::TrainOutcome& outcome) {
  const train::TrainResult& result = outcome.result;
  nb::dict dict;
  dict["kind"] = outcome.kind;
  dict["reason"] = train::stop_reason_name(result.reason);
  dict["steps"] = result.steps;
  dict["epoch"] = result.epoch;
  dict["tokens"] = result.tokens;
  dict["unit"] = outcome.unit;
  dict["skipped_steps"] = result.skipped_steps;
  dict["elapsed_seconds"] = result.elapsed_seconds;
  dict["run_dir"] = result.run.root().string();
  dict["best_score"] = result.best_score ? nb::cast(*result.best_score) : nb::none();
  dict["best_step"] = result.best_step;
  if (result.last_validation) {
    nb::dict validation;
    validation["loss"] = result.last_validation->loss;
    for (const auto& [name, value] : result.last_validation->metrics) validation[name.c_str()] = value;
    dict["last_validation"] = validation;
  } else {
    dict["last_validation"] = nb::none();
  }
  return dict;
}

}  // namespace

void bind_training(nb::module_& module) {
  module.def(
      "train",
      [](const std::string& config, const std::vector<std::string>& overrides,
         const std::string& resume, bool quiet) {
        tasks::TrainRequest request;
        request.config_path = config;
        request.overrides = overrides;
        request.resume_dir = resume;
        std::ostream silent(nullptr);
        tasks::TrainOutcome outcome;
        {
          nb::gil_scoped_release unlocked;
          outcome = tasks::train_from_config(request, quiet ? silent : std::cout);
          std::cout.flush();
        }
        return result_dict(outcome);
      },
      nb::arg("config"), nb::arg("overrides"), nb::arg("resume"), nb::arg("quiet"),
      "Trains the task a configuration file describes; returns what the run did.");
}

}  // namespace attn::python
