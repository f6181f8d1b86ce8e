// The training loop (contract and resume semantics: attn/train/trainer.h).
#include "attn/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "attn/autograd/engine.h"
#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/core/parallel.h"
#include "attn/core/random.h"
#include "attn/io/atomic_file.h"
#include "attn/optim/clip.h"
#include "attn/train/data_parallel.h"
#include "attn/train/metrics_log.h"
#include "attn/train/progress.h"

namespace attn::train {
namespace {

using Clock = std::chrono::steady_clock;

// Weight of the newest step in the displayed loss: an average over roughly 50 steps.
constexpr double kLossSmoothing = 0.02;

double seconds_between(Clock::time_point begin, Clock::time_point end) {
  return std::chrono::duration<double>(end - begin).count();
}

std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4f", value);
  return buffer;
}

// "NaN", "inf", "-inf" or the number: std::to_string writes NaN as "nan" or "-nan".
std::string describe_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return std::to_string(value);
}

// ---- Ctrl-C ---------------------------------------------------------------------------------

volatile std::sig_atomic_t interrupt_received = 0;

extern "C" void on_interrupt(int) { interrupt_received = 1; }

// Installs the SIGINT handler for the lifetime of fit(). SA_RESETHAND restores the default
// action after the first signal, so a second Ctrl-C ends a process that is stuck.
class InterruptGuard {
 public:
  explicit InterruptGuard(bool enabled) : enabled_(enabled) {
    interrupt_received = 0;
    if (!enabled_) return;
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &action, &previous_);
  }
  ~InterruptGuard() {
    if (enabled_) sigaction(SIGINT, &previous_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  bool enabled_;
  struct sigaction previous_ {};
};

// ---- checks ---------------------------------------------------------------------------------

template <typename T>
bool all_finite_as(const Tensor& tensor) {
  Tensor contiguous = tensor.contiguous();
  const T* data = contiguous.data<T>();
  return std::all_of(data, data + contiguous.numel(), [](T value) { return std::isfinite(value); });
}

bool all_finite(const Tensor& tensor) {
  if (tensor.dtype() == DType::Float32) return all_finite_as<float>(tensor);
  if (tensor.dtype() == DType::Float64) return all_finite_as<double>(tensor);
  return true;
}

double checked_loss(const StepResult& result, std::int64_t step) {
  ATTN_CHECK(result.loss.defined() && result.loss.numel() == 1,
             "train: train_step must return a one-element loss tensor; at step ", step, " got ",
             result.loss.defined() ? result.loss.describe() : "an undefined tensor");
  ATTN_CHECK(is_floating(result.loss.dtype()), "train: the loss must be a float tensor; got ",
             result.loss.describe());
  ATTN_CHECK(result.loss.requires_grad(),
             "train: the loss has no gradient history (computed under NoGradGuard, or from "
             "parameters that do not require gradients?)");
  ATTN_CHECK(result.num_tokens >= 1, "train: train_step must report num_tokens >= 1; got ",
             result.num_tokens);
  return result.loss.item<double>();
}

bool is_better(double score, double best, const TrainerOptions& options) {
  if (options.best_mode == "max") return score > best + options.min_delta;
  return score < best - options.min_delta;
}

std::string describe_validation(const ValidationResult& result) {
  std::string text = "loss " + format_number(result.loss);
  for (const auto& [name, value] : result.metrics) text += ", " + name + " " + format_number(value);
  return text;
}

// io::AtomicFileWriter writes ".<name>.tmp-<id>" beside its target. A process killed during
// a write leaves that file behind (the target itself is intact); each can be as large as a
// checkpoint, so a run removes those of earlier sessions before it writes anything.
void remove_abandoned_temporary_files(const std::filesystem::path& folder) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(".") && name.find(".tmp-") != std::string::npos && entry.is_regular_file())
      std::filesystem::remove(entry.path(), error);
  }
}

std::vector<Generator*> generators_of(Task& task) {
  std::vector<Generator*> generators{&default_generator()};
  for (Generator* generator : task.extra_generators()) generators.push_back(generator);
  return generators;
}

