#include "attn/decode/search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <vector>

#include "attn/core/random.h"
#include "attn/models/language_model.h"
#include "attn/models/transformer.h"
#include "attn/ops/elementwise.h"
#include "nn/nn_test_support.h"

namespace attn::decode {
namespace {

using attn::testing::throws_error_with;
using Tokens = std::vector<std::int64_t>;

constexpr std::int64_t kBos = 2;
constexpr std::int64_t kEos = 3;

// A StepModel whose next-token distribution is a function of (source, tokens so far): each
// row carries its history, and select() moves histories the way a real model moves caches.
// It records the number of rows at every step.
class ScriptedModel : public StepModel {
 public:
  using Distribution = std::function<std::vector<double>(std::int64_t source, const Tokens&)>;

  ScriptedModel(std::int64_t sources, std::int64_t vocab_size, Distribution distribution,
                std::int64_t max_length = 0)
      : vocab_size_(vocab_size), distribution_(std::move(distribution)), max_length_(max_length) {
    for (std::int64_t s = 0; s < sources; ++s) rows_.push_back({s, {}});
  }

  std::int64_t num_rows() const override { return static_cast<std::int64_t>(rows_.size()); }
  std::int64_t max_length() const override { return max_length_; }

  Tensor next_log_probs(const Tokens& last_tokens) override {
    EXPECT_EQ(last_tokens.size(), rows_.size());
    rows_per_step.push_back(num_rows());
    std::vector<float> values;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      rows_[i].history.push_back(last_tokens[i]);
      std::vector<double> probabilities = distribution_(rows_[i].source, rows_[i].history);
      EXPECT_EQ(static_cast<std::int64_t>(probabilities.size()), vocab_size_);
      for (double p : probabilities) values.push_back(static_cast<float>(std::log(p)));
    }
    return Tensor::from_vector<float>({num_rows(), vocab_size_}, values);
  }

  void select(const Tokens& rows) override {
    std::vector<Row> kept;
    for (std::int64_t row : rows) kept.push_back(rows_.at(row));
    rows_ = std::move(kept);
  }

  std::vector<std::int64_t> rows_per_step;

 private:
  struct Row {
    std::int64_t source;
    Tokens history;  // every token fed, the first one included
  };
  std::int64_t vocab_size_;
  Distribution distribution_;
  std::int64_t max_length_;
  std::vector<Row> rows_;
};

// Vocabulary {0 unused, 1 "a", 2 <s>, 3 </s>, 4 "b"}. Greedy takes "a" (0.6) then must end
// (0.4): p = 0.24. The best sequence starts with the less likely "b" (0.4), then ends
// (0.9): p = 0.36.
std::vector<double> garden_path(std::int64_t, const Tokens& history) {
  const double tiny = 1e-6;
  if (history.size() == 1) return {tiny, 0.6, tiny, tiny, 0.4 - 3 * tiny};
  if (history.back() == 1) return {tiny, 0.3, tiny, 0.4, 0.3 - 3 * tiny};
  if (history.back() == 4) return {tiny, 0.05, tiny, 0.9, 0.05 - 3 * tiny};
  return {tiny, tiny, tiny, 1.0 - 4 * tiny, tiny};
}

TEST(Greedy, TakesTheMostProbableTokenAndStopsAtTheEnd) {
  ScriptedModel model(1, 5, garden_path);
  std::vector<Hypothesis> result = greedy(model, kBos, kEos, 10);
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].tokens, (Tokens{1}));
  EXPECT_TRUE(result[0].finished);
  EXPECT_NEAR(result[0].log_prob, std::log(0.6 * 0.4), 1e-6);
  EXPECT_DOUBLE_EQ(result[0].score, result[0].log_prob);
}

TEST(BeamSearch, FindsTheSequenceGreedyMisses) {
  ScriptedModel model(1, 5, garden_path);
  BeamSearchOptions options;
  options.beam_size = 2;
  options.length_penalty = 0.0;
  options.n_best = 2;
  std::vector<std::vector<Hypothesis>> result = beam_search(model, options);
  ASSERT_EQ(result.size(), 1u);
  ASSERT_EQ(result[0].size(), 2u);
  EXPECT_EQ(result[0][0].tokens, (Tokens{4}));
  EXPECT_NEAR(result[0][0].log_prob, std::log(0.4 * 0.9), 1e-5);
  EXPECT_EQ(result[0][1].tokens, (Tokens{1}));
  EXPECT_NEAR(result[0][1].log_prob, std::log(0.6 * 0.4), 1e-5);
  EXPECT_GT(result[0][0].score, result[0][1].score);
}

