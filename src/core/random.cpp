#include "attn/core/random.h"

namespace attn {
namespace {

void philox_round(std::uint32_t (&counter)[4], std::uint32_t key0, std::uint32_t key1) {
  std::uint64_t product0 = static_cast<std::uint64_t>(kPhiloxMultiplier0) * counter[0];
  std::uint64_t product1 = static_cast<std::uint64_t>(kPhiloxMultiplier1) * counter[2];
  std::uint32_t high0 = static_cast<std::uint32_t>(product0 >> 32);
  std::uint32_t low0 = static_cast<std::uint32_t>(product0);
  std::uint32_t high1 = static_cast<std::uint32_t>(product1 >> 32);
  std::uint32_t low1 = static_cast<std::uint32_t>(product1);
  counter[0] = high1 ^ counter[1] ^ key0;
  counter[1] = low1;
  counter[2] = high0 ^ counter[3] ^ key1;
  counter[3] = low0;
}

}  // namespace

PhiloxBlock philox4x32(std::uint64_t key, std::uint64_t counter_low, std::uint64_t counter_high) {
  std::uint32_t counter[4] = {
      static_cast<std::uint32_t>(counter_low), static_cast<std::uint32_t>(counter_low >> 32),
      static_cast<std::uint32_t>(counter_high), static_cast<std::uint32_t>(counter_high >> 32)};
  std::uint32_t key0 = static_cast<std::uint32_t>(key);
  std::uint32_t key1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < kPhiloxRounds; ++round) {
    philox_round(counter, key0, key1);
    key0 += kPhiloxWeyl0;
    key1 += kPhiloxWeyl1;
  }
  return {{counter[0], counter[1], counter[2], counter[3]}};
}

float philox_uniform(std::uint64_t seed, std::uint64_t offset, std::uint64_t index) {
  // One Philox block yields four numbers; element i uses word i % 4 of block i / 4.
  std::uint64_t position = offset + index;
  PhiloxBlock block = philox4x32(seed, position / 4, 0);
  return philox_word_to_uniform(block.words[position % 4]);
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace attn