// " at step 12 (epoch 0, batch 11)": where a skipped update happened.
std::string step_location(std::int64_t step, std::int64_t epoch, std::int64_t batch_index) {
  return " at step " + std::to_string(step) + " (epoch " + std::to_string(epoch) + ", batch " +
         std::to_string(batch_index) + ")";
}

// Micro-batch k of an update draws its random numbers (dropout) from its own range of each
// generator, starting k * kSliceStreamLength after where the update started, so that its
// masks are the same whichever process computes it and however many micro-batches that
// process computes. 2^36 numbers is far more than one micro-batch's dropout needs.
constexpr std::uint64_t kSliceStreamLength = std::uint64_t{1} << 36;

class SliceStreams {
 public:
  explicit SliceStreams(std::vector<Generator*> generators) : generators_(std::move(generators)) {
    for (Generator* generator : generators_) starts_.push_back(generator->offset());
  }
  void enter(std::int64_t slice) {
    for (std::size_t i = 0; i < generators_.size(); ++i) generators_[i]->set_offset(start_of(i, slice));
  }
  // Throws when slice `slice` drew more than its range.
  void check(std::int64_t slice) const {
    for (std::size_t i = 0; i < generators_.size(); ++i) {
      ATTN_CHECK(generators_[i]->offset() - start_of(i, slice) <= kSliceStreamLength,
                 "train: one micro-batch drew more than 2^36 random numbers; raise "
                 "train.accumulate_steps or use more processes");
    }
  }
  // Every generator continues after the ranges of all `slices` micro-batches.
  void finish(std::int64_t slices) {
    for (std::size_t i = 0; i < generators_.size(); ++i) generators_[i]->set_offset(start_of(i, slices));
  }

 private:
  std::uint64_t start_of(std::size_t generator, std::int64_t slice) const {
    return starts_[generator] + static_cast<std::uint64_t>(slice) * kSliceStreamLength;
  }
  std::vector<Generator*> generators_;
  std::vector<std::uint64_t> starts_;
};

// What identifies a job; every rank must have the same.
struct JobIdentity {
  std::uint64_t configuration = 0;
  std::uint64_t data = 0;
  std::uint64_t program = 0;
  std::int64_t parameters = 0;
};

std::string differences(const JobIdentity& mine, const JobIdentity& reference) {
  std::vector<std::string> names;
  if (mine.configuration != reference.configuration) names.push_back("resolved configuration");
  if (mine.data != reference.data) names.push_back("training data");
  if (mine.program != reference.program) names.push_back("program (attn executable)");
  if (mine.parameters != reference.parameters) names.push_back("model size");
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) text += (i == 0 ? "" : ", ") + names[i];
  return text;
}

}  // namespace

// The state of one fit() call that is not saved: clocks, the log, the display.
struct Trainer::Session {
  Session(std::ostream& out, ProgressMode mode) : progress(out, mode) {}

  Clock::time_point start = Clock::now();
  double elapsed_before = 0.0;  // the run's time in earlier sessions
  std::int64_t start_step = 0;
  std::unique_ptr<MetricsLog> log;
  ProgressDisplay progress;
  // Throughput since the last training record, measured in this session only.
  Clock::time_point rate_start = Clock::now();
  std::int64_t rate_tokens = 0;
  std::int64_t session_tokens = 0;
  double smoothed_loss = 0.0;
  std::int64_t smoothed_count = 0;
  double learning_rate = 0.0;  // of the last step
  bool early_stop = false;
  std::int64_t last_saved_step = -1;
  std::optional<ValidationResult> last_validation;
};

Trainer::Trainer(Task& task, TrainerOptions options)
    : task_(task), options_(std::move(options)), run_(options_.run_dir) {
  check_options(options_);
  ATTN_CHECK(task_.batches_per_epoch() >= 1, "train: the task has no training batches");
  ATTN_CHECK(task_.has_validation() || options_.patience == 0,
             "train.patience needs a validation set, and this task has none");
  communicator_ = options_.communicator;
  if (!communicator_) communicator_ = dist::single_process();
  std::vector<Tensor> parameters = task_.model().parameters();
  if (communicator_->size() > 1 || options_.accumulate_steps > 1) {
    data_parallel_ = std::make_unique<DataParallel>(parameters, *communicator_);
    parameters = data_parallel_->owned_parameters();
  }
  optimizer_ = make_optimizer(options_, std::move(parameters));
  schedule_ = make_schedule(options_, total_steps());
  state_.optimizer = optimizer_->name();
}

