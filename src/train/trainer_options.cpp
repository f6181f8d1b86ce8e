// The "train." configuration keys, their checks, and the optimizer and schedule they name.
#include <cmath>

#include "attn/core/error.h"
#include "attn/optim/adam.h"
#include "attn/optim/sgd.h"
#include "attn/train/trainer.h"

namespace attn::train {
namespace {

// "constant" with an optional linear warmup.
class WarmupConstantSchedule final : public optim::LearningRateSchedule {
 public:
  WarmupConstantSchedule(double learning_rate, std::int64_t warmup_steps)
      : learning_rate_(learning_rate), warmup_steps_(warmup_steps) {}
  double learning_rate(std::int64_t step) const override {
    if (step >= warmup_steps_) return learning_rate_;
    return learning_rate_ * static_cast<double>(step) / static_cast<double>(warmup_steps_);
  }

 private:
  double learning_rate_;
  std::int64_t warmup_steps_;
};

bool is_one_of(const std::string& value, std::initializer_list<const char*> choices) {
  for (const char* choice : choices) {
    if (value == choice) return true;
  }
  return false;
}

void check_choices(const TrainerOptions& options) {
  ATTN_CHECK(is_one_of(options.optimizer, {"adamw", "adam", "sgd"}),
             "train.optimizer must be adamw, adam or sgd; got '", options.optimizer, "'");
  ATTN_CHECK(is_one_of(options.schedule, {"constant", "noam", "cosine"}),
             "train.schedule must be constant, noam or cosine; got '", options.schedule, "'");
  ATTN_CHECK(is_one_of(options.best_mode, {"min", "max"}),
             "train.best_mode must be min or max; got '", options.best_mode, "'");
  ATTN_CHECK(is_one_of(options.progress, {"auto", "bar", "lines", "none"}),
             "train.progress must be auto, bar, lines or none; got '", options.progress, "'");
  ATTN_CHECK(!options.best_metric.empty(), "train.best_metric must name a metric, e.g. loss");
}

void check_non_negative(double value, const char* key) {
  ATTN_CHECK(std::isfinite(value) && value >= 0.0, "train.", key,
             " must be a finite number >= 0; got ", value);
}

void check_optimizer_settings(const TrainerOptions& options) {
  ATTN_CHECK(std::isfinite(options.learning_rate) && options.learning_rate > 0.0,
             "train.learning_rate must be > 0; got ", options.learning_rate);
  ATTN_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0, "train.beta1 must be in [0, 1); got ",
             options.beta1);
  ATTN_CHECK(options.beta2 >= 0.0 && options.beta2 < 1.0, "train.beta2 must be in [0, 1); got ",
             options.beta2);
  ATTN_CHECK(std::isfinite(options.eps) && options.eps > 0.0, "train.eps must be > 0; got ",
             options.eps);
  check_non_negative(options.weight_decay, "weight_decay");
  check_non_negative(options.momentum, "momentum");
  check_non_negative(options.clip_grad_norm, "clip_grad_norm");
  check_non_negative(options.min_learning_rate, "min_learning_rate");
  ATTN_CHECK(options.min_learning_rate <= options.learning_rate,
             "train.min_learning_rate must not exceed train.learning_rate");
  ATTN_CHECK(options.warmup_steps >= 0 && options.schedule_steps >= 0,
             "train.warmup_steps and train.schedule_steps must be >= 0");
  ATTN_CHECK(options.schedule != "noam" || options.warmup_steps >= 1,
             "train.schedule = noam needs train.warmup_steps >= 1");
}

void check_loop_settings(const TrainerOptions& options) {
  ATTN_CHECK(options.max_steps >= 0 && options.max_epochs >= 0,
             "train.max_steps and train.max_epochs must be >= 0");
  check_non_negative(options.max_minutes, "max_minutes");
  ATTN_CHECK(options.max_steps > 0 || options.max_epochs > 0 || options.max_minutes > 0,
             "train: no limit is set; set train.max_steps, train.max_epochs or train.max_minutes");
  ATTN_CHECK(options.validate_every >= 0 && options.save_every >= 0 && options.patience >= 0,
             "train.validate_every, train.save_every and train.patience must be >= 0");
  check_non_negative(options.min_delta, "min_delta");
  ATTN_CHECK(options.log_every >= 1, "train.log_every must be >= 1; got ", options.log_every);
  ATTN_CHECK(options.threads >= 0, "train.threads must be >= 0; got ", options.threads);
  ATTN_CHECK(options.max_bad_steps >= 0, "train.max_bad_steps must be >= 0; got ",
             options.max_bad_steps);
  ATTN_CHECK(options.bucket_megabytes > 0 && std::isfinite(options.bucket_megabytes),
             "train.bucket_megabytes must be > 0; got ", options.bucket_megabytes);
  ATTN_CHECK(options.check_replicas_every >= 0, "train.check_replicas_every must be >= 0; got ",
             options.check_replicas_every);
  ATTN_CHECK(options.accumulate_steps >= 1, "train.accumulate_steps must be >= 1; got ",
             options.accumulate_steps);
  ATTN_CHECK(!options.run_dir.empty(), "train.run_dir must name a directory");
}

}  // namespace