// A source-dependent distribution over 8 tokens, ending after a few steps: source s
// prefers token 4 + (s + step) % 4 and the end token grows likelier with length.
std::vector<double> drifting(std::int64_t source, const Tokens& history) {
  const auto step = static_cast<std::int64_t>(history.size()) - 1;
  std::vector<double> weights(8, 0.02);
  weights[4 + (source + step + history.back()) % 4] = 0.5;
  weights[5 + (source * 3 + step) % 3] += 0.2;
  weights[kEos] = 0.04 * static_cast<double>(step * step + source);
  double total = 0.0;
  for (double w : weights) total += w;
  for (double& w : weights) w /= total;
  return weights;
}

TEST(BeamSearch, BeamSizeOneEqualsGreedy) {
  ScriptedModel greedy_model(5, 8, drifting);
  std::vector<Hypothesis> expected = greedy(greedy_model, kBos, kEos, 12);
  ScriptedModel beam_model(5, 8, drifting);
  BeamSearchOptions options;
  options.beam_size = 1;
  options.max_length = 12;
  std::vector<std::vector<Hypothesis>> result = beam_search(beam_model, options);
  ASSERT_EQ(result.size(), expected.size());
  for (std::size_t s = 0; s < expected.size(); ++s) {
    ASSERT_EQ(result[s].size(), 1u);
    EXPECT_EQ(result[s][0].tokens, expected[s].tokens) << "source " << s;
    EXPECT_EQ(result[s][0].log_prob, expected[s].log_prob);
    EXPECT_EQ(result[s][0].finished, expected[s].finished);
  }
  EXPECT_EQ(beam_model.rows_per_step, greedy_model.rows_per_step);
}

TEST(BeamSearch, RowsGrowToTheBeamAndShrinkAsSourcesFinish) {
  ScriptedModel model(3, 8, drifting);
  BeamSearchOptions options;
  options.beam_size = 3;
  options.n_best = 3;
  options.max_length = 30;
  std::vector<std::vector<Hypothesis>> result = beam_search(model, options);
  ASSERT_GE(model.rows_per_step.size(), 3u);
  EXPECT_EQ(model.rows_per_step[0], 3);  // one row per source
  EXPECT_EQ(model.rows_per_step[1], 9);  // beam_size rows per source
  EXPECT_LT(model.rows_per_step.back(), 9);
  for (const std::vector<Hypothesis>& n_best : result) {
    ASSERT_EQ(n_best.size(), 3u);
    for (std::size_t i = 0; i + 1 < n_best.size(); ++i)
      EXPECT_GE(n_best[i].score, n_best[i + 1].score);
    for (const Hypothesis& hypothesis : n_best) {
      EXPECT_TRUE(hypothesis.finished);
      const auto length = static_cast<std::int64_t>(hypothesis.tokens.size()) + 1;
      EXPECT_NEAR(hypothesis.score,
                  hypothesis.log_prob / length_penalty(length, options.length_penalty), 1e-12);
    }
  }
}

TEST(BeamSearch, LengthLimitKeepsUnfinishedHypotheses) {
  auto never_ends = [](std::int64_t, const Tokens&) {
    return std::vector<double>{0.1, 0.1, 0.1, 0.05, 0.65};
  };
  ScriptedModel model(2, 5, never_ends, /*max_length=*/4);
  BeamSearchOptions options;
  options.beam_size = 2;
  options.n_best = 2;
  options.max_length = 10;  // the model's own limit (4) is smaller
  std::vector<std::vector<Hypothesis>> result = beam_search(model, options);
  EXPECT_EQ(model.rows_per_step.size(), 4u);
  ASSERT_EQ(result[0].size(), 2u);
  EXPECT_FALSE(result[0][0].finished);
  EXPECT_EQ(result[0][0].tokens, (Tokens{4, 4, 4, 4}));
  EXPECT_NEAR(result[0][0].score, result[0][0].log_prob / length_penalty(4, 0.6), 1e-12);
}