Trainer::~Trainer() = default;

std::int64_t Trainer::total_steps() const {
  std::int64_t total = options_.max_steps;
  if (options_.max_epochs > 0) {
    std::int64_t epoch_steps = options_.max_epochs * task_.batches_per_epoch();
    total = total > 0 ? std::min(total, epoch_steps) : epoch_steps;
  }
  return total;
}

double Trainer::elapsed_seconds(const Session& session) const {
  return session.elapsed_before + seconds_between(session.start, Clock::now());
}

void Trainer::capture_generators() {
  state_.generators.clear();
  for (Generator* generator : generators_of(task_)) {
    state_.generators.push_back({generator->seed(), generator->offset()});
  }
}

void Trainer::restore_generators() {
  std::vector<Generator*> generators = generators_of(task_);
  ATTN_CHECK(generators.size() == state_.generators.size(),
             "train: cannot resume: the checkpoint has ", state_.generators.size(),
             " generator states but the task uses ", generators.size());
  for (std::size_t i = 0; i < generators.size(); ++i) {
    generators[i]->manual_seed(state_.generators[i].seed);
    generators[i]->set_offset(state_.generators[i].offset);
  }
}

bool Trainer::is_writer() const { return communicator_->rank() == 0; }

bool Trainer::is_sharded() const { return communicator_->size() > 1; }

void Trainer::check_job_agrees() const {
  if (!is_sharded()) return;
  JobIdentity mine;
  Fingerprint configuration;
  configuration.add(options_.config_toml);
  mine.configuration = configuration.value();
  mine.data = task_.data_fingerprint();
  mine.program = options_.program_fingerprint;
  mine.parameters = data_parallel_->total_elements();
  const std::vector<JobIdentity> all = dist::all_gather_value(*communicator_, mine);
  for (std::size_t rank = 1; rank < all.size(); ++rank) {
    const std::string differ = differences(all[rank], all[0]);
    ATTN_CHECK(differ.empty(), "train: rank ", rank, " of ", all.size(),
               " does not run the same job as rank 0: its ", differ,
               " differ; every process must run the same attn with the same configuration "
               "and data");
  }
}

// A hash of every rank's parameters, compared after the update of `step` when asked for.
void Trainer::check_replicas_agree(std::int64_t step) const {
  if (!is_sharded() || options_.check_replicas_every == 0 || step % options_.check_replicas_every != 0) {
    return;
  }
  const std::vector<std::uint64_t> hashes =
      dist::all_gather_value(*communicator_, data_parallel_->parameter_hash());
  for (std::size_t rank = 1; rank < hashes.size(); ++rank) {
    ATTN_CHECK(hashes[rank] == hashes[0], "train: after step ", step, " the parameters of rank ",
               rank, " differ from those of rank 0");
  }
}

TrainingState Trainer::load_checkpoint() {
  if (!is_sharded()) return load_last_checkpoint(run_, task_.model(), *optimizer_);
  // The file holds the whole optimizer; this rank keeps its shard.
  std::unique_ptr<optim::Optimizer> whole = make_optimizer(options_, task_.model().parameters());
  TrainingState state = load_last_checkpoint(run_, task_.model(), *whole);
  optimizer_->load_state_dict(data_parallel_->shard_of_optimizer_state(whole->state_dict()));
  return state;
}

void Trainer::prepare_run() {
  if (is_writer()) {
    run_.create();
    remove_abandoned_temporary_files(run_.root());
    remove_abandoned_temporary_files(run_.checkpoint_dir());
  }
  std::string metrics_path = run_.metrics_log().string();
  if (options_.resume) {
    state_ = load_checkpoint();
    restore_generators();
    if (is_writer()) MetricsLog::truncate_after(metrics_path, state_.step);
  } else if (is_writer()) {
    ATTN_CHECK(!run_.has_last_checkpoint(), "train: the run directory '", run_.root().string(),
               "' already holds a checkpoint (", run_.last_checkpoint().string(),
               "); resume it, or choose another train.run_dir");
    // Leftovers of an attempt that never saved a last checkpoint belong to no run.
    std::error_code ignored;
    std::filesystem::remove(run_.best_checkpoint(), ignored);
    std::filesystem::remove(metrics_path, ignored);
  }
  if (is_writer() && !options_.config_toml.empty()) {
    io::write_file_atomic(run_.config_file().string(), options_.config_toml);
  }
  // Every rank starts from rank 0's parameters (equal already when all built the same model).
  if (data_parallel_) data_parallel_->broadcast_parameters();
}

