#include "attn/metrics/corpus.h"

#include "attn/core/error.h"

namespace attn::metrics {

void check_corpus_layout(std::string_view metric, std::size_t num_hypotheses,
                         const ReferenceSets& references) {
  ATTN_CHECK(num_hypotheses > 0, metric, ": expected at least one hypothesis, got none");
  ATTN_CHECK(!references.empty(), metric, ": expected at least one reference set, got none");
  for (std::size_t set = 0; set < references.size(); ++set) {
    ATTN_CHECK(references[set].size() == num_hypotheses, metric, ": expected ", num_hypotheses,
               " lines in every reference set (one per hypothesis), got ",
               references[set].size(), " in reference set ", set + 1);
  }
}

}  // namespace attn::metrics
