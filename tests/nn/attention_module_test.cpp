#include "attn/nn/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/nn_test_support.h"
#include "support/compare.h"

namespace attn::nn {
namespace {

using attn::testing::all_close;
using attn::testing::leaf;
using attn::testing::random_tensor;
using attn::testing::throws_error_with;

// Tolerance against the PyTorch fixtures (float64 results rounded to float32): the module
// runs a few dozen dependent float32 operations on values of order one, so its error is a
// few ulp (~1e-7 relative); |attn - reference| <= 1e-5 |reference| + 1e-6 leaves room for
// reordered sums and vectorised exp while a wrong score, mask or projection moves values by
// ~1e-2 or more.
constexpr double kRelative = 1e-5;
constexpr double kAbsolute = 1e-6;

const std::vector<ops::AttentionImpl> kImpls{ops::AttentionImpl::Reference,
                                             ops::AttentionImpl::Fused};

std::string impl_text(ops::AttentionImpl impl) { return std::string(ops::impl_name(impl)); }

std::vector<std::string> parameter_names(const Module& module) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : module.named_parameters()) names.push_back(name);
  return names;
}

TEST(Attention, ParameterNamesAndShapesFollowTheScore) {
  AttentionModuleOptions options{.query_dim = 4, .key_dim = 6, .value_dim = 5, .attention_dim = 8,
                                 .value_attention_dim = 3, .additive_size = 7};
  options.score = ops::Score::Dot;
  Attention dot(options);
  EXPECT_EQ(parameter_names(dot),
            (std::vector<std::string>{"wq.weight", "wk.weight", "wv.weight"}));
  EXPECT_EQ(dot.wq().weight().shape(), (Shape{8, 4}));
  EXPECT_EQ(dot.wk().weight().shape(), (Shape{8, 6}));
  EXPECT_EQ(dot.wv().weight().shape(), (Shape{3, 5}));

  options.score = ops::Score::General;
  Attention general(options);
  EXPECT_EQ(general.state_dict().at("w").shape(), (Shape{8, 8}));

  options.score = ops::Score::Additive;
  Attention additive(options);
  std::map<std::string, Tensor> state = additive.state_dict();
  EXPECT_EQ(state.at("w_q").shape(), (Shape{8, 7}));
  EXPECT_EQ(state.at("w_k").shape(), (Shape{8, 7}));
  EXPECT_EQ(state.at("v_a").shape(), (Shape{7}));
  EXPECT_EQ(state.count("w"), 0u);

  options.score = ops::Score::Cosine;
  options.learn_scale = true;
  options.scale = 3.0;
  Attention cosine(options);
  EXPECT_EQ(cosine.state_dict().at("scale").shape(), Shape{});
  EXPECT_FLOAT_EQ(cosine.state_dict().at("scale").item<float>(), 3.0f);

  options.learn_scale = false;
  options.scale.reset();
  options.score = ops::Score::ScaledDot;
  options.bias = true;
  Attention with_bias(options);
  EXPECT_EQ(parameter_names(with_bias),
            (std::vector<std::string>{"wq.weight", "wq.bias", "wk.weight", "wk.bias",
                                      "wv.weight", "wv.bias"}));
}