TrainResult Trainer::fit() {
  if (options_.threads > 0) set_num_threads(static_cast<int>(options_.threads));
  check_job_agrees();
  prepare_run();
  std::ostream& out = !is_writer()                        ? discard_
                      : options_.progress_stream != nullptr ? *options_.progress_stream
                                                            : std::cerr;
  Session session(out, is_writer() ? resolve_progress_mode(options_.progress, out)
                                   : ProgressMode::None);
  open_session(session);

  InterruptGuard interrupt_guard(options_.handle_interrupt);
  try {
    return train_until_stopped(session);
  } catch (const std::exception& error) {
    // Whatever stopped training (a non-finite loss, a task's error, a full disk) goes into
    // the log; the checkpoints on disk are the last good ones.
    if (session.log) {
      session.log->write_event("error", state_.step, elapsed_seconds(session),
                               {{"message", error.what()}});
    }
    session.progress.finish();
    throw;
  }
}

void Trainer::open_session(Session& session) {
  session.elapsed_before = state_.elapsed_seconds;
  session.start_step = state_.step;
  session.last_saved_step = options_.resume ? state_.step : -1;
  session.early_stop =
      options_.patience > 0 && state_.validations_without_improvement >= options_.patience;
  if (!is_writer()) return;  // only rank 0 writes the log
  session.log = std::make_unique<MetricsLog>(run_.metrics_log().string());
  session.log->write_event(options_.resume ? "resume" : "start", state_.step,
                           state_.elapsed_seconds,
                           {{"resumed", options_.resume ? "true" : "false"},
                            {"seed", std::to_string(options_.seed)},
                            {"world_size", std::to_string(communicator_->size())},
                            {"accumulate_steps", std::to_string(options_.accumulate_steps)}});
}

TrainResult Trainer::train_until_stopped(Session& session) {
  std::optional<StopReason> reason;
  while (!(reason = agreed_stop_reason(session))) run_step(session);

  if (options_.validate_at_end && task_.has_validation() && *reason != StopReason::Interrupted &&
      state_.step > 0 && state_.last_validation_step != state_.step) {
    validate(session);
  }
  if (session.last_saved_step != state_.step) save_last(session);
  double elapsed = elapsed_seconds(session);
  if (session.log) {
    session.log->write_event("end", state_.step, elapsed, {{"reason", stop_reason_name(*reason)}});
  }
  // The bar shows the final state; lines mode already printed it at a log step.
  bool already_shown =
      session.progress.mode() == ProgressMode::Lines && state_.step % options_.log_every == 0;
  if (!already_shown) show_progress(session, false, true);
  session.progress.finish();
  session.progress.message("stopped at step " + std::to_string(state_.step) + " (" +
                           stop_reason_name(*reason) + ")");

  return result_of(session, *reason, elapsed);
}

TrainResult Trainer::result_of(const Session& session, StopReason reason, double elapsed) const {
  TrainResult result;
  result.reason = reason;
  result.steps = state_.step;
  result.epoch = state_.epoch;
  result.tokens = state_.tokens;
  result.skipped_steps = state_.skipped_steps;
  result.elapsed_seconds = elapsed;
  result.best_score = state_.best_score;
  result.best_step = state_.best_step;
  result.last_validation = session.last_validation;
  result.run = run_;
  return result;
}

std::optional<StopReason> Trainer::agreed_stop_reason(const Session& session) const {
  std::optional<StopReason> reason = stop_reason(session);
  if (!is_sharded()) return reason;
  // Rank 0's clock, interrupt and validations decide for every rank.
  int code = reason ? static_cast<int>(*reason) + 1 : 0;
  code = dist::broadcast_value(*communicator_, code, 0);
  if (code == 0) return std::nullopt;
  return static_cast<StopReason>(code - 1);
}

