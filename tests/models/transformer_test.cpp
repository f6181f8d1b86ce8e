#include "attn/models/transformer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/decode/search.h"
#include "attn/io/checkpoint.h"
#include "attn/models/language_model.h"
#include "attn/models/transformer_classifier.h"
#include "attn/ops/ops.h"
#include "attn/optim/adam.h"
#include "nn/nn_test_support.h"
#include "support/compare.h"
#include "support/temporary_directory.h"

namespace attn::models {
namespace {

using attn::testing::all_close;
using attn::testing::fixture_parameters;
using attn::testing::fixture_tensor;
using attn::testing::matches_reference;
using attn::testing::throws_error_with;

// ---- helpers ---------------------------------------------------------------------------------

Tensor tokens(const Shape& shape, const std::vector<std::int64_t>& values) {
  return Tensor::from_vector<std::int64_t>(shape, values);
}

// int64 [rows, columns]: ids in [4, vocab) from a fixed Philox stream.
Tensor random_tokens(std::int64_t rows, std::int64_t columns, std::int64_t vocab_size,
                     std::uint64_t seed) {
  std::vector<std::int64_t> values;
  for (std::int64_t i = 0; i < rows * columns; ++i) {
    float u = philox_uniform(seed, 0, static_cast<std::uint64_t>(i));
    values.push_back(4 + static_cast<std::int64_t>(u * static_cast<float>(vocab_size - 4)));
  }
  return tokens({rows, columns}, values);
}

// Sets positions [length_b, N) of row b to padding (id 0); returns the mask (true = padding).
Tensor pad_rows(Tensor& batch, const std::vector<std::int64_t>& lengths) {
  const std::int64_t columns = batch.size(1);
  Tensor padding = Tensor::zeros(batch.shape(), DType::Bool);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    for (std::int64_t j = lengths[b]; j < columns; ++j) {
      batch.data<std::int64_t>()[b * columns + j] = 0;
      padding.data<bool>()[b * columns + j] = true;
    }
  }
  return padding;
}

TransformerOptions small_options(NormPlacement norm = NormPlacement::Post) {
  TransformerOptions options;
  options.source_vocab_size = 19;
  options.target_vocab_size = 17;
  options.d_model = 32;
  options.num_heads = 4;
  options.d_ff = 48;
  options.encoder_layers = 2;
  options.decoder_layers = 2;
  options.dropout = 0.1;  // the tests that compare run in eval mode
  options.max_length = 80;
  options.norm = norm;
  return options;
}

std::map<std::string, Tensor> converted(const std::map<std::string, Tensor>& state, DType dtype) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, tensor] : state) out.emplace(name, tensor.to(dtype));
  return out;
}

std::vector<std::string> parameter_names(const nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : module.named_parameters()) names.push_back(name);
  return names;
}

// ---- PyTorch parity ----------------------------------------------------------------------------

// One fixture of tools/make_model_fixtures.py run through attn: the model built from the
// fixture's config, loaded with its weights (strictly: every name must match), and the
// fixture's loss computed on its inputs.
struct FixtureRun {
  std::shared_ptr<nn::Module> model;
  Tensor logits;
  Tensor loss;
};

Tensor input(const io::SafetensorsData& fixture, const std::string& name) {
  return fixture_tensor(fixture.tensors, "input." + name);
}

Tensor sequence_loss(const Tensor& logits, const Tensor& targets) {
  ops::CrossEntropyOptions loss_options;
  loss_options.ignore_index = 0;
  loss_options.label_smoothing = 0.1;
  return ops::cross_entropy(ops::reshape(logits, {-1, logits.size(-1)}),
                            ops::reshape(targets, {-1}), loss_options);
}

