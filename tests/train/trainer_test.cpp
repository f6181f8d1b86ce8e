#include "attn/train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/io/checkpoint.h"
#include "attn/nn/dropout.h"
#include "attn/nn/linear.h"
#include "attn/ops/ops.h"
#include "attn/train/metrics_log.h"
#include "attn/train/progress.h"
#include "support/temporary_directory.h"

namespace attn::train {
namespace {

using attn::testing::TemporaryDirectory;

constexpr std::int64_t kFeatures = 4;
constexpr std::int64_t kClasses = 3;
constexpr std::int64_t kBatchSize = 8;

// Points in [-1, 1]^4 labelled by the largest of three fixed linear scores.
struct Dataset {
  std::vector<float> features;  // [count, kFeatures]
  std::vector<std::int64_t> labels;
  std::int64_t count = 0;
};

Dataset make_dataset(std::uint64_t seed, std::int64_t count) {
  const float weights[kClasses][kFeatures] = {
      {1, -1, 0.5f, 0}, {-0.5f, 1, 1, -1}, {0, 0.3f, -1, 1}};
  Dataset data;
  data.count = count;
  for (std::int64_t i = 0; i < count * kFeatures; ++i) {
    data.features.push_back(2.0f * philox_uniform(seed, 0, static_cast<std::uint64_t>(i)) - 1.0f);
  }
  for (std::int64_t row = 0; row < count; ++row) {
    std::int64_t best = 0;
    float best_score = -1e9f;
    for (std::int64_t c = 0; c < kClasses; ++c) {
      float score = 0;
      for (std::int64_t f = 0; f < kFeatures; ++f)
        score += weights[c][f] * data.features[row * kFeatures + f];
      if (score > best_score) best_score = score, best = c;
    }
    data.labels.push_back(best);
  }
  return data;
}

// A two-layer perceptron with dropout, so resuming must restore the random generator.
class TinyNet : public nn::Module {
 public:
  TinyNet() {
    hidden = register_module("hidden", std::make_shared<nn::Linear>(kFeatures, 16));
    dropout = register_module("dropout", std::make_shared<nn::Dropout>(0.2));
    output = register_module("output", std::make_shared<nn::Linear>(16, kClasses));
  }
  Tensor forward(const Tensor& x) const {
    return output->forward(dropout->forward(ops::tanh(hidden->forward(x))));
  }
  std::shared_ptr<nn::Linear> hidden;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> output;
};

// Classification of the generated points. Records every loss it computes; hooks let a test
// break a step or script the validation scores.
class ClassificationTask : public Task {
 public:
  explicit ClassificationTask(std::uint64_t seed)
      : seed_(seed), train_(make_dataset(101, 64)), valid_(make_dataset(202, 32)) {}

  nn::Module& model() override { return model_; }
  std::string model_config_json() const override { return R"({"hidden": 16})"; }
  std::int64_t batches_per_epoch() const override { return train_.count / kBatchSize; }

  StepResult train_step(std::int64_t epoch, std::int64_t batch_index, BatchSlice slice) override {
    std::vector<std::int64_t> order = shuffled_order(seed_, epoch, train_.count);
    std::vector<float> features;
    std::vector<std::int64_t> labels;
    const std::vector<std::int64_t> costs(kBatchSize, 1);
    const auto [first, last] = slice_bounds(costs, slice);
    const auto begin = batch_index * kBatchSize + static_cast<std::int64_t>(first);
    const auto end = batch_index * kBatchSize + static_cast<std::int64_t>(last);
    for (std::int64_t i = begin; i < end; ++i) {
      std::int64_t row = order[static_cast<std::size_t>(i)];
      features.insert(features.end(), train_.features.begin() + row * kFeatures,
                      train_.features.begin() + (row + 1) * kFeatures);
      labels.push_back(train_.labels[static_cast<std::size_t>(row)]);
    }
    Tensor loss = loss_on(features, labels);
    steps_seen += 1;
    if (break_step) loss = break_step(loss, steps_seen, model_);
    losses.push_back(loss.item<double>());
    return {loss, end - begin, kBatchSize};
  }

  ValidationResult validate() override {
    validations += 1;
    EXPECT_FALSE(model_.is_training());
    Tensor logits =
        model_.forward(Tensor::from_vector<float>({valid_.count, kFeatures}, valid_.features));
    Tensor targets = Tensor::from_vector<std::int64_t>({valid_.count}, valid_.labels);
    ValidationResult result;
    result.loss = ops::cross_entropy(logits, targets).item<double>();
    std::vector<std::int64_t> predicted = ops::argmax(logits, 1).to_vector<std::int64_t>();
    double correct = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == valid_.labels[i];
    result.metrics["accuracy"] = correct / static_cast<double>(predicted.size());
    if (!scripted_losses.empty()) {
      result.loss =
          scripted_losses[static_cast<std::size_t>(validations - 1) % scripted_losses.size()];
    }
    snapshots.push_back(model_.state_dict());
    for (auto& [name, tensor] : snapshots.back()) tensor = tensor.clone();
    return result;
  }

