#include "attn/train/task.h"

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