FixtureRun run_fixture(const io::SafetensorsData& fixture, DType dtype) {
  nlohmann::json description = nlohmann::json::parse(fixture.metadata.at("fixture"));
  const std::string kind = description.at("kind");
  const nlohmann::json& config = description.at("options");
  std::map<std::string, Tensor> state = converted(fixture_parameters(fixture.tensors), dtype);
  FixtureRun run;
  if (kind == "transformer") {
    auto model = std::make_shared<Transformer>(TransformerOptions::from_json(config), dtype);
    model->load_state_dict(state);
    run.logits = model->forward(input(fixture, "source"), input(fixture, "target_in"),
                                input(fixture, "source_padding"));
    run.loss = sequence_loss(run.logits, input(fixture, "targets"));
    run.model = model;
  } else if (kind == "language_model") {
    auto model =
        std::make_shared<TransformerLanguageModel>(LanguageModelOptions::from_json(config), dtype);
    model->load_state_dict(state);
    Tensor sequence = input(fixture, "tokens");
    run.logits = model->forward(sequence);
    const std::int64_t length = sequence.size(1);
    run.loss =
        sequence_loss(ops::slice(run.logits, 1, 0, length - 1), ops::slice(sequence, 1, 1, length));
    run.model = model;
  } else {
    auto model = std::make_shared<TransformerClassifier>(
        TransformerClassifierOptions::from_json(config), dtype);
    model->load_state_dict(state);
    auto padding = fixture.tensors.find("input.padding");
    run.logits = model->forward(input(fixture, "tokens"),
                                padding == fixture.tensors.end() ? Tensor() : padding->second);
    run.loss = ops::cross_entropy(run.logits, input(fixture, "labels"));
    run.model = model;
  }
  run.loss.backward();
  return run;
}

class TransformerParity : public ::testing::TestWithParam<std::string> {};

// float64 against PyTorch's float64: the same formulas in the same precision agree to
// ~1e-14; 1e-10 leaves room for summation order and still catches any formula difference.
TEST_P(TransformerParity, Float64LogitsLossAndGradientsMatchPyTorch) {
  io::SafetensorsData fixture =
      attn::testing::load_fixture("models/" + GetParam() + ".safetensors");
  FixtureRun run = run_fixture(fixture, DType::Float64);
  EXPECT_TRUE(matches_reference("logits", run.logits,
                                fixture_tensor(fixture.tensors, "output.logits"), 1e-10));
  EXPECT_TRUE(
      matches_reference("loss", run.loss, fixture_tensor(fixture.tensors, "output.loss"), 1e-10));
  for (const auto& [name, parameter] : run.model->named_parameters()) {
    EXPECT_TRUE(matches_reference("grad." + name, parameter.grad(),
                                  fixture_tensor(fixture.tensors, "grad." + name), 1e-10));
  }
}

