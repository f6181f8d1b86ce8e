// attention's validation: each misuse throws attn::Error naming the op and the offending
// shape, dtype or value.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "attn/ops/attention.h"
#include "support/gradcheck.h"

namespace attn {
namespace {

using ops::AttentionOptions;
using ops::Score;

// Passes when `call` throws attn::Error whose message contains every fragment.
::testing::AssertionResult throws_naming(const std::function<void()>& call,
                                         const std::vector<std::string>& fragments) {
  try {
    call();
  } catch (const Error& error) {
    std::string message = error.what();
    for (const std::string& fragment : fragments) {
      if (message.find(fragment) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "message \"" << message << "\" lacks \"" << fragment << "\"";
      }
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no attn::Error thrown";
}

Tensor random(const Shape& shape, DType dtype = DType::Float32) {
  return testing::random_tensor(shape, 1, -1.0, 1.0, dtype);
}

// B = 2, H = 3, Nq = 4, Nk = 5, d = 6, dv = 7.
struct Fixture : ::testing::Test {
  Tensor q = random({2, 3, 4, 6}), k = random({2, 3, 5, 6}), v = random({2, 3, 5, 7});

  std::function<void()> call(const AttentionOptions& options) {
    return [this, options] { ops::attention(q, k, v, options); };
  }
  std::function<void()> call(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in) {
    return [=] { ops::attention(q_in, k_in, v_in); };
  }
};

using AttentionErrors = Fixture;

TEST_F(AttentionErrors, Ranks) {
  EXPECT_TRUE(throws_naming(call(random({3, 4, 6}), k, v), {"attention", "rank 4", "[3, 4, 6]"}));
  EXPECT_TRUE(throws_naming(call(q, k, random({2, 3, 5})), {"attention", "rank 4", "[2, 3, 5]"}));
}

TEST_F(AttentionErrors, Dtypes) {
  Tensor q64 = random({2, 3, 4, 6}, DType::Float64);
  EXPECT_TRUE(throws_naming(call(q64, k, v), {"attention", "float64", "float32"}));
  EXPECT_TRUE(
      throws_naming(call(q, k, random({2, 3, 5, 7}, DType::Float64)), {"attention", "dtypes"}));
  Tensor integers = Tensor::zeros({2, 3, 4, 6}, DType::Int64);
  EXPECT_TRUE(throws_naming(call(integers, k, v), {"attention", "int64"}));
}

TEST_F(AttentionErrors, Sizes) {
  EXPECT_TRUE(throws_naming(call(q, random({1, 3, 5, 6}), v), {"attention", "batch and heads"}));
  EXPECT_TRUE(throws_naming(call(q, k, random({2, 2, 5, 7})), {"attention", "batch and heads"}));
  EXPECT_TRUE(throws_naming(call(q, k, random({2, 3, 4, 7})),
                            {"attention", "number of keys", "[2, 3, 4, 7]"}));
  EXPECT_TRUE(throws_naming(call(q, random({2, 3, 5, 5}), random({2, 3, 5, 7})),
                            {"attention", "feature size", "[2, 3, 5, 5]"}));
}

TEST_F(AttentionErrors, GeneralParameters) {
  AttentionOptions options;
  options.score = Score::General;
  EXPECT_TRUE(throws_naming(call(options), {"attention", "general", "parameters.w"}));
  options.parameters.w = random({6, 5});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "parameters.w", "[6, 6]", "[6, 5]"}));
  options.parameters.w = random({6, 6}, DType::Float64);
  EXPECT_TRUE(throws_naming(call(options), {"attention", "parameters.w", "float64"}));
}

TEST_F(AttentionErrors, AdditiveParameters) {
  AttentionOptions options;
  options.score = Score::Additive;
  EXPECT_TRUE(throws_naming(call(options), {"attention", "additive", "w_q"}));
  options.parameters.w_q = random({6, 4});
  options.parameters.w_k = random({6, 3});
  options.parameters.v_a = random({4});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "parameters.w_k", "[6, 4]", "[6, 3]"}));
  options.parameters.w_k = random({6, 4});
  options.parameters.v_a = random({4, 1});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "parameters.v_a", "[4]"}));
  options.parameters.v_a = random({4});
  options.parameters.w_q = random({5, 4});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "parameters.w_q", "[6, 4]"}));
}

