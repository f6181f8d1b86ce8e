// Task: what the Trainer trains. A task owns a model and its data; the trainer owns the loop
// (optimizer, schedule, clipping, validation, checkpoints, logs, limits).
//
// Resuming is exact when a task keeps two promises:
//   1. train_step(epoch, batch_index, slice) depends only on (seed, epoch, batch_index,
//      slice) and the model's state: the batch is a pure function of the position, never
//      of how many batches this process has already drawn. shuffled_order() below gives a
//      reproducible per-epoch order.
//   2. Every random number drawn during training (dropout) comes from default_generator()
//      or from a generator listed by extra_generators(); the trainer saves and restores
//      their states.
// Seed the generator (attn::manual_seed) before building the model: the trainer leaves it
// as it finds it on a fresh run.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attn/core/random.h"
#include "attn/core/tensor.h"
#include "attn/nn/module.h"

namespace attn::train {

// Which part of a batch a step computes: part `index` of `count` (data parallelism and
// gradient accumulation cut every batch into count micro-batches, balanced by tokens).
struct BatchSlice {
  std::int64_t index = 0;
  std::int64_t count = 1;
};

struct StepResult {
  Tensor loss;  // a scalar (one element), float32 or float64, with autograd history: the
                // mean loss over the slice's units; undefined for an empty slice
  std::int64_t num_tokens = 0;  // units in the slice (target tokens, or examples): weights
                                // the logged mean loss and gives the throughput; 0 when empty
  std::int64_t batch_tokens = 0;  // units in the whole batch, every slice together (0: the
                                  // same as num_tokens, for a batch taken whole)
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
  // Runs the forward pass of slice `slice` of batch `batch_index` (0-based, <
  // batches_per_epoch()) of epoch `epoch` (0-based) and returns its loss. Called with the
  // model in training mode; the trainer runs the backward pass and the update. Cut the
  // batch with slice_bounds() below, so that every slice count gives the same batch.
  virtual StepResult train_step(std::int64_t epoch, std::int64_t batch_index,
                                BatchSlice slice) = 0;

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
  // A hash of the training data as the task holds it (token ids, labels): the processes of
  // a data-parallel job compare it at start, so none trains on other data. 0: not computed.
  virtual std::uint64_t data_fingerprint() const { return 0; }
};

// FNV-1a over 64-bit words: a short name for data that must be the same in every process.
class Fingerprint {
 public:
  void add(std::uint64_t value);
  void add(std::span<const std::int64_t> values);
  void add(const std::vector<std::vector<std::int64_t>>& sequences);
  void add(std::string_view text);
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 14695981039346656037ULL;
};

// [begin, end) of part slice.index when items of the given costs (tokens), in their order,
// are cut into slice.count contiguous parts of costs as even as possible: part k ends at
// the first item whose running cost reaches (k + 1) / count of the total. A part may be
// empty when there are fewer items than parts.
std::pair<std::size_t, std::size_t> slice_bounds(std::span<const std::int64_t> costs,
                                                 BatchSlice slice);

// A permutation of [0, count) that depends only on (seed, epoch): Fisher-Yates driven by
// Philox numbers, so every epoch has its own reproducible order.
std::vector<std::int64_t> shuffled_order(std::uint64_t seed, std::int64_t epoch,
                                         std::int64_t count);

}  // namespace attn::train