// float32 against the float64 reference: a forward of two or four layers is a few hundred
// dependent float32 operations on values of order one (the scaled embeddings and logits
// reach ~10), so errors of 1e-6 relative accumulate to a few 1e-6; the bound 1e-4 · max(1,
// |reference|) is well below what a wrong mask, norm placement or scale produces (~1e-1).
TEST_P(TransformerParity, Float32LogitsLossAndGradientsMatchPyTorch) {
  io::SafetensorsData fixture =
      attn::testing::load_fixture("models/" + GetParam() + ".safetensors");
  FixtureRun run = run_fixture(fixture, DType::Float32);
  EXPECT_TRUE(matches_reference("logits", run.logits,
                                fixture_tensor(fixture.tensors, "output.logits"), 1e-4));
  EXPECT_TRUE(
      matches_reference("loss", run.loss, fixture_tensor(fixture.tensors, "output.loss"), 1e-4));
  for (const auto& [name, parameter] : run.model->named_parameters()) {
    EXPECT_TRUE(matches_reference("grad." + name, parameter.grad(),
                                  fixture_tensor(fixture.tensors, "grad." + name), 1e-4));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TransformerParity,
                         ::testing::Values("transformer_post", "transformer_post_tied",
                                           "transformer_pre_shared_tied", "language_model_pre_tied",
                                           "language_model_post", "classifier_pre_padded",
                                           "classifier_post"));

// ---- structure ---------------------------------------------------------------------------------

TEST(Transformer, ParameterNamesFollowTheDocumentedScheme) {
  TransformerOptions options = small_options(NormPlacement::Pre);
  options.encoder_layers = 1;
  options.decoder_layers = 1;
  Transformer model(options);
  const std::vector<std::string> attention{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                           "out_proj.bias"};
  std::vector<std::string> expected{"source_embedding.weight", "target_embedding.weight"};
  auto add = [&](const std::string& prefix, const std::vector<std::string>& names) {
    for (const std::string& name : names) expected.push_back(prefix + name);
  };
  const std::vector<std::string> norm{"weight", "bias"};
  const std::vector<std::string> feed_forward{"w1.weight", "w1.bias", "w2.weight", "w2.bias"};
  add("encoder.layers.0.self_attention.", attention);
  add("encoder.layers.0.self_attention_norm.", norm);
  add("encoder.layers.0.feed_forward.", feed_forward);
  add("encoder.layers.0.feed_forward_norm.", norm);
  add("encoder.final_norm.", norm);
  add("decoder.layers.0.self_attention.", attention);
  add("decoder.layers.0.self_attention_norm.", norm);
  add("decoder.layers.0.cross_attention.", attention);
  add("decoder.layers.0.cross_attention_norm.", norm);
  add("decoder.layers.0.feed_forward.", feed_forward);
  add("decoder.layers.0.feed_forward_norm.", norm);
  add("decoder.final_norm.", norm);
  expected.push_back("output_projection.weight");
  EXPECT_EQ(parameter_names(model), expected);
  EXPECT_TRUE(model.named_buffers().empty());
}

TEST(Transformer, SharingAndTyingRemoveTables) {
  TransformerOptions options = small_options();
  options.target_vocab_size = options.source_vocab_size;
  options.share_embeddings = true;
  options.tie_output = true;
  Transformer model(options);
  std::vector<std::string> names = parameter_names(model);
  EXPECT_EQ(names.front(), "shared_embedding.weight");
  EXPECT_EQ(std::count(names.begin(), names.end(), "output_projection.weight"), 0);
  EXPECT_TRUE(model.source_embedding_weight().same_impl(model.target_embedding_weight()));
  // Pre-norm adds nothing to post-norm but the two final norms.
  EXPECT_EQ(std::count(names.begin(), names.end(), "encoder.final_norm.weight"), 0);
}

TEST(Transformer, EmbeddingsStartScaledWithAZeroPaddingRow) {
  manual_seed(3);
  TransformerOptions options = small_options();
  options.source_vocab_size = 2000;
  Transformer model(options);
  std::vector<float> table = model.source_embedding_weight().to_vector<float>();
  const std::int64_t dim = options.d_model;
  double sum_of_squares = 0.0;
  for (std::int64_t i = 0; i < dim; ++i) EXPECT_EQ(table[i], 0.0f);
  for (std::size_t i = dim; i < table.size(); ++i) sum_of_squares += table[i] * table[i];
  // N(0, 1/d): the variance times d is 1 (64k draws: standard error ~0.006).
  double variance = sum_of_squares / static_cast<double>(table.size() - dim);
  EXPECT_NEAR(variance * dim, 1.0, 0.03);
}

TEST(TransformerOptions, BasePresetIsThePapersBaseModel) {
  TransformerOptions joint = TransformerOptions::base(37000);
  EXPECT_EQ(joint.d_model, 512);
  EXPECT_EQ(joint.num_heads, 8);
  EXPECT_EQ(joint.d_ff, 2048);
  EXPECT_EQ(joint.encoder_layers, 6);
  EXPECT_EQ(joint.decoder_layers, 6);
  EXPECT_DOUBLE_EQ(joint.dropout, 0.1);
  EXPECT_EQ(joint.norm, NormPlacement::Post);
  EXPECT_TRUE(joint.share_embeddings);
  EXPECT_TRUE(joint.tie_output);
  TransformerOptions separate = TransformerOptions::base(8000, 6000);
  EXPECT_FALSE(separate.share_embeddings);
  EXPECT_TRUE(separate.tie_output);
  EXPECT_EQ(separate.target_vocab_size, 6000);
  EXPECT_NO_THROW(joint.validate());
}

TEST(TransformerOptions, JsonRoundTripKeepsEveryField) {
  TransformerOptions options = small_options(NormPlacement::Pre);
  options.activation = nn::Activation::GELU;
  options.attention_dropout = 0.05;
  options.activation_dropout = 0.02;
  options.tie_output = true;
  options.layer_norm_epsilon = 1e-6;
  nlohmann::json json = options.to_json();
  EXPECT_EQ(json["norm"], "pre");
  EXPECT_EQ(json["activation"], "gelu");
  EXPECT_EQ(TransformerOptions::from_json(json).to_json(), json);
  // A subset keeps the defaults for the rest.
  TransformerOptions partial =
      TransformerOptions::from_json({{"source_vocab_size", 10}, {"target_vocab_size", 12}});
  EXPECT_EQ(partial.d_model, 512);
  EXPECT_EQ(partial.target_vocab_size, 12);

  LanguageModelOptions language_model;
  language_model.vocab_size = 30;
  language_model.norm = NormPlacement::Post;
  EXPECT_EQ(LanguageModelOptions::from_json(language_model.to_json()).to_json(),
            language_model.to_json());
  TransformerClassifierOptions classifier;
  classifier.vocab_size = 30;
  classifier.num_classes = 6;
  EXPECT_EQ(TransformerClassifierOptions::from_json(classifier.to_json()).to_json(),
            classifier.to_json());
}

TEST(TransformerOptions, BadJsonAndBadValuesAreErrors) {
  EXPECT_TRUE(throws_error_with(
      [] {
        TransformerOptions::from_json({{"d_modle", 8}});
      },
      {"TransformerOptions", "unknown key", "\"d_modle\"", "d_model"}));
  EXPECT_TRUE(throws_error_with(
      [] {
        TransformerOptions::from_json({{"d_model", "big"}});
      },
      {"\"d_model\" must be an integer", "\"big\""}));
  EXPECT_TRUE(throws_error_with(
      [] {
        TransformerOptions::from_json({{"norm", "middle"}});
      },
      {"unknown norm placement 'middle'", "post, pre"}));
  EXPECT_TRUE(throws_error_with(
      [] {
        TransformerOptions::from_json({{"tie_output", 1}});
      },
      {"\"tie_output\" must be true or false"}));
  EXPECT_TRUE(throws_error_with([] { TransformerOptions::from_json(nlohmann::json::array()); },
                                {"expected a JSON object"}));
  EXPECT_TRUE(throws_error_with(
      [] {
        LanguageModelOptions::from_json({{"encoder_layers", 2}});
      },
      {"LanguageModelOptions", "\"encoder_layers\""}));

  TransformerOptions options = small_options();
  options.num_heads = 5;
  EXPECT_TRUE(throws_error_with([&] { Transformer model(options); },
                                {"d_model 32 is not divisible by num_heads 5"}));
  options = small_options();
  options.share_embeddings = true;
  EXPECT_TRUE(
      throws_error_with([&] { Transformer model(options); },
                        {"share_embeddings", "source_vocab_size 19", "target_vocab_size 17"}));
  options = small_options();
  options.dropout = 1.0;
  EXPECT_TRUE(throws_error_with([&] { Transformer model(options); }, {"dropout in [0, 1)", "1"}));
}

// ---- bad input -------------------------------------------------------------------------------

TEST(Transformer, BadInputIsAClearError) {
  Transformer model(small_options());
  model.eval();
  Tensor source = random_tokens(2, 5, 19, 1);
  Tensor target = random_tokens(2, 4, 17, 2);
  Tensor too_long = random_tokens(1, 81, 19, 3);
  EXPECT_TRUE(throws_error_with([&] { model.encode(too_long); },
                                {"source sequences have length 81", "max_length 80"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(source, random_tokens(2, 81, 17, 4)); },
                                {"target sequences have length 81", "max_length 80"}));
  Tensor out_of_range = tokens({1, 3}, {4, 19, 5});
  EXPECT_TRUE(throws_error_with([&] { model.encode(out_of_range); },
                                {"source token id 19 at [0, 1]", "vocabulary [0, 19)"}));
  EXPECT_TRUE(throws_error_with(
      [&] {
        model.forward(source, tokens({2, 1}, {2, -1}));
      },
      {"target token id -1 at [1, 0]", "vocabulary [0, 17)"}));
  EXPECT_TRUE(throws_error_with(
      [&] {
        model.forward(source, target, Tensor::zeros({2, 4}, DType::Bool));
      },
      {"source padding mask bool [2, 5]", "bool[2, 4]"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(source, random_tokens(3, 4, 17, 5)); },
                                {"one batch size"}));
  EXPECT_TRUE(throws_error_with(
      [&] {
        model.encode(Tensor::zeros({2, 5}, DType::Float32));
      },
      {"expected source tokens int64 [batch, length]", "float32[2, 5]"}));
  Tensor memory = model.encode(source);
  EXPECT_TRUE(throws_error_with([&] { model.decode(target, ops::slice(memory, 2, 0, 8)); },
                                {"expected memory [B, S, 32]"}));
}

TEST(TransformerDecoding, StepModelMisuseIsAClearError) {
  TransformerOptions options = small_options();
  options.max_length = 3;
  Transformer model(options);
  model.eval();
  auto steps = model.start_decoding(random_tokens(2, 3, 19, 1));
  EXPECT_TRUE(
      throws_error_with([&] { steps->next_log_probs({2}); }, {"one token per row (2)", "got 1"}));
  EXPECT_TRUE(throws_error_with([&] { steps->select({0, 2}); }, {"row 2", "[0, 2)"}));
  for (int step = 0; step < 3; ++step) steps->next_log_probs({2, 2});
  EXPECT_TRUE(throws_error_with([&] { steps->next_log_probs({2, 2}); }, {"max_length 3"}));
}

// ---- incremental decoding ------------------------------------------------------------------

class TransformerCache : public ::testing::TestWithParam<NormPlacement> {};

// The cache holds each position's keys and values exactly as the full pass computes them,
// so the two differ only by summation order inside the attention (float32 ulps); 1e-5
// absolute on log-probabilities of order 1 holds with margin.
TEST_P(TransformerCache, StepsEqualFullRecomputationThroughSelect) {
  manual_seed(11);
  Transformer model(small_options(GetParam()));
  model.eval();
  NoGradGuard no_grad;
  // Three sources; the third long enough (70 keys) for the fused attention kernel.
  Tensor source = random_tokens(3, 70, 19, 21);
  Tensor source_padding = pad_rows(source, {6, 4, 70});
  Tensor target = random_tokens(3, 8, 17, 22);
  Tensor full = ops::log_softmax(model.forward(source, target, source_padding), -1);
  std::vector<std::int64_t> target_values = target.to_vector<std::int64_t>();

  auto steps = model.start_decoding(source, source_padding);
  std::vector<std::int64_t> rows{0, 1, 2};  // the source of each live row
  for (std::int64_t t = 0; t < 8; ++t) {
    if (t == 3) {
      rows = {2, 0, 0, 1};  // reorder, copy and keep all: beam search's moves
      steps->select({2, 0, 0, 1});
    }
    if (t == 6) {
      rows = {0, 1};  // drop rows 0 (source 2) and 2 (a copy of source 0)
      steps->select({1, 3});
    }
    std::vector<std::int64_t> last;
    for (std::int64_t source_row : rows) last.push_back(target_values[source_row * 8 + t]);
    Tensor log_probs = steps->next_log_probs(last);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      Tensor expected = ops::select(ops::select(full, 0, rows[i]), 0, t);
      EXPECT_TRUE(
          all_close(ops::select(log_probs, 0, static_cast<std::int64_t>(i)), expected, 0.0, 1e-5))
          << "step " << t << ", row " << i;
    }
  }
  EXPECT_EQ(steps->steps(), 8);
  EXPECT_EQ(steps->row_sources(), (std::vector<std::int64_t>{0, 1}));
}

