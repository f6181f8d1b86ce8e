#include "attn/data/batching.h"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "attn/core/error.h"
#include "attn/core/random.h"

namespace attn::data {
namespace {

// Shuffles use Philox counters whose high half has its top bit set, a range that the
// tensor-level draws (philox_uniform: high half 0) never reach.
constexpr std::uint64_t kShuffleCounterTag = std::uint64_t{1} << 63;

// Sort key of one example: primary length (the one that costs budget), then tie-breakers.
using LengthKey = std::tuple<std::int64_t, std::int64_t, std::int64_t>;

void check_options(const BatchingOptions& options, const char* op) {
  ATTN_CHECK(options.max_tokens >= 0 && options.batch_size >= 0, op,
             ": expected max_tokens and batch_size >= 0, got ", options.max_tokens, " and ",
             options.batch_size);
  ATTN_CHECK(options.max_tokens > 0 || options.batch_size > 0, op,
             ": expected max_tokens or batch_size to be set (> 0)");
}

// Example indices in ascending key order; ties in a seeded random order when shuffling.
std::vector<std::int64_t> sorted_by_length(const std::vector<LengthKey>& keys,
                                           const BatchingOptions& options, std::uint64_t epoch) {
  auto count = static_cast<std::int64_t>(keys.size());
  std::vector<std::int64_t> order(keys.size());
  if (options.shuffle) {
    order = shuffled_indices(count, options.seed, 2 * epoch);
  } else {
    std::iota(order.begin(), order.end(), 0);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return keys[a] < keys[b]; });
  return order;
}

// Cuts the sorted examples greedily: a batch grows while (size + 1) * longest stays within
// the budget and size + 1 within batch_size.
std::vector<Batch> cut_batches(const std::vector<std::int64_t>& order,
                               const std::vector<LengthKey>& keys, const BatchingOptions& options,
                               const char* op) {
  std::vector<Batch> batches;
  Batch current;
  std::int64_t longest = 0;
  for (std::int64_t index : order) {
    std::int64_t length = std::get<0>(keys[index]);
    ATTN_CHECK(options.max_tokens == 0 || length <= options.max_tokens, op, ": example ", index,
               " has ", length, " tokens, more than max_tokens ", options.max_tokens);
    auto size = static_cast<std::int64_t>(current.indices.size());
    std::int64_t new_longest = std::max(longest, length);
    bool over_budget = options.max_tokens > 0 && (size + 1) * new_longest > options.max_tokens;
    bool over_size = options.batch_size > 0 && size + 1 > options.batch_size;
    if (size > 0 && (over_budget || over_size)) {
      current.padded_tokens = size * longest;
      batches.push_back(std::move(current));
      current = Batch{};
      new_longest = length;
    }
    current.indices.push_back(index);
    longest = new_longest;
  }
  if (!current.indices.empty()) {
    current.padded_tokens = static_cast<std::int64_t>(current.indices.size()) * longest;
    batches.push_back(std::move(current));
  }
  return batches;
}

std::vector<Batch> batch_by_keys(const std::vector<LengthKey>& keys, const BatchingOptions& options,
                                 std::uint64_t epoch, const char* op) {
  check_options(options, op);
  std::vector<Batch> batches =
      cut_batches(sorted_by_length(keys, options, epoch), keys, options, op);
  if (!options.shuffle) return batches;
  std::vector<std::int64_t> order =
      shuffled_indices(static_cast<std::int64_t>(batches.size()), options.seed, 2 * epoch + 1);
  std::vector<Batch> shuffled;
  shuffled.reserve(batches.size());
  for (std::int64_t index : order) shuffled.push_back(std::move(batches[index]));
  return shuffled;
}

void check_lengths(std::span<const std::int64_t> lengths, const char* op) {
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    ATTN_CHECK(lengths[i] >= 0, op, ": expected lengths >= 0, got ", lengths[i], " for example ",
               i);
  }
}

}  // namespace

std::vector<std::int64_t> shuffled_indices(std::int64_t count, std::uint64_t seed,
                                           std::uint64_t stream) {
  ATTN_CHECK(count >= 0, "shuffled_indices: expected count >= 0, got ", count);
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  PhiloxBlock block{};
  std::uint64_t draw = 0;  // how many words have been used
  for (std::int64_t i = count - 1; i > 0; --i, ++draw) {
    if (draw % 4 == 0) block = philox4x32(seed, draw / 4, stream | kShuffleCounterTag);
    std::uint64_t word = block.words[draw % 4];
    auto j = static_cast<std::int64_t>((word * static_cast<std::uint64_t>(i + 1)) >> 32);
    std::swap(order[i], order[j]);
  }
  return order;
}

