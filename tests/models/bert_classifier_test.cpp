// BertClassifier: a BERT encoder with a pooled classification head, on tiny random folders
// and on the real all-MiniLM-L6-v2 (its features are the model's sentence embeddings).
#include "attn/models/bert_classifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/ops/ops.h"
#include "attn/text/wordpiece.h"
#include "nn/nn_test_support.h"
#include "support/compare.h"
#include "support/pretrained_model.h"
#include "support/tiny_bert_folder.h"

namespace attn::models {
namespace {

using attn::testing::all_close;
using attn::testing::throws_error_with;

BertClassifierOptions tiny_classifier_options() {
  BertClassifierOptions options;
  options.encoder = attn::testing::tiny_bert_options(12);
  options.num_classes = 3;
  options.cls_id = 2;
  options.sep_id = 3;
  options.pad_id = 0;
  return options;
}

double largest_magnitude(const Tensor& x) {
  double largest = 0;
  for (double value : x.to(DType::Float64).contiguous().to_vector<double>()) {
    largest = std::max(largest, std::abs(value));
  }
  return largest;
}

Tensor int64s(const Shape& shape, const std::vector<std::int64_t>& values) {
  return Tensor::from_vector<std::int64_t>(shape, values);
}

TEST(BertClassifier, FeaturesArePooledEncoderStatesOfClsPiecesSep) {
  manual_seed(3);
  for (Pooling pooling : {Pooling::Cls, Pooling::Mean, Pooling::Max, Pooling::MeanSqrtLength}) {
    BertClassifierOptions options = tiny_classifier_options();
    options.pooling = pooling;
    BertClassifier model(options);
    model.eval();
    NoGradGuard no_grad;
    // Two rows, the second padded (its pad ids are arbitrary: they must not matter).
    const Tensor pieces = int64s({2, 3}, {5, 6, 7, /**/ 9, 10, 11});
    const Tensor features = model.features(pieces, {3, 1});
    // The same by hand: each row alone, [CLS] pieces [SEP], no padding.
    const Tensor first = model.encoder().forward(int64s({1, 5}, {2, 5, 6, 7, 3}));
    const Tensor second = model.encoder().forward(int64s({1, 3}, {2, 9, 3}));
    const Tensor none_padded_first = Tensor::zeros({1, 5}, DType::Bool);
    const Tensor none_padded_second = Tensor::zeros({1, 3}, DType::Bool);
    EXPECT_TRUE(all_close(ops::select(features, 0, 0),
                          ops::select(pool(first, none_padded_first, pooling), 0, 0), 1e-6, 1e-6))
        << pooling_name(pooling);
    EXPECT_TRUE(all_close(ops::select(features, 0, 1),
                          ops::select(pool(second, none_padded_second, pooling), 0, 0), 1e-6, 1e-6))
        << pooling_name(pooling);
  }
}

TEST(BertClassifier, OneBackwardReachesEveryParameterOfEncoderAndHead) {
  manual_seed(4);
  BertClassifierOptions options = tiny_classifier_options();
  options.classifier_dropout = 0.0;
  options.encoder.hidden_dropout = 0.0;
  options.encoder.attention_dropout = 0.0;
  BertClassifier model(options);
  model.train();
  const Tensor logits = model.forward(int64s({2, 3}, {5, 6, 7, /**/ 9, 10, 0}), {3, 2});
  ASSERT_EQ(logits.shape(), Shape({2, 3}));
  ops::cross_entropy(logits, int64s({2}, {0, 2})).backward();
  for (const auto& [name, parameter] : model.named_parameters()) {
    ASSERT_TRUE(parameter.grad().defined()) << name;
    // Only the embedding rows of the ids used get a gradient; every other tensor has one
    // somewhere.
    const double largest = largest_magnitude(parameter.grad());
    EXPECT_GT(largest, 0.0) << name;
  }
}

TEST(BertClassifier, TakesALoadedEncoderAndNamesItsParametersAsHuggingFace) {
  attn::testing::TinyBertFolder folder;
  folder.write();
  const std::shared_ptr<PretrainedEncoder> loaded = load_pretrained(folder.path());
  BertClassifierOptions options = tiny_classifier_options();
  options.encoder = loaded->model().options();
  BertClassifier model(options, loaded->shared_model());
  const auto state = model.state_dict();
  EXPECT_TRUE(state.count("bert.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(state.count("classifier.weight"));
  EXPECT_TRUE(state.count("classifier.bias"));
  EXPECT_TRUE(all_close(state.at("bert.encoder.layers.1.feed_forward.w1.weight"),
                        folder.model.state_dict().at("encoder.layers.1.feed_forward.w1.weight"), 0, 0));
  // The head starts as Hugging Face's: N(0, 0.02) weights, zero bias.
  EXPECT_EQ(largest_magnitude(state.at("classifier.bias")), 0.0);
  EXPECT_LT(largest_magnitude(state.at("classifier.weight")), 0.2);

  BertClassifierOptions other = options;
  other.encoder.intermediate_size = 32;
  EXPECT_TRUE(throws_error_with([&] { BertClassifier mismatched(other, loaded->shared_model()); },
                                {"BertClassifier", "encoder's options"}));
}

TEST(BertClassifier, OptionsRoundTripThroughJsonAndBadOnesAreNamed) {
  BertClassifierOptions options = tiny_classifier_options();
  options.pooling = Pooling::MeanSqrtLength;
  options.classifier_dropout = 0.25;
  options.encoder.activation = nn::Activation::GELUTanh;
  const nlohmann::json json = options.to_json();
  EXPECT_EQ(BertClassifierOptions::from_json(json).to_json(), json);
  EXPECT_EQ(json.at("pooling"), "mean_sqrt_len");

  nlohmann::json unknown = json;
  unknown["temperature"] = 2;
  EXPECT_TRUE(throws_error_with([&] { BertClassifierOptions::from_json(unknown); },
                                {"unknown key", "temperature"}));
  nlohmann::json bad_encoder = json;
  bad_encoder["encoder"]["hidden_layers"] = 2;
  EXPECT_TRUE(throws_error_with([&] { BertClassifierOptions::from_json(bad_encoder); },
                                {"BertOptions", "hidden_layers"}));
  nlohmann::json bad_pooling = json;
  bad_pooling["pooling"] = "median";
  EXPECT_TRUE(throws_error_with([&] { BertClassifierOptions::from_json(bad_pooling); },
                                {"median"}));

  BertClassifierOptions one_class = tiny_classifier_options();
  one_class.num_classes = 1;
  EXPECT_TRUE(throws_error_with([&] { BertClassifier model(one_class); }, {"num_classes"}));
  BertClassifierOptions outside = tiny_classifier_options();
  outside.sep_id = 12;
  EXPECT_TRUE(throws_error_with([&] { BertClassifier model(outside); }, {"sep_id", "12"}));
}

TEST(BertClassifier, InputsThatDoNotFitAreErrors) {
  manual_seed(5);
  BertClassifier model(tiny_classifier_options());
  NoGradGuard no_grad;
  // 16 positions hold 14 pieces between [CLS] and [SEP].
  EXPECT_TRUE(throws_error_with([&] { model.forward(Tensor::full({1, 15}, 5, DType::Int64), {15}); },
                                {"15 pieces", "at most 14"}));
  EXPECT_NO_THROW(model.forward(Tensor::full({1, 14}, 5, DType::Int64), {14}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(int64s({2, 2}, {5, 6, 7, 8}), {2}); },
                                {"1 lengths for a batch of 2"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(int64s({1, 2}, {5, 6}), {0}); },
                                {"row 0 has length 0"}));
  EXPECT_TRUE(throws_error_with([&] { model.forward(int64s({1, 2}, {5, 40}), {2}); },
                                {"40", "outside"}));
}

// The real model: with its own pooling, the classifier's features are the folder's sentence
// embeddings (before normalisation), so fine-tuning starts from what sentence-transformers
// computes.
TEST(PretrainedMiniLM, ClassifierFeaturesAreTheSentenceEmbeddings) {
  const std::shared_ptr<PretrainedEncoder> encoder = load_pretrained(attn::testing::minilm_directory());
  const auto tokenizer = text::PretrainedWordPiece::from_directory(attn::testing::minilm_directory());
  BertClassifierOptions options;
  options.encoder = encoder->model().options();
  options.pooling = encoder->sentence_options().pooling;
  options.cls_id = tokenizer.bos_id();
  options.sep_id = tokenizer.eos_id();
  options.pad_id = tokenizer.pad_id();
  BertClassifier model(options, encoder->shared_model());
  model.eval();
  const std::vector<std::string> texts = {"It is a truth universally acknowledged.",
                                          "Emma Woodhouse, handsome, clever, and rich."};
  std::vector<std::vector<std::int64_t>> ids;
  for (const std::string& text : texts) ids.push_back(tokenizer.encode(text));
  const std::int64_t width = static_cast<std::int64_t>(std::max(ids[0].size(), ids[1].size()));
  Tensor pieces = Tensor::zeros({2, width}, DType::Int64);
  for (std::int64_t row = 0; row < 2; ++row) {
    std::copy(ids[row].begin(), ids[row].end(), pieces.data<std::int64_t>() + row * width);
  }
  NoGradGuard no_grad;
  const Tensor features = model.features(
      pieces, {static_cast<std::int64_t>(ids[0].size()), static_cast<std::int64_t>(ids[1].size())});
  const Tensor embeddings = encoder->embed(texts);  // normalised, as the folder says
  EXPECT_TRUE(all_close(normalize_rows(features), embeddings, 1e-6, 1e-6));
}

}  // namespace
}  // namespace attn::models
