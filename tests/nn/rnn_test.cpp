// Behaviour shared by GRU and LSTM: PyTorch's parameter names, padded batches, gradients,
// dropout between layers, input validation and parity with PyTorch.
#include <gtest/gtest.h>

#include <memory>

#include "attn/nn/gru.h"
#include "attn/nn/lstm.h"
#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

using attn::testing::leaf;
using attn::testing::matches_reference;
using attn::testing::throws_error_with;

enum class Kind { GRU, LSTM };

const char* kind_name(Kind kind) { return kind == Kind::GRU ? "GRU" : "LSTM"; }
void PrintTo(Kind kind, std::ostream* stream) { *stream << kind_name(kind); }

std::shared_ptr<RecurrentBase> make_recurrent(Kind kind, const RNNOptions& options) {
  if (kind == Kind::GRU) return std::make_shared<GRU>(options);
  return std::make_shared<LSTM>(options);
}

struct RecurrentResult {
  Tensor output, h_n, c_n;  // c_n undefined for a GRU
};

RecurrentResult run(const RecurrentBase& module, const Tensor& input, const Tensor& h0,
                    const Tensor& c0, const Tensor& lengths) {
  if (const auto* gru = dynamic_cast<const GRU*>(&module)) {
    GRUOutput result = gru->forward(input, h0, lengths);
    return {result.output, result.h_n, Tensor()};
  }
  LSTMOutput result = dynamic_cast<const LSTM&>(module).forward(input, h0, c0, lengths);
  return {result.output, result.h_n, result.c_n};
}

// Small sizes keep the finite-difference checks quick: T = 4, B = 3, I = 3, H = 4.
RNNOptions small_options(bool bidirectional, bool batch_first = false) {
  return {.input_size = 3,
          .hidden_size = 4,
          .num_layers = 2,
          .batch_first = batch_first,
          .bidirectional = bidirectional,
          .dtype = DType::Float64};
}

class RecurrentKinds : public ::testing::TestWithParam<Kind> {};

