// Batches of examples of similar length, and padding them into tensors.
//
// make_batches sorts the examples by length (ties broken by a seeded shuffle, so they mix
// differently each epoch), cuts the sorted list into batches that respect a token budget
// (padding included) and/or a batch size, and shuffles the order of the batches. All
// randomness comes from Philox (core/random.h) keyed by (seed, epoch): the same seed and
// epoch give the same batches on every machine and thread count.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "attn/core/tensor.h"

namespace attn::data {

struct BatchingOptions {
  // Most tokens a batch may hold counting padding: size * longest length. 0 = no limit.
  std::int64_t max_tokens = 0;
  // Most examples in a batch. 0 = no limit. At least one of the two limits must be set.
  std::int64_t batch_size = 0;
  std::uint64_t seed = 0;
  // false: batches in ascending length order and ties in index order, the same every epoch
  // (for evaluation).
  bool shuffle = true;
};

struct Batch {
  std::vector<std::int64_t> indices;  // into the example list, ascending length
  std::int64_t padded_tokens = 0;     // indices.size() * longest length (for pairs, the
                                      // longer of source and target)
};

// Batches for one epoch over examples of the given lengths (each >= 0). Every example is in
// exactly one batch. Throws attn::Error when an example alone exceeds max_tokens.
std::vector<Batch> make_batches(std::span<const std::int64_t> lengths,
                                const BatchingOptions& options, std::uint64_t epoch = 0);

// The same for pairs (translation): sorted by (longer side, source, target); the budget
// bounds both size * longest source and size * longest target.
std::vector<Batch> make_pair_batches(std::span<const std::int64_t> source_lengths,
                                     std::span<const std::int64_t> target_lengths,
                                     const BatchingOptions& options, std::uint64_t epoch = 0);

// A permutation of 0..count-1 drawn with Philox from (seed, stream): Fisher-Yates with
// index j = floor(word * (i + 1) / 2^32) for one 32-bit word per step (bias below
// count / 2^32, nothing for the sizes of these corpora).
std::vector<std::int64_t> shuffled_indices(std::int64_t count, std::uint64_t seed,
                                           std::uint64_t stream);

// ---- padding ----------------------------------------------------------------------------

enum class Truncation {
  Error,      // a sequence longer than max_length is an error (the default)
  KeepStart,  // drop the tokens after max_length
  KeepEnd,    // drop the tokens before the last max_length (Keras' truncating="pre")
};
enum class PadSide { Right, Left };

struct PaddingOptions {
  std::int64_t pad_id = 0;
  std::int64_t max_length = 0;  // 0 = no limit
  Truncation truncation = Truncation::Error;
  // T = max_length even when every sequence is shorter (fixed shapes, like Keras'
  // pad_sequences(maxlen=...)); needs max_length > 0.
  bool pad_to_max_length = false;
  PadSide side = PadSide::Right;
};

struct PaddedBatch {
  Tensor tokens;        // int64 [B, T], pad_id in padding positions
  Tensor lengths;       // int64 [B], tokens kept per row (after truncation)
  Tensor padding_mask;  // bool [B, T], true = padding
};

// Pads `sequences` (B >= 1; T = the longest kept length, or max_length). T may be 0 when
// every sequence is empty.
PaddedBatch pad_sequences(const std::vector<std::vector<std::int64_t>>& sequences,
                          const PaddingOptions& options = {});
// The same for the rows `indices` of `sequences` (e.g. a Batch's indices), without copying
// the dataset.
PaddedBatch pad_sequences(const std::vector<std::vector<std::int64_t>>& sequences,
                          std::span<const std::int64_t> indices,
                          const PaddingOptions& options = {});

}  // namespace attn::data
