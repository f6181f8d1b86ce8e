// Alignment error rate, precision and recall of hypothesis links A against gold sure links S
// and possible links P (S ⊆ P), as defined by Och and Ney (2003):
//
//   precision = |A ∩ P| / |A|      recall = |A ∩ S| / |S|
//   AER = 1 - (|A ∩ S| + |A ∩ P|) / (|A| + |S|)
//
// Over a corpus the counts are summed first and the ratios taken once. A ratio whose
// denominator is zero counts as 0 (so an empty hypothesis has precision 0 and AER 1).
#pragma once

#include <cstdint>
#include <string>

#include "attn/align/gold.h"

namespace attn::align {

struct AlignmentCounts {
  std::int64_t hypothesis = 0;           // |A|
  std::int64_t sure = 0;                 // |S|
  std::int64_t possible = 0;             // |P|
  std::int64_t hypothesis_sure = 0;      // |A ∩ S|
  std::int64_t hypothesis_possible = 0;  // |A ∩ P|

  // Adds one sentence pair. Throws unless `sure` ⊆ `possible`; all three must be sorted
  // without repeats (make_alignment).
  void add(const Alignment& hypothesis, const Alignment& sure, const Alignment& possible);
  AlignmentCounts& operator+=(const AlignmentCounts& other);

  double precision() const;
  double recall() const;
  double alignment_error_rate() const;
};

// The counts of one sentence pair against its gold alignment.
AlignmentCounts count_links(const Alignment& hypothesis, const GoldAlignment& gold);

}  // namespace attn::align
