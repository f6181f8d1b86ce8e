// Trainer: the training loop for any Task (task.h).
//
//   train::Schema schema = train::trainer_schema();           // the "train." keys
//   schema.section("model").add("d_model", 64, "model width");
//   train::Config config = train::Config::load(path, schema);
//   config.apply_overrides(overrides);
//   attn::manual_seed(config.get<std::int64_t>("train.seed"));
//   MyTask task(config);                                       // builds model and data
//   train::TrainerOptions options = train::trainer_options(config);
//   options.resume = resume_flag;
//   options.handle_interrupt = true;                           // Ctrl-C: save and stop
//   train::TrainResult result = train::Trainer(task, options).fit();
//
// To resume, read the run's own configuration, RunDirectory(dir).config_file(), instead of
// the file in configs/, apply the new overrides (a larger max_steps, say), and set
// options.resume. Seeding before the task is built keeps a fresh run reproducible; on resume
// the trainer restores the generators itself.
//
// Each step: zero the gradients, set the scheduled learning rate, task.train_step(), check
// the loss is finite, backward, clip (or just measure) the global gradient norm and check it
// is finite, optimizer step. Then, at step boundaries: log, validate, save, and stop when a
// limit is reached (max_steps, max_epochs, max_minutes, early stopping, Ctrl-C).
//
// Non-finite values: a step whose loss or gradient norm is NaN or infinite is skipped. Its
// batch is used up and the step number advances, but no parameter and no optimizer state
// changes (the gradients are zeroed); a progress line and a "skipped" record of the metrics
// log say why. More than max_bad_steps skipped steps in a row stop training with an
// attn::Error naming the last one (0: the first bad step stops). The count of skipped steps
// is part of the saved state, so a resumed run skips and stops exactly where an uninterrupted
// one does.
//
// Checkpoints (run_directory.h): best.safetensors whenever validation improves;
// last.safetensors with its optimizer and trainer state at every validation, every
// save_every steps and when training stops. Before any checkpoint is written every parameter
// is checked to be finite. A non-finite parameter, or too many bad steps in a row, stops
// training with an attn::Error that names the step and the last good checkpoint, which is
// left untouched.
//
// Resume (options.resume) loads last.safetensors and its state: model, optimizer state
// (moments, step counts, learning rate), the position (epoch, batch), counters, elapsed time,
// best score and early-stopping count, the log window and the random generators. The
// schedule is a function of the optimizer's step. A resumed run therefore computes exactly
// the same losses and parameters as one that never stopped (given a Task that keeps the
// promises in task.h). Limits are totals over the whole run: resume with a larger
// max_steps or max_minutes to train further.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "attn/dist/communicator.h"
#include "attn/optim/optimizer.h"
#include "attn/optim/schedule.h"
#include "attn/train/config.h"
#include "attn/train/run_directory.h"
#include "attn/train/task.h"

namespace attn::train {

// The trainer's settings. Every field above the marker is the configuration key
// "train.<field>" of trainer_schema(), with the same default; docs/TRAINING.md explains each.
struct TrainerOptions {
  std::string run_dir = "runs/default";
  std::int64_t seed = 1;  // for tasks: batch order, initialisation (the trainer only logs it)

  std::string optimizer = "adamw";  // adamw | adam | sgd
  double learning_rate = 1e-3;      // constant rate, or the peak of noam and cosine
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;  // sgd
  bool nesterov = false;  // sgd

  std::string schedule = "constant";  // constant | noam | cosine
  std::int64_t warmup_steps = 0;      // linear warmup to learning_rate (noam needs >= 1)
  std::int64_t schedule_steps = 0;    // cosine: steps to decay over (0: the step limit)
  double min_learning_rate = 0.0;     // cosine: the floor
  double clip_grad_norm = 0.0;        // 0: no clipping
  std::int64_t max_bad_steps = 10;    // non-finite steps in a row that are skipped; then stop
  std::int64_t accumulate_steps = 1;  // micro-batches per process per batch (data_parallel.h)
  std::int64_t check_replicas_every = 0;  // steps between parameter-hash comparisons of ranks
  bool overlap_communication = true;      // exchange gradient buckets during backward
  double bucket_megabytes = 4.0;          // size of those buckets

  std::int64_t max_steps = 0;  // limits: 0 means none; at least one must be set
  std::int64_t max_epochs = 0;
  double max_minutes = 0.0;

  std::int64_t validate_every = 0;   // steps; 0: at the end of every epoch
  bool validate_at_end = true;       // validate when training stops, unless just done
  std::int64_t save_every = 0;       // steps between extra saves of last; 0: none
  std::int64_t patience = 0;         // validations without improvement before stopping; 0: off
  double min_delta = 0.0;            // the improvement that counts
  std::string best_metric = "loss";  // "loss" or a name in ValidationResult::metrics
  std::string best_mode = "min";     // min | max: which direction is better

  std::int64_t log_every = 50;    // steps between metrics-log records (and progress lines)
  std::int64_t threads = 0;       // attn::set_num_threads; 0: leave as is
  std::string progress = "auto";  // auto | bar | lines | none