  std::vector<double> losses;
  std::int64_t steps_seen = 0;  // train_step calls in this process
  std::int64_t validations = 0;
  std::vector<double> scripted_losses;                               // replaces the real loss
  std::vector<std::map<std::string, Tensor>> snapshots;              // model at each validation
  std::function<Tensor(Tensor, std::int64_t, TinyNet&)> break_step;  // may spoil a loss

 private:
  Tensor loss_on(const std::vector<float>& features, const std::vector<std::int64_t>& labels) {
    auto rows = static_cast<std::int64_t>(labels.size());
    Tensor x = Tensor::from_vector<float>({rows, kFeatures}, features);
    Tensor y = Tensor::from_vector<std::int64_t>({rows}, labels);
    return ops::cross_entropy(model_.forward(x), y);
  }

  std::uint64_t seed_;
  Dataset train_;
  Dataset valid_;
  TinyNet model_;
};

TrainerOptions quick_options(const std::filesystem::path& run_dir) {
  TrainerOptions options;
  options.run_dir = run_dir.string();
  options.optimizer = "adamw";
  options.learning_rate = 0.02;
  options.weight_decay = 0.01;
  options.schedule = "cosine";
  options.warmup_steps = 4;
  options.schedule_steps = 40;
  options.clip_grad_norm = 0.5;
  options.max_steps = 30;
  options.validate_every = 7;
  options.log_every = 3;
  options.progress = "none";
  return options;
}

std::vector<std::uint8_t> bytes_of(const Tensor& tensor) {
  Tensor contiguous = tensor.contiguous();
  const auto* begin = static_cast<const std::uint8_t*>(contiguous.raw_data());
  return {begin, begin + contiguous.numel() * dtype_size(contiguous.dtype())};
}

void expect_same_tensors(const std::map<std::string, Tensor>& actual,
                         const std::map<std::string, Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_EQ(bytes_of(actual.at(name)), bytes_of(tensor)) << name;
  }
}

std::vector<nlohmann::json> read_log(const RunDirectory& run) {
  std::ifstream in(run.metrics_log());
  std::vector<nlohmann::json> records;
  std::string line;
  while (std::getline(in, line)) records.push_back(nlohmann::json::parse(line));
  return records;
}

std::vector<nlohmann::json> records_of_type(const RunDirectory& run, const std::string& type) {
  std::vector<nlohmann::json> selected;
  for (const nlohmann::json& record : read_log(run)) {
    if (record["type"] == type) selected.push_back(record);
  }
  return selected;
}

// The training record fields that do not depend on wall time.
std::vector<nlohmann::json> timeless(std::vector<nlohmann::json> records) {
  for (nlohmann::json& record : records) {
    record.erase("elapsed_seconds");
    record.erase("tokens_per_second");
  }
  return records;
}

std::string metadata(const std::filesystem::path& checkpoint, const std::string& key) {
  return io::load_checkpoint(checkpoint.string()).extra.at(key);
}

void expect_error(const std::function<void()>& action,
                  std::initializer_list<std::string> fragments) {
  try {
    action();
    ADD_FAILURE() << "expected an attn::Error";
  } catch (const Error& error) {
    std::string message = error.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message: " << message << "\nmissing: " << fragment;
    }
  }
}

