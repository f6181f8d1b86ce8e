// attention's behaviour beyond the fixtures: fully masked rows, dropout shared by both
// implementations, weights recomputed from the log-sum-exp, the Auto rule, strided inputs,
// and fused against reference on larger random cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "attn/autograd/grad_mode.h"
#include "attn/autograd/node.h"
#include "ops/attention_test_support.h"

namespace attn {
namespace {

using ops::AttentionImpl;
using ops::AttentionOptions;
using ops::AttentionResult;
using ops::Score;
using testing::magnitude;
using testing::max_error;
using testing::random_tensor;

const double kInfinity = std::numeric_limits<double>::infinity();
const Score kScores[] = {Score::Dot, Score::ScaledDot, Score::General, Score::Additive,
                         Score::Cosine};
const AttentionImpl kImpls[] = {AttentionImpl::Reference, AttentionImpl::Fused};

Tensor random_leaf(const Shape& shape, std::uint64_t seed, DType dtype) {
  Tensor tensor = random_tensor(shape, seed, -1.0, 1.0, dtype);
  tensor.set_requires_grad(true);
  return tensor;
}

struct Sizes {
  std::int64_t batch, heads, queries, keys, head_dim, value_dim;
};

struct Inputs {
  Tensor q, k, v;  // leaves
};

Inputs random_inputs(const Sizes& s, DType dtype, std::uint64_t seed = 10) {
  return {random_leaf({s.batch, s.heads, s.queries, s.head_dim}, seed, dtype),
          random_leaf({s.batch, s.heads, s.keys, s.head_dim}, seed + 1, dtype),
          random_leaf({s.batch, s.heads, s.keys, s.value_dim}, seed + 2, dtype)};
}

// Leaves for the score's parameters, with d = head_dim and a = 5.
ops::ScoreParameters random_parameters(Score score, std::int64_t head_dim, DType dtype,
                                       std::uint64_t seed = 20) {
  ops::ScoreParameters parameters;
  if (score == Score::General) parameters.w = random_leaf({head_dim, head_dim}, seed, dtype);
  if (score == Score::Additive) {
    parameters.w_q = random_leaf({head_dim, 5}, seed + 1, dtype);
    parameters.w_k = random_leaf({head_dim, 5}, seed + 2, dtype);
    parameters.v_a = random_leaf({5}, seed + 3, dtype);
  }
  return parameters;
}

std::string label(Score score, AttentionImpl impl) {
  return std::string(ops::score_name(score)) + " " + std::string(ops::impl_name(impl));
}

std::vector<double> batch_values(const Tensor& x, std::int64_t batch) {
  return ops::select(x.detach(), 0, batch).to_vector<double>();
}

bool all_equal(const std::vector<double>& values, double expected) {
  for (double value : values) {
    if (value != expected) return false;
  }
  return true;
}

// ---- fully masked rows ------------------------------------------------------------------

TEST(AttentionFullyMasked, RowsGiveZerosMinusInfinityLseAndZeroGradients) {
  Sizes sizes{2, 2, 3, 5, 4, 3};
  for (AttentionImpl impl : kImpls) {
    for (Score score : kScores) {
      SCOPED_TRACE(label(score, impl));
      Inputs x = random_inputs(sizes, DType::Float32);
      AttentionOptions options;
      options.score = score;
      options.impl = impl;
      options.need_weights = true;
      options.parameters = random_parameters(score, sizes.head_dim, DType::Float32);
      // Batch 1 has no keys at all; batch 0 has every key.
      options.mask.key_lengths = Tensor::from_vector<std::int64_t>({2}, {5, 0});
      AttentionResult result = ops::attention(x.q, x.k, x.v, options);
      result.out.backward(Tensor::ones(result.out.shape()));
      EXPECT_TRUE(all_equal(batch_values(result.out, 1), 0.0));
      EXPECT_TRUE(all_equal(batch_values(result.weights, 1), 0.0));
      EXPECT_TRUE(all_equal(batch_values(result.lse, 1), -kInfinity));
      for (const Tensor& input : {x.q, x.k, x.v}) {
        EXPECT_TRUE(all_equal(batch_values(input.grad(), 1), 0.0));
        EXPECT_TRUE(ops::all_finite(input.grad()));
        EXPECT_FALSE(all_equal(batch_values(input.grad(), 0), 0.0));
      }
      EXPECT_TRUE(ops::all_finite(ops::select(result.lse, 0, 0)));
    }
  }
}

TEST(AttentionFullyMasked, CausalRowsBeforeTheFirstKeyAreEmpty) {
  // Nq = 5 > Nk = 3: aligned to the end, query i sees keys j <= i - 2, so queries 0 and 1
  // see none.
  Sizes sizes{1, 1, 5, 3, 4, 4};
  for (AttentionImpl impl : kImpls) {
    SCOPED_TRACE(ops::impl_name(impl));
    Inputs x = random_inputs(sizes, DType::Float64);
    AttentionOptions options;
    options.impl = impl;
    options.mask.causal = true;
    AttentionResult result = ops::attention(x.q, x.k, x.v, options);
    result.out.backward(Tensor::ones(result.out.shape(), DType::Float64));
    std::vector<double> lse = result.lse.to_vector<double>();
    EXPECT_EQ(lse[0], -kInfinity);
    EXPECT_EQ(lse[1], -kInfinity);
    EXPECT_TRUE(std::isfinite(lse[2]));
    // Query 2 sees key 0 only: its output is v_0 and its lse the single score.
    std::vector<double> out = result.out.detach().to_vector<double>();
    std::vector<double> v = x.v.detach().to_vector<double>();
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(out[2 * 4 + c], v[c], 1e-12);
    std::vector<double> grad_q = x.q.grad().to_vector<double>();
    for (int c = 0; c < 8; ++c) EXPECT_EQ(grad_q[c], 0.0) << c;  // rows 0 and 1
  }
}

// ---- dropout ----------------------------------------------------------------------------

// With v = I (dv = Nk), out = dropped weights, so the dropped elements can be read off.
TEST(AttentionDropout, BothImplementationsDropTheElementsTheGeneratorNames) {
  Sizes sizes{2, 2, 4, 6, 3, 6};
  const double p = 0.4;
  Inputs x = random_inputs(sizes, DType::Float64);
  Tensor identity = Tensor::zeros({1, 1, 6, 6}, DType::Float64);
  for (int j = 0; j < 6; ++j) identity.data<double>()[j * 6 + j] = 1.0;
  Tensor v = ops::expand(identity, {2, 2, 6, 6}).contiguous();
  for (AttentionImpl impl : kImpls) {
    SCOPED_TRACE(ops::impl_name(impl));
    Generator generator(123);
    generator.set_offset(1000);
    AttentionOptions options;
    options.impl = impl;
    options.dropout = p;
    options.training = true;
    options.generator = &generator;
    options.need_weights = true;
    AttentionResult result = ops::attention(x.q, x.k, v, options);
    EXPECT_EQ(generator.offset(), 1000u + 2 * 2 * 4 * 6);
    std::vector<double> out = result.out.to_vector<double>();
    std::vector<double> weights = result.weights.to_vector<double>();
    int dropped = 0;
    for (std::size_t index = 0; index < out.size(); ++index) {
      bool drop = philox_uniform(123, 1000, index) < p;
      dropped += drop;
      double expected = drop ? 0.0 : weights[index] / (1 - p);
      EXPECT_NEAR(out[index], expected, 1e-12) << index;
    }
    EXPECT_GT(dropped, 10);  // 96 Bernoulli(0.4) draws
  }
}

// ---- fused against reference on random cases --------------------------------------------

// One random attention problem; every run of it sees the same inputs, masks and grad_out.
struct Scenario {
  Sizes sizes;
  Score score = Score::ScaledDot;
  bool causal = false, key_lengths = false, key_padding = false, allowed = false, bias = false;
  bool strided = false;  // q, k, v as permuted views of [B, N, H, ·] leaves
  double dropout = 0.0;
};

// A bool tensor of `shape` with about `fraction` true, deterministic in `seed`.
Tensor random_mask(const Shape& shape, std::uint64_t seed, double fraction) {
  Tensor mask = Tensor::empty(shape, DType::Bool);
  for (std::int64_t i = 0; i < mask.numel(); ++i) {
    mask.data<bool>()[i] = philox_uniform(seed, 0, static_cast<std::uint64_t>(i)) < fraction;
  }
  return mask;
}

ops::AttentionMask scenario_mask(const Scenario& s, DType dtype) {
  const Sizes& n = s.sizes;
  ops::AttentionMask mask;
  mask.causal = s.causal;
  if (s.key_lengths) {
    std::vector<std::int64_t> lengths(n.batch);
    for (std::int64_t b = 0; b < n.batch; ++b) lengths[b] = n.keys - (3 * b) % (n.keys + 1);
    mask.key_lengths = Tensor::from_vector<std::int64_t>({n.batch}, lengths);
  }
  if (s.key_padding) mask.key_padding = random_mask({n.batch, n.keys}, 31, 0.8);
  if (s.allowed) mask.allowed = random_mask({n.heads, n.queries, n.keys}, 32, 0.7);
  if (s.bias) mask.bias = random_tensor({n.batch, 1, n.queries, n.keys}, 33, -2.0, 2.0, dtype);
  return mask;
}

// A [B, H, N, f] leaf, or when strided a permuted view of a [B, N, H, f] leaf (returned in
// `leaf` so its gradient can be read).
Tensor maybe_strided(const Shape& shape, std::uint64_t seed, DType dtype, bool strided,
                     Tensor& leaf) {
  if (!strided) return leaf = random_leaf(shape, seed, dtype);
  leaf = random_leaf({shape[0], shape[2], shape[1], shape[3]}, seed, dtype);
  return ops::permute(leaf, {0, 2, 1, 3});
}

testing::TensorsByName run_scenario(const Scenario& s, AttentionImpl impl, DType dtype) {
  const Sizes& n = s.sizes;
  Tensor q_leaf, k_leaf, v_leaf;
  Tensor q = maybe_strided({n.batch, n.heads, n.queries, n.head_dim}, 1, dtype, s.strided, q_leaf);
  Tensor k = maybe_strided({n.batch, n.heads, n.keys, n.head_dim}, 2, dtype, s.strided, k_leaf);
  Tensor v = maybe_strided({n.batch, n.heads, n.keys, n.value_dim}, 3, dtype, s.strided, v_leaf);
  Generator generator(5);
  AttentionOptions options;
  options.score = s.score;
  options.impl = impl;
  options.need_weights = true;
  options.parameters = random_parameters(s.score, n.head_dim, dtype);
  options.mask = scenario_mask(s, dtype);
  options.dropout = s.dropout;
  options.training = s.dropout > 0;
  options.generator = &generator;
  AttentionResult result = ops::attention(q, k, v, options);
  result.out.backward(random_tensor(result.out.shape(), 4, -1.0, 1.0, dtype));
  testing::TensorsByName values{{"out", result.out.detach()}, {"lse", result.lse},
                                {"weights", result.weights},  {"grad_q", q_leaf.grad()},
                                {"grad_k", k_leaf.grad()},    {"grad_v", v_leaf.grad()}};
  const ops::ScoreParameters& parameters = options.parameters;
  for (const auto& [name, parameter] : {std::pair{"grad_w", parameters.w},
                                        {"grad_w_q", parameters.w_q},
                                        {"grad_w_k", parameters.w_k},
                                        {"grad_v_a", parameters.v_a}}) {
    if (parameter.defined()) values[name] = parameter.grad();
  }
  return values;
}

// float64: fused equals reference to rounding. float32: the fused error against the float64
// reference is at most twice the float32 reference's (FlashAttention's rule), plus a floor of
// 32 float32 ulps of the tensor's scale: a score of the fused path is a d-term dot product of
// inputs that General and Additive first project through another d-term product, so its
// rounding differs from the reference's by up to ~2d ulps (d = 16 here), and the weights,
// recomputed as exp(s - lse), carry that error unchanged.
void expect_fused_matches_reference(const Scenario& scenario) {
  testing::TensorsByName exact = run_scenario(scenario, AttentionImpl::Reference, DType::Float64);
  testing::TensorsByName fused64 = run_scenario(scenario, AttentionImpl::Fused, DType::Float64);
  testing::TensorsByName reference32 =
      run_scenario(scenario, AttentionImpl::Reference, DType::Float32);
  testing::TensorsByName fused32 = run_scenario(scenario, AttentionImpl::Fused, DType::Float32);
  for (const auto& [name, expected] : exact) {
    double scale = magnitude(expected);
    EXPECT_LE(max_error(fused64.at(name), expected), 1e-10 * scale) << name;
    double reference_error = max_error(reference32.at(name), expected);
    constexpr double kFloor = 32 * 1.1920929e-7;  // 32 ulps of float32 at 1.0
    EXPECT_LE(max_error(fused32.at(name), expected), 2 * reference_error + kFloor * scale)
        << name << ": reference error " << reference_error;
  }
}

TEST(AttentionFusedAgainstReference, EveryScoreWithEveryMaskAtOnce) {
  for (Score score : kScores) {
    SCOPED_TRACE(ops::score_name(score));
    Scenario scenario{{2, 3, 33, 70, 16, 24}, score};
    scenario.causal = scenario.key_lengths = scenario.key_padding = true;
    scenario.allowed = scenario.bias = true;
    expect_fused_matches_reference(scenario);
  }
}

TEST(AttentionFusedAgainstReference, StridedInputs) {
  for (Score score : kScores) {
    SCOPED_TRACE(ops::score_name(score));
    Scenario scenario{{2, 4, 17, 17, 8, 8}, score};
    scenario.strided = scenario.causal = true;
    expect_fused_matches_reference(scenario);
  }
}

TEST(AttentionFusedAgainstReference, SingleQueryDecoding) {
  Scenario scenario{{1, 2, 1, 129, 24, 24}, Score::ScaledDot};
  scenario.causal = true;
  expect_fused_matches_reference(scenario);
}

TEST(AttentionDropout, ReferenceAndFusedAgreeForTheSameGeneratorState) {
  for (Score score : kScores) {
    SCOPED_TRACE(ops::score_name(score));
    Scenario scenario{{2, 3, 9, 13, 8, 5}, score};
    scenario.causal = scenario.key_padding = true;
    scenario.dropout = 0.25;
    expect_fused_matches_reference(scenario);
  }
}

// ---- weights from the log-sum-exp -------------------------------------------------------

TEST(AttentionWeightsFromLse, EqualTheReferenceWeightsForTheRequestedRowsAndHeads) {
  Sizes sizes{2, 3, 11, 9, 6, 4};
  for (Score score : kScores) {
    SCOPED_TRACE(ops::score_name(score));
    Inputs x = random_inputs(sizes, DType::Float64);
    AttentionOptions options;
    options.score = score;
    options.impl = AttentionImpl::Reference;
    options.need_weights = true;
    options.parameters = random_parameters(score, sizes.head_dim, DType::Float64);
    options.mask =
        scenario_mask(Scenario{sizes, score, true, true, true, true, true}, DType::Float64);
    AttentionResult result = ops::attention(x.q, x.k, x.v, options);
    Tensor weights = ops::attention_weights_from_lse(x.q, x.k, result.lse, options, 3, 8, {2, 0});
    // [B, {2, 0}, rows 3..7, Nk]
    Tensor expected = ops::slice(result.weights, 2, 3, 8);
    expected = ops::cat({ops::slice(expected, 1, 2, 3), ops::slice(expected, 1, 0, 1)}, 1);
    EXPECT_LE(max_error(weights, expected), 1e-12);
    Tensor all = ops::attention_weights_from_lse(x.q, x.k, result.lse, options, 0, 11);
    EXPECT_LE(max_error(all, result.weights), 1e-12);
    EXPECT_FALSE(all.requires_grad());
  }
}

TEST(AttentionWeightsFromLse, FusedNeedWeightsMatchReference) {
  Scenario scenario{{1, 2, 6, 10, 4, 4}, Score::Additive};
  scenario.causal = scenario.bias = true;
  testing::TensorsByName reference =
      run_scenario(scenario, AttentionImpl::Reference, DType::Float64);
  testing::TensorsByName fused = run_scenario(scenario, AttentionImpl::Fused, DType::Float64);
  EXPECT_LE(max_error(fused.at("weights"), reference.at("weights")), 1e-12);
}

// ---- the Auto rule and grad mode ----------------------------------------------------------

std::string node_name(const Tensor& out) { return out.grad_fn() ? out.grad_fn()->name : "none"; }

TEST(AttentionAuto, PicksFusedForSmallAndLargeProblems) {
  for (std::int64_t keys : {1, 8, 63, 64, 300}) {
    Inputs x = random_inputs({1, 1, 8, keys, 4, 4}, DType::Float32);
    EXPECT_EQ(node_name(ops::attention(x.q, x.k, x.v).out), "attention_fused") << keys;
  }
  ops::AttentionOptions options;
  options.score = Score::Additive;
  options.parameters = random_parameters(Score::Additive, 4, DType::Float32);
  Inputs x = random_inputs({2, 1, 1, 5, 4, 4}, DType::Float32);
  EXPECT_EQ(node_name(ops::attention(x.q, x.k, x.v, options).out), "attention_fused");
}

TEST(AttentionAuto, PicksReferenceWhenAsked) {
  Inputs x = random_inputs({1, 1, 8, 64, 4, 4}, DType::Float32);
  ops::AttentionOptions options;
  options.impl = AttentionImpl::Reference;
  EXPECT_NE(node_name(ops::attention(x.q, x.k, x.v, options).out), "attention_fused");
}

TEST(AttentionAuto, PicksReferenceWhenTheBiasNeedsAGradient) {
  Inputs x = random_inputs({1, 1, 8, 64, 4, 4}, DType::Float32);
  ops::AttentionOptions options;
  options.mask.bias = random_leaf({8, 64}, 7, DType::Float32);
  ops::attention(x.q, x.k, x.v, options).out.backward(Tensor::ones({1, 1, 8, 4}));
  EXPECT_TRUE(options.mask.bias.grad().defined());
  options.impl = AttentionImpl::Fused;
  EXPECT_THROW(ops::attention(x.q, x.k, x.v, options), Error);
}

TEST(AttentionGradMode, NoHistoryWithoutGradients) {
  Inputs x = random_inputs({1, 2, 3, 4, 5, 6}, DType::Float32);
  for (AttentionImpl impl : kImpls) {
    NoGradGuard no_grad;
    AttentionOptions options;
    options.impl = impl;
    AttentionResult result = ops::attention(x.q, x.k, x.v, options);
    EXPECT_FALSE(result.out.requires_grad());
    EXPECT_FALSE(result.weights.defined());
    EXPECT_EQ(result.lse.shape(), Shape({1, 2, 3}));
  }
}

// ---- cosine numerics ----------------------------------------------------------------------

TEST(AttentionCosine, ZeroRowsStayFinite) {
  for (AttentionImpl impl : kImpls) {
    SCOPED_TRACE(ops::impl_name(impl));
    Tensor q = Tensor::zeros({1, 1, 2, 3}, DType::Float64);
    q.set_requires_grad(true);
    Tensor k = random_leaf({1, 1, 4, 3}, 3, DType::Float64);
    Tensor v = random_leaf({1, 1, 4, 2}, 4, DType::Float64);
    AttentionOptions options;
    options.score = Score::Cosine;
    options.impl = impl;
    AttentionResult result = ops::attention(q, k, v, options);
    result.out.backward(Tensor::ones({1, 1, 2, 2}, DType::Float64));
    // A zero query has cosine 0 with every key: uniform weights.
    std::vector<double> out = result.out.detach().to_vector<double>();
    std::vector<double> values = v.detach().to_vector<double>();
    double mean = (values[0] + values[2] + values[4] + values[6]) / 4;
    EXPECT_NEAR(out[0], mean, 1e-12);
    EXPECT_TRUE(ops::all_finite(q.grad()));
    EXPECT_TRUE(ops::all_finite(k.grad()));
  }
}

}  // namespace
}  // namespace attn
