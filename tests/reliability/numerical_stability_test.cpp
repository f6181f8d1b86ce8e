// fp32 softmax, log-softmax, log-sum-exp (through cross-entropy and the attention op's lse)
// and attention itself with logits of magnitude around 1e4, where a naive exp overflows
// (exp(89) is already infinite in fp32). Every result must be finite and agree with the same
// computation done in float64 on the same (exactly representable) inputs.
//
// Tolerances: the outputs of softmax and attention are O(1), so 1e-5 absolute; log-softmax,
// log-sum-exp and losses are O(1e4), where one fp32 ulp is about 1e-3, so a few ulps of the
// largest input (4 · 2^-23 · max|x|).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "attn/ops/attention.h"
#include "attn/ops/functional.h"
#include "attn/ops/ops.h"

namespace attn {
namespace {

constexpr std::int64_t kColumns = 37;  // beyond several SIMD widths, with a tail

// Rows of logits in fp32 around ±1e4: spread out, nearly tied at the top, all equal, all
// negative, and mixed with -inf (masked) entries.
std::vector<float> large_logits(std::int64_t rows) {
  std::mt19937 engine(11);
  std::uniform_real_distribution<float> spread(-1e4f, 1e4f);
  std::vector<float> values;
  for (std::int64_t row = 0; row < rows; ++row) {
    for (std::int64_t col = 0; col < kColumns; ++col) {
      float value = spread(engine);
      switch (row % 5) {
        case 1: value = 1e4f - static_cast<float>(col % 4); break;      // near ties at the top
        case 2: value = 1e4f; break;                                     // all equal
        case 3: value = -1e4f - static_cast<float>(col); break;          // all very negative
        case 4: if (col % 3 == 0) value = -INFINITY; break;              // masked entries
        default: break;
      }
      values.push_back(value);
    }
  }
  return values;
}

double max_abs_finite(const std::vector<float>& values) {
  double largest = 0;
  for (float value : values) {
    if (std::isfinite(value)) largest = std::max(largest, std::abs(static_cast<double>(value)));
  }
  return largest;
}

double ulps_of(double magnitude, double ulps) {
  return ulps * magnitude * std::numeric_limits<float>::epsilon();
}

// log Σ exp(x_j) of one row, in float64.
double log_sum_exp(const float* row, std::int64_t count) {
  double largest = -INFINITY;
  for (std::int64_t j = 0; j < count; ++j) largest = std::max(largest, static_cast<double>(row[j]));
  if (std::isinf(largest) && largest < 0) return largest;
  double sum = 0;
  for (std::int64_t j = 0; j < count; ++j) sum += std::exp(static_cast<double>(row[j]) - largest);
  return largest + std::log(sum);
}

TEST(NumericalStability, SoftmaxOfLogitsAround1e4IsFiniteAndMatchesFloat64) {
  const std::int64_t rows = 10;
  std::vector<float> logits = large_logits(rows);
  Tensor x = Tensor::from_vector<float>({rows, kColumns}, logits);
  std::vector<float> probabilities = ops::softmax(x, -1).to_vector<float>();
  for (std::int64_t row = 0; row < rows; ++row) {
    const float* in = logits.data() + row * kColumns;
    double lse = log_sum_exp(in, kColumns);
    double total = 0;
    for (std::int64_t col = 0; col < kColumns; ++col) {
      float p = probabilities[static_cast<std::size_t>(row * kColumns + col)];
      ASSERT_TRUE(std::isfinite(p)) << "row " << row << " col " << col;
      EXPECT_NEAR(p, std::exp(static_cast<double>(in[col]) - lse), 1e-5) << row << "," << col;
      total += p;
    }
    EXPECT_NEAR(total, 1.0, 1e-5) << "row " << row;
  }
}

TEST(NumericalStability, LogSoftmaxOfLogitsAround1e4IsFiniteAndMatchesFloat64) {
  const std::int64_t rows = 10;
  std::vector<float> logits = large_logits(rows);
  Tensor x = Tensor::from_vector<float>({rows, kColumns}, logits);
  std::vector<float> log_probabilities = ops::log_softmax(x, -1).to_vector<float>();
  const double tolerance = ulps_of(2 * max_abs_finite(logits), 4);
  for (std::int64_t row = 0; row < rows; ++row) {
    const float* in = logits.data() + row * kColumns;
    double lse = log_sum_exp(in, kColumns);
    for (std::int64_t col = 0; col < kColumns; ++col) {
      float value = log_probabilities[static_cast<std::size_t>(row * kColumns + col)];
      if (std::isinf(in[col])) {  // a masked entry has probability 0
        EXPECT_EQ(value, -INFINITY);
        continue;
      }
      ASSERT_TRUE(std::isfinite(value)) << "row " << row << " col " << col;
      EXPECT_NEAR(value, static_cast<double>(in[col]) - lse, tolerance) << row << "," << col;
    }
  }
}

TEST(NumericalStability, CrossEntropyAndItsGradientStayFiniteForLogitsAround1e4) {
  const std::int64_t rows = 8;  // no fully masked row: every target has a finite logit
  std::vector<float> logits = large_logits(rows);
  for (float& value : logits) {
    if (std::isinf(value)) value = -1e4f;
  }
  std::vector<std::int64_t> targets;
  for (std::int64_t row = 0; row < rows; ++row) targets.push_back((row * 7 + 3) % kColumns);
  Tensor x = Tensor::from_vector<float>({rows, kColumns}, logits);
  x.set_requires_grad(true);
  Tensor y = Tensor::from_vector<std::int64_t>({rows}, targets);
  ops::CrossEntropyOptions options;
  options.reduction = ops::Reduction::Sum;
  Tensor loss = ops::cross_entropy(x, y, options);

  // The loss is Σ (lse_i - x_i,t): log-sum-exp in float64 as the reference.
  double expected = 0;
  for (std::int64_t row = 0; row < rows; ++row) {
    const float* in = logits.data() + row * kColumns;
    expected += log_sum_exp(in, kColumns) - in[targets[static_cast<std::size_t>(row)]];
  }
  double value = loss.item<double>();
  ASSERT_TRUE(std::isfinite(value));
  EXPECT_NEAR(value, expected, ulps_of(rows * 2 * max_abs_finite(logits), 4));

  loss.backward();
  std::vector<float> gradient = x.grad().to_vector<float>();
  for (std::int64_t row = 0; row < rows; ++row) {
    const float* in = logits.data() + row * kColumns;
    double lse = log_sum_exp(in, kColumns);
    for (std::int64_t col = 0; col < kColumns; ++col) {
      double softmax = std::exp(static_cast<double>(in[col]) - lse);
      double expected_gradient = softmax - (col == targets[static_cast<std::size_t>(row)]);
      float actual = gradient[static_cast<std::size_t>(row * kColumns + col)];
      ASSERT_TRUE(std::isfinite(actual));
      EXPECT_NEAR(actual, expected_gradient, 1e-5) << row << "," << col;
    }
  }
}

// Attention with scores of magnitude up to ~3e4. Integer q and k entries keep every score
// exact in fp32 (< 2^24), so the float64 reference sees the same scores.
struct LargeScoreAttention {
  static constexpr std::int64_t B = 2, H = 2, Nq = 9, Nk = 21, d = 4, dv = 5;
  std::vector<float> q, k, v;

