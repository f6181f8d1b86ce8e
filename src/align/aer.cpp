#include "attn/align/aer.h"

#include <algorithm>

#include "attn/core/error.h"

namespace attn::align {
namespace {

// |a ∩ b| of two sorted link sets, by one merge pass.
std::int64_t count_common(const Alignment& a, const Alignment& b) {
  std::int64_t common = 0;
  auto in_a = a.begin();
  auto in_b = b.begin();
  while (in_a != a.end() && in_b != b.end()) {
    if (*in_a < *in_b) {
      ++in_a;
    } else if (*in_b < *in_a) {
      ++in_b;
    } else {
      ++common;
      ++in_a;
      ++in_b;
    }
  }
  return common;
}

bool is_alignment(const Alignment& links) {
  return std::adjacent_find(links.begin(), links.end(), [](const Link& a, const Link& b) {
           return !(a < b);
         }) == links.end();
}

double ratio(std::int64_t numerator, std::int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

}  // namespace

void AlignmentCounts::add(const Alignment& hypothesis_links, const Alignment& sure_links,
                          const Alignment& possible_links) {
  ATTN_CHECK(is_alignment(hypothesis_links) && is_alignment(sure_links) &&
                 is_alignment(possible_links),
             "alignment error rate: expected links sorted without repeats (make_alignment)");
  ATTN_CHECK(std::includes(possible_links.begin(), possible_links.end(), sure_links.begin(),
                           sure_links.end()),
             "alignment error rate: expected the sure links to be a subset of the possible "
             "links, got ", sure_links.size(), " sure links not all among ",
             possible_links.size(), " possible");
  hypothesis += static_cast<std::int64_t>(hypothesis_links.size());
  sure += static_cast<std::int64_t>(sure_links.size());
  possible += static_cast<std::int64_t>(possible_links.size());
  hypothesis_sure += count_common(hypothesis_links, sure_links);
  hypothesis_possible += count_common(hypothesis_links, possible_links);
}

AlignmentCounts& AlignmentCounts::operator+=(const AlignmentCounts& other) {
  hypothesis += other.hypothesis;
  sure += other.sure;
  possible += other.possible;
  hypothesis_sure += other.hypothesis_sure;
  hypothesis_possible += other.hypothesis_possible;
  return *this;
}

double AlignmentCounts::precision() const { return ratio(hypothesis_possible, hypothesis); }

double AlignmentCounts::recall() const { return ratio(hypothesis_sure, sure); }

double AlignmentCounts::alignment_error_rate() const {
  return 1.0 - ratio(hypothesis_sure + hypothesis_possible, hypothesis + sure);
}

AlignmentCounts count_links(const Alignment& hypothesis, const GoldAlignment& gold) {
  AlignmentCounts counts;
  counts.add(hypothesis, gold.sure, gold.possible);
  return counts;
}

}  // namespace attn::align