TEST(Trainer, ResumedRunEqualsUninterruptedRun) {
  TemporaryDirectory directory;
  const std::uint64_t seed = 7;

  manual_seed(seed);
  ClassificationTask whole(seed);
  TrainResult whole_result = Trainer(whole, quick_options(directory.path() / "whole")).fit();
  std::uint64_t whole_offset = default_generator().offset();
  ASSERT_EQ(whole_result.steps, 30);
  ASSERT_EQ(whole.losses.size(), 30u);

  // The same run, stopped after 13 steps (mid-epoch, between validations and log records)...
  std::filesystem::path split_dir = directory.path() / "split";
  manual_seed(seed);
  ClassificationTask first(seed);
  TrainerOptions first_options = quick_options(split_dir);
  first_options.max_steps = 13;
  TrainResult first_result = Trainer(first, first_options).fit();
  EXPECT_EQ(first_result.reason, StopReason::MaxSteps);
  EXPECT_EQ(first_result.steps, 13);

  // ...and resumed in a fresh task whose model starts from other weights.
  manual_seed(seed + 1);
  ClassificationTask second(seed);
  TrainerOptions second_options = quick_options(split_dir);
  second_options.resume = true;
  TrainResult second_result = Trainer(second, second_options).fit();
  EXPECT_EQ(second_result.steps, 30);
  EXPECT_EQ(second.losses.size(), 17u);

  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  EXPECT_EQ(joined, whole.losses);  // bitwise: every loss identical
  expect_same_tensors(second.model().state_dict(), whole.model().state_dict());
  EXPECT_EQ(default_generator().offset(), whole_offset);  // the same dropout draws
  EXPECT_EQ(timeless(records_of_type(RunDirectory(split_dir), "train")),
            timeless(records_of_type(RunDirectory(directory.path() / "whole"), "train")));
}

TEST(Trainer, ResumedRunRestoresTheDropoutGenerator) {
  TemporaryDirectory directory;
  manual_seed(3);
  ClassificationTask whole(3);
  TrainerOptions options = quick_options(directory.path() / "whole");
  options.max_steps = 6;
  Trainer(whole, options).fit();
  std::uint64_t offset_after_whole = default_generator().offset();

  manual_seed(3);
  ClassificationTask first(3);
  options.run_dir = (directory.path() / "split").string();
  options.max_steps = 2;
  Trainer(first, options).fit();
  manual_seed(99);  // scrambled: resume must put it back
  ClassificationTask second(3);
  options.max_steps = 6;
  options.resume = true;
  Trainer(second, options).fit();
  EXPECT_EQ(default_generator().seed(), 3u);
  EXPECT_EQ(default_generator().offset(), offset_after_whole);
}

TEST(Trainer, EarlyStoppingTriggersAfterPatienceValidationsWithoutImprovement) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  task.scripted_losses = {2.0, 1.0, 1.5, 1.2, 0.5};
  TrainerOptions options = quick_options(directory.path());
  options.schedule = "constant";
  options.max_steps = 100;
  options.validate_every = 2;
  options.patience = 2;
  TrainResult result = Trainer(task, options).fit();
  EXPECT_EQ(result.reason, StopReason::EarlyStopping);
  EXPECT_EQ(result.steps, 8);  // validations at 2, 4 (best), 6, 8: two without improvement
  EXPECT_EQ(result.best_step, 4);
  EXPECT_EQ(task.validations, 4);
  EXPECT_EQ(*result.best_score, 1.0);
  EXPECT_EQ(records_of_type(result.run, "end").back()["reason"], "early_stopping");
}

TEST(Trainer, BestCheckpointHoldsTheModelWithTheBestValidationLoss) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  task.scripted_losses = {3.0, 1.0, 2.0, 1.5, 4.0};
  TrainerOptions options = quick_options(directory.path());
  options.max_steps = 10;
  options.validate_every = 2;
  TrainResult result = Trainer(task, options).fit();
  ASSERT_EQ(task.validations, 5);
  EXPECT_EQ(result.best_step, 4);
  RunDirectory run(directory.path());
  io::Checkpoint best = io::load_checkpoint(run.best_checkpoint().string());
  expect_same_tensors(best.tensors, task.snapshots[1]);
  EXPECT_EQ(best.extra.at("step"), "4");
  EXPECT_EQ(best.extra.at("metric"), "loss");
  EXPECT_EQ(best.config_json, R"({"hidden": 16})");
  // last is the final model.
  expect_same_tensors(io::load_checkpoint(run.last_checkpoint().string()).tensors,
                      task.model().state_dict());
}

TEST(Trainer, BestCheckpointCanFollowANamedMetricUpwards) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options = quick_options(directory.path());
  options.max_steps = 24;
  options.validate_every = 0;  // every epoch: steps 8, 16, 24
  options.best_metric = "accuracy";
  options.best_mode = "max";
  TrainResult result = Trainer(task, options).fit();
  ASSERT_EQ(task.validations, 3);
  std::vector<nlohmann::json> validations = records_of_type(result.run, "validation");
  ASSERT_EQ(validations.size(), 3u);
  double best_accuracy = -1;
  std::int64_t best_step = 0;
  for (const nlohmann::json& record : validations) {
    double accuracy = record["validation"]["accuracy"];
    EXPECT_EQ(record["score"].get<double>(), accuracy);
    if (accuracy > best_accuracy) best_accuracy = accuracy, best_step = record["step"];
  }
  EXPECT_EQ(result.best_step, best_step);
  EXPECT_EQ(*result.best_score, best_accuracy);
  EXPECT_EQ(metadata(result.run.best_checkpoint(), "step"), std::to_string(best_step));

  TrainerOptions unknown = options;
  unknown.run_dir = (directory.path() / "other").string();
  unknown.best_metric = "bleu";
  manual_seed(1);
  ClassificationTask other(1);
  expect_error([&] { Trainer(other, unknown).fit(); }, {"no metric 'bleu'", "loss, accuracy"});
}

TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  task.break_step = [](Tensor loss, std::int64_t step, TinyNet&) {
    return step == 7 ? ops::mul(loss, NAN) : loss;
  };
  TrainerOptions options = quick_options(directory.path());
  options.save_every = 5;
  options.max_bad_steps = 0;  // the first bad step stops
  expect_error([&] { Trainer(task, options).fit(); },
               {"loss is NaN at step 7", "train.max_bad_steps = 0 allows no skipped step",
                "last good checkpoint is kept", "last.safetensors"});
  RunDirectory run(directory.path());
  EXPECT_EQ(metadata(run.last_checkpoint(), "step"), "5");
  for (const auto& [name, tensor] : io::load_checkpoint(run.last_checkpoint().string()).tensors) {
    for (float value : tensor.to_vector<float>()) ASSERT_TRUE(std::isfinite(value)) << name;
  }
  EXPECT_EQ(read_log(run).back()["type"], "error");

  // The kept checkpoint resumes.
  ClassificationTask again(1);
  options.resume = true;
  options.max_steps = 8;
  TrainResult result = Trainer(again, options).fit();
  EXPECT_EQ(result.steps, 8);
  EXPECT_EQ(again.losses.size(), 3u);
}

TEST(Trainer, NonFiniteGradientStopsBeforeTheUpdate) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options = quick_options(directory.path());
  options.save_every = 2;
  options.max_bad_steps = 0;
  std::map<std::string, Tensor> at_step_two;
  // sqrt(b - b) is 0 forward but has an infinite derivative at 0.
  task.break_step = [&](Tensor loss, std::int64_t step, TinyNet& model) {
    if (step != 3) return loss;
    at_step_two = model.state_dict();
    for (auto& [name, tensor] : at_step_two) tensor = tensor.clone();
    const Tensor& bias = model.output->bias();
    return ops::add(loss, ops::sum(ops::sqrt(ops::sub(bias, bias))));
  };
  expect_error([&] { Trainer(task, options).fit(); }, {"gradient norm is", "at step 3"});
  // The update was skipped: the model is still the one saved at step 2.
  expect_same_tensors(task.model().state_dict(), at_step_two);
  expect_same_tensors(
      io::load_checkpoint(RunDirectory(directory.path()).last_checkpoint().string()).tensors,
      at_step_two);
}

// The model's and the optimizer's tensors, cloned.
std::map<std::string, Tensor> snapshot(const std::map<std::string, Tensor>& tensors) {
  std::map<std::string, Tensor> copies;
  for (const auto& [name, tensor] : tensors) copies.emplace(name, tensor.clone());
  return copies;
}

// Makes the loss NaN at the steps in `nan_loss` and the gradient non-finite at those in
// `bad_gradient` (sqrt(b - b) is 0 forward, but its derivative is inf · 0 = NaN).
std::function<Tensor(Tensor, std::int64_t, TinyNet&)> spoil_steps(
    std::set<std::int64_t> nan_loss, std::set<std::int64_t> bad_gradient) {
  return [=](Tensor loss, std::int64_t step, TinyNet& model) {
    if (nan_loss.count(step)) return ops::mul(loss, NAN);
    if (!bad_gradient.count(step)) return loss;
    const Tensor& bias = model.output->bias();
    return ops::add(loss, ops::sum(ops::sqrt(ops::sub(bias, bias))));
  };
}

// Losses as bit patterns, so that NaN compares equal to the same NaN.
std::vector<std::uint64_t> loss_bits(const std::vector<double>& losses) {
  std::vector<std::uint64_t> bits(losses.size());
  std::memcpy(bits.data(), losses.data(), losses.size() * sizeof(double));
  return bits;
}