INSTANTIATE_TEST_SUITE_P(Norms, TransformerCache,
                         ::testing::Values(NormPlacement::Post, NormPlacement::Pre));

TEST(KeyValueCache, GrowsAndSelectsRows) {
  NoGradGuard no_grad;
  KeyValueCache cache;
  // keys [2, 1, n, 2] with value = 100·row + position
  auto block = [](std::int64_t first, std::int64_t count) {
    std::vector<float> values;
    for (std::int64_t row = 0; row < 2; ++row) {
      for (std::int64_t i = 0; i < count; ++i) {
        values.push_back(static_cast<float>(100 * row + first + i));
        values.push_back(static_cast<float>(100 * row + first + i));
      }
    }
    return Tensor::from_vector<float>({2, 1, count, 2}, values);
  };
  for (std::int64_t position = 0; position < 40; position += 5) {
    cache.append(block(position, 5), block(position, 5));
  }
  EXPECT_EQ(cache.length(), 40);
  EXPECT_EQ(cache.keys().shape(), (Shape{2, 1, 40, 2}));
  EXPECT_EQ(ops::contiguous(cache.values()).to_vector<float>()[2 * 39], 39.0f);
  cache.select({1, 1, 0});
  std::vector<float> keys = ops::contiguous(cache.keys()).to_vector<float>();
  ASSERT_EQ(keys.size(), 3u * 40 * 2);
  EXPECT_EQ(keys[0], 100.0f);
  EXPECT_EQ(keys[80 + 2 * 7], 107.0f);
  EXPECT_EQ(keys[160 + 2 * 39], 39.0f);
}