TEST_F(AttentionErrors, Scales) {
  AttentionOptions options;
  options.parameters.w = random({6, 6});
  options.parameters.w_q = random({6, 4});
  options.parameters.w_k = random({6, 4});
  options.parameters.v_a = random({4});
  for (Score score : {Score::Dot, Score::General, Score::Additive}) {
    options.score = score;
    options.scale = 0.5;
    EXPECT_TRUE(throws_naming(
        call(options), {"attention", std::string(ops::score_name(score)), "takes no scale"}));
  }
  options = {};
  options.score = Score::ScaledDot;
  options.parameters.scale = Tensor::scalar(2.0);
  EXPECT_TRUE(throws_naming(call(options), {"attention", "cosine score only"}));
  options.score = Score::Cosine;
  options.scale = 2.0;
  EXPECT_TRUE(throws_naming(call(options), {"attention", "not both"}));
  options.scale.reset();
  options.parameters.scale = random({2});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "parameters.scale", "scalar", "[2]"}));
}

TEST_F(AttentionErrors, Masks) {
  AttentionOptions options;
  options.mask.allowed = Tensor::ones({4, 4}, DType::Bool);
  EXPECT_TRUE(
      throws_naming(call(options), {"attention", "mask.allowed", "[4, 4]", "[2, 3, 4, 5]"}));
  options.mask.allowed = Tensor::ones({4, 5});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "mask.allowed", "bool", "float32"}));
  options.mask.allowed = Tensor::ones({1, 2, 3, 4, 5}, DType::Bool);
  EXPECT_TRUE(throws_naming(call(options), {"attention", "mask.allowed"}));
  options = {};
  options.mask.bias = Tensor::zeros({3, 1, 1}, DType::Float64);
  EXPECT_TRUE(throws_naming(call(options), {"attention", "mask.bias", "float64"}));
  options.mask.bias = Tensor::zeros({2, 1, 1, 1, 1});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "mask.bias", "[2, 1, 1, 1, 1]"}));
  options = {};
  options.mask.key_padding = Tensor::ones({2, 4}, DType::Bool);
  EXPECT_TRUE(throws_naming(call(options), {"attention", "key_padding", "[2, 5]", "[2, 4]"}));
}

TEST_F(AttentionErrors, KeyLengths) {
  AttentionOptions options;
  options.mask.key_lengths = Tensor::from_list({2}, {5, 3});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "key_lengths", "int64", "float32"}));
  options.mask.key_lengths = Tensor::from_vector<std::int64_t>({3}, {5, 3, 1});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "key_lengths", "[2]"}));
  options.mask.key_lengths = Tensor::from_vector<std::int64_t>({2}, {6, 3});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "key_lengths[0] = 6", "[0, 5]"}));
  options.mask.key_lengths = Tensor::from_vector<std::int64_t>({2}, {5, -1});
  EXPECT_TRUE(throws_naming(call(options), {"attention", "key_lengths[1] = -1"}));
}

TEST_F(AttentionErrors, Dropout) {
  AttentionOptions options;
  for (double p : {-0.1, 1.0, 1.5}) {
    options.dropout = p;
    EXPECT_TRUE(throws_naming(call(options), {"attention", "dropout", "[0, 1)"}));
  }
}

TEST_F(AttentionErrors, WeightsFromLse) {
  AttentionOptions options;
  Tensor lse = ops::attention(q, k, v, options).lse;
  auto weights = [&](const Tensor& lse_in, std::int64_t begin, std::int64_t end,
                     std::vector<std::int64_t> heads) {
    return [=, this] { ops::attention_weights_from_lse(q, k, lse_in, options, begin, end, heads); };
  };
  EXPECT_TRUE(throws_naming(weights(random({2, 3, 5}), 0, 4, {}),
                            {"attention_weights_from_lse", "lse", "[2, 3, 4]", "[2, 3, 5]"}));
  EXPECT_TRUE(throws_naming(weights(lse, 2, 5, {}), {"attention_weights_from_lse", "[2, 5)"}));
  EXPECT_TRUE(throws_naming(weights(lse, 3, 2, {}), {"attention_weights_from_lse", "rows"}));
  EXPECT_TRUE(throws_naming(weights(lse, 0, 4, {0, 3}), {"attention_weights_from_lse", "head 3"}));
}

TEST(AttentionNames, RoundTripAndRejectUnknownNames) {
  for (Score score :
       {Score::Dot, Score::ScaledDot, Score::General, Score::Additive, Score::Cosine}) {
    EXPECT_EQ(ops::parse_score(ops::score_name(score)), score);
  }
  for (auto impl :
       {ops::AttentionImpl::Reference, ops::AttentionImpl::Fused, ops::AttentionImpl::Auto}) {
    EXPECT_EQ(ops::parse_impl(ops::impl_name(impl)), impl);
  }
  EXPECT_EQ(ops::score_name(Score::ScaledDot), "scaled_dot");
  EXPECT_TRUE(
      throws_naming([] { ops::parse_score("bilinear"); }, {"bilinear", "scaled_dot", "cosine"}));
  EXPECT_TRUE(
      throws_naming([] { ops::parse_impl("flash"); }, {"flash", "reference", "fused", "auto"}));
}

}  // namespace
}  // namespace attn