TEST(Trainer, NonFiniteStepsAreSkippedReportedAndChangeNothing) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options = quick_options(directory.path());
  options.log_every = 2;  // steps 7-8 are a whole window of skipped steps
  std::ostringstream progress;
  options.progress = "lines";
  options.progress_stream = &progress;
  Trainer trainer(task, options);
  auto spoil = spoil_steps({7}, {8});
  std::map<std::string, Tensor> model_before, optimizer_before;
  task.break_step = [&](Tensor loss, std::int64_t step, TinyNet& model) {
    if (step == 7) {  // the state after step 6, before the two bad steps
      model_before = snapshot(model.state_dict());
      optimizer_before = snapshot(trainer.optimizer().state_dict());
    }
    if (step == 9) {  // the state the two bad steps left behind
      expect_same_tensors(model.state_dict(), model_before);
      expect_same_tensors(trainer.optimizer().state_dict(), optimizer_before);
    }
    return spoil(loss, step, model);
  };
  TrainResult result = trainer.fit();
  EXPECT_EQ(result.reason, StopReason::MaxSteps);
  EXPECT_EQ(result.steps, 30);
  EXPECT_EQ(result.skipped_steps, 2);
  EXPECT_EQ(result.tokens, 28 * kBatchSize);  // skipped steps train on nothing
  ASSERT_EQ(task.losses.size(), 30u);
  EXPECT_TRUE(std::isnan(task.losses[6]));
  for (const auto& [name, tensor] : task.model().state_dict()) {
    for (float value : tensor.to_vector<float>()) ASSERT_TRUE(std::isfinite(value)) << name;
  }

  std::vector<nlohmann::json> skipped = records_of_type(result.run, "skipped");
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0]["step"], 7);
  EXPECT_EQ(skipped[0]["reason"], "the loss is NaN at step 7 (epoch 0, batch 6)");
  EXPECT_EQ(skipped[1]["step"], 8);
  EXPECT_TRUE(skipped[1]["reason"].get<std::string>().starts_with("the gradient norm is "));
  EXPECT_TRUE(skipped[1]["reason"].get<std::string>().ends_with(" at step 8 (epoch 0, batch 7)"));
  for (const nlohmann::json& record : records_of_type(result.run, "train")) {
    // The window of steps 7-8 has no loss and no norm: null, not a made-up number.
    bool all_skipped = record["step"] == 8;
    EXPECT_EQ(record["loss"].is_null(), all_skipped) << record;
    EXPECT_EQ(record["grad_norm"].is_null(), all_skipped) << record;
  }
  EXPECT_NE(progress.str().find("skipped step 7: the loss is NaN at step 7 (epoch 0, batch 6); "
                                "no update (1 in a row, at most 10)"),
            std::string::npos)
      << progress.str();
  EXPECT_NE(progress.str().find("skipped step 8: the gradient norm is "), std::string::npos);
}

TEST(Trainer, TooManyBadStepsInARowStopWithAClearError) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  // Bad steps 4 and 6 are isolated; 10-13 are four in a row, one more than allowed.
  task.break_step = spoil_steps({4, 10, 11, 13}, {6, 12});
  TrainerOptions options = quick_options(directory.path());
  options.max_bad_steps = 3;
  options.save_every = 1;
  expect_error([&] { Trainer(task, options).fit(); },
               {"4 steps in a row had a non-finite loss or gradient norm",
                "more than train.max_bad_steps = 3 allows",
                "the last: the loss is NaN at step 13 (epoch 1, batch 4)",
                "last good checkpoint is kept"});
  RunDirectory run(directory.path());
  EXPECT_EQ(metadata(run.last_checkpoint(), "step"), "12");
  EXPECT_EQ(read_log(run).back()["type"], "error");
  EXPECT_EQ(records_of_type(run, "skipped").size(), 5u);  // 4, 6, 10, 11, 12
}

