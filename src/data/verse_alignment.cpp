#include "attn/data/verse_alignment.h"

#include <algorithm>
#include <iterator>

#include "attn/core/error.h"

namespace attn::data {
namespace {

using Numbers = std::vector<std::string>;

double score(const Numbers& a, const Numbers& b) {
  if (a.empty() || b.empty()) return 0.0;
  std::size_t common = 0;
  for (auto i = a.begin(), j = b.begin(); i != a.end() && j != b.end();) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      ++common, ++i, ++j;
    }
  }
  return static_cast<double>(common) / static_cast<double>(std::max(a.size(), b.size()));
}

Numbers merged(const Numbers& a, const Numbers& b) {
  Numbers both;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  return both;
}

bool checkable(const Numbers& source, const Numbers& reference) {
  return source.size() >= kAlignmentMinimumNumbers && reference.size() >= kAlignmentMinimumNumbers;
}

bool moved(const std::vector<Numbers>& source, const std::vector<Numbers>& reference, std::size_t i,
           double same) {
  std::size_t first = i >= kAlignmentWindow ? i - kAlignmentWindow : 0;
  std::size_t last = std::min(reference.size() - 1, i + kAlignmentWindow);
  for (std::size_t j = first; j <= last; ++j) {
    if (j != i && score(source[i], reference[j]) >= same + kAlignmentMargin) return true;
  }
  return false;
}

bool merged_with_neighbour(const std::vector<Numbers>& source,
                           const std::vector<Numbers>& reference, std::size_t i, double same) {
  auto completes = [&](double with_neighbour) {
    return with_neighbour >= 0.6 && with_neighbour >= same + kAlignmentMargin;
  };
  for (std::size_t j : {i - 1, i + 1}) {
    if (j >= source.size()) continue;  // i - 1 wraps around for i == 0
    if (completes(score(source[i], merged(reference[i], reference[j])))) return true;
    if (completes(score(merged(source[i], source[j]), reference[i]))) return true;
  }
  return false;
}

}  // namespace

std::vector<bool> misaligned_verses(const std::vector<Numbers>& source,
                                    const std::vector<Numbers>& reference) {
  ATTN_CHECK(source.size() == reference.size(),
             "misaligned_verses: expected as many reference "
             "verses as source verses, got ",
             reference.size(), " and ", source.size());
  std::vector<bool> misaligned(source.size(), false);
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (!checkable(source[i], reference[i])) continue;
    double same = score(source[i], reference[i]);
    bool unrelated = same < 0.1 && source[i].size() >= 4 && reference[i].size() >= 4;
    misaligned[i] = unrelated || moved(source, reference, i, same) ||
                    merged_with_neighbour(source, reference, i, same);
  }
  return misaligned;
}

}  // namespace attn::data
