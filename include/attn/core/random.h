// Counter-based random numbers (Philox 4x32-10). Element i of a draw depends only on
// (seed, offset + i), so the numbers are the same whatever the thread count or chunking.
#pragma once

#include <cmath>
#include <cstdint>

namespace attn {

// The constants of Philox 4x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", 2011): round multipliers and the Weyl increments of the key. The SIMD generator of
// kernels/vector_ops.h uses them too, and must give the same words as philox4x32.
inline constexpr std::uint32_t kPhiloxMultiplier0 = 0xD2511F53;
inline constexpr std::uint32_t kPhiloxMultiplier1 = 0xCD9E8D57;
inline constexpr std::uint32_t kPhiloxWeyl0 = 0x9E3779B9;
inline constexpr std::uint32_t kPhiloxWeyl1 = 0xBB67AE85;
inline constexpr int kPhiloxRounds = 10;

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

// philox_word_to_uniform(word) >= p exactly when (word >> 8) >= uniform_threshold(p), for p
// in [0, 1]: the uniform is the integer word >> 8 times 2^-24, and p · 2^24 is exact in
// double, so the comparison can be made on integers.
inline std::uint32_t uniform_threshold(double p) {
  return static_cast<std::uint32_t>(std::ceil(p * 16777216.0));
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