TEST(Trainer, ResumeInsideARunOfBadStepsSkipsAndStopsAsTheWholeRunDoes) {
  TemporaryDirectory directory;
  const std::set<std::int64_t> bad{5, 6, 7, 9, 10};
  auto options_for = [&](const std::string& name) {
    TrainerOptions options = quick_options(directory.path() / name);
    options.max_bad_steps = 2;
    return options;
  };
  // Uninterrupted, with two bad steps in a row allowed: 5 and 6 are skipped, 7 is one too
  // many and stops the run.
  manual_seed(5);
  ClassificationTask whole(5);
  whole.break_step = spoil_steps(bad, {});
  expect_error([&] { Trainer(whole, options_for("whole")).fit(); },
               {"3 steps in a row", "at step 7"});

  // Stopped after step 6 (two bad steps in a row so far) and resumed: the count carries over.
  manual_seed(5);
  ClassificationTask first(5);
  first.break_step = spoil_steps(bad, {});
  TrainerOptions first_options = options_for("split");
  first_options.max_steps = 6;
  EXPECT_EQ(Trainer(first, first_options).fit().skipped_steps, 2);
  manual_seed(77);
  ClassificationTask second(5);
  // steps_seen restarts at 1 in a new task: shift the bad steps by the six already done.
  second.break_step = spoil_steps({7 - 6, 9 - 6, 10 - 6}, {});
  TrainerOptions second_options = options_for("split");
  second_options.resume = true;
  expect_error([&] { Trainer(second, second_options).fit(); }, {"3 steps in a row", "at step 7"});

  // With room for three in a row both runs reach the end with the same weights and losses.
  for (const char* name : {"whole3", "split3"}) std::filesystem::remove_all(directory.path() / name);
  auto allow_three = [&](const std::string& name) {
    TrainerOptions options = options_for(name);
    options.max_bad_steps = 3;
    return options;
  };
  manual_seed(5);
  ClassificationTask whole3(5);
  whole3.break_step = spoil_steps(bad, {});
  TrainResult whole_result = Trainer(whole3, allow_three("whole3")).fit();
  EXPECT_EQ(whole_result.steps, 30);
  EXPECT_EQ(whole_result.skipped_steps, 5);
  manual_seed(5);
  ClassificationTask first3(5);
  first3.break_step = spoil_steps(bad, {});
  TrainerOptions stop_at_six = allow_three("split3");
  stop_at_six.max_steps = 6;
  Trainer(first3, stop_at_six).fit();
  manual_seed(77);
  ClassificationTask second3(5);
  second3.break_step = spoil_steps({7 - 6, 9 - 6, 10 - 6}, {});
  TrainerOptions resume = allow_three("split3");
  resume.resume = true;
  TrainResult split_result = Trainer(second3, resume).fit();
  EXPECT_EQ(split_result.skipped_steps, 5);
  std::vector<double> joined = first3.losses;
  joined.insert(joined.end(), second3.losses.begin(), second3.losses.end());
  EXPECT_EQ(loss_bits(joined), loss_bits(whole3.losses));
  expect_same_tensors(second3.model().state_dict(), whole3.model().state_dict());
  EXPECT_EQ(timeless(records_of_type(RunDirectory(directory.path() / "split3"), "train")),
            timeless(records_of_type(RunDirectory(directory.path() / "whole3"), "train")));
}

TEST(Trainer, NonFiniteParameterIsNeverSaved) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  // After the forward pass of step 6, a bias turns infinite: loss and gradients stay finite,
  // so only the check before the save at step 6 can notice.
  task.break_step = [](Tensor loss, std::int64_t step, TinyNet& model) {
    if (step == 6) model.output->bias().data<float>()[0] = INFINITY;
    return loss;
  };
  TrainerOptions options = quick_options(directory.path());
  options.validate_every = 0;
  options.save_every = 2;
  expect_error([&] { Trainer(task, options).fit(); },
               {"parameter 'output.bias' is not finite at step 6", "last good checkpoint is kept"});
  RunDirectory run(directory.path());
  EXPECT_EQ(metadata(run.last_checkpoint(), "step"), "4");
  EXPECT_EQ(read_log(run).back()["type"], "error");
}

TEST(Trainer, MetricsLogLinesAreJsonWithTheExpectedFields) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options = quick_options(directory.path());
  options.max_steps = 10;
  options.validate_every = 5;
  options.log_every = 2;
  TrainResult result = Trainer(task, options).fit();
  std::vector<nlohmann::json> records = read_log(result.run);
  ASSERT_GE(records.size(), 3u);
  EXPECT_EQ(records.front()["type"], "start");
  EXPECT_EQ(records.front()["resumed"], false);
  EXPECT_EQ(records.back()["type"], "end");
  EXPECT_EQ(records.back()["reason"], "max_steps");
  EXPECT_EQ(records.back()["step"], 10);

  std::vector<nlohmann::json> train = records_of_type(result.run, "train");
  ASSERT_EQ(train.size(), 5u);
  for (std::size_t i = 0; i < train.size(); ++i) {
    const nlohmann::json& record = train[i];
    EXPECT_EQ(record["step"], 2 * (i + 1));
    for (const char* field : {"epoch", "loss", "learning_rate", "tokens_per_second", "tokens",
                              "grad_norm", "elapsed_seconds"}) {
      EXPECT_TRUE(record.contains(field) && record[field].is_number()) << field << " in " << record;
    }
    EXPECT_EQ(record["tokens"], 2 * (i + 1) * kBatchSize);
    // The logged loss is the mean of the window's step losses (equal batch sizes).
    double mean = (task.losses[2 * i] + task.losses[2 * i + 1]) / 2;
    EXPECT_NEAR(record["loss"].get<double>(), mean, 1e-12);
  }
  std::vector<nlohmann::json> validations = records_of_type(result.run, "validation");
  ASSERT_EQ(validations.size(), 2u);
  EXPECT_EQ(validations[0]["step"], 5);
  EXPECT_TRUE(validations[0]["validation"]["loss"].is_number());
  EXPECT_TRUE(validations[0]["validation"]["accuracy"].is_number());
  EXPECT_EQ(validations[0]["is_best"], true);
}

