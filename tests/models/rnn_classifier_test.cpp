#include "attn/models/rnn_classifier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "attn/core/random.h"
#include "attn/io/checkpoint.h"
#include "attn/ops/ops.h"
#include "attn/optim/adam.h"
#include "nn/nn_test_support.h"
#include "support/compare.h"
#include "support/temporary_directory.h"

namespace attn::models {
namespace {

using attn::testing::matches_reference;
using attn::testing::throws_error_with;

RnnClassifierOptions tiny_options() {
  RnnClassifierOptions options;
  options.vocab_size = 8;
  options.max_length = 6;
  options.embedding_size = 3;
  options.hidden_size = 2;
  options.attention_size = 3;
  options.dropout = 0.5;
  options.num_classes = 3;
  return options;
}

Tensor tokens(const Shape& shape, const std::vector<std::int64_t>& values) {
  return Tensor::from_vector<std::int64_t>(shape, values);
}

// Three rows of lengths 5, 2 and 4; the padded steps hold arbitrary ids to show that they
// are masked.
struct Batch {
  Tensor tokens =
      attn::models::tokens({3, 5}, {4, 5, 6, 7, 4, /**/ 7, 6, 1, 5, 5, /**/ 5, 5, 4, 6, 0});
  Tensor lengths = attn::models::tokens({3}, {5, 2, 4});
};

// ---- options --------------------------------------------------------------------------------

TEST(RnnClassifierOptions, ImdbPresetHasTheSeedsValues) {
  RnnClassifierOptions options = RnnClassifierOptions::imdb();
  EXPECT_EQ(options.vocab_size, 10000);
  EXPECT_EQ(options.max_length, 250);
  EXPECT_EQ(options.embedding_size, 100);
  EXPECT_EQ(options.hidden_size, 150);
  EXPECT_EQ(options.attention_size, 50);
  EXPECT_NEAR(options.dropout, 0.2, 1e-12);  // keep probability 0.8
  EXPECT_EQ(options.num_classes, 2);
  RnnClassifierTraining training = RnnClassifierTraining::imdb();
  EXPECT_EQ(training.batch_size, 256);
  EXPECT_EQ(training.epochs, 3);
  EXPECT_EQ(training.index_from, 3);
  // Embedding 10000·100; each GRU direction 3·150·(100 + 150) + 2·3·150; W 50·300 + b 50;
  // u_w 50; output 2·300 + 2.
  RnnAttentionClassifier model(options);
  EXPECT_EQ(model.num_parameters(), 1000000 + 2 * (112500 + 900) + 15050 + 50 + 602);
}

TEST(RnnClassifierOptions, JsonRoundTripAndUnknownKeys) {
  RnnClassifierOptions options = tiny_options();
  nlohmann::json json = options.to_json();
  EXPECT_EQ(json.size(), 7u);
  EXPECT_EQ(RnnClassifierOptions::from_json(nlohmann::json::parse(json.dump())).to_json(), json);
  EXPECT_EQ(RnnClassifierOptions::from_json(nlohmann::json::object()).to_json(),
            RnnClassifierOptions::imdb().to_json());
  json["keep_prob"] = 0.8;
  EXPECT_TRUE(throws_error_with([&] { RnnClassifierOptions::from_json(json); },
                                {"unknown key 'keep_prob'", "dropout"}));
  EXPECT_TRUE(throws_error_with(
      [] { RnnClassifierOptions::from_json({{"num_classes", 1}}); }, {"num_classes >= 2"}));
  EXPECT_TRUE(throws_error_with(
      [] { RnnClassifierOptions::from_json({{"dropout", "0.2"}}); }, {"number", "dropout"}));
  EXPECT_TRUE(throws_error_with(
      [] { RnnClassifierOptions::from_json({{"hidden_size", 0}}); }, {"hidden_size"}));
}

// ---- structure and forward --------------------------------------------------------------------

TEST(RnnAttentionClassifier, ParametersAreNamedAsDocumented) {
  RnnAttentionClassifier model(tiny_options());
  std::map<std::string, Shape> shapes;
  for (const auto& [name, tensor] : model.named_parameters()) shapes[name] = tensor.shape();
  std::map<std::string, Shape> expected{
      {"embedding.weight", {8, 3}},
      {"encoder.weight_ih_l0", {6, 3}},         {"encoder.weight_hh_l0", {6, 2}},
      {"encoder.bias_ih_l0", {6}},              {"encoder.bias_hh_l0", {6}},
      {"encoder.weight_ih_l0_reverse", {6, 3}}, {"encoder.weight_hh_l0_reverse", {6, 2}},
      {"encoder.bias_ih_l0_reverse", {6}},      {"encoder.bias_hh_l0_reverse", {6}},
      {"attention.projection.weight", {3, 4}},  {"attention.projection.bias", {3}},
      {"attention.context", {3}},
      {"output.weight", {3, 4}},                {"output.bias", {3}}};
  EXPECT_EQ(shapes, expected);
  std::vector<float> padding_row =
      ops::select(model.state_dict().at("embedding.weight"), 0, 0).contiguous().to_vector<float>();
  EXPECT_EQ(padding_row, std::vector<float>(3, 0.0f));
}

TEST(RnnAttentionClassifier, AttentionWeightsCoverTheValidStepsOnly) {
  manual_seed(21);
  Batch batch;
  RnnAttentionClassifier model(tiny_options());
  model.eval();
  RnnClassifierOutput output = model.forward(batch.tokens, batch.lengths);
  EXPECT_EQ(output.logits.shape(), (Shape{3, 3}));
  ASSERT_EQ(output.attention_weights.shape(), (Shape{3, 5}));
  EXPECT_FALSE(output.attention_weights.requires_grad());
  std::vector<float> weights = output.attention_weights.to_vector<float>();
  std::vector<std::int64_t> lengths = batch.lengths.to_vector<std::int64_t>();
  for (int b = 0; b < 3; ++b) {
    double total = 0.0;
    for (int t = 0; t < 5; ++t) {
      if (t >= lengths[b]) EXPECT_EQ(weights[b * 5 + t], 0.0f) << "row " << b << " step " << t;
      if (t < lengths[b]) EXPECT_GT(weights[b * 5 + t], 0.0f);
      total += weights[b * 5 + t];
    }
    EXPECT_NEAR(total, 1.0, 1e-6);
  }
}

TEST(RnnAttentionClassifier, PaddingDoesNotChangeARowsOutput) {
  manual_seed(22);
  Batch batch;
  RnnAttentionClassifier model(tiny_options());
  model.eval();
  RnnClassifierOutput padded = model.forward(batch.tokens, batch.lengths);
  RnnClassifierOutput alone = model.forward(tokens({1, 2}, {7, 6}));
  EXPECT_TRUE(matches_reference("logits", ops::select(padded.logits, 0, 1).contiguous(),
                                ops::select(alone.logits, 0, 0).contiguous()));
  EXPECT_TRUE(matches_reference(
      "weights", ops::slice(ops::select(padded.attention_weights, 0, 1), 0, 0, 2).contiguous(),
      ops::select(alone.attention_weights, 0, 0).contiguous()));
}

TEST(RnnAttentionClassifier, DropoutActsInTrainingOnly) {
  manual_seed(23);
  Batch batch;
  RnnAttentionClassifier model(tiny_options());
  EXPECT_NE(model.forward(batch.tokens, batch.lengths).logits.to_vector<float>(),
            model.forward(batch.tokens, batch.lengths).logits.to_vector<float>());
  model.eval();
  EXPECT_EQ(model.forward(batch.tokens, batch.lengths).logits.to_vector<float>(),
            model.forward(batch.tokens, batch.lengths).logits.to_vector<float>());
}

// ---- bad input ----------------------------------------------------------------------------------

TEST(RnnAttentionClassifier, RejectsBadShapesIdsAndLengths) {
  manual_seed(24);
  Batch batch;
  RnnAttentionClassifier model(tiny_options());
  EXPECT_TRUE(throws_error_with([&] { model.forward(tokens({3}, {4, 5, 6})); },
                                {"tokens int64 [B, T]", "int64[3]"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(Tensor::zeros({1, 3})); },
                                {"tokens int64 [B, T]", "float32[1, 3]"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(tokens({1, 7}, {4, 4, 4, 4, 4, 4, 4})); },
                                {"7 steps", "max_length 6", "truncate"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(tokens({1, 2}, {4, 8})); },
                                {"token id 8", "vocabulary of 8"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(batch.tokens, tokens({3}, {5, 0, 4})); },
                                {"lengths[1] = 0", "[1, 5]"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(batch.tokens, tokens({3}, {5, 6, 4})); },
                                {"lengths[1] = 6"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(batch.tokens, tokens({2}, {5, 2})); },
                                {"lengths int64 [3]"}));
  EXPECT_TRUE(throws_error_with([] { RnnAttentionClassifier model(tiny_options(), DType::Int64); },
                                {"floating dtype"}));
}

// ---- gradients and checkpoints ------------------------------------------------------------------

TEST(RnnAttentionClassifier, GradcheckInFloat64) {
  manual_seed(25);
  RnnClassifierOptions options = tiny_options();
  options.vocab_size = 6;
  options.embedding_size = 2;
  RnnAttentionClassifier model(options, DType::Float64);
  model.eval();
  Tensor input = tokens({2, 3}, {4, 5, 4, /**/ 5, 4, 1});
  Tensor lengths = tokens({2}, {3, 2});
  EXPECT_TRUE(attn::testing::module_gradcheck(model, {}, [&](const std::vector<Tensor>&) {
    return model.forward(input, lengths).logits;
  }));
}

TEST(RnnAttentionClassifier, CheckpointRoundTripGivesIdenticalOutputs) {
  manual_seed(26);
  Batch batch;
  attn::testing::TemporaryDirectory directory("attn_rnn_classifier");
  RnnClassifierOptions options = tiny_options();
  RnnAttentionClassifier model(options);
  model.eval();
  io::save_checkpoint(directory.file("model.safetensors"), model, options.to_json().dump());

  io::Checkpoint checkpoint = io::load_checkpoint(directory.file("model.safetensors"));
  RnnAttentionClassifier restored(
      RnnClassifierOptions::from_json(nlohmann::json::parse(checkpoint.config_json)));
  restored.eval();
  EXPECT_NE(restored.forward(batch.tokens, batch.lengths).logits.to_vector<float>(),
            model.forward(batch.tokens, batch.lengths).logits.to_vector<float>());
  io::load_into(checkpoint, restored);
  RnnClassifierOutput after = restored.forward(batch.tokens, batch.lengths);
  RnnClassifierOutput expected = model.forward(batch.tokens, batch.lengths);
  EXPECT_EQ(after.logits.to_vector<float>(), expected.logits.to_vector<float>());
  EXPECT_EQ(after.attention_weights.to_vector<float>(),
            expected.attention_weights.to_vector<float>());
}

// ---- PyTorch parity ---------------------------------------------------------------------------

// tools/make_rnn_fixtures.py runs a PyTorch mirror with the same parameter names.
TEST(RnnAttentionClassifier, MatchesPyTorch) {
  using namespace attn::testing;
  io::TensorMap fixture = load_fixture("models/rnn_classifier.safetensors").tensors;
  RnnClassifierOptions options = tiny_options();
  options.dropout = 0.0;
  RnnAttentionClassifier model(options);
  model.load_state_dict(fixture_parameters(fixture));
  RnnClassifierOutput output =
      model.forward(fixture_tensor(fixture, "tokens"), fixture_tensor(fixture, "lengths"));
  EXPECT_TRUE(matches_reference("logits", output.logits, fixture_tensor(fixture, "logits")));
  EXPECT_TRUE(matches_reference("attention_weights", output.attention_weights,
                                fixture_tensor(fixture, "attention_weights")));
  projected(fixture, "logits", output.logits).backward();
  expect_parameter_gradients(model, fixture);
}

// ---- learning -------------------------------------------------------------------------------

// The toy task: does the sequence contain the id kNeedle? Rows have 3..8 words from ids 4..9,
// half of them with the needle at a random place; label 1 when present.
constexpr std::int64_t kNeedle = 5;
constexpr std::int64_t kMaxSteps = 8;

struct ToyBatch {
  Tensor tokens;   // [B, kMaxSteps]
  Tensor lengths;  // [B]
  Tensor labels;   // [B]
};

ToyBatch needle_batch(std::mt19937& random, std::int64_t batch_size) {
  std::uniform_int_distribution<std::int64_t> length_of(3, kMaxSteps);
  const std::vector<std::int64_t> other_words{4, 6, 7, 8, 9};  // never the needle
  std::uniform_int_distribution<std::size_t> other_word(0, other_words.size() - 1);
  std::bernoulli_distribution has_needle(0.5);
  std::vector<std::int64_t> ids(batch_size * kMaxSteps, 0), lengths(batch_size), labels(batch_size);
  for (std::int64_t b = 0; b < batch_size; ++b) {
    std::int64_t length = length_of(random);
    for (std::int64_t t = 0; t < length; ++t) {
      ids[b * kMaxSteps + t] = other_words[other_word(random)];
    }
    labels[b] = has_needle(random) ? 1 : 0;
    if (labels[b] == 1) {
      ids[b * kMaxSteps + std::uniform_int_distribution<std::int64_t>(0, length - 1)(random)] =
          kNeedle;
    }
    lengths[b] = length;
  }
  return {tokens({batch_size, kMaxSteps}, ids), tokens({batch_size}, lengths),
          tokens({batch_size}, labels)};
}

struct ToyScore {
  double accuracy;
  double needle_attended;  // of the rows with the needle, those whose top weight is on it
};

ToyScore score(const RnnAttentionClassifier& model) {
  std::mt19937 held_out(99);
  ToyBatch test = needle_batch(held_out, 400);
  RnnClassifierOutput output = model.forward(test.tokens, test.lengths);
  std::vector<std::int64_t> predicted = ops::argmax(output.logits, 1).to_vector<std::int64_t>();
  std::vector<std::int64_t> labels = test.labels.to_vector<std::int64_t>();
  std::vector<std::int64_t> ids = test.tokens.to_vector<std::int64_t>();
  std::vector<float> weights = output.attention_weights.to_vector<float>();
  int correct = 0, needle_attended = 0, with_needle = 0;
  for (std::size_t b = 0; b < labels.size(); ++b) {
    correct += predicted[b] == labels[b];
    if (labels[b] == 0) continue;
    ++with_needle;
    auto row = weights.begin() + static_cast<std::ptrdiff_t>(b * kMaxSteps);
    std::ptrdiff_t top = std::max_element(row, row + kMaxSteps) - row;
    needle_attended += ids[b * kMaxSteps + top] == kNeedle;
  }
  return {correct / static_cast<double>(labels.size()),
          needle_attended / static_cast<double>(with_needle)};
}

// The attention learns to put its weight on the needle, and the classifier to detect it.
TEST(RnnAttentionClassifier, LearnsWhetherASequenceContainsAToken) {
  manual_seed(27);
  RnnClassifierOptions options;
  options.vocab_size = 10;
  options.max_length = kMaxSteps;
  options.embedding_size = 8;
  options.hidden_size = 8;
  options.attention_size = 8;
  options.dropout = 0.1;
  RnnAttentionClassifier model(options);
  model.eval();
  EXPECT_LT(score(model).accuracy, 0.8);  // untrained: near chance
  model.train();
  optim::Adam optimizer(model.parameters(), {.learning_rate = 0.02});
  std::mt19937 random(5);
  for (int step = 0; step < 25; ++step) {
    ToyBatch batch = needle_batch(random, 64);
    Tensor loss =
        ops::cross_entropy(model.forward(batch.tokens, batch.lengths).logits, batch.labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  model.eval();
  ToyScore trained = score(model);
  EXPECT_GT(trained.accuracy, 0.95);
  EXPECT_GT(trained.needle_attended, 0.9);
}

}  // namespace
}  // namespace attn::models