  LargeScoreAttention() {
    std::mt19937 engine(5);
    std::uniform_int_distribution<int> integer(-90, 90);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    for (std::int64_t i = 0; i < B * H * Nq * d; ++i) q.push_back(static_cast<float>(integer(engine)));
    for (std::int64_t i = 0; i < B * H * Nk * d; ++i) k.push_back(static_cast<float>(integer(engine)));
    for (std::int64_t i = 0; i < B * H * Nk * dv; ++i) v.push_back(unit(engine));
  }

  Tensor tensor(const std::vector<float>& values, std::int64_t rows, std::int64_t cols) const {
    return Tensor::from_vector<float>({B, H, rows, cols}, values);
  }

  // out [B, H, Nq, dv] and lse [B, H, Nq] in float64, scores scaled by `scale`, causal
  // aligned to the end when asked.
  void reference(double scale, bool causal, std::vector<double>& out, std::vector<double>& lse) const {
    out.assign(B * H * Nq * dv, 0.0);
    lse.assign(B * H * Nq, 0.0);
    for (std::int64_t bh = 0; bh < B * H; ++bh) {
      for (std::int64_t i = 0; i < Nq; ++i) {
        std::vector<double> scores(Nk, -INFINITY);
        double largest = -INFINITY;
        for (std::int64_t j = 0; j < Nk; ++j) {
          if (causal && j > i + (Nk - Nq)) continue;
          double dot = 0;
          for (std::int64_t c = 0; c < d; ++c) dot += double(q[(bh * Nq + i) * d + c]) * k[(bh * Nk + j) * d + c];
          scores[j] = scale * dot;
          largest = std::max(largest, scores[j]);
        }
        double sum = 0;
        for (double score : scores) sum += std::exp(score - largest);
        lse[bh * Nq + i] = largest + std::log(sum);
        for (std::int64_t j = 0; j < Nk; ++j) {
          double weight = std::exp(scores[j] - lse[bh * Nq + i]);
          for (std::int64_t c = 0; c < dv; ++c) out[(bh * Nq + i) * dv + c] += weight * v[(bh * Nk + j) * dv + c];
        }
      }
    }
  }
};

void expect_attention_matches_float64(ops::Score score, bool causal, ops::AttentionImpl impl) {
  LargeScoreAttention problem;
  Tensor q = problem.tensor(problem.q, problem.Nq, problem.d);
  Tensor k = problem.tensor(problem.k, problem.Nk, problem.d);
  Tensor v = problem.tensor(problem.v, problem.Nk, problem.dv);
  for (Tensor* input : {&q, &k, &v}) input->set_requires_grad(true);
  ops::AttentionOptions options;
  options.score = score;
  options.mask.causal = causal;
  options.impl = impl;
  ops::AttentionResult result = ops::attention(q, k, v, options);
  double scale = score == ops::Score::ScaledDot ? 0.5 : 1.0;  // 1/√d with d = 4

  std::vector<double> expected_out, expected_lse;
  problem.reference(scale, causal, expected_out, expected_lse);
  std::vector<float> out = result.out.to_vector<float>();
  std::vector<float> lse = result.lse.to_vector<float>();
  ASSERT_EQ(out.size(), expected_out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out[i])) << i;
    EXPECT_NEAR(out[i], expected_out[i], 1e-5) << "out " << i;
  }
  double largest_lse = 0;
  for (double value : expected_lse) largest_lse = std::max(largest_lse, std::abs(value));
  ASSERT_GT(largest_lse, 5e3);  // the scores really are large
  for (std::size_t i = 0; i < lse.size(); ++i) {
    ASSERT_TRUE(std::isfinite(lse[i])) << i;
    EXPECT_NEAR(lse[i], expected_lse[i], ulps_of(largest_lse, 4)) << "lse " << i;
  }

  ops::sum(ops::mul(result.out, result.out)).backward();
  for (Tensor* input : {&q, &k, &v}) {
    for (float value : input->grad().to_vector<float>()) ASSERT_TRUE(std::isfinite(value));
  }
}

TEST(NumericalStability, ReferenceAttentionWithScoresAround1e4MatchesFloat64) {
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "unmasked");
    expect_attention_matches_float64(ops::Score::Dot, causal, ops::AttentionImpl::Reference);
    expect_attention_matches_float64(ops::Score::ScaledDot, causal, ops::AttentionImpl::Reference);
  }
}

TEST(NumericalStability, FusedAttentionWithScoresAround1e4MatchesFloat64) {
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "unmasked");
    expect_attention_matches_float64(ops::Score::Dot, causal, ops::AttentionImpl::Fused);
    expect_attention_matches_float64(ops::Score::ScaledDot, causal, ops::AttentionImpl::Fused);
  }
}

}  // namespace
}  // namespace attn