Schema trainer_schema() {
  TrainerOptions d;  // the defaults
  Schema schema;
  schema.section("train")
      .add("run_dir", d.run_dir, "directory of the run: config.toml, checkpoints/, metrics.jsonl")
      .add("seed", d.seed, "seed of batch order, initialisation and dropout")
      .add("optimizer", d.optimizer, "update rule", {"adamw", "adam", "sgd"})
      .add("learning_rate", d.learning_rate, "the constant rate, or the peak of noam and cosine")
      .add("beta1", d.beta1, "adam/adamw: decay of the first moment")
      .add("beta2", d.beta2, "adam/adamw: decay of the second moment")
      .add("eps", d.eps, "adam/adamw: added to the denominator")
      .add("weight_decay", d.weight_decay, "adamw: decoupled decay; adam, sgd: L2 penalty")
      .add("momentum", d.momentum, "sgd: momentum")
      .add("nesterov", d.nesterov, "sgd: Nesterov momentum")
      .add("schedule", d.schedule, "learning-rate schedule", {"constant", "noam", "cosine"})
      .add("warmup_steps", d.warmup_steps, "linear warmup to learning_rate over these steps")
      .add("schedule_steps", d.schedule_steps, "cosine: steps to decay over (0: the step limit)")
      .add("min_learning_rate", d.min_learning_rate, "cosine: the final rate")
      .add("clip_grad_norm", d.clip_grad_norm, "clip the global gradient norm to this (0: off)")
      .add("max_bad_steps", d.max_bad_steps,
           "steps in a row with a non-finite loss or gradient that are skipped before training "
           "stops (0: stop at the first)")
      .add("accumulate_steps", d.accumulate_steps,
           "micro-batches per process that each batch is cut into; their gradients are added "
           "before one update")
      .add("overlap_communication", d.overlap_communication,
           "with several processes and one micro-batch each: exchange gradients during the "
           "backward pass, bucket by bucket")
      .add("bucket_megabytes", d.bucket_megabytes,
           "size of the gradient buckets exchanged during the backward pass")
      .add("check_replicas_every", d.check_replicas_every,
           "with several processes: steps between checks that every process holds the same "
           "parameters (0: never)")
      .add("max_steps", d.max_steps, "stop after this many updates in all (0: no limit)")
      .add("max_epochs", d.max_epochs, "stop after this many epochs (0: no limit)")
      .add("max_minutes", d.max_minutes, "stop after this much training time in all (0: no limit)")
      .add("validate_every", d.validate_every, "steps between validations (0: every epoch end)")
      .add("validate_at_end", d.validate_at_end, "validate when training stops, unless just done")
      .add("save_every", d.save_every, "steps between extra saves of the last checkpoint (0: none)")
      .add("patience", d.patience, "stop after this many validations without improvement (0: off)")
      .add("min_delta", d.min_delta, "the smallest change that counts as an improvement")
      .add("best_metric", d.best_metric, "validation metric for best checkpoint and patience")
      .add("best_mode", d.best_mode, "whether lower or higher best_metric is better",
           {"min", "max"})
      .add("log_every", d.log_every, "steps between metrics-log records and progress lines")
      .add("threads", d.threads, "worker threads (0: leave as is)")
      .add("progress", d.progress, "progress display", {"auto", "bar", "lines", "none"});
  return schema;
}