std::vector<Batch> make_batches(std::span<const std::int64_t> lengths,
                                const BatchingOptions& options, std::uint64_t epoch) {
  check_lengths(lengths, "make_batches");
  std::vector<LengthKey> keys;
  keys.reserve(lengths.size());
  for (std::int64_t length : lengths) keys.emplace_back(length, 0, 0);
  return batch_by_keys(keys, options, epoch, "make_batches");
}

std::vector<Batch> make_pair_batches(std::span<const std::int64_t> source_lengths,
                                     std::span<const std::int64_t> target_lengths,
                                     const BatchingOptions& options, std::uint64_t epoch) {
  ATTN_CHECK(source_lengths.size() == target_lengths.size(),
             "make_pair_batches: expected as many target lengths as source lengths, got ",
             target_lengths.size(), " and ", source_lengths.size());
  check_lengths(source_lengths, "make_pair_batches");
  check_lengths(target_lengths, "make_pair_batches");
  std::vector<LengthKey> keys;
  keys.reserve(source_lengths.size());
  for (std::size_t i = 0; i < source_lengths.size(); ++i) {
    keys.emplace_back(std::max(source_lengths[i], target_lengths[i]), source_lengths[i],
                      target_lengths[i]);
  }
  return batch_by_keys(keys, options, epoch, "make_pair_batches");
}

// ---- padding ----------------------------------------------------------------------------

namespace {

// The part of `sequence` that is kept, after the truncation policy.
std::span<const std::int64_t> kept_tokens(const std::vector<std::int64_t>& sequence,
                                          std::int64_t row, const PaddingOptions& options) {
  std::span<const std::int64_t> tokens(sequence);
  auto length = static_cast<std::int64_t>(tokens.size());
  if (options.max_length == 0 || length <= options.max_length) return tokens;
  ATTN_CHECK(options.truncation != Truncation::Error, "pad_sequences: sequence ", row, " has ",
             length, " tokens, more than max_length ", options.max_length,
             " (choose a truncation policy to cut it)");
  if (options.truncation == Truncation::KeepStart) return tokens.first(options.max_length);
  return tokens.last(options.max_length);
}

}  // namespace

PaddedBatch pad_sequences(const std::vector<std::vector<std::int64_t>>& sequences,
                          std::span<const std::int64_t> indices, const PaddingOptions& options) {
  ATTN_CHECK(!indices.empty(), "pad_sequences: expected at least one sequence");
  ATTN_CHECK(options.max_length >= 0, "pad_sequences: expected max_length >= 0, got ",
             options.max_length);
  ATTN_CHECK(!options.pad_to_max_length || options.max_length > 0,
             "pad_sequences: pad_to_max_length needs max_length > 0");
  std::vector<std::span<const std::int64_t>> rows;
  rows.reserve(indices.size());
  std::int64_t width = options.pad_to_max_length ? options.max_length : 0;
  for (std::int64_t index : indices) {
    ATTN_CHECK(index >= 0 && index < static_cast<std::int64_t>(sequences.size()),
               "pad_sequences: index ", index, " out of range for ", sequences.size(),
               " sequences");
    rows.push_back(kept_tokens(sequences[index], index, options));
    width = std::max(width, static_cast<std::int64_t>(rows.back().size()));
  }
  auto batch = static_cast<std::int64_t>(rows.size());
  PaddedBatch padded{
      Tensor::full({batch, width}, static_cast<double>(options.pad_id), DType::Int64),
      Tensor::empty({batch}, DType::Int64), Tensor::empty({batch, width}, DType::Bool)};
  auto* tokens = padded.tokens.data<std::int64_t>();
  auto* lengths = padded.lengths.data<std::int64_t>();
  bool* mask = padded.padding_mask.data<bool>();
  for (std::int64_t b = 0; b < batch; ++b) {
    auto length = static_cast<std::int64_t>(rows[b].size());
    std::int64_t start = options.side == PadSide::Right ? 0 : width - length;
    std::copy(rows[b].begin(), rows[b].end(), tokens + b * width + start);
    for (std::int64_t t = 0; t < width; ++t) mask[b * width + t] = t < start || t >= start + length;
    lengths[b] = length;
  }
  return padded;
}

PaddedBatch pad_sequences(const std::vector<std::vector<std::int64_t>>& sequences,
                          const PaddingOptions& options) {
  std::vector<std::int64_t> indices(sequences.size());
  std::iota(indices.begin(), indices.end(), 0);
  return pad_sequences(sequences, indices, options);
}

}  // namespace attn::data