std::optional<StopReason> Trainer::stop_reason(const Session& session) const {
  if (stop_requested_ || interrupt_received != 0) return StopReason::Interrupted;
  if (session.early_stop) return StopReason::EarlyStopping;
  if (options_.max_steps > 0 && state_.step >= options_.max_steps) return StopReason::MaxSteps;
  if (options_.max_epochs > 0 && state_.epoch >= options_.max_epochs) return StopReason::MaxEpochs;
  if (options_.max_minutes > 0 && elapsed_seconds(session) >= options_.max_minutes * 60.0) {
    return StopReason::MaxMinutes;
  }
  return std::nullopt;
}

// One update: its loss, its gradient norm before clipping, its units; or why it was skipped.
struct Trainer::StepOutcome {
  double loss = 0.0;
  double grad_norm = 0.0;
  std::int64_t num_tokens = 0;
  std::string skip_reason;  // empty for an update that happened
  bool skipped() const { return !skip_reason.empty(); }
};

void Trainer::run_step(Session& session) {
  std::int64_t epoch = state_.epoch;
  StepOutcome outcome = update_model(epoch, state_.batch_index);
  account_step(session, outcome);
  if (outcome.skipped()) report_skipped_step(session, outcome);
  bool epoch_ended = ++state_.batch_index == task_.batches_per_epoch();
  if (epoch_ended) {
    state_.epoch += 1;
    state_.batch_index = 0;
  }
  after_step(session, epoch, epoch_ended);
}

Trainer::StepOutcome Trainer::update_model(std::int64_t epoch, std::int64_t batch_index) {
  return data_parallel_ ? update_in_slices(epoch, batch_index)
                        : update_whole_batch(epoch, batch_index);
}

Trainer::StepOutcome Trainer::update_whole_batch(std::int64_t epoch, std::int64_t batch_index) {
  std::int64_t step = state_.step + 1;  // the update about to happen
  const std::string where = step_location(step, epoch, batch_index);
  task_.model().train();
  optimizer_->zero_grad();
  optim::apply_schedule(*schedule_, *optimizer_);

  StepResult result = task_.train_step(epoch, batch_index, BatchSlice{});
  StepOutcome outcome;
  outcome.loss = checked_loss(result, step);
  outcome.num_tokens = result.num_tokens;
  if (!std::isfinite(outcome.loss)) {
    outcome.skip_reason = "the loss is " + describe_number(outcome.loss) + where;
    return outcome;  // no backward: nothing would be applied
  }
  result.loss.backward();
  const std::vector<Tensor>& parameters = optimizer_->parameters();
  outcome.grad_norm = options_.clip_grad_norm > 0.0
                          ? optim::clip_grad_norm(parameters, options_.clip_grad_norm)
                          : optim::global_grad_norm(parameters);
  if (!std::isfinite(outcome.grad_norm)) {
    outcome.skip_reason = "the gradient norm is " + describe_number(outcome.grad_norm) + where;
  } else {
    optimizer_->step();
  }
  optimizer_->zero_grad();  // frees the gradients (a skipped step's too) before the next use
  return outcome;
}

struct Trainer::SlicesSummary {
  double loss_sum = 0.0;  // sum of loss * units
  std::int64_t tokens = 0;
};