TEST_P(RecurrentKinds, ParameterNamesFollowPyTorch) {
  auto module = make_recurrent(
      GetParam(), {.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  std::vector<std::string> names;
  for (const auto& [name, tensor] : module->named_parameters()) names.push_back(name);
  std::vector<std::string> expected;
  for (std::string suffix : {"_l0", "_l0_reverse", "_l1", "_l1_reverse"}) {
    for (std::string kind : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
      expected.push_back(kind + suffix);
    }
  }
  EXPECT_EQ(names, expected);
}

TEST_P(RecurrentKinds, GradcheckUnidirectionalPadded) {
  auto module = make_recurrent(GetParam(), small_options(false));
  Tensor lengths = Tensor::from_vector<std::int64_t>({3}, {4, 1, 3});
  std::vector<Tensor> inputs{leaf({4, 3, 3}, 71), leaf({2, 3, 4}, 72, -0.5, 0.5)};
  if (GetParam() == Kind::LSTM) inputs.push_back(leaf({2, 3, 4}, 73, -0.5, 0.5));
  EXPECT_TRUE(attn::testing::module_gradcheck(*module, inputs, [&](const std::vector<Tensor>& x) {
    Tensor c0 = GetParam() == Kind::LSTM ? x[2] : Tensor();
    return run(*module, x[0], x[1], c0, lengths).output;
  }));
}

// Checks output, h_n and c_n together through one concatenated tensor.
TEST_P(RecurrentKinds, GradcheckBidirectionalPaddedAllResults) {
  auto module = make_recurrent(GetParam(), small_options(true, true));
  Tensor lengths = Tensor::from_vector<std::int64_t>({3}, {2, 4, 1});
  std::vector<Tensor> inputs{leaf({3, 4, 3}, 74), leaf({4, 3, 4}, 75, -0.5, 0.5)};
  if (GetParam() == Kind::LSTM) inputs.push_back(leaf({4, 3, 4}, 76, -0.5, 0.5));
  EXPECT_TRUE(attn::testing::module_gradcheck(*module, inputs, [&](const std::vector<Tensor>& x) {
    Tensor c0 = GetParam() == Kind::LSTM ? x[2] : Tensor();
    RecurrentResult result = run(*module, x[0], x[1], c0, lengths);
    std::vector<Tensor> parts{ops::flatten(result.output), ops::flatten(result.h_n)};
    if (result.c_n.defined()) parts.push_back(ops::flatten(result.c_n));
    return ops::cat(parts, 0);
  }));
}

// A padded batch gives each sequence exactly what it gets when run alone at its own length.
TEST_P(RecurrentKinds, PaddedBatchEqualsSeparateRuns) {
  for (bool batch_first : {false, true}) {
    auto module = make_recurrent(GetParam(), small_options(true, batch_first));
    const std::int64_t steps = 5, batch = 3;
    std::vector<std::int64_t> lengths{3, 5, 1};
    Tensor time_major = attn::testing::random_tensor({steps, batch, 3}, 81);
    Tensor input = batch_first ? ops::contiguous(ops::transpose(time_major, 0, 1)) : time_major;
    Tensor h0 = attn::testing::random_tensor({4, batch, 4}, 82);
    Tensor c0 =
        GetParam() == Kind::LSTM ? attn::testing::random_tensor({4, batch, 4}, 83) : Tensor();
    RecurrentResult padded =
        run(*module, input, h0, c0, Tensor::from_vector<std::int64_t>({batch}, lengths));
    Tensor padded_output = batch_first ? ops::transpose(padded.output, 0, 1) : padded.output;
    for (std::int64_t b = 0; b < batch; ++b) {
      // alone_input [length, 1, I] (or [1, length, I])
      Tensor alone_input = ops::slice(ops::slice(time_major, 1, b, b + 1), 0, 0, lengths[b]);
      if (batch_first) alone_input = ops::transpose(alone_input, 0, 1);
      Tensor alone_c0 = c0.defined() ? ops::slice(c0, 1, b, b + 1) : Tensor();
      RecurrentResult alone = run(*module, ops::contiguous(alone_input),
                                  ops::slice(h0, 1, b, b + 1), alone_c0, Tensor());
      Tensor alone_output = batch_first ? ops::transpose(alone.output, 0, 1) : alone.output;
      Tensor valid = ops::slice(ops::slice(padded_output, 1, b, b + 1), 0, 0, lengths[b]);
      EXPECT_TRUE(matches_reference("output", valid, alone_output, 1e-12)) << "sequence " << b;
      EXPECT_TRUE(matches_reference("h_n", ops::slice(padded.h_n, 1, b, b + 1), alone.h_n, 1e-12));
      if (c0.defined()) {
        EXPECT_TRUE(
            matches_reference("c_n", ops::slice(padded.c_n, 1, b, b + 1), alone.c_n, 1e-12));
      }
      Tensor padding = ops::slice(ops::slice(padded_output, 1, b, b + 1), 0, lengths[b], steps);
      for (double value : padding.to_vector<double>()) EXPECT_EQ(value, 0.0);
    }
  }
}

TEST_P(RecurrentKinds, NoLengthsEqualsFullLengths) {
  auto module = make_recurrent(GetParam(), small_options(true));
  Tensor input = attn::testing::random_tensor({4, 2, 3}, 84);
  RecurrentResult without = run(*module, input, Tensor(), Tensor(), Tensor());
  RecurrentResult with =
      run(*module, input, Tensor(), Tensor(), Tensor::from_vector<std::int64_t>({2}, {4, 4}));
  EXPECT_EQ(without.output.to_vector<double>(), with.output.to_vector<double>());
  EXPECT_EQ(without.h_n.to_vector<double>(), with.h_n.to_vector<double>());
}

TEST_P(RecurrentKinds, DropoutActsBetweenLayersOnlyInTraining) {
  RNNOptions options{.input_size = 3, .hidden_size = 8, .num_layers = 2, .dropout = 0.5};
  auto module = make_recurrent(GetParam(), options);
  Tensor input = attn::testing::random_tensor({3, 2, 3}, 85, -1, 1, DType::Float32);
  module->eval();
  std::vector<float> evaluation = run(*module, input, {}, {}, {}).output.to_vector<float>();
  EXPECT_EQ(evaluation, run(*module, input, {}, {}, {}).output.to_vector<float>());
  module->train();
  EXPECT_NE(evaluation, run(*module, input, {}, {}, {}).output.to_vector<float>());
  // A single layer has no layer above it, so dropout never applies.
  options.num_layers = 1;
  auto single = make_recurrent(GetParam(), options);
  std::vector<float> trained = run(*single, input, {}, {}, {}).output.to_vector<float>();
  single->eval();
  EXPECT_EQ(trained, run(*single, input, {}, {}, {}).output.to_vector<float>());
}

TEST_P(RecurrentKinds, RejectsBadInputsNamingModuleAndShapes) {
  std::string name = kind_name(GetParam());
  auto module = make_recurrent(
      GetParam(), {.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  auto lengths_of = [](std::vector<std::int64_t> values) {
    return Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(values.size())}, values);
  };
  Tensor input = Tensor::zeros({5, 2, 3});
  auto call = [&](Tensor x, Tensor h0, Tensor lengths) {
    return [&module, x, h0, lengths] { run(*module, x, h0, Tensor(), lengths); };
  };
  EXPECT_TRUE(throws_error_with(call(Tensor::zeros({5, 2, 6}), {}, {}),
                                {name, "[T, B, 3]", "float32[5, 2, 6]"}));
  EXPECT_TRUE(throws_error_with(call(Tensor::zeros({5, 3}), {}, {}), {name, "float32[5, 3]"}));
  EXPECT_TRUE(throws_error_with(call(input, Tensor::zeros({2, 2, 4}), {}),
                                {name, "h0", "[4, 2, 4]", "float32[2, 2, 4]"}));
  EXPECT_TRUE(
      throws_error_with(call(input, {}, lengths_of({5, 6})), {name, "lengths[1] = 6", "5 steps"}));
  EXPECT_TRUE(throws_error_with(call(input, {}, lengths_of({-1, 2})), {name, "lengths[0] = -1"}));
  EXPECT_TRUE(
      throws_error_with(call(input, {}, lengths_of({1, 2, 3})), {name, "int64[2]", "int64[3]"}));
  EXPECT_TRUE(
      throws_error_with(call(input, {}, Tensor::ones({2})), {name, "lengths", "float32[2]"}));
  EXPECT_TRUE(throws_error_with(call(Tensor::zeros({5, 2, 3}, DType::Float64), {}, {}),
                                {name, "float64[5, 2, 3]"}));
  auto batch_first =
      make_recurrent(GetParam(), {.input_size = 3, .hidden_size = 4, .batch_first = true});
  EXPECT_TRUE(throws_error_with(
      [&] {
        run(*batch_first, Tensor::zeros({2, 5, 4}), {}, {}, {});
      },
      {name, "[B, T, 3]", "float32[2, 5, 4]"}));
  if (GetParam() == Kind::LSTM) {
    EXPECT_TRUE(throws_error_with(
        [&] {
          run(*module, input, {}, Tensor::zeros({4, 3, 4}), {});
        },
        {name, "c0", "[4, 2, 4]", "float32[4, 3, 4]"}));
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, RecurrentKinds, ::testing::Values(Kind::GRU, Kind::LSTM),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// ---- parity with PyTorch (fixtures from tools/make_nn_fixtures.py) -----------------------

RNNOptions options_from_metadata(const io::Metadata& metadata) {
  auto flag = [&](const char* key) { return metadata.at(key) == "True"; };
  return {.input_size = 3,
          .hidden_size = 4,
          .num_layers = static_cast<std::int64_t>(std::stoll(metadata.at("num_layers"))),
          .batch_first = flag("batch_first"),
          .bidirectional = flag("bidirectional")};
}

class RecurrentParity : public ::testing::TestWithParam<const char*> {};

TEST_P(RecurrentParity, ForwardAndBackwardMatchPyTorch) {
  io::SafetensorsData data = attn::testing::load_nn_fixture(GetParam());
  const io::TensorMap& fixture = data.tensors;
  Kind kind = data.metadata.at("kind") == "gru" ? Kind::GRU : Kind::LSTM;
  auto module = make_recurrent(kind, options_from_metadata(data.metadata));
  module->load_state_dict(attn::testing::fixture_parameters(fixture));

  std::map<std::string, Tensor> leaves;
  for (const char* name : {"input", "h0", "c0"}) {
    if (fixture.count(name)) leaves[name] = attn::testing::fixture_leaf(fixture, name);
  }
  Tensor lengths = fixture.count("lengths") ? fixture.at("lengths") : Tensor();
  RecurrentResult result = run(*module, leaves["input"], leaves["h0"], leaves["c0"], lengths);
  std::map<std::string, Tensor> outputs{{"output", result.output}, {"h_n", result.h_n}};
  if (kind == Kind::LSTM) outputs["c_n"] = result.c_n;

  Tensor loss = Tensor::scalar(0.0);
  for (const auto& [name, output] : outputs) {
    loss = ops::add(loss, attn::testing::projected(fixture, name, output));
  }
  loss.backward();
  for (const auto& [name, output] : outputs) {
    EXPECT_TRUE(matches_reference(name, output, fixture.at(name)));
  }
  for (const auto& [name, input] : leaves) {
    if (!input.defined()) continue;
    EXPECT_TRUE(matches_reference("grad." + name, input.grad(), fixture.at("grad." + name)));
  }
  attn::testing::expect_parameter_gradients(*module, fixture);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RecurrentParity,
                         ::testing::Values("gru_bi_2layer_padded",
                                           "gru_bi_2layer_padded_batch_first", "gru_uni_2layer",
                                           "gru_uni_1layer_padded_batch_first",
                                           "lstm_bi_2layer_padded",
                                           "lstm_bi_2layer_padded_batch_first", "lstm_uni_2layer",
                                           "lstm_uni_1layer_padded_batch_first"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace attn::nn
