// Greedy decoding, beam search and sampling over a StepModel.
#include "attn/decode/search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attn/core/error.h"
#include "attn/core/random.h"

namespace attn::decode {
namespace {

// ---- shared ----------------------------------------------------------------------------

std::vector<std::int64_t> starting_tokens(const StepModel& model, std::int64_t bos,
                                          const std::vector<std::int64_t>& first_tokens,
                                          const char* search) {
  if (first_tokens.empty()) return std::vector<std::int64_t>(model.num_rows(), bos);
  ATTN_CHECK(static_cast<std::int64_t>(first_tokens.size()) == model.num_rows(), search,
             ": expected one first token per row (", model.num_rows(), "), got ",
             first_tokens.size());
  return first_tokens;
}

// The number of steps a search may take: max_length, capped by the model's own limit.
std::int64_t step_limit(const StepModel& model, std::int64_t max_length, const char* search) {
  ATTN_CHECK(max_length >= 0, search, ": expected a non-negative max_length, got ", max_length);
  std::int64_t model_limit = model.max_length();
  return model_limit > 0 ? std::min(max_length, model_limit) : max_length;
}

// The model's answer for `rows` rows: float32 [rows, V], read row by row.
struct LogProbs {
  Tensor tensor;
  const float* data = nullptr;
  std::int64_t vocab_size = 0;
  const float* row(std::int64_t index) const { return data + index * vocab_size; }
};

LogProbs next_log_probs(StepModel& model, const std::vector<std::int64_t>& last_tokens,
                        const char* search) {
  LogProbs result;
  result.tensor = model.next_log_probs(last_tokens).contiguous();
  const Tensor& log_probs = result.tensor;
  ATTN_CHECK(log_probs.dtype() == DType::Float32 && log_probs.dim() == 2 &&
                 log_probs.size(0) == static_cast<std::int64_t>(last_tokens.size()) &&
                 log_probs.size(1) > 0,
             search, ": the model returned ", log_probs.describe(), " for ", last_tokens.size(),
             " rows; expected float32 [rows, vocab]");
  result.data = log_probs.data<float>();
  result.vocab_size = log_probs.size(1);
  return result;
}

// The highest entry; the lowest index among ties.
std::int64_t argmax(const float* values, std::int64_t count) {
  return std::max_element(values, values + count) - values;
}

// Indices of the `count` highest entries, highest first (lower index first among ties).
std::vector<std::int64_t> top_indices(const float* values, std::int64_t size, std::int64_t count) {
  std::vector<std::int64_t> indices(size);
  std::iota(indices.begin(), indices.end(), 0);
  count = std::min(count, size);
  std::partial_sort(indices.begin(), indices.begin() + count, indices.end(),
                    [&](std::int64_t a, std::int64_t b) {
                      return values[a] > values[b] || (values[a] == values[b] && a < b);
                    });
  indices.resize(count);
  return indices;
}

template <typename T>
std::vector<T> pick(const std::vector<T>& values, const std::vector<std::int64_t>& indices) {
  std::vector<T> picked;
  picked.reserve(indices.size());
  for (std::int64_t index : indices) picked.push_back(values[index]);
  return picked;
}

// Keeps the listed rows of the model (unless that is all of them, in order).
void keep_rows(StepModel& model, const std::vector<std::int64_t>& rows) {
  if (rows.empty()) return;  // nothing left to feed
  bool identity = static_cast<std::int64_t>(rows.size()) == model.num_rows();
  for (std::size_t i = 0; identity && i < rows.size(); ++i)
    identity = rows[i] == static_cast<std::int64_t>(i);
  if (!identity) model.select(rows);
}

// ---- one token per row: greedy and sampling ------------------------------------------------

// Runs a search that picks one token per row per step; choose(row log-probs, source, step)
// returns the token.
template <typename Choose>
std::vector<Hypothesis> one_per_row(StepModel& model, std::vector<std::int64_t> last_tokens,
                                    std::int64_t eos, std::int64_t limit, const char* search,
                                    Choose&& choose) {
  const std::int64_t sources = model.num_rows();
  std::vector<Hypothesis> results(sources);
  std::vector<std::int64_t> alive(sources);  // the source of each live row
  std::iota(alive.begin(), alive.end(), 0);
  for (std::int64_t step = 0; step < limit && !alive.empty(); ++step) {
    LogProbs log_probs = next_log_probs(model, last_tokens, search);
    std::vector<std::int64_t> keep, next_tokens;
    for (std::size_t i = 0; i < alive.size(); ++i) {
      const float* row = log_probs.row(static_cast<std::int64_t>(i));
      std::int64_t token = choose(row, log_probs.vocab_size, alive[i], step);
      Hypothesis& hypothesis = results[alive[i]];
      hypothesis.log_prob += row[token];
      if (token == eos) {
        hypothesis.finished = true;
        continue;
      }
      hypothesis.tokens.push_back(token);
      keep.push_back(static_cast<std::int64_t>(i));
      next_tokens.push_back(token);
    }
    keep_rows(model, keep);
    alive = pick(alive, keep);
    last_tokens = std::move(next_tokens);
  }
  for (Hypothesis& hypothesis : results) hypothesis.score = hypothesis.log_prob;
  return results;
}

// One draw from the filtered distribution of one row, given a uniform number u in [0, 1).
std::int64_t draw(const float* log_probs, std::int64_t vocab_size, const SamplingOptions& options,
                  float u) {
  if (options.temperature == 0.0) return argmax(log_probs, vocab_size);
  // Candidates, most probable first when a filter needs the order.
  std::vector<std::int64_t> candidates;
  if (options.top_k > 0 || options.top_p < 1.0) {
    std::int64_t keep = options.top_k > 0 ? options.top_k : vocab_size;
    candidates = top_indices(log_probs, vocab_size, keep);
  } else {
    candidates.resize(vocab_size);
    std::iota(candidates.begin(), candidates.end(), 0);
  }
  const float highest = log_probs[argmax(log_probs, vocab_size)];
  std::vector<double> weights;  // unnormalised probabilities at the temperature
  double total = 0.0;
  for (std::int64_t token : candidates) {
    weights.push_back(std::exp((log_probs[token] - highest) / options.temperature));
    total += weights.back();
  }
  if (options.top_p < 1.0) {
    // The nucleus: the shortest prefix of the sorted candidates reaching top_p.
    double cumulative = 0.0;
    std::size_t size = 0;
    while (size < weights.size() && cumulative < options.top_p * total)
      cumulative += weights[size++];
    weights.resize(std::max<std::size_t>(size, 1));
    total = std::accumulate(weights.begin(), weights.end(), 0.0);
  }
  const double target = static_cast<double>(u) * total;
  double cumulative = 0.0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    cumulative += weights[i];
    if (target < cumulative) return candidates[i];
  }
  return candidates[weights.size() - 1];  // rounding left target at the very top
}

void check_sampling(const SamplingOptions& options) {
  ATTN_CHECK(options.temperature >= 0.0 && std::isfinite(options.temperature),
             "sample: expected a non-negative temperature, got ", options.temperature);
  ATTN_CHECK(options.top_k >= 0, "sample: expected top_k >= 0 (0: no limit), got ", options.top_k);
  ATTN_CHECK(options.top_p > 0.0 && options.top_p <= 1.0, "sample: expected top_p in (0, 1], got ",
             options.top_p);
}

// ---- beam search -------------------------------------------------------------------------

struct Beam {
  std::vector<std::int64_t> tokens;
  double log_prob = 0.0;
};

struct SourceBeams {
  std::vector<Beam> live;
  std::vector<Hypothesis> finished;
  bool done = false;
};

struct Candidate {
  double log_prob;
  std::int64_t beam;  // index into the source's live beams
  std::int64_t token;
};

// The best `count` one-token extensions of a source's live beams, whose rows start at
// `first_row` of log_probs; best first (ties: earlier beam, then lower token).
std::vector<Candidate> best_extensions(const SourceBeams& source, const LogProbs& log_probs,
                                       std::int64_t first_row, std::int64_t count) {
  std::vector<Candidate> candidates;
  for (std::size_t beam = 0; beam < source.live.size(); ++beam) {
    const float* row = log_probs.row(first_row + static_cast<std::int64_t>(beam));
    for (std::int64_t token : top_indices(row, log_probs.vocab_size, count)) {
      candidates.push_back(
          {source.live[beam].log_prob + row[token], static_cast<std::int64_t>(beam), token});
    }
  }
  auto better = [](const Candidate& a, const Candidate& b) {
    if (a.log_prob != b.log_prob) return a.log_prob > b.log_prob;
    return a.beam != b.beam ? a.beam < b.beam : a.token < b.token;
  };
  std::int64_t kept = std::min<std::int64_t>(count, static_cast<std::int64_t>(candidates.size()));
  std::partial_sort(candidates.begin(), candidates.begin() + kept, candidates.end(), better);
  candidates.resize(kept);
  return candidates;
}

Hypothesis make_hypothesis(std::vector<std::int64_t> tokens, double log_prob, bool finished,
                           double alpha) {
  Hypothesis hypothesis;
  std::int64_t length = static_cast<std::int64_t>(tokens.size()) + (finished ? 1 : 0);
  hypothesis.tokens = std::move(tokens);
  hypothesis.log_prob = log_prob;
  hypothesis.score = log_prob / length_penalty(length, alpha);
  hypothesis.finished = finished;
  return hypothesis;
}

// Advances one source by one step. Appends the model rows its new live beams extend
// (as rows of log_probs) and their last tokens.
void advance(SourceBeams& source, const LogProbs& log_probs, std::int64_t first_row,
             const BeamSearchOptions& options, std::vector<std::int64_t>& rows,
             std::vector<std::int64_t>& last_tokens) {
  const std::int64_t beam_size = options.beam_size;
  std::vector<Beam> live;
  std::vector<std::int64_t> live_rows;
  std::vector<Candidate> candidates = best_extensions(source, log_probs, first_row, 2 * beam_size);
  for (std::size_t rank = 0; rank < candidates.size(); ++rank) {
    const Candidate& candidate = candidates[rank];
    const Beam& parent = source.live[candidate.beam];
    if (candidate.token == options.eos) {
      if (static_cast<std::int64_t>(rank) < beam_size) {
        source.finished.push_back(
            make_hypothesis(parent.tokens, candidate.log_prob, true, options.length_penalty));
      }
      continue;
    }
    Beam extended{parent.tokens, candidate.log_prob};
    extended.tokens.push_back(candidate.token);
    live.push_back(std::move(extended));
    live_rows.push_back(first_row + candidate.beam);
    if (static_cast<std::int64_t>(live.size()) == beam_size) break;
  }
  source.live = std::move(live);
  source.done =
      static_cast<std::int64_t>(source.finished.size()) >= beam_size || source.live.empty();
  if (source.done) return;
  rows.insert(rows.end(), live_rows.begin(), live_rows.end());
  for (const Beam& beam : source.live) last_tokens.push_back(beam.tokens.back());
}

void check_beam_options(const BeamSearchOptions& options) {
  ATTN_CHECK(options.beam_size >= 1, "beam_search: expected beam_size >= 1, got ",
             options.beam_size);
  ATTN_CHECK(options.n_best >= 1 && options.n_best <= options.beam_size,
             "beam_search: expected n_best in [1, beam_size = ", options.beam_size, "], got ",
             options.n_best);
  ATTN_CHECK(std::isfinite(options.length_penalty), "beam_search: expected a finite ",
             "length_penalty, got ", options.length_penalty);
}

std::vector<Hypothesis> n_best(SourceBeams& source, const BeamSearchOptions& options) {
  for (Beam& beam : source.live) {  // cut at the length limit
    source.finished.push_back(
        make_hypothesis(std::move(beam.tokens), beam.log_prob, false, options.length_penalty));
  }
  std::stable_sort(source.finished.begin(), source.finished.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  if (static_cast<std::int64_t>(source.finished.size()) > options.n_best) {
    source.finished.resize(options.n_best);
  }
  return std::move(source.finished);
}

}  // namespace

std::vector<Hypothesis> greedy(StepModel& model, std::int64_t bos, std::int64_t eos,
                               std::int64_t max_length) {
  return greedy(model, starting_tokens(model, bos, {}, "greedy"), eos, max_length);
}

std::vector<Hypothesis> greedy(StepModel& model, const std::vector<std::int64_t>& first_tokens,
                               std::int64_t eos, std::int64_t max_length) {
  ATTN_CHECK(static_cast<std::int64_t>(first_tokens.size()) == model.num_rows(),
             "greedy: expected one first token per row (", model.num_rows(), "), got ",
             first_tokens.size());
  return one_per_row(model, first_tokens, eos, step_limit(model, max_length, "greedy"), "greedy",
                     [](const float* row, std::int64_t size, std::int64_t, std::int64_t) {
                       return argmax(row, size);
                     });
}

double length_penalty(std::int64_t length, double alpha) {
  return std::pow((5.0 + static_cast<double>(length)) / 6.0, alpha);
}

std::vector<std::vector<Hypothesis>> beam_search(StepModel& model,
                                                 const BeamSearchOptions& options) {
  check_beam_options(options);
  std::vector<std::int64_t> last_tokens =
      starting_tokens(model, options.bos, options.first_tokens, "beam_search");
  const std::int64_t limit = step_limit(model, options.max_length, "beam_search");
  std::vector<SourceBeams> sources(model.num_rows());
  for (SourceBeams& source : sources) source.live.push_back(Beam{});
  bool any_live = !sources.empty();
  for (std::int64_t step = 0; step < limit && any_live; ++step) {
    LogProbs log_probs = next_log_probs(model, last_tokens, "beam_search");
    std::vector<std::int64_t> rows, next_tokens;
    std::int64_t first_row = 0;
    for (SourceBeams& source : sources) {
      if (source.done) continue;
      const std::int64_t source_rows = static_cast<std::int64_t>(source.live.size());
      advance(source, log_probs, first_row, options, rows, next_tokens);
      first_row += source_rows;
    }
    any_live = !rows.empty();
    keep_rows(model, rows);
    last_tokens = std::move(next_tokens);
  }
  std::vector<std::vector<Hypothesis>> results;
  for (SourceBeams& source : sources) {
    if (source.done) source.live.clear();
    results.push_back(n_best(source, options));
  }
  return results;
}

std::vector<Hypothesis> sample(StepModel& model, const SamplingOptions& options) {
  check_sampling(options);
  std::vector<std::int64_t> start =
      starting_tokens(model, options.bos, options.first_tokens, "sample");
  const auto sources = static_cast<std::uint64_t>(model.num_rows());
  return one_per_row(
      model, start, options.eos, step_limit(model, options.max_length, "sample"), "sample",
      [&](const float* row, std::int64_t size, std::int64_t source, std::int64_t step) {
        float u = philox_uniform(
            options.seed, 0,
            static_cast<std::uint64_t>(step) * sources + static_cast<std::uint64_t>(source));
        return draw(row, size, options, u);
      });
}

}  // namespace attn::decode