  // ---- not configuration keys: set by the program that runs the trainer ----
  bool resume = false;            // continue from run_dir/checkpoints/last.safetensors
  bool handle_interrupt = false;  // on SIGINT, save last at the next step boundary and stop
  std::ostream* progress_stream = nullptr;  // std::cerr when null
  std::string config_toml;                  // written to run_dir/config.toml when not empty
  // The processes that train together (null: this one alone). Each rank trains its slices
  // of every batch; only rank 0 writes files and shows progress (docs/DISTRIBUTED.md).
  std::shared_ptr<dist::Communicator> communicator;
  // A hash of the program (its executable), compared between the ranks at start; 0: none.
  std::uint64_t program_fingerprint = 0;
};

// The "train." keys, with the defaults of TrainerOptions and one line of help each.
Schema trainer_schema();
// The "train." keys of `config` (whose schema must include trainer_schema()); config_toml
// is set to config.to_toml(), so the run directory keeps the whole resolved configuration.
TrainerOptions trainer_options(const Config& config);

// Throws attn::Error naming the first invalid setting (an unknown optimizer, schedule, mode
// or progress style; a value out of range; no limit at all). The Trainer calls it; a program
// may call it early, before loading data.
void check_options(const TrainerOptions& options);
// The optimizer that options.optimizer names, with its settings.
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainerOptions& options,
                                                 std::vector<Tensor> parameters);
// The schedule that options.schedule names. `total_steps` (0: unknown) is the length of a
// cosine decay when schedule_steps is 0. Every schedule starts with a linear warmup over
// warmup_steps up to learning_rate; noam then decays as sqrt(warmup_steps / step), which is
// the paper's rate when learning_rate = model_dim^-0.5 * warmup_steps^-0.5.
std::unique_ptr<optim::LearningRateSchedule> make_schedule(const TrainerOptions& options,
                                                           std::int64_t total_steps);

enum class StopReason { MaxSteps, MaxEpochs, MaxMinutes, EarlyStopping, Interrupted };
// "max_steps", "max_epochs", "max_minutes", "early_stopping", "interrupted".
std::string stop_reason_name(StopReason reason);

struct TrainResult {
  StopReason reason = StopReason::MaxSteps;
  std::int64_t steps = 0;  // updates done over the whole run
  std::int64_t epoch = 0;  // position of the next batch
  std::int64_t tokens = 0;
  std::int64_t skipped_steps = 0;  // steps skipped for a non-finite loss or gradient, in all
  double elapsed_seconds = 0.0;
  std::optional<double> best_score;
  std::int64_t best_step = 0;
  std::optional<ValidationResult> last_validation;  // of this session
  RunDirectory run{""};
};

class DataParallel;

class Trainer {
 public:
  // Checks the options (names of choices, ranges, that some limit is set) and builds the
  // optimizer and schedule over task.model().parameters().
  Trainer(Task& task, TrainerOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until a limit is reached. A fresh run needs a run directory without a last
  // checkpoint (it is an error to start over an existing run without resume); a resumed
  // run needs one.
  TrainResult fit();

  // Asks fit() to save and stop at the next step boundary; safe from any thread.
  void request_stop() { stop_requested_ = true; }

  const TrainerOptions& options() const { return options_; }
  const optim::Optimizer& optimizer() const { return *optimizer_; }
  const RunDirectory& run() const { return run_; }

 private:
  struct Session;      // the state of one fit() call
  struct StepOutcome;  // what one update measured
  struct SlicesSummary;  // what one rank's micro-batches of an update added up to

  void prepare_run();
  void open_session(Session& session);
  TrainResult result_of(const Session& session, StopReason reason, double elapsed) const;
  void run_step(Session& session);
  StepOutcome update_model(std::int64_t epoch, std::int64_t batch_index);
  StepOutcome update_whole_batch(std::int64_t epoch, std::int64_t batch_index);
  StepOutcome update_in_slices(std::int64_t epoch, std::int64_t batch_index);
  void backward_slice(const StepResult& result, std::int64_t batch_tokens, std::int64_t step,
                      SlicesSummary& summary, bool overlap);
  bool is_writer() const;   // rank 0: writes files, shows progress, validates
  bool is_sharded() const;  // more than one process
  void check_job_agrees() const;
  void check_replicas_agree(std::int64_t step) const;
  TrainingState load_checkpoint();
  std::optional<StopReason> agreed_stop_reason(const Session& session) const;
  void account_step(Session& session, const StepOutcome& outcome);
  void report_skipped_step(Session& session, const StepOutcome& outcome);
  void after_step(Session& session, std::int64_t step_epoch, bool epoch_ended);
  std::optional<StopReason> stop_reason(const Session& session) const;
  void validate(Session& session);
  void save_last(Session& session);
  void check_parameters_finite(const std::string& during) const;
  TrainResult train_until_stopped(Session& session);
  [[noreturn]] void fail(const std::string& message) const;
  void log_window(Session& session, std::int64_t step_epoch);
  void show_progress(Session& session, bool is_log_step, bool force);
  std::int64_t total_steps() const;
  double elapsed_seconds(const Session& session) const;
  void capture_generators();
  void restore_generators();

  Task& task_;
  TrainerOptions options_;
  RunDirectory run_;
  std::shared_ptr<dist::Communicator> communicator_;
  std::unique_ptr<DataParallel> data_parallel_;  // when a batch is cut into micro-batches
  std::unique_ptr<optim::Optimizer> optimizer_;  // over this rank's shard when sharded
  std::unique_ptr<optim::LearningRateSchedule> schedule_;
  TrainingState state_;
  std::atomic<bool> stop_requested_{false};
  std::ostream discard_{nullptr};  // the progress stream of ranks other than 0
};

}  // namespace attn::train