Trainer::StepOutcome Trainer::update_in_slices(std::int64_t epoch, std::int64_t batch_index) {
  const std::int64_t step = state_.step + 1;
  const std::string where = step_location(step, epoch, batch_index);
  task_.model().train();
  data_parallel_->discard_gradients();
  optim::apply_schedule(*schedule_, *optimizer_);
  const std::int64_t per_rank = options_.accumulate_steps;
  const std::int64_t slices = per_rank * communicator_->size();
  SliceStreams streams(generators_of(task_));
  SlicesSummary mine;
  std::int64_t batch_tokens = 0;
  // With one micro-batch per rank, gradient buckets are exchanged during its backward pass.
  const bool overlap = options_.overlap_communication && is_sharded() && per_rank == 1;
  if (overlap) {
    data_parallel_->start_overlapped_backward(
        static_cast<std::int64_t>(options_.bucket_megabytes * 1024.0 * 1024.0));
  }
  for (std::int64_t local = 0; local < per_rank; ++local) {
    const std::int64_t slice = communicator_->rank() * per_rank + local;
    streams.enter(slice);
    StepResult result = task_.train_step(epoch, batch_index, BatchSlice{slice, slices});
    streams.check(slice);
    batch_tokens = result.batch_tokens;
    ATTN_CHECK(batch_tokens >= 1, "train: a task that cuts its batches must report batch_tokens "
               ">= 1; at step ", step, " got ", batch_tokens);
    if (result.num_tokens > 0) backward_slice(result, batch_tokens, step, mine, overlap);
    if (!overlap) data_parallel_->accumulate_gradients();
  }
  if (overlap) data_parallel_->finish_overlapped_backward();
  streams.finish(slices);

  StepOutcome outcome;
  const std::vector<SlicesSummary> all = dist::all_gather_value(*communicator_, mine);
  double loss_sum = 0.0;
  std::int64_t tokens = 0;
  for (const SlicesSummary& summary : all) loss_sum += summary.loss_sum, tokens += summary.tokens;
  ATTN_CHECK(tokens == batch_tokens, "train: the slices of batch ", batch_index, " hold ", tokens,
             " units but the batch has ", batch_tokens);
  outcome.loss = loss_sum / static_cast<double>(tokens);
  outcome.num_tokens = tokens;
  if (!std::isfinite(outcome.loss)) {
    outcome.skip_reason = "the loss is " + describe_number(outcome.loss) + where;
    data_parallel_->discard_gradients();
    return outcome;
  }
  data_parallel_->reduce_gradients();
  outcome.grad_norm = data_parallel_->global_grad_norm();
  if (options_.clip_grad_norm > 0.0) {
    const double scale = optim::clip_coefficient(outcome.grad_norm, options_.clip_grad_norm);
    if (scale < 1.0) optim::scale_grads(optimizer_->parameters(), scale);
  }
  if (!std::isfinite(outcome.grad_norm)) {
    outcome.skip_reason = "the gradient norm is " + describe_number(outcome.grad_norm) + where;
  } else {
    optimizer_->step();
    data_parallel_->all_gather_parameters();
    check_replicas_agree(step);
  }
  optimizer_->zero_grad();
  return outcome;
}

// Backward of one micro-batch, its mean loss weighted by its share of the batch's units so
// that the added gradients are those of the batch's mean loss.
void Trainer::backward_slice(const StepResult& result, std::int64_t batch_tokens,
                             std::int64_t step, SlicesSummary& summary, bool overlap) {
  const double loss = checked_loss(result, step);
  summary.loss_sum += loss * static_cast<double>(result.num_tokens);
  summary.tokens += result.num_tokens;
  if (!std::isfinite(loss)) return;  // the whole update is skipped
  const double share = static_cast<double>(result.num_tokens) / static_cast<double>(batch_tokens);
  autograd::BackwardOptions options;
  if (overlap) {
    options.on_leaf_done = [this](const Tensor& leaf) { data_parallel_->on_leaf_done(leaf); };
    options.after_node = [this] { data_parallel_->progress_exchanges(); };
  }
  autograd::backward(result.loss, Tensor::full(result.loss.shape(), share, result.loss.dtype()),
                     options);
}

void Trainer::account_step(Session& session, const StepOutcome& outcome) {
  state_.step += 1;
  session.learning_rate = optimizer_->learning_rate();
  if (outcome.skipped()) {
    // A skipped step trains on nothing: it stays out of the counters and the log window.
    state_.skipped_steps += 1;
    state_.consecutive_skipped_steps += 1;
    return;
  }
  state_.consecutive_skipped_steps = 0;
  state_.tokens += outcome.num_tokens;
  state_.window_loss_sum += outcome.loss * static_cast<double>(outcome.num_tokens);
  state_.window_grad_norm_sum += outcome.grad_norm;
  state_.window_tokens += outcome.num_tokens;
  state_.window_steps += 1;
  session.rate_tokens += outcome.num_tokens;
  session.session_tokens += outcome.num_tokens;
  session.smoothed_loss =
      session.smoothed_count == 0
          ? outcome.loss
          : (1.0 - kLossSmoothing) * session.smoothed_loss + kLossSmoothing * outcome.loss;
  session.smoothed_count += 1;
}

