// Counter-based random numbers (Philox 4x32-10). Element i of a draw depends only on
// (seed, offset + i), so the numbers are the same whatever the thread count or chunking.
#pragma once

#include <cstdint>

namespace attn {

// Four 32-bit random words for one 128-bit counter under a 64-bit key.
struct PhiloxBlock {
  std::uint32_t words[4];
};
PhiloxBlock philox4x32(std::uint64_t key, std::uint64_t counter_low, std::uint64_t counter_high);

// A uniform float in [0, 1) from one random word: the top 24 bits give every float of that
// range with spacing 2^-24.
inline float philox_word_to_uniform(std::uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);
}

// Uniform float in [0, 1) for element `index` of the stream (seed, offset): word index % 4
// of Philox block (offset + index) / 4.
float philox_uniform(std::uint64_t seed, std::uint64_t offset, std::uint64_t index);

// The global generator: a seed and a running offset. Each random op takes a fresh range of
// the stream (advances the offset by the number of values it draws).
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0x5eed) : seed_(seed) {}
  void manual_seed(std::uint64_t seed) { seed_ = seed; offset_ = 0; }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  void set_offset(std::uint64_t offset) { offset_ = offset; }
  // Reserves `count` values; returns the offset of the first.
  std::uint64_t reserve(std::uint64_t count) {
    std::uint64_t first = offset_;
    offset_ += count;
    return first;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace attn
