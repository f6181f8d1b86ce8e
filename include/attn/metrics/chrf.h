// chrF (Popović, 2015) and chrF++ (Popović, 2017) exactly as sacreBLEU computes them: the
// F-score (beta 2: recall weighs twice) of character n-grams up to order 6, whitespace
// removed, and for chrF++ also of word n-grams up to order 2 (words split off a leading or
// trailing punctuation mark). Corpus scores sum the n-gram counts over all lines first;
// with several references each line uses the reference that gives it the best F-score.
// Scores are in [0, 100] and agree with sacreBLEU 2.6.0 (kSacrebleuVersion).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attn/metrics/corpus.h"

namespace attn::metrics {

struct ChrfOptions {
  int char_order = 6;
  int word_order = 0;  // 2 gives chrF++
  int beta = 2;
  bool lowercase = false;   // Python's str.lower()
  bool whitespace = false;  // keep whitespace inside character n-grams
  // Average the per-order F-scores with an epsilon for empty orders (chrF++.py, Moses,
  // NLTK) instead of sacreBLEU's default: the F-score of the averaged precision and recall
  // over the orders that both sides have n-grams of.
  bool eps_smoothing = false;

  static ChrfOptions chrf_plus_plus() { return ChrfOptions{.word_order = 2}; }
};

struct ChrfScore {
  double score = 0;  // [0, 100]
  int char_order = 6;
  int word_order = 0;
  int beta = 2;
  std::string signature;  // e.g. "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"

  std::string name() const;       // "chrF2", or "chrF2++" with word order 2
  std::string to_string() const;  // "chrF2 = 47.98"
  // {"name": "chrF2", "score": ..., "char_order": 6, "word_order": 0, "beta": 2,
  //  "signature": "..."}
  std::string to_json() const;
};

// Corpus chrF. references[r][i] is the r-th reference of hypotheses[i] (corpus.h). Throws
// attn::Error for no hypotheses, no reference sets, a reference set of another length,
// invalid UTF-8, or bad options (orders below 0, no orders at all, beta below 1).
ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses, const ReferenceSets& references,
                      const ChrfOptions& options = {});

// chrF of one line against its references (sacrebleu.sentence_chrf).
ChrfScore sentence_chrf(std::string_view hypothesis, const std::vector<std::string>& references,
                        const ChrfOptions& options = {});

// sacreBLEU's signature for these options and number of references.
std::string chrf_signature(const ChrfOptions& options, int num_references);

}  // namespace attn::metrics
