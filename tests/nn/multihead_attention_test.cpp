#include "attn/nn/multihead_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attn/nn/init.h"
#include "nn/nn_test_support.h"
#include "support/compare.h"

namespace attn::nn {
namespace {

using attn::testing::all_close;
using attn::testing::leaf;
using attn::testing::random_tensor;
using attn::testing::throws_error_with;

// Tolerance against the PyTorch fixtures (float64 results rounded to float32):
// |attn - reference| <= 1e-5 |reference| + 1e-6. Projections, scores, softmax and the
// weighted sum are a few dozen dependent float32 operations on values of order one, so
// attn's error is a few ulp; a wrong mask, head split or scale moves values by ~1e-2.
constexpr double kRelative = 1e-5;
constexpr double kAbsolute = 1e-6;

const std::vector<ops::AttentionImpl> kImpls{ops::AttentionImpl::Reference,
                                             ops::AttentionImpl::Fused};

std::vector<std::string> parameter_names(const Module& module) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : module.named_parameters()) names.push_back(name);
  return names;
}

TEST(MultiHeadAttention, ParametersHavePyTorchNamesShapesAndInit) {
  manual_seed(2);
  MultiHeadAttention packed({.embed_dim = 8, .num_heads = 2});
  EXPECT_EQ(parameter_names(packed), (std::vector<std::string>{"in_proj_weight", "in_proj_bias",
                                                               "out_proj.weight",
                                                               "out_proj.bias"}));
  EXPECT_EQ(packed.in_proj_weight().shape(), (Shape{24, 8}));
  EXPECT_EQ(packed.in_proj_bias().shape(), (Shape{24}));
  EXPECT_EQ(packed.out_proj().weight().shape(), (Shape{8, 8}));
  // Xavier-uniform in ±sqrt(6 / (fan_in + fan_out)) = ±sqrt(6 / 32); biases start at zero.
  double bound = std::sqrt(6.0 / 32.0);
  for (float value : packed.in_proj_weight().to_vector<float>()) EXPECT_LE(std::abs(value), bound);
  for (float value : packed.in_proj_bias().to_vector<float>()) EXPECT_EQ(value, 0.0f);
  for (float value : packed.out_proj().bias().to_vector<float>()) EXPECT_EQ(value, 0.0f);

  MultiHeadAttention separate({.embed_dim = 8, .num_heads = 4, .kdim = 6, .vdim = 3});
  EXPECT_EQ(parameter_names(separate),
            (std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight",
                                      "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_FALSE(separate.packed_projection());
  EXPECT_EQ(separate.k_proj_weight().shape(), (Shape{8, 6}));
  EXPECT_EQ(separate.v_proj_weight().shape(), (Shape{8, 3}));

  MultiHeadAttention no_bias({.embed_dim = 6, .num_heads = 3, .bias = false});
  EXPECT_EQ(parameter_names(no_bias),
            (std::vector<std::string>{"in_proj_weight", "out_proj.weight"}));
}

TEST(MultiHeadAttention, RejectsBadOptionsAndInputs) {
  EXPECT_TRUE(throws_error_with([] { MultiHeadAttention({.embed_dim = 6, .num_heads = 4}); },
                                {"embed_dim 6", "num_heads 4"}));
  MultiHeadAttention attention({.embed_dim = 4, .num_heads = 2, .batch_first = true});
  Tensor x = Tensor::zeros({2, 3, 4});
  EXPECT_TRUE(throws_error_with([&] { attention.forward(x, Tensor::zeros({2, 3, 5}), x); },
                                {"key", "4 features", "float32[2, 3, 5]"}));
  EXPECT_TRUE(throws_error_with(
      [&] { attention.forward(x, x, x, Tensor::zeros({2, 4}, DType::Bool)); },
      {"key_padding_mask", "[2, 3]"}));
  EXPECT_TRUE(throws_error_with(
      [&] { attention.forward(x, x, x, Tensor(), Tensor::zeros({3, 3, 3}, DType::Bool)); },
      {"attn_mask", "[3, 3]", "[4, 3, 3]"}));
  EXPECT_TRUE(throws_error_with(
      [&] { attention.forward(x, x, x, Tensor(), Tensor::zeros({3, 3}, DType::Int64)); },
      {"attn_mask", "bool or float32"}));
  EXPECT_TRUE(throws_error_with(
      [&] { attention.forward(x.to(DType::Float64), x, x); }, {"query", "float32", "float64"}));
}

TEST(MultiHeadAttention, CausalIsAlignedToTheEndAndFullyMaskedRowsGiveZeros) {
  MultiHeadAttention attention({.embed_dim = 4, .num_heads = 2, .batch_first = true,
                                .dtype = DType::Float64});
  init::uniform_(attention.in_proj_bias(), -1, 1);
  init::uniform_(attention.out_proj().bias(), -1, 1);
  Tensor query = random_tensor({1, 2, 4}, 41), key = random_tensor({1, 5, 4}, 42);
  MultiHeadAttentionOutput causal =
      attention.forward(query, key, key, Tensor(), Tensor(), true, false, true);
  ASSERT_EQ(causal.weights.shape(), (Shape{1, 2, 2, 5}));
  std::vector<double> weights = causal.weights.to_vector<double>();
  for (int head = 0; head < 2; ++head) {
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 5; ++j) {
        double weight = weights[(head * 2 + i) * 5 + j];
        // Query i sees keys j <= i + (Nk - Nq) = i + 3.
        if (j > i + 3) EXPECT_EQ(weight, 0.0);
        else EXPECT_GT(weight, 0.0);
      }
    }
  }
  // Every key of batch row 0 masked: the output is the out_proj bias alone (zero attention).
  Tensor all_padding = Tensor::ones({1, 5}, DType::Bool);
  MultiHeadAttentionOutput masked = attention.forward(query, key, key, all_padding);
  EXPECT_TRUE(ops::all_finite(masked.output));
  Tensor bias = ops::expand(attention.out_proj().bias(), {1, 2, 4});
  EXPECT_TRUE(all_close(masked.output, bias, 0, 1e-15));
  EXPECT_TRUE(all_close(masked.weights, Tensor::zeros({1, 2, 5}, DType::Float64), 0, 0));
}