TrainerOptions trainer_options(const Config& config) {
  TrainerOptions o;
  auto text = [&](const char* key) { return config.get<std::string>(std::string("train.") + key); };
  auto integer = [&](const char* key) {
    return config.get<std::int64_t>(std::string("train.") + key);
  };
  auto real = [&](const char* key) { return config.get<double>(std::string("train.") + key); };
  auto flag = [&](const char* key) { return config.get<bool>(std::string("train.") + key); };
  o.run_dir = text("run_dir");
  o.seed = integer("seed");
  o.optimizer = text("optimizer");
  o.learning_rate = real("learning_rate");
  o.beta1 = real("beta1");
  o.beta2 = real("beta2");
  o.eps = real("eps");
  o.weight_decay = real("weight_decay");
  o.momentum = real("momentum");
  o.nesterov = flag("nesterov");
  o.schedule = text("schedule");
  o.warmup_steps = integer("warmup_steps");
  o.schedule_steps = integer("schedule_steps");
  o.min_learning_rate = real("min_learning_rate");
  o.clip_grad_norm = real("clip_grad_norm");
  o.max_bad_steps = integer("max_bad_steps");
  o.accumulate_steps = integer("accumulate_steps");
  o.check_replicas_every = integer("check_replicas_every");
  o.overlap_communication = flag("overlap_communication");
  o.bucket_megabytes = real("bucket_megabytes");
  o.max_steps = integer("max_steps");
  o.max_epochs = integer("max_epochs");
  o.max_minutes = real("max_minutes");
  o.validate_every = integer("validate_every");
  o.validate_at_end = flag("validate_at_end");
  o.save_every = integer("save_every");
  o.patience = integer("patience");
  o.min_delta = real("min_delta");
  o.best_metric = text("best_metric");
  o.best_mode = text("best_mode");
  o.log_every = integer("log_every");
  o.threads = integer("threads");
  o.progress = text("progress");
  o.config_toml = config.to_toml();
  return o;
}

void check_options(const TrainerOptions& options) {
  check_choices(options);
  check_optimizer_settings(options);
  check_loop_settings(options);
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainerOptions& options,
                                                 std::vector<Tensor> parameters) {
  if (options.optimizer == "sgd") {
    optim::SgdOptions sgd;
    sgd.learning_rate = options.learning_rate;
    sgd.momentum = options.momentum;
    sgd.weight_decay = options.weight_decay;
    sgd.nesterov = options.nesterov;
    return std::make_unique<optim::Sgd>(std::move(parameters), sgd);
  }
  optim::AdamOptions adam;
  adam.learning_rate = options.learning_rate;
  adam.beta1 = options.beta1;
  adam.beta2 = options.beta2;
  adam.eps = options.eps;
  adam.weight_decay = options.weight_decay;
  if (options.optimizer == "adam")
    return std::make_unique<optim::Adam>(std::move(parameters), adam);
  ATTN_CHECK(options.optimizer == "adamw", "train.optimizer must be adamw, adam or sgd; got '",
             options.optimizer, "'");
  return std::make_unique<optim::AdamW>(std::move(parameters), adam);
}

std::unique_ptr<optim::LearningRateSchedule> make_schedule(const TrainerOptions& options,
                                                           std::int64_t total_steps) {
  if (options.schedule == "noam") {
    // NoamSchedule peaks at factor * model_dim^-0.5 * warmup^-0.5; with model_dim 1 the
    // factor below makes the peak learning_rate.
    double factor = options.learning_rate * std::sqrt(static_cast<double>(options.warmup_steps));
    return std::make_unique<optim::NoamSchedule>(1, options.warmup_steps, factor);
  }
  if (options.schedule == "cosine") {
    std::int64_t decay_steps = options.schedule_steps > 0 ? options.schedule_steps : total_steps;
    ATTN_CHECK(decay_steps > options.warmup_steps,
               "train.schedule = cosine needs train.schedule_steps (or a step or epoch limit) "
               "greater than train.warmup_steps; got ",
               decay_steps, " and ", options.warmup_steps);
    optim::CosineScheduleOptions cosine;
    cosine.peak_learning_rate = options.learning_rate;
    cosine.min_learning_rate = options.min_learning_rate;
    cosine.total_steps = decay_steps;
    cosine.warmup_steps = options.warmup_steps;
    return std::make_unique<optim::CosineSchedule>(cosine);
  }
  ATTN_CHECK(options.schedule == "constant",
             "train.schedule must be constant, noam or cosine; got '", options.schedule, "'");
  return std::make_unique<WarmupConstantSchedule>(options.learning_rate, options.warmup_steps);
}

std::string stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::MaxSteps:
      return "max_steps";
    case StopReason::MaxEpochs:
      return "max_epochs";
    case StopReason::MaxMinutes:
      return "max_minutes";
    case StopReason::EarlyStopping:
      return "early_stopping";
    case StopReason::Interrupted:
      return "interrupted";
  }
  return "unknown";
}

}  // namespace attn::train
