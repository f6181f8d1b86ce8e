// BLEU (Papineni et al., 2002) exactly as sacreBLEU computes it with its defaults: 13a
// tokenization, n-grams up to order 4, "exp" smoothing, the brevity penalty, and for several
// references the clipped counts against the largest count in any reference and the
// reference length closest to the hypothesis (the shorter on a tie). Scores are in
// [0, 100] and agree with sacreBLEU 2.6.0, kSacrebleuVersion (docs/EVALUATION.md says how this is tested).
//
//   std::vector<std::string> hypotheses = ..., references = ...;
//   metrics::BleuScore bleu = metrics::corpus_bleu(hypotheses, {references});
//   std::printf("%s\n", bleu.to_string().c_str());   // BLEU = 31.42 62.1/38.0/... (BP = ...)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attn/metrics/corpus.h"

namespace attn::metrics {

// sacreBLEU's smooth_method (Chen and Cherry, 2014): none; floor (method 1: a zero count
// counts as smoothing_value, default 0.1); add_k (method 2: k = smoothing_value, default 1,
// added to counts and totals of orders 2 and up); exp (method 3, as in mteval-v13a.pl: the
// k-th order with no match gets precision 1 / (2^k * total)).
enum class BleuSmoothing { none, floor, add_k, exp };

enum class BleuTokenizer {
  mteval_13a,  // sacreBLEU's "13a", the default
  none,        // split on whitespace only, for text that is already tokenized
};

struct BleuOptions {
  bool lowercase = false;  // Python's str.lower() on hypotheses and references
  BleuTokenizer tokenizer = BleuTokenizer::mteval_13a;
  BleuSmoothing smoothing = BleuSmoothing::exp;
  std::optional<double> smoothing_value;  // floor and add_k only; unset = sacreBLEU's default
  int max_ngram_order = 4;
  // Average only over the orders the hypothesis has n-grams of (sacreBLEU's
  // effective_order). Off for corpus BLEU; sentence_bleu() turns it on, as sacreBLEU does.
  bool effective_order = false;
};

// Sufficient statistics of BLEU; those of a corpus are the sums over its lines.
struct BleuStatistics {
  std::int64_t hypothesis_length = 0;
  std::int64_t reference_length = 0;  // the closest reference length, summed
  std::vector<std::int64_t> matches;  // [max_ngram_order]: clipped matching n-grams
  std::vector<std::int64_t> totals;   // [max_ngram_order]: hypothesis n-grams

  explicit BleuStatistics(int max_ngram_order = 4);
  BleuStatistics& operator+=(const BleuStatistics& other);
};

struct BleuScore {
  double score = 0;                  // [0, 100]
  std::vector<std::int64_t> counts;  // matching n-grams per order (before add-k smoothing)
  std::vector<std::int64_t> totals;  // hypothesis n-grams per order (before add-k smoothing)
  std::vector<double> precisions;    // per order, in percent, after smoothing
  double brevity_penalty = 1;
  std::int64_t sys_len = 0;  // hypothesis tokens
  std::int64_t ref_len = 0;  // reference tokens (closest reference per line)
  std::string signature;     // e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"

  double length_ratio() const;  // sys_len / ref_len (0 when ref_len is 0)
  // sacreBLEU's line: "BLEU = 27.70 58.3/33.3/21.4/9.1 (BP = 1.000 ratio = 1.091 hyp_len =
  // 12 ref_len = 11)".
  std::string to_string() const;
  // {"name": "BLEU", "score": ..., "counts": [...], "totals": [...], "precisions": [...],
  //  "bp": ..., "sys_len": ..., "ref_len": ..., "ratio": ..., "signature": "..."}
  std::string to_json() const;
};

// The hypothesis and reference lines as BLEU sees them: optionally lowercased, trailing
// whitespace removed, tokenized; tokens are separated by single spaces. UTF-8 in and out.
std::string bleu_preprocess(std::string_view line, const BleuOptions& options = {});

// Corpus BLEU. references[r][i] is the r-th reference of hypotheses[i] (corpus.h). Throws
// attn::Error for no hypotheses, no reference sets, a reference set of another length,
// invalid UTF-8, or bad options.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const ReferenceSets& references,
                      const BleuOptions& options = {});

// BLEU of one line against its references (sacrebleu.sentence_bleu: effective order on).
BleuScore sentence_bleu(std::string_view hypothesis, const std::vector<std::string>& references,
                        BleuOptions options = {.effective_order = true});

// The statistics of one line, to accumulate over lines yourself.
BleuStatistics bleu_statistics(std::string_view hypothesis,
                               const std::vector<std::string>& references,
                               const BleuOptions& options = {});

// The score from (summed) statistics; num_references goes into the signature.
BleuScore bleu_from_statistics(const BleuStatistics& statistics, const BleuOptions& options,
                               int num_references);

// sacreBLEU's signature for these options and number of references.
std::string bleu_signature(const BleuOptions& options, int num_references);

}  // namespace attn::metrics