TEST(LanguageModel, GenerationStepsEqualFullRecomputationForUnevenPrompts) {
  manual_seed(12);
  LanguageModelOptions options;
  options.vocab_size = 23;
  options.d_model = 32;
  options.num_heads = 4;
  options.d_ff = 48;
  options.num_layers = 2;
  options.max_length = 20;
  TransformerLanguageModel model(options);
  model.eval();
  NoGradGuard no_grad;
  const std::vector<std::vector<std::int64_t>> prompts{{2, 5, 6, 7, 8}, {2}, {2, 9}};
  const std::vector<std::vector<std::int64_t>> continuations{
      {10, 11, 12, 13}, {14, 15, 16, 17}, {18, 19, 20, 21}};
  auto steps = model.start_generation(prompts);
  EXPECT_EQ(steps->first_tokens(), (std::vector<std::int64_t>{8, 2, 9}));
  EXPECT_EQ(steps->max_length(), 20 - 4);
  std::vector<std::int64_t> last = steps->first_tokens();
  for (std::size_t t = 0; t <= continuations[0].size(); ++t) {
    Tensor log_probs = steps->next_log_probs(last);
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      // Row b alone, without padding: its prompt and the continuation fed so far.
      std::vector<std::int64_t> sequence = prompts[b];
      sequence.insert(sequence.end(), continuations[b].begin(), continuations[b].begin() + t);
      const auto length = static_cast<std::int64_t>(sequence.size());
      Tensor logits = model.forward(tokens({1, length}, sequence));
      Tensor expected = ops::log_softmax(ops::select(ops::select(logits, 0, 0), 0, length - 1), -1);
      EXPECT_TRUE(
          all_close(ops::select(log_probs, 0, static_cast<std::int64_t>(b)), expected, 0.0, 1e-5))
          << "step " << t << ", prompt " << b;
    }
    if (t < continuations[0].size()) {
      last = {continuations[0][t], continuations[1][t], continuations[2][t]};
    }
  }
}

