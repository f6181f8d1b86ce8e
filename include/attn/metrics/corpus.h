// What the corpus metrics (BLEU, chrF, chrF++) share: sacreBLEU's layout of a test set and
// the sacreBLEU version whose scores and signatures they reproduce.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attn::metrics {

// The sacreBLEU release the metrics agree with (tests/fixtures/metrics/*.json were made
// with it); it ends every signature, as in sacreBLEU.
inline constexpr std::string_view kSacrebleuVersion = "2.6.0";

// references[r][i] is the r-th reference of hypothesis i: one vector per reference set
// (for instance one per reference file), each with one line per hypothesis.
using ReferenceSets = std::vector<std::vector<std::string>>;

// Throws attn::Error, naming `metric`, unless there is at least one hypothesis and at least
// one reference set, and every reference set has num_hypotheses lines.
void check_corpus_layout(std::string_view metric, std::size_t num_hypotheses,
                         const ReferenceSets& references);

}  // namespace attn::metrics
