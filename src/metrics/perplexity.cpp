#include "attn/metrics/perplexity.h"

#include <cmath>
#include <cstdio>
#include <numbers>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"

namespace attn::metrics {
namespace {

void check_nll(const char* operation, double nll) {
  // Each token's NLL is -log p with p <= 1, so a sum below 0 means the input is wrong.
  ATTN_CHECK(std::isfinite(nll) && nll >= 0, operation,
             ": expected a finite negative log-likelihood >= 0 (nats), got ", nll);
}

}  // namespace

double PerplexityResult::bits_per_token() const { return mean_nll / std::numbers::ln2; }

std::string PerplexityResult::to_string() const {
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), "perplexity = %.2f (mean NLL %.4f nats/token over %lld tokens)",
                perplexity, mean_nll, static_cast<long long>(tokens));
  return buffer;
}

std::string PerplexityResult::to_json() const {
  nlohmann::ordered_json json = {{"name", "perplexity"}, {"score", perplexity},
                                 {"mean_nll", mean_nll}, {"total_nll", total_nll},
                                 {"tokens", tokens}};
  return json.dump();
}

PerplexityResult perplexity(double total_nll, std::int64_t tokens) {
  check_nll("perplexity", total_nll);
  ATTN_CHECK(tokens > 0, "perplexity: expected a token count > 0, got ", tokens);
  PerplexityResult result;
  result.total_nll = total_nll;
  result.tokens = tokens;
  result.mean_nll = total_nll / static_cast<double>(tokens);
  result.perplexity = std::exp(result.mean_nll);
  return result;
}

void PerplexityAccumulator::add(double nll_sum, std::int64_t tokens) {
  check_nll("PerplexityAccumulator::add", nll_sum);
  ATTN_CHECK(tokens >= 0, "PerplexityAccumulator::add: expected a token count >= 0, got ", tokens);
  total_nll_ += nll_sum;
  tokens_ += tokens;
}

PerplexityResult PerplexityAccumulator::result() const { return perplexity(total_nll_, tokens_); }

}  // namespace attn::metrics