TEST(Trainer, StopsAtTheEpochLimit) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options = quick_options(directory.path());
  options.max_steps = 0;
  options.max_epochs = 2;
  options.validate_every = 0;
  TrainResult result = Trainer(task, options).fit();
  EXPECT_EQ(result.reason, StopReason::MaxEpochs);
  EXPECT_EQ(result.steps, 2 * task.batches_per_epoch());
  EXPECT_EQ(result.epoch, 2);
  EXPECT_EQ(task.validations, 2);
}

TEST(Trainer, InterruptSavesAndStopsAtTheNextStepBoundary) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  task.break_step = [](Tensor loss, std::int64_t step, TinyNet&) {
    if (step == 4) std::raise(SIGINT);
    return loss;
  };
  TrainerOptions options = quick_options(directory.path());
  options.handle_interrupt = true;
  TrainResult result = Trainer(task, options).fit();
  EXPECT_EQ(result.reason, StopReason::Interrupted);
  EXPECT_EQ(result.steps, 4);
  EXPECT_EQ(metadata(result.run.last_checkpoint(), "step"), "4");
}

TEST(Trainer, RequestStopEndsTheRunCleanly) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options = quick_options(directory.path());
  Trainer trainer(task, options);
  task.break_step = [&](Tensor loss, std::int64_t step, TinyNet&) {
    if (step == 2) trainer.request_stop();
    return loss;
  };
  TrainResult result = trainer.fit();
  EXPECT_EQ(result.reason, StopReason::Interrupted);
  EXPECT_EQ(result.steps, 2);
}

TEST(Trainer, RunDirectoryKeepsConfigAndRefusesToStartOver) {
  TemporaryDirectory directory;
  Schema schema = trainer_schema();
  schema.section("model").add("hidden", 16, "hidden units");
  Config config(schema);
  config.apply_overrides({"train.run_dir=" + (directory.path() / "run").string(),
                          "train.max_steps=3", "train.progress=none", "train.learning_rate=0.01"});
  TrainerOptions options = trainer_options(config);
  EXPECT_EQ(options.max_steps, 3);
  EXPECT_EQ(options.learning_rate, 0.01);
  manual_seed(1);
  ClassificationTask task(1);
  TrainResult result = Trainer(task, options).fit();
  EXPECT_TRUE(Config::load(result.run.config_file().string(), schema) == config);
  auto entries = std::filesystem::directory_iterator(result.run.checkpoint_dir());
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"best.safetensors", "last.safetensors",
                                             "state-00000003.safetensors"}));

  ClassificationTask again(1);
  expect_error([&] { Trainer(again, options).fit(); }, {"already holds a checkpoint", "resume"});
  options.run_dir = (directory.path() / "empty").string();
  options.resume = true;
  expect_error([&] { Trainer(again, options).fit(); }, {"cannot resume", "last.safetensors"});
}

TEST(Trainer, ResumeWithAnotherOptimizerIsRefused) {
  TemporaryDirectory directory;
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options = quick_options(directory.path());
  options.max_steps = 2;
  Trainer(task, options).fit();
  options.optimizer = "sgd";
  options.resume = true;
  options.max_steps = 4;
  ClassificationTask again(1);
  expect_error([&] { Trainer(again, options).fit(); }, {"trained with AdamW", "asks for Sgd"});
}

TEST(Trainer, OptionsAreChecked) {
  manual_seed(1);
  ClassificationTask task(1);
  TrainerOptions options;
  options.progress = "none";
  expect_error([&] { Trainer(task, options); }, {"no limit is set"});
  options.max_steps = 5;
  options.optimizer = "adagrad";
  expect_error([&] { Trainer(task, options); }, {"train.optimizer", "adagrad"});
  options.optimizer = "sgd";
  options.schedule = "noam";
  expect_error([&] { Trainer(task, options); }, {"noam needs train.warmup_steps"});
  options.schedule = "cosine";
  options.max_steps = 0;
  options.max_minutes = 1;
  expect_error([&] { Trainer(task, options); }, {"cosine needs train.schedule_steps"});
  options.schedule = "constant";
  options.max_bad_steps = -1;
  expect_error([&] { Trainer(task, options); }, {"train.max_bad_steps must be >= 0"});
}

