// chrF and chrF++ as sacrebleu/metrics/chrf.py computes them.
#include "attn/metrics/chrf.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "attn/core/error.h"
#include "attn/metrics/unicode.h"

namespace attn::metrics {
namespace {

using Counts = std::unordered_map<std::u32string, std::int64_t>;

// Character orders first, then word orders: one Counts per order.
using LineNgrams = std::vector<Counts>;

// Per order (hypothesis n-grams, reference n-grams, matches): 3 * (char + word orders).
using ChrfStatistics = std::vector<std::int64_t>;

int total_order(const ChrfOptions& options) { return options.char_order + options.word_order; }

// string.punctuation, which CHRF._remove_punctuation splits off words.
bool is_punctuation(char32_t c) {
  return c < 0x80 && std::u32string_view(U"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").find(c) !=
                         std::u32string_view::npos;
}

// CHRF._remove_punctuation: a punctuation mark at the end of a word, or else at its start,
// becomes a word of its own (so "(hi)" gives "(hi" and ")", as in sacreBLEU).
std::vector<std::u32string> split_words(std::u32string_view line) {
  std::vector<std::u32string> words;
  for (std::u32string_view word : unicode::split_whitespace(line)) {
    if (word.size() > 1 && is_punctuation(word.back())) {
      words.emplace_back(word.substr(0, word.size() - 1));
      words.emplace_back(word.substr(word.size() - 1));
    } else if (word.size() > 1 && is_punctuation(word.front())) {
      words.emplace_back(word.substr(0, 1));
      words.emplace_back(word.substr(1));
    } else {
      words.emplace_back(word);
    }
  }
  return words;
}

// helpers.extract_all_char_ngrams
void add_char_ngrams(std::u32string_view line, const ChrfOptions& options, LineNgrams& ngrams) {
  std::u32string characters(line);
  if (!options.whitespace) {
    std::erase_if(characters, [](char32_t c) { return unicode::is_space(c); });
  }
  for (int order = 1; order <= options.char_order; ++order) {
    Counts& counts = ngrams[order - 1];
    for (std::size_t start = 0; start + order <= characters.size(); ++start) {
      ++counts[characters.substr(start, order)];
    }
  }
}

// helpers.extract_word_ngrams on the punctuation-split words
void add_word_ngrams(std::u32string_view line, const ChrfOptions& options, LineNgrams& ngrams) {
  std::vector<std::u32string> words = split_words(line);
  for (int order = 1; order <= options.word_order; ++order) {
    Counts& counts = ngrams[options.char_order + order - 1];
    for (std::size_t start = 0; start + order <= words.size(); ++start) {
      std::u32string key = words[start];
      for (int k = 1; k < order; ++k) key += U' ' + words[start + k];
      ++counts[key];
    }
  }
}

LineNgrams extract_ngrams(std::string_view line, const ChrfOptions& options,
                          const std::string& what) {
  std::u32string text = unicode::decode_utf8(line, what);
  if (options.lowercase) text = unicode::lowercase(text);
  LineNgrams ngrams(total_order(options));
  add_char_ngrams(text, options, ngrams);
  add_word_ngrams(text, options, ngrams);
  return ngrams;
}

// CHRF._get_match_statistics, for every order
ChrfStatistics match_statistics(const LineNgrams& hypothesis, const LineNgrams& reference) {
  ChrfStatistics statistics;
  for (std::size_t order = 0; order < hypothesis.size(); ++order) {
    std::int64_t hypothesis_count = 0, reference_count = 0, matches = 0;
    for (const auto& [ngram, count] : hypothesis[order]) {
      hypothesis_count += count;
      auto found = reference[order].find(ngram);
      if (found != reference[order].end()) matches += std::min(count, found->second);
    }
    for (const auto& [ngram, count] : reference[order]) reference_count += count;
    // Hypothesis n-grams do not count where the reference has none of that order.
    statistics.push_back(reference[order].empty() ? 0 : hypothesis_count);
    statistics.push_back(reference_count);
    statistics.push_back(matches);
  }
  return statistics;
}

// CHRF._compute_f_score
double f_score(const ChrfStatistics& statistics, const ChrfOptions& options) {
  constexpr double kEpsilon = 1e-16;
  double factor = static_cast<double>(options.beta) * options.beta;
  double eps_score = 0.0, average_precision = 0.0, average_recall = 0.0;
  int effective_order = 0;
  for (int order = 0; order < total_order(options); ++order) {
    auto hypothesis_count = static_cast<double>(statistics[3 * order]);
    auto reference_count = static_cast<double>(statistics[3 * order + 1]);
    auto matches = static_cast<double>(statistics[3 * order + 2]);
    double precision = hypothesis_count > 0 ? matches / hypothesis_count : kEpsilon;
    double recall = reference_count > 0 ? matches / reference_count : kEpsilon;
    double denominator = factor * precision + recall;
    eps_score += denominator > 0 ? (1 + factor) * precision * recall / denominator : kEpsilon;
    if (hypothesis_count > 0 && reference_count > 0) {
      average_precision += precision;
      average_recall += recall;
      ++effective_order;
    }
  }
  if (options.eps_smoothing) return 100 * eps_score / total_order(options);
  if (effective_order == 0) return 0.0;
  average_precision /= effective_order;
  average_recall /= effective_order;
  if (average_precision + average_recall == 0) return 0.0;
  double score = (1 + factor) * average_precision * average_recall;
  score /= factor * average_precision + average_recall;
  return 100 * score;
}

// CHRF._compute_segment_statistics: the statistics of the reference with the best
// F-score (the first of equals).
ChrfStatistics best_line_statistics(std::string_view hypothesis,
                                    const std::vector<std::string_view>& references,
                                    const ChrfOptions& options, std::size_t line_number) {
  std::string where = " line " + std::to_string(line_number);
  LineNgrams hypothesis_ngrams = extract_ngrams(hypothesis, options, "chrf: hypothesis" + where);
  ChrfStatistics best;
  double best_score = -1.0;
  for (std::size_t r = 0; r < references.size(); ++r) {
    std::string what = "chrf: reference set " + std::to_string(r + 1) + where;
    ChrfStatistics statistics =
        match_statistics(hypothesis_ngrams, extract_ngrams(references[r], options, what));
    double score = f_score(statistics, options);
    if (score > best_score) {
      best_score = score;
      best = std::move(statistics);
    }
  }
  return best;
}

void check_options(const ChrfOptions& options) {
  ATTN_CHECK(options.char_order >= 0 && options.word_order >= 0 && total_order(options) > 0,
             "chrf: expected char_order >= 0 and word_order >= 0, not both 0, got ",
             options.char_order, " and ", options.word_order);
  ATTN_CHECK(options.beta >= 0, "chrf: expected beta >= 0, got ", options.beta);
}

ChrfScore make_score(double score, const ChrfOptions& options, int num_references) {
  return ChrfScore{score, options.char_order, options.word_order, options.beta,
                   chrf_signature(options, num_references)};
}

}  // namespace

std::string ChrfScore::name() const {
  return "chrF" + std::to_string(beta) + std::string(static_cast<std::size_t>(word_order), '+');
}

std::string ChrfScore::to_string() const {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), " = %.2f", score);
  return name() + buffer;
}

