// BLEU as sacrebleu/metrics/bleu.py computes it; the comments name the Python it follows
// where the order of operations matters for agreeing to the last digit.
#include "attn/metrics/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "attn/core/error.h"
#include "attn/metrics/tokenizer_13a.h"
#include "attn/metrics/unicode.h"

namespace attn::metrics {
namespace {

// n-gram (tokens joined by single spaces) -> count, one map per order.
using NgramCounts = std::vector<std::unordered_map<std::u32string, std::int64_t>>;

struct LineNgrams {
  NgramCounts counts;
  std::int64_t length = 0;  // tokens
};

// sacreBLEU's my_log: log(0) is floored so that a zero precision gives a score of 0.
double floored_log(double value) { return value == 0.0 ? -9999999999.0 : std::log(value); }

std::u32string preprocess(std::string_view line, const BleuOptions& options,
                          const std::string& what) {
  std::u32string text = unicode::decode_utf8(line, what);
  if (options.lowercase) text = unicode::lowercase(text);
  std::u32string_view stripped = unicode::rstrip(text);
  if (options.tokenizer == BleuTokenizer::none) return std::u32string(stripped);
  return tokenize_13a(stripped);
}

// helpers.extract_all_word_ngrams
LineNgrams extract_ngrams(std::u32string_view line, int max_order) {
  std::vector<std::u32string_view> tokens = unicode::split_whitespace(line);
  LineNgrams ngrams;
  ngrams.counts.resize(max_order);
  ngrams.length = static_cast<std::int64_t>(tokens.size());
  for (int order = 1; order <= max_order; ++order) {
    for (std::size_t start = 0; start + order <= tokens.size(); ++start) {
      std::u32string key(tokens[start]);
      for (int k = 1; k < order; ++k) {
        key += U' ';
        key += tokens[start + k];
      }
      ++ngrams.counts[order - 1][key];
    }
  }
  return ngrams;
}

// BLEU._extract_reference_info: the largest count of each n-gram over the references.
NgramCounts merge_reference_counts(const std::vector<LineNgrams>& references) {
  NgramCounts merged = references.front().counts;
  for (std::size_t r = 1; r < references.size(); ++r) {
    for (std::size_t order = 0; order < merged.size(); ++order) {
      for (const auto& [ngram, count] : references[r].counts[order]) {
        std::int64_t& best = merged[order][ngram];
        best = std::max(best, count);
      }
    }
  }
  return merged;
}

// BLEU._get_closest_ref_len: the closest length, the shorter one on a tie.
std::int64_t closest_reference_length(std::int64_t hypothesis_length,
                                      const std::vector<LineNgrams>& references) {
  std::int64_t closest_difference = -1, closest_length = -1;
  for (const LineNgrams& reference : references) {
    std::int64_t difference = std::abs(hypothesis_length - reference.length);
    if (closest_difference == -1 || difference < closest_difference) {
      closest_difference = difference;
      closest_length = reference.length;
    } else if (difference == closest_difference && reference.length < closest_length) {
      closest_length = reference.length;
    }
  }
  return closest_length;
}

BleuStatistics line_statistics(std::string_view hypothesis,
                               const std::vector<std::string_view>& references,
                               const BleuOptions& options, std::size_t line_number) {
  std::string where = " line " + std::to_string(line_number);
  std::vector<LineNgrams> reference_ngrams;
  for (std::size_t r = 0; r < references.size(); ++r) {
    std::string what = "bleu: reference set " + std::to_string(r + 1) + where;
    reference_ngrams.push_back(
        extract_ngrams(preprocess(references[r], options, what), options.max_ngram_order));
  }
  LineNgrams hypothesis_ngrams = extract_ngrams(
      preprocess(hypothesis, options, "bleu: hypothesis" + where), options.max_ngram_order);
  NgramCounts reference_counts = merge_reference_counts(reference_ngrams);

  BleuStatistics statistics(options.max_ngram_order);
  statistics.hypothesis_length = hypothesis_ngrams.length;
  statistics.reference_length = closest_reference_length(hypothesis_ngrams.length, reference_ngrams);
  for (int order = 0; order < options.max_ngram_order; ++order) {
    for (const auto& [ngram, count] : hypothesis_ngrams.counts[order]) {
      statistics.totals[order] += count;
      auto found = reference_counts[order].find(ngram);
      if (found != reference_counts[order].end()) {
        statistics.matches[order] += std::min(count, found->second);
      }
    }
  }
  return statistics;
}

double default_smoothing_value(BleuSmoothing smoothing) {
  return smoothing == BleuSmoothing::floor ? 0.1 : 1.0;  // BLEU.SMOOTH_DEFAULTS
}

double smoothing_value(const BleuOptions& options) {
  return options.smoothing_value.value_or(default_smoothing_value(options.smoothing));
}

void check_options(const BleuOptions& options) {
  ATTN_CHECK(options.max_ngram_order >= 1, "bleu: expected max_ngram_order >= 1, got ",
             options.max_ngram_order);
  if (options.smoothing_value) {
    double value = *options.smoothing_value;
    ATTN_CHECK(std::isfinite(value) && value >= 0, "bleu: expected a finite smoothing value >= 0, got ",
               value);
  }
}

std::string smoothing_name(const BleuOptions& options) {
  switch (options.smoothing) {
    case BleuSmoothing::none: return "none";
    case BleuSmoothing::exp: return "exp";
    case BleuSmoothing::floor:
    case BleuSmoothing::add_k: {
      char value[64];
      std::snprintf(value, sizeof(value), "[%.2f]", smoothing_value(options));
      return (options.smoothing == BleuSmoothing::floor ? "floor" : "add-k") + std::string(value);
    }
  }
  ATTN_ASSERT(false, "unknown BleuSmoothing");
  return {};
}

// BLEU.compute_bleu: the precisions (in percent) after smoothing, and how many orders the
// geometric mean runs over.
struct Precisions {
  std::vector<double> values;
  int order_count = 0;
};

Precisions smoothed_precisions(const BleuStatistics& statistics, const BleuOptions& options) {
  int max_order = options.max_ngram_order;
  Precisions precisions{std::vector<double>(max_order, 0.0), max_order};
  double smooth_mteval = 1.0;
  for (int n = 1; n <= max_order; ++n) {
    double correct = static_cast<double>(statistics.matches[n - 1]);
    double total = static_cast<double>(statistics.totals[n - 1]);
    if (options.smoothing == BleuSmoothing::add_k && n > 1) {
      correct += smoothing_value(options);
      total += smoothing_value(options);
    }
    if (total == 0) break;
    if (options.effective_order) precisions.order_count = n;
    double& precision = precisions.values[n - 1];
    if (correct != 0) {
      precision = 100.0 * correct / total;
    } else if (options.smoothing == BleuSmoothing::exp) {
      smooth_mteval *= 2;
      precision = 100.0 / (smooth_mteval * total);
    } else if (options.smoothing == BleuSmoothing::floor) {
      precision = 100.0 * smoothing_value(options) / total;
    }
  }
  return precisions;
}

double brevity_penalty(std::int64_t sys_len, std::int64_t ref_len) {
  if (sys_len >= ref_len) return 1.0;
  if (sys_len == 0) return 0.0;
  return std::exp(1.0 - static_cast<double>(ref_len) / static_cast<double>(sys_len));
}

std::vector<std::string_view> references_of_line(const ReferenceSets& references, std::size_t line) {
  std::vector<std::string_view> line_references;
  for (const std::vector<std::string>& set : references) line_references.push_back(set[line]);
  return line_references;
}

}  // namespace

BleuStatistics::BleuStatistics(int max_ngram_order)
    : matches(std::max(max_ngram_order, 0), 0), totals(std::max(max_ngram_order, 0), 0) {}

BleuStatistics& BleuStatistics::operator+=(const BleuStatistics& other) {
  ATTN_CHECK(other.matches.size() == matches.size(),
             "BleuStatistics: expected the same max n-gram order, got ", matches.size(), " and ",
             other.matches.size());
  hypothesis_length += other.hypothesis_length;
  reference_length += other.reference_length;
  for (std::size_t order = 0; order < matches.size(); ++order) {
    matches[order] += other.matches[order];
    totals[order] += other.totals[order];
  }
  return *this;
}

double BleuScore::length_ratio() const {
  return ref_len == 0 ? 0.0 : static_cast<double>(sys_len) / static_cast<double>(ref_len);
}

std::string BleuScore::to_string() const {
  std::string text;
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), "BLEU = %.2f ", score);
  text += buffer;
  for (std::size_t order = 0; order < precisions.size(); ++order) {
    std::snprintf(buffer, sizeof(buffer), "%s%.1f", order == 0 ? "" : "/", precisions[order]);
    text += buffer;
  }
  std::snprintf(buffer, sizeof(buffer), " (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)",
                brevity_penalty, length_ratio(), static_cast<long long>(sys_len),
                static_cast<long long>(ref_len));
  return text + buffer;
}