TEST(LanguageModel, SelectKeepsEachRowsPositionsAndPadding) {
  manual_seed(13);
  LanguageModelOptions options;
  options.vocab_size = 16;
  options.d_model = 16;
  options.num_heads = 2;
  options.d_ff = 32;
  options.num_layers = 1;
  options.max_length = 12;
  TransformerLanguageModel model(options);
  model.eval();
  NoGradGuard no_grad;
  auto steps = model.start_generation({{2, 4, 5}, {2, 6}});
  steps->next_log_probs(steps->first_tokens());
  steps->select({1});  // the shorter prompt only
  Tensor log_probs = steps->next_log_probs({7});
  Tensor logits = model.forward(tokens({1, 3}, {2, 6, 7}));
  Tensor expected = ops::log_softmax(ops::select(ops::select(logits, 0, 0), 0, 2), -1);
  EXPECT_TRUE(all_close(ops::select(log_probs, 0, 0), expected, 0.0, 1e-5));
}

TEST(LanguageModel, BadPromptsAreErrors) {
  LanguageModelOptions options;
  options.vocab_size = 16;
  options.d_model = 16;
  options.num_heads = 2;
  options.d_ff = 32;
  options.num_layers = 1;
  options.max_length = 4;
  TransformerLanguageModel model(options);
  EXPECT_TRUE(throws_error_with([&] { model.start_generation({{2}, {}}); }, {"prompt 1 is empty"}));
  EXPECT_TRUE(throws_error_with(
      [&] {
        model.start_generation({{2, 4, 4, 4, 4}});
      },
      {"prompt has length 5", "max_length 4"}));
  EXPECT_TRUE(throws_error_with(
      [&] {
        model.start_generation({{2, 16}});
      },
      {"token id 16", "vocabulary [0, 16)"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(random_tokens(1, 5, 16, 1)); },
                                {"length 5", "max_length 4"}));
}