std::string ChrfScore::to_json() const {
  nlohmann::ordered_json json = {{"name", name()},         {"score", score},
                                 {"char_order", char_order}, {"word_order", word_order},
                                 {"beta", beta},           {"signature", signature}};
  return json.dump();
}

std::string chrf_signature(const ChrfOptions& options, int num_references) {
  return "nrefs:" + std::to_string(num_references) +
         "|case:" + (options.lowercase ? "lc" : "mixed") +
         "|eff:" + (options.eps_smoothing ? "no" : "yes") +
         "|nc:" + std::to_string(options.char_order) +
         "|nw:" + std::to_string(options.word_order) +
         "|space:" + (options.whitespace ? "yes" : "no") +
         "|version:" + std::string(kSacrebleuVersion);
}

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses, const ReferenceSets& references,
                      const ChrfOptions& options) {
  check_options(options);
  check_corpus_layout("corpus_chrf", hypotheses.size(), references);
  ChrfStatistics total(3 * static_cast<std::size_t>(total_order(options)), 0);
  for (std::size_t line = 0; line < hypotheses.size(); ++line) {
    std::vector<std::string_view> line_references;
    for (const std::vector<std::string>& set : references) line_references.push_back(set[line]);
    ChrfStatistics statistics =
        best_line_statistics(hypotheses[line], line_references, options, line + 1);
    for (std::size_t i = 0; i < total.size(); ++i) total[i] += statistics[i];
  }
  return make_score(f_score(total, options), options, static_cast<int>(references.size()));
}

ChrfScore sentence_chrf(std::string_view hypothesis, const std::vector<std::string>& references,
                        const ChrfOptions& options) {
  check_options(options);
  ATTN_CHECK(!references.empty(), "chrf: expected at least one reference, got none");
  std::vector<std::string_view> line_references(references.begin(), references.end());
  ChrfStatistics statistics = best_line_statistics(hypothesis, line_references, options, 1);
  return make_score(f_score(statistics, options), options, static_cast<int>(references.size()));
}

}  // namespace attn::metrics
