// Task: what the Trainer trains. A task owns a model and its data; the trainer owns the loop
// (optimizer, schedule, clipping, validation, checkpoints, logs, limits).
//
// Resuming is exact when a task keeps two promises:
//   1. train_step(epoch, batch_index) depends only on (seed, epoch, batch_index) and the
//      model's state: the batch is a pure function of the position, never of how many
//      batches this process has already drawn. shuffled_order() below gives a
//      reproducible per-epoch order.
//   2. Every random number drawn during training (dropout) comes from default_generator()
//      or from a generator listed by extra_generators(); the trainer saves and restores
//      their states.
// Seed the generator (attn::manual_seed) before building the model: the trainer leaves it
// as it finds it on a fresh run.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attn/core/random.h"
#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::train {

struct StepResult {
  Tensor loss;  // a scalar (one element), float32 or float64, with autograd history: the
                // mean loss over the batch's units
  std::int64_t num_tokens = 0;  // units in the batch (target tokens, or examples): weights
                                // the logged mean loss and gives the throughput
};

struct ValidationResult {
  double loss = 0.0;                      // mean per unit over the validation set
  std::map<std::string, double> metrics;  // e.g. {"accuracy": 0.91, "perplexity": 12.3}

  // "loss" or the name of an entry of `metrics`; throws attn::Error listing the names it has.
  double metric(const std::string& name) const;
};

class Task {
 public:
  virtual ~Task() = default;

  // The model being trained; the trainer optimizes model().parameters().
  virtual nn::Module& model() = 0;
  // A JSON object that rebuilds the model (its options), stored in every checkpoint.
  virtual std::string model_config_json() const { return "{}"; }

  virtual std::int64_t batches_per_epoch() const = 0;
  // Runs the forward pass of batch `batch_index` (0-based, < batches_per_epoch()) of epoch
  // `epoch` (0-based) and returns its loss. Called with the model in training mode; the
  // trainer runs the backward pass and the update.
  virtual StepResult train_step(std::int64_t epoch, std::int64_t batch_index) = 0;

  // Scores the model on the validation set. Called in evaluation mode under NoGradGuard;
  // must not draw from the generators that training uses.
  virtual ValidationResult validate() = 0;
  // False when the task has no validation set (validate() is then never called): no best
  // checkpoint and no early stopping.
  virtual bool has_validation() const { return true; }

  // Generators besides default_generator() that training draws from (saved in checkpoints).
  virtual std::vector<Generator*> extra_generators() { return {}; }
  // The unit of StepResult::num_tokens in the progress display: "tok" or "ex".
  virtual std::string unit_name() const { return "tok"; }
};

// A permutation of [0, count) that depends only on (seed, epoch): Fisher-Yates driven by
// Philox numbers, so every epoch has its own reproducible order.
std::vector<std::int64_t> shuffled_order(std::uint64_t seed, std::int64_t epoch,
                                         std::int64_t count);

}  // namespace attn::train