// ---- checkpoints -----------------------------------------------------------------------------

TEST(TransformerCheckpoint, RoundTripGivesIdenticalOutputs) {
  attn::testing::TemporaryDirectory directory;
  manual_seed(14);
  TransformerOptions options = small_options(NormPlacement::Pre);
  options.tie_output = true;
  Transformer model(options);
  model.eval();
  io::save_checkpoint(directory.file("model.safetensors"), model, options.to_json().dump());

  io::Checkpoint checkpoint = io::load_checkpoint(directory.file("model.safetensors"));
  manual_seed(99);  // different initial values, all overwritten by the checkpoint
  Transformer restored(
      TransformerOptions::from_json(nlohmann::json::parse(checkpoint.config_json)));
  io::load_into(checkpoint, restored);
  restored.eval();
  Tensor source = random_tokens(2, 6, 19, 31);
  Tensor target = random_tokens(2, 5, 17, 32);
  NoGradGuard no_grad;
  EXPECT_TRUE(all_close(restored.forward(source, target), model.forward(source, target), 0, 0));

  LanguageModelOptions language_options;
  language_options.vocab_size = 20;
  language_options.d_model = 16;
  language_options.num_heads = 2;
  language_options.d_ff = 24;
  language_options.num_layers = 1;
  TransformerLanguageModel language_model(language_options);
  io::save_checkpoint(directory.file("lm.safetensors"), language_model,
                      language_options.to_json().dump());
  io::Checkpoint lm_checkpoint = io::load_checkpoint(directory.file("lm.safetensors"));
  TransformerLanguageModel lm_restored(
      LanguageModelOptions::from_json(nlohmann::json::parse(lm_checkpoint.config_json)));
  io::load_into(lm_checkpoint, lm_restored);
  language_model.eval();
  lm_restored.eval();
  Tensor text = random_tokens(2, 7, 20, 33);
  EXPECT_TRUE(all_close(lm_restored.forward(text), language_model.forward(text), 0, 0));
}