TEST(LengthPenalty, IsGnmtsFormula) {
  EXPECT_DOUBLE_EQ(length_penalty(1, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(length_penalty(1, 0.6), 1.0);  // (5 + 1) / 6 = 1
  EXPECT_NEAR(length_penalty(7, 0.6), std::pow(2.0, 0.6), 1e-15);
  EXPECT_NEAR(length_penalty(13, 1.0), 3.0, 1e-15);
}

TEST(Greedy, FinishedRowsLeaveTheModel) {
  // Source s ends after s + 1 tokens.
  auto staggered = [](std::int64_t source, const Tokens& history) {
    std::vector<double> p{0.01, 0.01, 0.01, 0.01, 0.6, 0.12, 0.12, 0.12};
    if (static_cast<std::int64_t>(history.size()) == source + 2) std::swap(p[kEos], p[4]);
    return p;
  };
  ScriptedModel model(4, 8, staggered);
  std::vector<Hypothesis> result = greedy(model, kBos, kEos, 20);
  for (std::size_t i = 0; i + 1 < model.rows_per_step.size(); ++i) {
    EXPECT_GE(model.rows_per_step[i], model.rows_per_step[i + 1]);
  }
  EXPECT_EQ(model.rows_per_step, (std::vector<std::int64_t>{4, 4, 3, 2, 1}));
  for (std::size_t s = 0; s < result.size(); ++s) {
    EXPECT_TRUE(result[s].finished);
    EXPECT_EQ(result[s].tokens, Tokens(s + 1, 4));
  }
}

TEST(Sampling, TopKOneAndZeroTemperatureEqualGreedy) {
  ScriptedModel greedy_model(5, 8, drifting);
  std::vector<Hypothesis> expected = greedy(greedy_model, kBos, kEos, 15);
  for (int variant = 0; variant < 2; ++variant) {
    ScriptedModel model(5, 8, drifting);
    SamplingOptions options;
    options.seed = 77;
    options.max_length = 15;
    if (variant == 0) options.top_k = 1;
    if (variant == 1) options.temperature = 0.0;
    std::vector<Hypothesis> result = sample(model, options);
    for (std::size_t s = 0; s < expected.size(); ++s) {
      EXPECT_EQ(result[s].tokens, expected[s].tokens) << "variant " << variant;
      EXPECT_EQ(result[s].log_prob, expected[s].log_prob);
    }
  }
}

TEST(Sampling, SameSeedSameOutputOtherSeedOtherOutput) {
  auto run = [](std::uint64_t seed) {
    ScriptedModel model(6, 8, drifting);
    SamplingOptions options;
    options.seed = seed;
    options.temperature = 1.5;
    std::vector<Tokens> outputs;
    for (const Hypothesis& hypothesis : sample(model, options))
      outputs.push_back(hypothesis.tokens);
    return outputs;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

// Frequencies from many one-step draws follow the filtered distribution. The draws are a
// fixed Philox stream, so the counts are deterministic; the bounds are ~4 standard errors.
TEST(Sampling, FrequenciesFollowTopKAndTopP) {
  const std::vector<double> probabilities{0.0, 0.0, 0.0, 0.1, 0.4, 0.25, 0.15, 0.1};
  auto count_first_tokens = [&](const SamplingOptions& options) {
    ScriptedModel model(4000, 8, [&](std::int64_t, const Tokens&) {
      std::vector<double> p = probabilities;
      for (double& value : p) value = std::max(value, 1e-12);
      return p;
    });
    std::map<std::int64_t, int> counts;
    for (const Hypothesis& hypothesis : sample(model, options)) {
      counts[hypothesis.tokens.empty() ? kEos : hypothesis.tokens[0]]++;
    }
    return counts;
  };
  SamplingOptions plain;
  plain.max_length = 1;
  std::map<std::int64_t, int> counts = count_first_tokens(plain);
  EXPECT_NEAR(counts[4] / 4000.0, 0.4, 0.03);
  EXPECT_NEAR(counts[6] / 4000.0, 0.15, 0.025);

  SamplingOptions top_k = plain;
  top_k.top_k = 2;  // tokens 4 and 5, renormalised: 0.4 / 0.65 and 0.25 / 0.65
  counts = count_first_tokens(top_k);
  EXPECT_EQ(counts[4] + counts[5], 4000);
  EXPECT_NEAR(counts[4] / 4000.0, 0.4 / 0.65, 0.03);

  SamplingOptions top_p = plain;
  top_p.top_p = 0.75;  // 0.4 + 0.25 = 0.65 < 0.75, so the nucleus is {4, 5, 6}
  counts = count_first_tokens(top_p);
  EXPECT_EQ(counts[4] + counts[5] + counts[6], 4000);
  EXPECT_NEAR(counts[6] / 4000.0, 0.15 / 0.8, 0.03);

  SamplingOptions cold = plain;
  cold.temperature = 0.5;  // p^2 renormalised: 0.16 / 0.2675 for token 4
  counts = count_first_tokens(cold);
  EXPECT_NEAR(counts[4] / 4000.0, 0.16 / 0.2675, 0.03);
}

TEST(Search, BadOptionsAreErrors) {
  ScriptedModel model(2, 5, garden_path);
  BeamSearchOptions beam;
  beam.beam_size = 0;
  EXPECT_TRUE(throws_error_with([&] { beam_search(model, beam); }, {"beam_size >= 1"}));
  beam.beam_size = 2;
  beam.n_best = 3;
  EXPECT_TRUE(
      throws_error_with([&] { beam_search(model, beam); }, {"n_best in [1, beam_size = 2]"}));
  beam.n_best = 1;
  beam.first_tokens = {2};
  EXPECT_TRUE(
      throws_error_with([&] { beam_search(model, beam); }, {"one first token per row (2)"}));
  SamplingOptions sampling;
  sampling.top_p = 0.0;
  EXPECT_TRUE(throws_error_with([&] { sample(model, sampling); }, {"top_p in (0, 1]"}));
  sampling.top_p = 1.0;
  sampling.temperature = -1.0;
  EXPECT_TRUE(throws_error_with([&] { sample(model, sampling); }, {"non-negative temperature"}));
  EXPECT_TRUE(throws_error_with([&] { greedy(model, kBos, kEos, -1); }, {"max_length"}));
  EXPECT_TRUE(throws_error_with(
      [&] {
        greedy(model, Tokens{2, 2, 2}, kEos, 5);
      },
      {"one first token per row (2)"}));
}

// ---- over real models --------------------------------------------------------------------------

models::TransformerOptions tiny_transformer() {
  models::TransformerOptions options;
  options.source_vocab_size = 15;
  options.target_vocab_size = 15;
  options.d_model = 16;
  options.num_heads = 2;
  options.d_ff = 32;
  options.encoder_layers = 1;
  options.decoder_layers = 2;
  options.max_length = 20;
  return options;
}

TEST(Search, BeamSizeOneEqualsGreedyOnATransformer) {
  manual_seed(21);
  models::Transformer model(tiny_transformer());
  model.eval();
  Tensor source = Tensor::from_vector<std::int64_t>({3, 4}, {4, 5, 6, 7, 8, 9, 0, 0, 10, 0, 0, 0});
  Tensor padding = ops::eq(source, Tensor::zeros({}, DType::Int64));
  auto greedy_steps = model.start_decoding(source, padding);
  std::vector<Hypothesis> expected = greedy(*greedy_steps, kBos, kEos, 12);
  auto beam_steps = model.start_decoding(source, padding);
  BeamSearchOptions options;
  options.beam_size = 1;
  options.max_length = 12;
  std::vector<std::vector<Hypothesis>> result = beam_search(*beam_steps, options);
  for (std::size_t s = 0; s < expected.size(); ++s) {
    EXPECT_EQ(result[s][0].tokens, expected[s].tokens);
    EXPECT_EQ(result[s][0].log_prob, expected[s].log_prob);
  }
  // A wider beam never ranks its best below greedy's hypothesis when alpha = 0.
  auto wide_steps = model.start_decoding(source, padding);
  options.beam_size = 4;
  options.length_penalty = 0.0;
  result = beam_search(*wide_steps, options);
  for (std::size_t s = 0; s < expected.size(); ++s) {
    if (expected[s].finished) EXPECT_GE(result[s][0].score, expected[s].log_prob - 1e-6);
  }
}

TEST(Search, LanguageModelGenerationFromPrompts) {
  manual_seed(22);
  models::LanguageModelOptions options;
  options.vocab_size = 15;
  options.d_model = 16;
  options.num_heads = 2;
  options.d_ff = 32;
  options.num_layers = 1;
  options.max_length = 10;
  models::TransformerLanguageModel model(options);
  model.eval();
  const std::vector<std::vector<std::int64_t>> prompts{{2, 5, 6}, {2}};
  auto greedy_steps = model.start_generation(prompts);
  std::vector<Hypothesis> expected = greedy(*greedy_steps, greedy_steps->first_tokens(), kEos, 100);
  auto sample_steps = model.start_generation(prompts);
  SamplingOptions sampling;
  sampling.top_k = 1;
  sampling.first_tokens = sample_steps->first_tokens();
  sampling.max_length = 100;
  std::vector<Hypothesis> sampled = sample(*sample_steps, sampling);
  for (std::size_t s = 0; s < prompts.size(); ++s) {
    EXPECT_EQ(sampled[s].tokens, expected[s].tokens);
    // The positions table bounds generation: 10 positions, the longest prompt uses 2.
    EXPECT_LE(expected[s].tokens.size(), 8u);
  }
}

}  // namespace
}  // namespace attn::decode
