// Perplexity of a language model: exp of the mean negative log-likelihood per token,
// from the summed NLL (natural log, nats) and the token count. A model that evaluates in
// batches adds each batch's sum (for instance ops::cross_entropy with Reduction::Sum,
// padding ignored and no label smoothing) and token count to a PerplexityAccumulator.
#pragma once

#include <cstdint>
#include <string>

namespace attn::metrics {

struct PerplexityResult {
  double total_nll = 0;  // summed negative log-likelihood, nats
  std::int64_t tokens = 0;
  double mean_nll = 0;    // total_nll / tokens, nats per token
  double perplexity = 0;  // exp(mean_nll)

  double bits_per_token() const;  // mean_nll / ln 2
  // "perplexity = 12.34 (mean NLL 2.5128 nats/token over 1000 tokens)"
  std::string to_string() const;
  // {"name": "perplexity", "score": ..., "mean_nll": ..., "total_nll": ..., "tokens": ...}
  std::string to_json() const;
};

// Throws attn::Error unless tokens > 0 and total_nll is finite and >= 0.
PerplexityResult perplexity(double total_nll, std::int64_t tokens);

class PerplexityAccumulator {
 public:
  // Adds the summed NLL of `tokens` more tokens; throws attn::Error for a negative token
  // count or an NLL that is negative or not finite.
  void add(double nll_sum, std::int64_t tokens);
  std::int64_t tokens() const { return tokens_; }
  PerplexityResult result() const;  // throws attn::Error before any token was added

 private:
  double total_nll_ = 0;
  std::int64_t tokens_ = 0;
};

}  // namespace attn::metrics