// ---- learning ------------------------------------------------------------------------------

// The copy task: source a1 ... an (ids 4..11, 1 <= n <= 6), target a1 ... an </s>.
struct CopyBatch {
  Tensor source, source_padding, target_in, target_out;
  std::vector<std::vector<std::int64_t>> expected;
};

CopyBatch copy_batch(std::int64_t batch, std::uint64_t seed) {
  const std::int64_t width = 6;
  std::vector<std::int64_t> source(batch * width, 0), target_in(batch * (width + 1), 0),
      target_out(batch * (width + 1), 0);
  CopyBatch result;
  std::uint64_t counter = 0;
  auto uniform = [&] { return philox_uniform(seed, 0, counter++); };
  for (std::int64_t b = 0; b < batch; ++b) {
    auto length = 1 + static_cast<std::int64_t>(uniform() * width);
    std::vector<std::int64_t> sequence;
    target_in[b * (width + 1)] = 2;  // <s>
    for (std::int64_t i = 0; i < length; ++i) {
      sequence.push_back(4 + static_cast<std::int64_t>(uniform() * 8));
      source[b * width + i] = sequence.back();
      target_in[b * (width + 1) + i + 1] = sequence.back();
      target_out[b * (width + 1) + i] = sequence.back();
    }
    target_out[b * (width + 1) + length] = 3;  // </s>
    result.expected.push_back(sequence);
  }
  result.source = tokens({batch, width}, source);
  result.source_padding = ops::eq(result.source, Tensor::zeros({}, DType::Int64));
  result.target_in = tokens({batch, width + 1}, target_in);
  result.target_out = tokens({batch, width + 1}, target_out);
  return result;
}

// 300 Adam steps on batches of 32, the learning rate decaying linearly over the second
// half; about a second in Release. Five seeds all reached 200 of 200.
TEST(TransformerLearning, CopyTaskReachesExactMatchWithGreedyDecoding) {
  manual_seed(5);
  TransformerOptions options;
  options.source_vocab_size = 12;
  options.target_vocab_size = 12;
  options.d_model = 32;
  options.num_heads = 2;
  options.d_ff = 64;
  options.encoder_layers = 1;
  options.decoder_layers = 1;
  options.dropout = 0.0;
  options.max_length = 16;
  options.norm = NormPlacement::Pre;
  options.share_embeddings = true;
  options.tie_output = true;
  Transformer model(options);
  const double learning_rate = 5e-3;
  const int num_steps = 300;
  optim::AdamOptions adam;
  adam.learning_rate = learning_rate;
  optim::Adam optimizer(model.parameters(), adam);
  ops::CrossEntropyOptions loss_options;
  loss_options.ignore_index = 0;
  for (int step = 0; step < num_steps; ++step) {
    CopyBatch batch = copy_batch(32, 1000 + static_cast<std::uint64_t>(step));
    Tensor logits = model.forward(batch.source, batch.target_in, batch.source_padding);
    Tensor loss = ops::cross_entropy(ops::reshape(logits, {-1, 12}),
                                     ops::reshape(batch.target_out, {-1}), loss_options);
    optimizer.set_learning_rate(learning_rate *
                                std::min(1.0, 2.0 * (num_steps - step) / num_steps));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  model.eval();
  CopyBatch test = copy_batch(200, 7);
  auto steps = model.start_decoding(test.source, test.source_padding);
  std::vector<decode::Hypothesis> hypotheses = decode::greedy(*steps, 2, 3, 8);
  int exact = 0;
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    exact += hypotheses[i].finished && hypotheses[i].tokens == test.expected[i];
  }
  EXPECT_GT(exact, 190) << exact << " of 200 copied exactly";
}

}  // namespace
}  // namespace attn::models