TEST(Trainer, SchedulesPeakAtTheLearningRate) {
  TrainerOptions options;
  options.learning_rate = 1e-3;
  options.warmup_steps = 10;
  options.schedule = "noam";
  auto noam = make_schedule(options, 0);
  EXPECT_NEAR(noam->learning_rate(5), 5e-4, 1e-15);
  EXPECT_NEAR(noam->learning_rate(10), 1e-3, 1e-15);
  EXPECT_NEAR(noam->learning_rate(40), 5e-4, 1e-15);
  options.schedule = "constant";
  auto constant = make_schedule(options, 0);
  EXPECT_DOUBLE_EQ(constant->learning_rate(5), 5e-4);
  EXPECT_DOUBLE_EQ(constant->learning_rate(500), 1e-3);
  options.schedule = "cosine";
  options.min_learning_rate = 1e-4;
  auto cosine = make_schedule(options, 110);  // the step limit sets the decay length
  EXPECT_DOUBLE_EQ(cosine->learning_rate(10), 1e-3);
  EXPECT_DOUBLE_EQ(cosine->learning_rate(110), 1e-4);
}

TEST(Trainer, ShuffledOrderIsAReproduciblePermutationPerEpoch) {
  std::vector<std::int64_t> order = shuffled_order(5, 0, 100);
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 100; ++i) ASSERT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(order, shuffled_order(5, 0, 100));
  EXPECT_NE(order, shuffled_order(5, 1, 100));
  EXPECT_NE(order, shuffled_order(6, 0, 100));
  EXPECT_TRUE(shuffled_order(5, 0, 0).empty());
}

TEST(TrainProgress, FormatsTheStatusLine) {
  ProgressSnapshot snapshot;
  snapshot.step = 250;
  snapshot.total_steps = 1000;
  snapshot.epoch = 1;
  snapshot.loss = 3.14159;
  snapshot.tokens_per_second = 5230;
  snapshot.learning_rate = 7e-4;
  snapshot.elapsed_seconds = 75;
  snapshot.eta_seconds = 3725;
  std::string line = format_progress(snapshot, 10);
  EXPECT_EQ(line,
            "step 250/1000 [##--------] 25% | ep 2 | loss 3.1416 | 5.2k tok/s | lr 7.00e-04 | "
            "01:15 | ETA 1:02:05");
  EXPECT_EQ(format_duration(42), "42s");
  EXPECT_EQ(format_count(980), "980");
  EXPECT_EQ(format_count(1.3e6), "1.3M");
}

TEST(TrainProgress, LinesModePrintsAtLogStepsAndBarRedrawsInPlace) {
  std::ostringstream lines_out;
  ProgressDisplay lines(lines_out, ProgressMode::Lines);
  ProgressSnapshot snapshot;
  lines.update(snapshot, false);
  EXPECT_TRUE(lines_out.str().empty());
  lines.update(snapshot, true);
  std::string printed = lines_out.str();
  EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 1);

  std::ostringstream bar_out;
  ProgressDisplay bar(bar_out, ProgressMode::Bar);
  bar.update(snapshot, false, true);
  bar.message("validation at step 0");
  bar.update(snapshot, false, true);
  bar.finish();
  std::string text = bar_out.str();
  EXPECT_EQ(text.front(), '\r');
  EXPECT_NE(text.find("validation at step 0\n"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(resolve_progress_mode("auto", bar_out), ProgressMode::Lines);  // not a terminal
  expect_error([&] { resolve_progress_mode("fancy", bar_out); }, {"progress must be"});
}

TEST(TrainMetricsLog, TruncateKeepsCompleteRecordsUpToTheStep) {
  TemporaryDirectory directory;
  std::string path = directory.file("metrics.jsonl");
  {
    MetricsLog log(path);
    log.write_event("start", 0, 0.0);
    for (std::int64_t step = 1; step <= 4; ++step) {
      TrainRecord record;
      record.step = step;
      record.loss = NAN;  // written as null
      log.write(record);
    }
  }
  std::ofstream(path, std::ios::app) << "{\"type\":\"train\",\"st";  // a crash mid-line
  MetricsLog::truncate_after(path, 2);
  std::ifstream in(path);
  std::vector<nlohmann::json> records;
  std::string line;
  while (std::getline(in, line)) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2]["step"], 2);
  EXPECT_TRUE(records[2]["loss"].is_null());
}

}  // namespace
}  // namespace attn::train