TEST(Attention, ForwardIsProjectionsThenTheOp) {
  manual_seed(3);
  Attention attention({.query_dim = 3, .key_dim = 5, .value_dim = 2, .attention_dim = 4,
                       .value_attention_dim = 6, .score = ops::Score::General,
                       .impl = ops::AttentionImpl::Reference, .dtype = DType::Float64});
  Tensor x_query = random_tensor({2, 3, 3}, 1), x_key = random_tensor({2, 7, 5}, 2);
  Tensor x_value = random_tensor({2, 7, 2}, 3);
  AttentionModuleOutput result = attention.forward(x_query, x_key, x_value, {}, true);
  ASSERT_EQ(result.output.shape(), (Shape{2, 3, 6}));
  ASSERT_EQ(result.weights.shape(), (Shape{2, 3, 7}));
  ASSERT_EQ(result.lse.shape(), (Shape{2, 3}));

  // softmax(q W kᵀ) v, with q = x_q Wqᵀ etc., written out with plain ops.
  Tensor q = ops::matmul(x_query, ops::transpose(attention.wq().weight(), 0, 1));
  Tensor k = ops::matmul(x_key, ops::transpose(attention.wk().weight(), 0, 1));
  Tensor v = ops::matmul(x_value, ops::transpose(attention.wv().weight(), 0, 1));
  Tensor scores = ops::matmul(ops::matmul(q, attention.score_parameters().w), ops::transpose(k, 1, 2));
  Tensor weights = ops::softmax(scores, -1);
  EXPECT_TRUE(all_close(result.weights, weights, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(result.output, ops::matmul(weights, v), 1e-12, 1e-12));
}

TEST(Attention, ForwardSelfIsAttnXX) {
  Attention attention({.query_dim = 4, .attention_dim = 4, .score = ops::Score::ScaledDot,
                       .dtype = DType::Float64});
  Tensor x = random_tensor({2, 5, 4}, 7);
  ops::AttentionMask causal{.causal = true};
  EXPECT_TRUE(all_close(attention.forward_self(x, causal).output,
                        attention.forward(x, x, x, causal).output, 0, 0));
}

TEST(Attention, MasksBroadcastPerBatchWithoutAHeadDimension) {
  Attention attention({.query_dim = 2, .attention_dim = 2, .score = ops::Score::Dot,
                       .dtype = DType::Float64});
  Tensor x_query = random_tensor({2, 2, 2}, 11), x_key = random_tensor({2, 3, 2}, 12);
  // Batch 0 may attend only key 2; batch 1 only key 0.
  Tensor allowed =
      Tensor::from_list({2, 2, 3}, {0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0}, DType::Bool);
  AttentionModuleOutput result =
      attention.forward(x_query, x_key, x_key, {.allowed = allowed}, true);
  std::vector<double> weights = result.weights.to_vector<double>();
  std::vector<double> expected{0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_DOUBLE_EQ(weights[i], expected[i]);
}

TEST(Attention, DropoutActsOnlyInTraining) {
  manual_seed(5);
  Attention attention({.query_dim = 4, .attention_dim = 4, .dropout = 0.5});
  Tensor x = random_tensor({2, 6, 4}, 13, -1, 1, DType::Float32);
  attention.eval();
  Tensor evaluated = attention.forward_self(x).output;
  attention.train();
  Tensor trained = attention.forward_self(x).output;
  EXPECT_FALSE(all_close(trained, evaluated, 1e-3, 1e-3));
  attention.eval();
  EXPECT_TRUE(all_close(attention.forward_self(x).output, evaluated, 0, 0));
}

TEST(Attention, RejectsBadOptionsAndInputs) {
  EXPECT_TRUE(throws_error_with(
      [] { Attention({.query_dim = 4, .attention_dim = 4, .score = ops::Score::Dot, .scale = 2.0}); },
      {"Attention", "dot", "scale"}));
  EXPECT_TRUE(throws_error_with(
      [] {
        Attention({.query_dim = 4, .attention_dim = 4, .score = ops::Score::General,
                   .learn_scale = true});
      },
      {"learn_scale", "cosine"}));
  EXPECT_TRUE(throws_error_with([] { Attention({.query_dim = 4}); }, {"attention_dim"}));
  Attention attention({.query_dim = 4, .key_dim = 3, .attention_dim = 2});
  EXPECT_TRUE(throws_error_with(
      [&] { attention.forward(Tensor::zeros({2, 5, 4}), Tensor::zeros({2, 6, 4}), Tensor::zeros({2, 6, 3})); },
      {"x_key", "[B, N, 3]", "float32[2, 6, 4]"}));
  EXPECT_TRUE(throws_error_with(
      [&] {
        attention.forward(Tensor::zeros({2, 5, 4}, DType::Float64), Tensor::zeros({2, 6, 3}),
                          Tensor::zeros({2, 6, 3}));
      },
      {"x_query", "float32", "float64"}));
  EXPECT_TRUE(throws_error_with(
      [&] { attention.forward(Tensor::zeros({2, 5, 4}), Tensor::zeros({2, 6, 3}), Tensor::zeros({2, 4, 3})); },
      {"batch", "length"}));
}

// ---- gradients ---------------------------------------------------------------------------

struct GradcheckCase {
  const char* name;
  ops::Score score;
  bool learn_scale;
  bool causal;
  bool padding;
};

TEST(Attention, GradcheckEveryScoreWithMasks) {
  const std::vector<GradcheckCase> cases{
      {"dot", ops::Score::Dot, false, false, true},
      {"scaled_dot", ops::Score::ScaledDot, false, true, false},
      {"general", ops::Score::General, false, false, true},
      {"additive", ops::Score::Additive, false, true, true},
      {"cosine learned", ops::Score::Cosine, true, false, true},
      {"cosine fixed", ops::Score::Cosine, false, true, false},
  };
  for (const GradcheckCase& test : cases) {
    for (ops::AttentionImpl impl : kImpls) {
      SCOPED_TRACE(std::string(test.name) + " " + impl_text(impl));
      manual_seed(17);
      AttentionModuleOptions options{.query_dim = 3, .key_dim = 4, .value_dim = 2,
                                     .attention_dim = 3, .value_attention_dim = 2,
                                     .score = test.score, .additive_size = 4,
                                     .learn_scale = test.learn_scale, .bias = true,
                                     .impl = impl, .dtype = DType::Float64};
      if (test.score == ops::Score::Cosine) options.scale = 2.0;
      Attention attention(options);
      ops::AttentionMask mask{.causal = test.causal};
      if (test.padding) mask.key_lengths = Tensor::from_vector<std::int64_t>({2}, {4, 2});
      EXPECT_TRUE(attn::testing::module_gradcheck(
          attention, {leaf({2, 3, 3}, 31), leaf({2, 4, 4}, 32), leaf({2, 4, 2}, 33)},
          [&](const std::vector<Tensor>& inputs) {
            return attention.forward(inputs[0], inputs[1], inputs[2], mask).output;
          }));
    }
  }
}

// ---- PyTorch parity ------------------------------------------------------------------------

AttentionModuleOptions options_from_fixture(const io::SafetensorsData& fixture) {
  const io::Metadata& settings = fixture.metadata;
  AttentionModuleOptions options;
  options.query_dim = fixture.tensors.at("x_query").size(2);
  options.key_dim = fixture.tensors.at("x_key").size(2);
  options.value_dim = fixture.tensors.at("x_value").size(2);
  options.attention_dim = std::stoll(settings.at("attention_dim"));
  options.value_attention_dim = std::stoll(settings.at("value_attention_dim"));
  options.additive_size = std::stoll(settings.at("additive_size"));
  options.score = ops::parse_score(settings.at("score"));
  options.learn_scale = settings.at("learn_scale") == "true";
  if (settings.count("scale")) options.scale = std::stod(settings.at("scale"));
  return options;
}

ops::AttentionMask mask_from_fixture(const io::SafetensorsData& fixture) {
  ops::AttentionMask mask;
  mask.causal = fixture.metadata.count("causal") && fixture.metadata.at("causal") == "true";
  if (fixture.tensors.count("key_padding_mask")) {
    mask.key_padding = fixture.tensors.at("key_padding_mask");
  }
  if (fixture.tensors.count("allowed_mask")) mask.allowed = fixture.tensors.at("allowed_mask");
  return mask;
}

void expect_matches_fixture(const std::string& name, ops::AttentionImpl impl) {
  SCOPED_TRACE(name + " " + impl_text(impl));
  io::SafetensorsData fixture = attn::testing::load_fixture("attention_modules/" + name + ".safetensors");
  const io::TensorMap& tensors = fixture.tensors;
  AttentionModuleOptions options = options_from_fixture(fixture);
  options.impl = impl;
  Attention attention(options);
  attention.load_state_dict(attn::testing::fixture_parameters(tensors));
  Tensor x_query = attn::testing::fixture_leaf(tensors, "x_query");
  Tensor x_key = attn::testing::fixture_leaf(tensors, "x_key");
  Tensor x_value = attn::testing::fixture_leaf(tensors, "x_value");
  AttentionModuleOutput result =
      attention.forward(x_query, x_key, x_value, mask_from_fixture(fixture), true);
  attn::testing::projected(tensors, "output", result.output).backward();

  EXPECT_TRUE(all_close(result.output, tensors.at("output"), kRelative, kAbsolute));
  EXPECT_TRUE(all_close(result.weights, tensors.at("weights"), kRelative, kAbsolute));
  for (const auto& [input, input_leaf] :
       {std::pair{"x_query", x_query}, std::pair{"x_key", x_key}, std::pair{"x_value", x_value}}) {
    EXPECT_TRUE(all_close(input_leaf.grad(), tensors.at(std::string("grad.") + input), kRelative,
                          kAbsolute))
        << input;
  }
  for (const auto& [parameter_name, parameter] : attention.named_parameters()) {
    EXPECT_TRUE(all_close(parameter.grad(), tensors.at("grad." + parameter_name), kRelative,
                          kAbsolute))
        << parameter_name;
  }
}

TEST(Attention, MatchesPyTorchForEveryScore) {
  for (const char* name :
       {"attention_dot", "attention_scaled_dot_causal_padding", "attention_general_allowed",
        "attention_additive_padding", "attention_cosine_learned", "attention_cosine_fixed"}) {
    for (ops::AttentionImpl impl : kImpls) expect_matches_fixture(name, impl);
  }
}

}  // namespace
}  // namespace attn::nn