TEST(MultiHeadAttention, WeightsAveragedOrPerHeadOrNone) {
  MultiHeadAttention attention({.embed_dim = 6, .num_heads = 3, .dtype = DType::Float64});
  Tensor query = random_tensor({4, 2, 6}, 43), key = random_tensor({5, 2, 6}, 44);  // [N, B, E]
  MultiHeadAttentionOutput per_head = attention.forward(query, key, key, {}, {}, true, false);
  MultiHeadAttentionOutput averaged = attention.forward(query, key, key, {}, {}, true, true);
  MultiHeadAttentionOutput none = attention.forward(query, key, key, {}, {}, false);
  EXPECT_EQ(per_head.output.shape(), (Shape{4, 2, 6}));
  EXPECT_EQ(per_head.weights.shape(), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(per_head.lse.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(all_close(averaged.weights, ops::mean(per_head.weights, {1}), 1e-14, 1e-15));
  EXPECT_FALSE(none.weights.defined());
  EXPECT_TRUE(all_close(none.output, averaged.output, 0, 0));
}

TEST(MultiHeadAttention, DropoutOnTheWeightsActsOnlyInTraining) {
  manual_seed(7);
  MultiHeadAttention attention({.embed_dim = 4, .num_heads = 2, .dropout = 0.5,
                                .batch_first = true});
  Tensor x = random_tensor({2, 6, 4}, 50, -1, 1, DType::Float32);
  attention.eval();
  Tensor evaluated = attention.forward(x, x, x, {}, {}, false).output;
  attention.train();
  Tensor trained = attention.forward(x, x, x, {}, {}, false).output;
  EXPECT_FALSE(all_close(trained, evaluated, 1e-3, 1e-3));
  attention.eval();
  EXPECT_TRUE(all_close(attention.forward(x, x, x, {}, {}, false).output, evaluated, 0, 0));
}

// ---- gradients ---------------------------------------------------------------------------

TEST(MultiHeadAttention, GradcheckWithMasksLayoutsAndProjections) {
  struct Case {
    const char* name;
    std::int64_t kdim, vdim;
    bool batch_first, bias;
  };
  for (const Case& test : {Case{"packed, sequence first", 0, 0, false, true},
                           Case{"kdim/vdim, batch first", 3, 5, true, true},
                           Case{"no bias", 0, 0, true, false}}) {
    for (ops::AttentionImpl impl : kImpls) {
      SCOPED_TRACE(std::string(test.name) + " " + std::string(ops::impl_name(impl)));
      manual_seed(23);
      MultiHeadAttention attention({.embed_dim = 4, .num_heads = 2, .bias = test.bias,
                                    .kdim = test.kdim, .vdim = test.vdim,
                                    .batch_first = test.batch_first, .impl = impl,
                                    .dtype = DType::Float64});
      const std::int64_t batch = 2, queries = 3, keys = 4;
      auto shape = [&](std::int64_t length, std::int64_t features) {
        return test.batch_first ? Shape{batch, length, features} : Shape{length, batch, features};
      };
      std::int64_t kdim = test.kdim ? test.kdim : 4, vdim = test.vdim ? test.vdim : 4;
      Tensor padding =
          Tensor::from_list({2, 4}, {0, 0, 0, 0, 0, 0, 1, 1}, DType::Bool);
      Tensor attn_mask = random_tensor({batch * 2, queries, keys}, 45);  // float, per head
      EXPECT_TRUE(attn::testing::module_gradcheck(
          attention, {leaf(shape(queries, 4), 46), leaf(shape(keys, kdim), 47),
                      leaf(shape(keys, vdim), 48)},
          [&](const std::vector<Tensor>& inputs) {
            return attention.forward(inputs[0], inputs[1], inputs[2], padding, attn_mask, false)
                .output;
          }));
    }
  }
}

TEST(MultiHeadAttention, GradcheckCausalSelfAttention) {
  manual_seed(29);
  MultiHeadAttention attention({.embed_dim = 4, .num_heads = 2, .batch_first = true,
                                .dtype = DType::Float64});
  EXPECT_TRUE(attn::testing::module_gradcheck(
      attention, {leaf({2, 4, 4}, 49)}, [&](const std::vector<Tensor>& inputs) {
        // One tensor as query, key and value: the packed projection.
        return attention.forward(inputs[0], inputs[0], inputs[0], {}, {}, false, true, true)
            .output;
      }));
}

// ---- PyTorch parity: torch.nn.MultiheadAttention -------------------------------------------

bool setting(const io::SafetensorsData& fixture, const std::string& key) {
  return fixture.metadata.at(key) == "true";
}

void expect_matches_mha_fixture(const std::string& name, ops::AttentionImpl impl,
                                bool causal_by_mask) {
  SCOPED_TRACE(name + " " + std::string(ops::impl_name(impl)) +
               (causal_by_mask ? " (attn_mask)" : ""));
  io::SafetensorsData fixture =
      attn::testing::load_fixture("attention_modules/" + name + ".safetensors");
  const io::TensorMap& tensors = fixture.tensors;
  MultiHeadAttention attention({.embed_dim = std::stoll(fixture.metadata.at("embed_dim")),
                                .num_heads = std::stoll(fixture.metadata.at("num_heads")),
                                .bias = setting(fixture, "bias"),
                                .kdim = std::stoll(fixture.metadata.at("kdim")),
                                .vdim = std::stoll(fixture.metadata.at("vdim")),
                                .batch_first = setting(fixture, "batch_first"),
                                .impl = impl});
  attention.load_state_dict(attn::testing::fixture_parameters(tensors));
  const bool self_attention = setting(fixture, "self_attention");
  Tensor query = attn::testing::fixture_leaf(tensors, "query");
  Tensor key = self_attention ? query : attn::testing::fixture_leaf(tensors, "key");
  Tensor value = self_attention ? query : attn::testing::fixture_leaf(tensors, "value");
  auto optional = [&](const std::string& mask_name) {
    return tensors.count(mask_name) ? tensors.at(mask_name) : Tensor();
  };
  const bool is_causal = setting(fixture, "is_causal");
  // PyTorch needs the causal attn_mask beside is_causal; attn applies the flag itself, and
  // gives the same result with or without that mask.
  Tensor attn_mask = is_causal && !causal_by_mask ? Tensor() : optional("attn_mask");
  MultiHeadAttentionOutput result =
      attention.forward(query, key, value, optional("key_padding_mask"), attn_mask,
                        setting(fixture, "need_weights"), setting(fixture, "average_attn_weights"),
                        is_causal && !causal_by_mask);
  attn::testing::projected(tensors, "output", result.output).backward();

  EXPECT_TRUE(all_close(result.output, tensors.at("output"), kRelative, kAbsolute));
  if (tensors.count("weights")) {
    EXPECT_TRUE(all_close(result.weights, tensors.at("weights"), kRelative, kAbsolute));
  } else {
    EXPECT_FALSE(result.weights.defined());
  }
  EXPECT_TRUE(all_close(query.grad(), tensors.at("grad.query"), kRelative, kAbsolute));
  if (!self_attention) {
    EXPECT_TRUE(all_close(key.grad(), tensors.at("grad.key"), kRelative, kAbsolute));
    EXPECT_TRUE(all_close(value.grad(), tensors.at("grad.value"), kRelative, kAbsolute));
  }
  for (const auto& [parameter_name, parameter] : attention.named_parameters()) {
    EXPECT_TRUE(all_close(parameter.grad(), tensors.at("grad." + parameter_name), kRelative,
                          kAbsolute))
        << parameter_name;
  }
}

TEST(MultiHeadAttention, MatchesPyTorch) {
  for (const char* name : {"mha_self_kpm_bool", "mha_cross_float_mask_per_head",
                           "mha_cross_bool_masks", "mha_kdim_vdim_float_masks", "mha_causal",
                           "mha_no_bias", "mha_unbatched"}) {
    for (ops::AttentionImpl impl : kImpls) expect_matches_mha_fixture(name, impl, false);
  }
  for (ops::AttentionImpl impl : kImpls) expect_matches_mha_fixture("mha_causal", impl, true);
}

// ---- PyTorch parity: the MultiHeadSelfAttention class of seed 003 ----------------------------
//
// The seed's module has four nn.Linear layers, query, key, value and fc, and computes
// softmax(Q_h K_hᵀ / sqrt(head_size)) V_h per head, merges the heads and applies fc. That is
// nn.MultiheadAttention with in_proj_weight = [query.weight; key.weight; value.weight],
// in_proj_bias = [query.bias; key.bias; value.bias] and out_proj = fc.

std::map<std::string, Tensor> seed003_as_multihead(const io::TensorMap& tensors) {
  auto parameter = [&](const std::string& name) { return tensors.at("param." + name); };
  return {{"in_proj_weight", ops::cat({parameter("query.weight"), parameter("key.weight"),
                                       parameter("value.weight")}, 0)},
          {"in_proj_bias", ops::cat({parameter("query.bias"), parameter("key.bias"),
                                     parameter("value.bias")}, 0)},
          {"out_proj.weight", parameter("fc.weight")},
          {"out_proj.bias", parameter("fc.bias")}};
}

TEST(MultiHeadAttention, MatchesTheSeed003MultiHeadSelfAttention) {
  io::SafetensorsData fixture =
      attn::testing::load_fixture("attention_modules/seed003_mhsa.safetensors");
  const io::TensorMap& tensors = fixture.tensors;
  const std::int64_t d_model = std::stoll(fixture.metadata.at("d_model"));
  for (ops::AttentionImpl impl : kImpls) {
    SCOPED_TRACE(std::string(ops::impl_name(impl)));
    MultiHeadAttention attention({.embed_dim = d_model,
                                  .num_heads = std::stoll(fixture.metadata.at("num_heads")),
                                  .batch_first = true, .impl = impl});
    attention.load_state_dict(seed003_as_multihead(tensors));
    Tensor x = attn::testing::fixture_leaf(tensors, "x");
    Tensor output = attention.forward(x, x, x, {}, {}, false).output;
    attn::testing::projected(tensors, "output", output).backward();

    EXPECT_TRUE(all_close(output, tensors.at("output"), kRelative, kAbsolute));
    EXPECT_TRUE(all_close(x.grad(), tensors.at("grad.x"), kRelative, kAbsolute));
    // The rows of in_proj_weight's gradient are the gradients of query, key and value.
    const char* parts[] = {"query", "key", "value"};
    for (std::int64_t part = 0; part < 3; ++part) {
      std::string linear = parts[part];
      Tensor weight_grad = ops::slice(attention.in_proj_weight().grad(), 0, part * d_model,
                                      (part + 1) * d_model);
      Tensor bias_grad = ops::slice(attention.in_proj_bias().grad(), 0, part * d_model,
                                    (part + 1) * d_model);
      EXPECT_TRUE(all_close(weight_grad, tensors.at("grad." + linear + ".weight"), kRelative,
                            kAbsolute))
          << linear;
      EXPECT_TRUE(all_close(bias_grad, tensors.at("grad." + linear + ".bias"), kRelative,
                            kAbsolute))
          << linear;
    }
    EXPECT_TRUE(all_close(attention.out_proj().weight().grad(), tensors.at("grad.fc.weight"),
                          kRelative, kAbsolute));
    EXPECT_TRUE(all_close(attention.out_proj().bias().grad(), tensors.at("grad.fc.bias"),
                          kRelative, kAbsolute));
  }
}

// The same seed module written as the seed writes it, from attn's pieces: four Linear layers,
// a split into heads, ops::attention (scaled dot) and the merge.
TEST(MultiHeadAttention, Seed003AsACompositionOfAttnModules) {
  io::SafetensorsData fixture =
      attn::testing::load_fixture("attention_modules/seed003_mhsa.safetensors");
  const io::TensorMap& tensors = fixture.tensors;
  const std::int64_t d_model = std::stoll(fixture.metadata.at("d_model"));
  const std::int64_t num_heads = std::stoll(fixture.metadata.at("num_heads"));
  const std::int64_t head_size = d_model / num_heads;
  std::map<std::string, std::shared_ptr<Linear>> layers;
  for (const char* name : {"query", "key", "value", "fc"}) {
    auto layer = std::make_shared<Linear>(d_model, d_model);
    layer->load_state_dict({{"weight", tensors.at(std::string("param.") + name + ".weight")},
                            {"bias", tensors.at(std::string("param.") + name + ".bias")}});
    layers[name] = layer;
  }
  Tensor x = attn::testing::fixture_leaf(tensors, "x");
  const std::int64_t batch = x.size(0), length = x.size(1);
  auto heads = [&](const char* name) {  // [B, N, E] -> [B, H, N, E/H]
    Tensor projected = layers.at(name)->forward(x);
    return ops::transpose(ops::reshape(projected, {batch, length, num_heads, head_size}), 1, 2);
  };
  Tensor attended = ops::attention(heads("query"), heads("key"), heads("value")).out;
  Tensor merged = ops::reshape(ops::transpose(attended, 1, 2), {batch, length, d_model});
  Tensor output = layers.at("fc")->forward(merged);
  attn::testing::projected(tensors, "output", output).backward();

  EXPECT_TRUE(all_close(output, tensors.at("output"), kRelative, kAbsolute));
  EXPECT_TRUE(all_close(x.grad(), tensors.at("grad.x"), kRelative, kAbsolute));
  for (const auto& [name, layer] : layers) {
    EXPECT_TRUE(all_close(layer->weight().grad(), tensors.at("grad." + name + ".weight"),
                          kRelative, kAbsolute))
        << name;
    EXPECT_TRUE(all_close(layer->bias().grad(), tensors.at("grad." + name + ".bias"), kRelative,
                          kAbsolute))
        << name;
  }
}

}  // namespace
}  // namespace attn::nn
