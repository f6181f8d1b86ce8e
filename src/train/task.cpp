#include "attn/train/task.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "attn/core/error.h"

namespace attn::train {

double ValidationResult::metric(const std::string& name) const {
  if (name == "loss") return loss;
  auto found = metrics.find(name);
  if (found != metrics.end()) return found->second;
  std::string available = "loss";
  for (const auto& [metric_name, value] : metrics) available += ", " + metric_name;
  ATTN_CHECK(false, "train: validation has no metric '", name, "' (it has: ", available, ")");
  return 0.0;
}

void Fingerprint::add(std::uint64_t value) {
  for (int byte = 0; byte < 8; ++byte) {
    hash_ ^= (value >> (8 * byte)) & 0xff;
    hash_ *= 1099511628211ULL;
  }
}

void Fingerprint::add(std::span<const std::int64_t> values) {
  add(static_cast<std::uint64_t>(values.size()));
  for (std::int64_t value : values) add(static_cast<std::uint64_t>(value));
}

void Fingerprint::add(const std::vector<std::vector<std::int64_t>>& sequences) {
  add(static_cast<std::uint64_t>(sequences.size()));
  for (const std::vector<std::int64_t>& sequence : sequences) add(sequence);
}

void Fingerprint::add(std::string_view text) {
  add(static_cast<std::uint64_t>(text.size()));
  for (char character : text) add(static_cast<std::uint64_t>(static_cast<unsigned char>(character)));
}

std::pair<std::size_t, std::size_t> slice_bounds(std::span<const std::int64_t> costs,
                                                 BatchSlice slice) {
  ATTN_CHECK(slice.count >= 1 && slice.index >= 0 && slice.index < slice.count,
             "train: slice ", slice.index, " of ", slice.count, " does not exist");
  const auto items = static_cast<std::int64_t>(costs.size());
  const std::int64_t total = std::accumulate(costs.begin(), costs.end(), std::int64_t{0});
  // The end of part k: the first item where the running cost reaches (k + 1) / count of the
  // total, kept so that every part has an item when there are enough of them.
  auto end_of = [&](std::int64_t part, std::int64_t previous_end) {
    if (part == slice.count - 1) return items;
    if (items <= slice.count) return std::min(part + 1, items);
    std::int64_t end = 0, running = 0;
    while (end < items && (total == 0 ? end * slice.count < (part + 1) * items
                                      : running * slice.count < (part + 1) * total)) {
      running += costs[static_cast<std::size_t>(end++)];
    }
    return std::clamp(end, previous_end + 1, items - (slice.count - part - 1));
  };
  std::int64_t begin = 0, end = 0;
  for (std::int64_t part = 0; part <= slice.index; ++part) {
    begin = end;
    end = end_of(part, end);
  }
  return {static_cast<std::size_t>(begin), static_cast<std::size_t>(end)};
}

std::vector<std::int64_t> shuffled_order(std::uint64_t seed, std::int64_t epoch,
                                         std::int64_t count) {
  ATTN_CHECK(count >= 0 && epoch >= 0, "shuffled_order: expected count >= 0 and epoch >= 0, got ",
             count, " and ", epoch);
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  // Fisher-Yates from the back; draw i is Philox block (i, epoch) under key `seed`. The
  // modulo bias of a 64-bit draw is below 2^-32 for any count that fits in memory.
  for (std::int64_t i = count - 1; i > 0; --i) {
    PhiloxBlock block =
        philox4x32(seed, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(epoch));
    std::uint64_t draw = (static_cast<std::uint64_t>(block.words[1]) << 32) | block.words[0];
    auto j = static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

}  // namespace attn::train
