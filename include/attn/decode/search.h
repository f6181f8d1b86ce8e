// Searches over any decode::StepModel: greedy decoding, beam search and sampling.
//
// Each search starts from a fresh StepModel (one row per source or prompt), feeds every row
// its first token (the begin-of-sequence id, or per-row first_tokens such as a prompt's
// last token), and extends the rows one token at a time. A row stops at the end-of-sequence
// id or after max_length generated tokens (also capped by model.max_length() when that is
// not 0). Finished rows leave the model through select(), so the batch shrinks as sentences
// end. The model is used up by the search.
//
// Results come per source, in the order of the model's rows at the start. A hypothesis'
// tokens are the generated ones, without the first token fed and without the end token.
#pragma once

#include <cstdint>
#include <vector>

#include "attn/decode/step_model.h"

namespace attn::decode {

struct Hypothesis {
  std::vector<std::int64_t> tokens;  // generated tokens, without the end token
  double log_prob = 0.0;             // Σ log p of the generated tokens, the end token included
  double score = 0.0;                // what the search ranked by (see each search)
  bool finished = false;             // ended with the end token (false: cut at the length limit)
};

// The most probable token at each step (the lowest id among ties). score = log_prob.
std::vector<Hypothesis> greedy(StepModel& model, std::int64_t bos, std::int64_t eos,
                               std::int64_t max_length);
// The same, with each row's first token given (one per row).
std::vector<Hypothesis> greedy(StepModel& model, const std::vector<std::int64_t>& first_tokens,
                               std::int64_t eos, std::int64_t max_length);

// GNMT's length penalty (Wu et al., 2016): lp(Y) = ((5 + |Y|) / 6)^alpha, where |Y| counts
// the generated tokens, the end token included. alpha = 0 ranks by log-probability alone;
// larger alpha favours longer hypotheses.
double length_penalty(std::int64_t length, double alpha);

struct BeamSearchOptions {
  std::int64_t beam_size = 4;
  double length_penalty = 0.6;  // alpha of length_penalty(); hypotheses score log_prob / lp
  std::int64_t n_best = 1;      // hypotheses returned per source, best first; <= beam_size
  std::int64_t max_length = 200;
  std::int64_t bos = 2;
  std::int64_t eos = 3;
  std::vector<std::int64_t> first_tokens;  // one per row, instead of bos (e.g. prompts)
};

// Beam search. Each step ranks, per source, the extensions of its live hypotheses by
// log-probability and takes the best 2·beam_size: an extension by the end token among the
// first beam_size is finished (scored log_prob / lp), the others fill the beam_size live
// hypotheses. A source is done when beam_size hypotheses have finished; at the length limit
// the live ones are added unfinished. Returns, per source, up to n_best hypotheses sorted by
// score (ties: the earlier found first). With beam_size 1 this is greedy decoding.
std::vector<std::vector<Hypothesis>> beam_search(StepModel& model,
                                                 const BeamSearchOptions& options);

struct SamplingOptions {
  double temperature = 1.0;  // divides the log-probabilities; 0 picks the most probable
  std::int64_t top_k = 0;    // keep the k most probable tokens; 0 keeps all
  double top_p = 1.0;        // then the smallest set whose probability reaches top_p
  std::uint64_t seed = 0;
  std::int64_t max_length = 200;
  std::int64_t bos = 2;
  std::int64_t eos = 3;
  std::vector<std::int64_t> first_tokens;  // one per row, instead of bos
};

// Ancestral sampling from the filtered, renormalised distribution. Deterministic for a
// seed: source s at step t draws Philox uniform number t · sources + s of the seed's stream,
// whatever the other rows do. score = log_prob (under the model, before temperature and
// filtering). top_k = 1 (or temperature 0) is greedy decoding.
std::vector<Hypothesis> sample(StepModel& model, const SamplingOptions& options);

}  // namespace attn::decode
