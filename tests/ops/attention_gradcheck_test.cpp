// Finite-difference gradient checks in double of attention's out with respect to q, k, v and
// every score parameter, for each score function through both implementations, with masks
// (a fully masked row included), a gradient-carrying bias, and dropout.
#include <gtest/gtest.h>

#include <tuple>

#include "ops/attention_test_support.h"

namespace attn {
namespace {

using ops::AttentionImpl;
using ops::Score;
using testing::gradcheck;
using testing::leaf;
using Inputs = std::vector<Tensor>;

// B = 1, H = 2, Nq = 3, Nk = 4, d = 3, dv = 2, a = 3: small enough for central differences
// on every element, and Nq != Nk, dv != d.
const Shape kQueryShape{1, 2, 3, 3}, kKeyShape{1, 2, 4, 3}, kValueShape{1, 2, 4, 2};
constexpr std::int64_t kAttentionDim = 3;

struct Variant {
  const char* name;
  Score score;
  bool learned_scale;
};

const Variant kVariants[] = {
    {"dot", Score::Dot, false},         {"scaled_dot", Score::ScaledDot, false},
    {"general", Score::General, false}, {"additive", Score::Additive, false},
    {"cosine", Score::Cosine, false},   {"cosine_learned", Score::Cosine, true},
};

// q, k, v, then the variant's parameters in ScoreParameters order.
Inputs make_inputs(const Variant& variant) {
  Inputs inputs{leaf(kQueryShape, 1), leaf(kKeyShape, 2), leaf(kValueShape, 3)};
  std::int64_t d = kQueryShape[3];
  if (variant.score == Score::General) inputs.push_back(leaf({d, d}, 4));
  if (variant.score == Score::Additive) {
    inputs.push_back(leaf({d, kAttentionDim}, 5));
    inputs.push_back(leaf({d, kAttentionDim}, 6));
    inputs.push_back(leaf({kAttentionDim}, 7));
  }
  if (variant.learned_scale) inputs.push_back(leaf({}, 8, 1.5, 3.0));
  return inputs;
}

ops::ScoreParameters parameters_of(const Variant& variant, const Inputs& x) {
  ops::ScoreParameters parameters;
  if (variant.score == Score::General) parameters.w = x[3];
  if (variant.score == Score::Additive) {
    parameters.w_q = x[3], parameters.w_k = x[4], parameters.v_a = x[5];
  }
  if (variant.learned_scale) parameters.scale = x[3];
  return parameters;
}

// Causal (aligned to the end: Nk - Nq = 1) and key padding that leaves batch 0 with keys
// {0, 2, 3}; the allowed mask forbids every key of query 0 in head 1.
ops::AttentionMask mixed_mask() {
  ops::AttentionMask mask;
  mask.causal = true;
  mask.key_padding = Tensor::from_list({1, 4}, {1, 0, 1, 1}, DType::Bool);
  Tensor allowed = Tensor::full({1, 2, 3, 4}, 1.0, DType::Bool);
  for (std::int64_t j = 0; j < 4; ++j) allowed.data<bool>()[(1 * 3 + 0) * 4 + j] = false;
  mask.allowed = allowed;
  return mask;
}

class AttentionGradcheck : public ::testing::TestWithParam<std::tuple<Variant, AttentionImpl>> {
 protected:
  Variant variant() const { return std::get<0>(GetParam()); }
  ops::AttentionOptions options() const {
    ops::AttentionOptions options;
    options.score = variant().score;
    options.impl = std::get<1>(GetParam());
    if (variant().score == Score::Cosine && !variant().learned_scale) options.scale = 2.5;
    return options;
  }
  testing::TensorFunction attention_out(ops::AttentionOptions base) const {
    Variant chosen = variant();
    return [chosen, base](const Inputs& x) {
      ops::AttentionOptions options = base;
      options.parameters = parameters_of(chosen, x);
      return ops::attention(x[0], x[1], x[2], options).out;
    };
  }
};

TEST_P(AttentionGradcheck, Unmasked) {
  EXPECT_TRUE(gradcheck(attention_out(options()), make_inputs(variant())));
}

TEST_P(AttentionGradcheck, MaskedWithAFullyMaskedRow) {
  ops::AttentionOptions masked = options();
  masked.mask = mixed_mask();
  EXPECT_TRUE(gradcheck(attention_out(masked), make_inputs(variant())));
}

TEST_P(AttentionGradcheck, WithDropout) {
  ops::AttentionOptions dropped = options();
  dropped.dropout = 0.3;
  dropped.training = true;
  Variant chosen = variant();
  // A fresh generator per evaluation: every finite difference sees the same dropout mask.
  auto function = [chosen, dropped](const Inputs& x) {
    Generator generator(77);
    ops::AttentionOptions options = dropped;
    options.generator = &generator;
    options.parameters = parameters_of(chosen, x);
    return ops::attention(x[0], x[1], x[2], options).out;
  };
  EXPECT_TRUE(gradcheck(function, make_inputs(variant())));
}

std::string variant_name(const ::testing::TestParamInfo<std::tuple<Variant, AttentionImpl>>& info) {
  return std::string(std::get<0>(info.param).name) + "_" +
         std::string(ops::impl_name(std::get<1>(info.param)));
}

INSTANTIATE_TEST_SUITE_P(AllScores, AttentionGradcheck,
                         ::testing::Combine(::testing::ValuesIn(kVariants),
                                            ::testing::Values(AttentionImpl::Reference,
                                                              AttentionImpl::Fused)),
                         variant_name);

TEST(AttentionGradcheckBias, ReferenceDifferentiatesTheAdditiveMask) {
  ops::AttentionOptions options;
  options.impl = AttentionImpl::Reference;
  auto function = [options](const Inputs& x) {
    ops::AttentionOptions with_bias = options;
    with_bias.mask.bias = x[3];  // [H, 1, Nk]: broadcast over the batch and the queries
    return ops::attention(x[0], x[1], x[2], with_bias).out;
  };
  EXPECT_TRUE(gradcheck(function, {leaf(kQueryShape, 1), leaf(kKeyShape, 2), leaf(kValueShape, 3),
                                   leaf({2, 1, 4}, 9)}));
}

}  // namespace
}  // namespace attn