void Trainer::report_skipped_step(Session& session, const StepOutcome& outcome) {
  std::int64_t in_a_row = state_.consecutive_skipped_steps;
  if (in_a_row > options_.max_bad_steps) {
    std::string limit = "train.max_bad_steps = " + std::to_string(options_.max_bad_steps);
    if (in_a_row == 1) fail(outcome.skip_reason + ", and " + limit + " allows no skipped step");
    fail(std::to_string(in_a_row) + " steps in a row had a non-finite loss or gradient norm, " +
         "more than " + limit + " allows; the last: " + outcome.skip_reason);
  }
  if (session.log) {
    session.log->write_event("skipped", state_.step, elapsed_seconds(session),
                             {{"reason", outcome.skip_reason}});
  }
  session.progress.message("skipped step " + std::to_string(state_.step) + ": " +
                           outcome.skip_reason + "; no update (" + std::to_string(in_a_row) +
                           " in a row, at most " + std::to_string(options_.max_bad_steps) + ")");
}

void Trainer::after_step(Session& session, std::int64_t step_epoch, bool epoch_ended) {
  std::int64_t step = state_.step;
  bool is_log_step = step % options_.log_every == 0;
  if (is_log_step) log_window(session, step_epoch);
  bool validate_now =
      task_.has_validation() &&
      (options_.validate_every > 0 ? step % options_.validate_every == 0 : epoch_ended);
  if (validate_now) validate(session);
  bool save_now = validate_now || (options_.validate_every == 0 && epoch_ended) ||
                  (options_.save_every > 0 && step % options_.save_every == 0);
  if (save_now) save_last(session);
  show_progress(session, is_log_step, false);
}

void Trainer::log_window(Session& session, std::int64_t step_epoch) {
  // Every rank takes part in this gather; only rank 0 writes.
  std::optional<double> optimizer_state_bytes;
  if (data_parallel_) {
    const std::vector<std::int64_t> bytes =
        dist::all_gather_value(*communicator_, optimizer_->state_bytes());
    optimizer_state_bytes = static_cast<double>(*std::max_element(bytes.begin(), bytes.end()));
  }
  if (!session.log) return;
  Clock::time_point now = Clock::now();
  double window_seconds = seconds_between(session.rate_start, now);
  TrainRecord record;
  record.step = state_.step;
  record.epoch = step_epoch;
  // A window of skipped steps only has no loss or norm: the log writes null.
  record.loss = state_.window_tokens > 0
                    ? state_.window_loss_sum / static_cast<double>(state_.window_tokens)
                    : NAN;
  record.learning_rate = session.learning_rate;
  record.tokens_per_second =
      window_seconds > 0 ? static_cast<double>(session.rate_tokens) / window_seconds : 0.0;
  record.tokens = state_.tokens;
  record.grad_norm = state_.window_steps > 0
                         ? state_.window_grad_norm_sum / static_cast<double>(state_.window_steps)
                         : NAN;
  record.elapsed_seconds = elapsed_seconds(session);
  record.optimizer_state_bytes = optimizer_state_bytes;
  if (is_sharded()) {
    const ExchangeCounters counters = data_parallel_->take_counters();
    const double steps = static_cast<double>(std::max<std::int64_t>(counters.exchanges, 1));
    record.communication_seconds = counters.seconds / steps;
    record.bytes_sent = static_cast<double>(counters.bytes_sent) / steps;
  }
  session.log->write(record);
  state_.window_loss_sum = 0.0;
  state_.window_grad_norm_sum = 0.0;
  state_.window_tokens = 0;
  state_.window_steps = 0;
  session.rate_start = now;
  session.rate_tokens = 0;
}