std::string BleuScore::to_json() const {
  nlohmann::ordered_json json = {
      {"name", "BLEU"},         {"score", score},   {"counts", counts},
      {"totals", totals},       {"precisions", precisions},
      {"bp", brevity_penalty},  {"sys_len", sys_len}, {"ref_len", ref_len},
      {"ratio", length_ratio()}, {"signature", signature}};
  return json.dump();
}

std::string bleu_preprocess(std::string_view line, const BleuOptions& options) {
  return unicode::encode_utf8(preprocess(line, options, "bleu_preprocess"));
}

std::string bleu_signature(const BleuOptions& options, int num_references) {
  std::string tokenizer = options.tokenizer == BleuTokenizer::none ? "none" : "13a";
  return "nrefs:" + std::to_string(num_references) +
         "|case:" + (options.lowercase ? "lc" : "mixed") +
         "|eff:" + (options.effective_order ? "yes" : "no") + "|tok:" + tokenizer +
         "|smooth:" + smoothing_name(options) + "|version:" + std::string(kSacrebleuVersion);
}

BleuScore bleu_from_statistics(const BleuStatistics& statistics, const BleuOptions& options,
                               int num_references) {
  check_options(options);
  ATTN_CHECK(statistics.matches.size() == static_cast<std::size_t>(options.max_ngram_order) &&
                 statistics.totals.size() == statistics.matches.size(),
             "bleu: expected statistics for ", options.max_ngram_order, " n-gram orders, got ",
             statistics.matches.size());
  BleuScore result;
  result.counts = statistics.matches;
  result.totals = statistics.totals;
  result.sys_len = statistics.hypothesis_length;
  result.ref_len = statistics.reference_length;
  result.brevity_penalty = brevity_penalty(result.sys_len, result.ref_len);
  result.signature = bleu_signature(options, num_references);
  result.precisions.assign(options.max_ngram_order, 0.0);
  bool any_match = std::any_of(result.counts.begin(), result.counts.end(),
                               [](std::int64_t count) { return count != 0; });
  if (!any_match) return result;  // sacreBLEU returns 0 early (its issue #141)

  Precisions precisions = smoothed_precisions(statistics, options);
  double log_sum = 0.0;
  for (int n = 0; n < precisions.order_count; ++n) log_sum += floored_log(precisions.values[n]);
  result.precisions = precisions.values;
  result.score = result.brevity_penalty * std::exp(log_sum / precisions.order_count);
  return result;
}

BleuStatistics bleu_statistics(std::string_view hypothesis, const std::vector<std::string>& references,
                               const BleuOptions& options) {
  check_options(options);
  ATTN_CHECK(!references.empty(), "bleu: expected at least one reference, got none");
  std::vector<std::string_view> line_references(references.begin(), references.end());
  return line_statistics(hypothesis, line_references, options, 1);
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const ReferenceSets& references,
                      const BleuOptions& options) {
  check_options(options);
  check_corpus_layout("corpus_bleu", hypotheses.size(), references);
  BleuStatistics total(options.max_ngram_order);
  for (std::size_t line = 0; line < hypotheses.size(); ++line) {
    total += line_statistics(hypotheses[line], references_of_line(references, line), options,
                             line + 1);
  }
  return bleu_from_statistics(total, options, static_cast<int>(references.size()));
}

BleuScore sentence_bleu(std::string_view hypothesis, const std::vector<std::string>& references,
                        BleuOptions options) {
  BleuStatistics statistics = bleu_statistics(hypothesis, references, options);
  return bleu_from_statistics(statistics, options, static_cast<int>(references.size()));
}

}  // namespace attn::metrics