void Trainer::validate(Session& session) {
  if (!is_writer()) return;  // rank 0 validates; its verdicts reach the others as stop decisions
  nn::Module& model = task_.model();
  model.eval();
  ValidationResult result;
  {
    NoGradGuard no_grad;
    result = task_.validate();
  }
  model.train();
  double score = result.metric(options_.best_metric);
  bool improved = std::isfinite(score) &&
                  (!state_.best_score || is_better(score, *state_.best_score, options_));
  if (improved) {
    check_parameters_finite("saving the best checkpoint");
    save_best_checkpoint(run_, model, task_.model_config_json(), state_.step, options_.best_metric,
                         score);
    state_.best_score = score;
    state_.best_step = state_.step;
    state_.validations_without_improvement = 0;
  } else {
    state_.validations_without_improvement += 1;
    session.early_stop =
        options_.patience > 0 && state_.validations_without_improvement >= options_.patience;
  }
  state_.last_validation_step = state_.step;
  session.last_validation = result;

  ValidationRecord record;
  record.step = state_.step;
  record.epoch = state_.batch_index == 0 ? state_.epoch - 1 : state_.epoch;
  record.elapsed_seconds = elapsed_seconds(session);
  record.result = result;
  record.score = score;
  record.is_best = improved;
  session.log->write(record);
  std::string best = improved ? " (best)"
                              : " (best " + options_.best_metric + " " +
                                    format_number(state_.best_score.value_or(NAN)) + " at step " +
                                    std::to_string(state_.best_step) + ")";
  session.progress.message("validation at step " + std::to_string(state_.step) + ": " +
                           describe_validation(result) + best);
}

void Trainer::save_last(Session& session) {
  capture_generators();
  state_.elapsed_seconds = elapsed_seconds(session);
  session.last_saved_step = state_.step;
  if (!is_sharded()) {
    check_parameters_finite("saving the last checkpoint");
    save_last_checkpoint(run_, task_.model(), task_.model_config_json(), *optimizer_, state_);
    return;
  }
  // Rank 0 assembles the whole optimizer from the shards: the file is the same as one
  // process would write, so any number of processes can resume it.
  std::map<std::string, Tensor> whole_state =
      data_parallel_->gather_optimizer_state(optimizer_->state_dict());
  if (!is_writer()) return;
  check_parameters_finite("saving the last checkpoint");
  std::unique_ptr<optim::Optimizer> whole = make_optimizer(options_, task_.model().parameters());
  whole->load_state_dict(whole_state);
  save_last_checkpoint(run_, task_.model(), task_.model_config_json(), *whole, state_);
}

void Trainer::check_parameters_finite(const std::string& during) const {
  for (const auto& [name, parameter] : task_.model().named_parameters()) {
    if (!all_finite(parameter)) {
      fail("parameter '" + name + "' is not finite at step " + std::to_string(state_.step) +
           " (found while " + during + ")");
    }
  }
}

void Trainer::fail(const std::string& message) const {
  std::string kept = run_.has_last_checkpoint()
                         ? "the last good checkpoint is kept: " + run_.last_checkpoint().string()
                         : "no checkpoint was written";
  throw Error("train: " + message + "; training stopped, " + kept);
}

void Trainer::show_progress(Session& session, bool is_log_step, bool force) {
  double elapsed = elapsed_seconds(session);
  double session_seconds = seconds_between(session.start, Clock::now());
  std::int64_t session_steps = state_.step - session.start_step;
  ProgressSnapshot snapshot;
  snapshot.step = state_.step;
  snapshot.total_steps = total_steps();
  snapshot.epoch = state_.batch_index == 0 && state_.epoch > 0 ? state_.epoch - 1 : state_.epoch;
  snapshot.loss = session.smoothed_loss;
  snapshot.tokens_per_second =
      session_seconds > 0 ? static_cast<double>(session.session_tokens) / session_seconds : 0.0;
  snapshot.learning_rate = session.learning_rate;
  snapshot.elapsed_seconds = elapsed;
  snapshot.unit = task_.unit_name();
  if (snapshot.total_steps > 0 && session_steps > 0) {
    snapshot.eta_seconds =
        static_cast<double>(std::max<std::int64_t>(snapshot.total_steps - state_.step, 0)) *
        session_seconds / static_cast<double>(session_steps);
  }
  if (options_.max_minutes > 0) {
    double left = std::max(0.0, options_.max_minutes * 60.0 - elapsed);
    snapshot.eta_seconds = snapshot.eta_seconds < 0 ? left : std::min(snapshot.eta_seconds, left);
  }
  session.progress.update(snapshot, is_log_step, force);
}

}  // namespace attn::train
