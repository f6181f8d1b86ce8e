// Attention capture and the named maps of whole models: the weights recomputed from the
// log-sum-exp equal the softmax of the materialised scores, capturing changes nothing, and
// each model gives the maps, shapes and labels the header promises.
#include "attn/inspect/attention_maps.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/models/language_model.h"
#include "attn/models/rnn_seq2seq.h"
#include "attn/models/transformer.h"
#include "attn/nn/attention_capture.h"
#include "attn/nn/init.h"
#include "attn/nn/multihead_attention.h"
#include "attn/ops/views.h"
#include "attn/text/char_vocabulary.h"
#include "support/compare.h"

namespace attn::inspect {
namespace {

using attn::testing::all_close;

Tensor random_tensor(const Shape& shape, std::uint64_t seed) {
  Generator generator(seed);
  Tensor tensor = Tensor::empty(shape);
  nn::init::normal_(tensor, 0.0, 1.0, generator);
  return tensor;
}

// weights [H, Nq, Nk] or [B, H, Nq, Nk] (contiguous) at an index.
float at(const Tensor& weights, std::initializer_list<std::int64_t> index) {
  std::int64_t flat = 0, dim = 0;
  for (std::int64_t i : index) flat = flat * weights.size(dim++) + i;
  return weights.contiguous().data<float>()[flat];
}

// The softmax of the materialised scores, by the reference implementation, for the inputs a
// capture recorded.
Tensor reference_weights(const nn::CapturedAttention& entry) {
  ops::AttentionOptions options = entry.options;
  options.impl = ops::AttentionImpl::Reference;
  options.need_weights = true;
  return ops::attention(entry.q, entry.k, entry.k, options).weights;
}

std::shared_ptr<text::CharVocabulary> vocabulary() {
  std::vector<std::string> texts{"el perro come pan", "the dog eats bread"};
  return std::make_shared<text::CharVocabulary>(text::CharVocabulary::build(texts));
}

std::unique_ptr<tasks::TranslationModel> tiny_transformer(std::int64_t vocab_size) {
  nlohmann::json options = {{"source_vocab_size", vocab_size}, {"target_vocab_size", vocab_size},
                            {"d_model", 16}, {"num_heads", 2}, {"d_ff", 32},
                            {"encoder_layers", 2}, {"decoder_layers", 2}, {"dropout", 0.0},
                            {"max_length", 40}, {"norm", "pre"}};
  auto model = tasks::TranslationModel::create("transformer", options);
  model->module().eval();
  return model;
}

float row_sum(const Tensor& weights, std::int64_t head, std::int64_t row) {
  float sum = 0;
  for (std::int64_t j = 0; j < weights.size(2); ++j) sum += at(weights, {head, row, j});
  return sum;
}

TEST(AttentionCapture, RecomputedWeightsEqualTheMaterialisedSoftmaxForBothImplementations) {
  for (ops::AttentionImpl impl : {ops::AttentionImpl::Reference, ops::AttentionImpl::Fused}) {
    nn::MultiHeadAttentionOptions options;
    options.embed_dim = 8;
    options.num_heads = 2;
    options.batch_first = true;
    options.impl = impl;
    nn::MultiHeadAttention attention(options);
    Tensor query = random_tensor({2, 3, 8}, 1), memory = random_tensor({2, 5, 8}, 2);
    // Row 1's last two keys are padding.
    Tensor padding = Tensor::zeros({2, 5}, DType::Bool);
    padding.data<bool>()[8] = padding.data<bool>()[9] = true;
    NoGradGuard no_grad;
    nn::AttentionCapture capture;
    nn::MultiHeadAttentionOutput output = attention.forward(
        query, memory, memory, padding, Tensor(), /*need_weights=*/true,
        /*average_attn_weights=*/false);
    ASSERT_EQ(capture.entries().size(), 1u);
    const nn::CapturedAttention& entry = capture.entries().front();
    EXPECT_EQ(entry.module, &attention);
    Tensor weights = entry.weights();
    ASSERT_EQ(weights.shape(), (Shape{2, 2, 3, 5}));
    EXPECT_TRUE(all_close(weights, output.weights, 1e-6, 1e-7)) << ops::impl_name(impl);
    EXPECT_TRUE(all_close(weights, reference_weights(entry), 1e-6, 1e-7));
    // Padded keys get nothing; rows [1, 3) alone equal the same rows of the whole map.
    EXPECT_EQ(at(weights, {1, 0, 2, 3}), 0.0f);
    EXPECT_TRUE(all_close(entry.weights(1, 3), ops::slice(weights, 2, 1, 3), 0, 0));
  }
}

TEST(AttentionCapture, RecordsOnlyWhileAliveAndOnlyInTheInnermost) {
  nn::MultiHeadAttentionOptions options;
  options.embed_dim = 4;
  options.num_heads = 1;
  nn::MultiHeadAttention attention(options);
  Tensor x = random_tensor({3, 1, 4}, 3);
  NoGradGuard no_grad;
  attention.forward(x, x, x);  // no capture: nothing to record into
  nn::AttentionCapture outer;
  {
    nn::AttentionCapture inner;
    attention.forward(x, x, x);
    EXPECT_EQ(inner.entries().size(), 1u);
    EXPECT_EQ(nn::AttentionCapture::active(), &inner);
  }
  EXPECT_EQ(outer.entries().size(), 0u);
  EXPECT_EQ(nn::AttentionCapture::active(), &outer);
  attention.forward(x, x, x);
  EXPECT_EQ(outer.entries().size(), 1u);
}

TEST(AttentionMaps, TransformerForcedDecodingGivesEveryLayerWithLabelsAndLeavesLogitsAlone) {
  auto tokenizer = vocabulary();
  auto model = tiny_transformer(tokenizer->vocab_size());
  std::vector<std::int64_t> source = tokenizer->encode("el perro");
  std::vector<std::int64_t> target = tokenizer->encode("the dog");
  TranslationAttention result =
      translation_attention(*model, *tokenizer, *tokenizer, source, target);

  const auto source_length = static_cast<std::int64_t>(source.size() + 1);  // with </s>
  const auto target_length = static_cast<std::int64_t>(target.size() + 1);
  ASSERT_EQ(result.source_tokens.size(), static_cast<std::size_t>(source_length));
  EXPECT_EQ(result.source_tokens.back(), "</s>");
  EXPECT_EQ(result.source_tokens.front(), "e");
  EXPECT_EQ(result.target_tokens.front(), "t");  // row 0 predicts the first target piece
  ASSERT_EQ(result.maps.size(), 6u);             // 2 encoder + 2 x (self, cross)
  EXPECT_EQ(result.maps[0].name, "encoder.layers.0.self_attention");
  EXPECT_EQ(result.maps[3].name, "decoder.layers.0.cross_attention");
  EXPECT_EQ(result.maps[5].name, "decoder.layers.1.cross_attention");
  EXPECT_EQ(maps_of_kind(result.maps, AttentionKind::Cross).size(), 2u);

  const AttentionMap& cross = result.maps[5];
  EXPECT_EQ(cross.kind, AttentionKind::Cross);
  EXPECT_EQ(cross.layer, 1);
  ASSERT_EQ(cross.weights.shape(), (Shape{2, target_length, source_length}));
  EXPECT_EQ(cross.key_tokens, result.source_tokens);
  const AttentionMap& decoder_self = result.maps[2];
  EXPECT_EQ(decoder_self.key_tokens.front(), "<s>");
  for (std::int64_t head = 0; head < 2; ++head) {
    for (std::int64_t row = 0; row < target_length; ++row) {
      EXPECT_NEAR(row_sum(cross.weights, head, row), 1.0f, 1e-5f);
      EXPECT_NEAR(row_sum(decoder_self.weights, head, row), 1.0f, 1e-5f);
      // Causal: a position never looks ahead.
      for (std::int64_t key = row + 1; key < target_length; ++key) {
        EXPECT_EQ(at(decoder_self.weights, {head, row, key}), 0.0f);
      }
    }
  }
  AttentionMap averaged = average_heads(cross);
  ASSERT_EQ(averaged.weights.shape(), (Shape{1, target_length, source_length}));
  EXPECT_NEAR(at(averaged.weights, {0, 1, 2}),
              0.5f * (at(cross.weights, {0, 1, 2}) + at(cross.weights, {1, 1, 2})),
              1e-7f);
}

TEST(AttentionMaps, CapturedTransformerWeightsEqualTheReferenceSoftmaxAndChangeNoLogit) {
  auto tokenizer = vocabulary();
  auto model = tiny_transformer(tokenizer->vocab_size());
  const auto& transformer = dynamic_cast<const models::Transformer&>(model->module());
  Tensor source = Tensor::from_vector<std::int64_t>({1, 4}, {5, 6, 7, 3});
  Tensor target_in = Tensor::from_vector<std::int64_t>({1, 3}, {2, 8, 9});
  NoGradGuard no_grad;
  Tensor plain = transformer.forward(source, target_in);
  nn::AttentionCapture capture;
  Tensor captured = transformer.forward(source, target_in);
  EXPECT_TRUE(all_close(captured, plain, 0, 0));
  ASSERT_EQ(capture.entries().size(), 6u);
  for (const nn::CapturedAttention& entry : capture.entries()) {
    EXPECT_TRUE(all_close(entry.weights(), reference_weights(entry), 1e-6, 1e-7));
  }
}

TEST(AttentionMaps, IncrementalDecodingCapturesTheSameRowsAsTheFullForward) {
  auto tokenizer = vocabulary();
  auto model = tiny_transformer(tokenizer->vocab_size());
  const auto& transformer = dynamic_cast<const models::Transformer&>(model->module());
  Tensor source = Tensor::from_vector<std::int64_t>({1, 4}, {5, 6, 7, 3});
  const std::vector<std::int64_t> fed{2, 8, 9};
  NoGradGuard no_grad;
  nn::AttentionCapture steps;
  auto step_model = transformer.start_decoding(source);
  for (std::int64_t token : fed) step_model->next_log_probs({token});
  nn::AttentionCapture full;
  transformer.forward(source, Tensor::from_vector<std::int64_t>({1, 3}, fed));
  const void* self_attention = &transformer.decoder().layer(1).self_attention();
  std::vector<const nn::CapturedAttention*> step_entries = steps.entries_of(self_attention);
  ASSERT_EQ(step_entries.size(), 3u);
  Tensor whole = full.entries_of(self_attention).front()->weights();  // [1, H, 3, 3]
  for (std::int64_t step = 0; step < 3; ++step) {
    // The step's one row covers the step + 1 positions cached so far.
    Tensor row = step_entries[step]->weights();  // [1, H, 1, step + 1]
    Tensor expected = ops::slice(ops::slice(whole, 2, step, step + 1), 3, 0, step + 1);
    EXPECT_TRUE(all_close(row, expected, 1e-5, 1e-6)) << "step " << step;
  }
}

TEST(AttentionMaps, RnnSeq2SeqGivesItsOneAttentionAsTheCrossMap) {
  auto tokenizer = vocabulary();
  const std::int64_t vocab_size = tokenizer->vocab_size();
  nlohmann::json options = {{"source_vocab_size", vocab_size}, {"target_vocab_size", vocab_size},
                            {"embedding_size", 8}, {"hidden_size", 8}, {"dropout", 0.0}};
  auto model = tasks::TranslationModel::create("rnn", options);
  model->module().eval();
  std::vector<std::int64_t> source = tokenizer->encode("pan");
  std::vector<std::int64_t> target = tokenizer->encode("bread");
  TranslationAttention result =
      translation_attention(*model, *tokenizer, *tokenizer, source, target);
  ASSERT_EQ(result.maps.size(), 1u);
  const AttentionMap& map = result.maps.front();
  EXPECT_EQ(map.name, "attention");
  EXPECT_EQ(map.kind, AttentionKind::Cross);
  ASSERT_EQ(map.weights.shape(), (Shape{1, 6, 4}));  // "bread</s>" x "pan</s>"

  const auto& rnn = dynamic_cast<const models::RnnSeq2Seq&>(model->module());
  NoGradGuard no_grad;
  Tensor source_tensor = Tensor::from_vector<std::int64_t>({1, 4}, {source[0], source[1], source[2], 3});
  std::vector<std::int64_t> target_in{2};
  target_in.insert(target_in.end(), target.begin(), target.end());
  Tensor expected = rnn.forward(source_tensor, Tensor(),
                                Tensor::from_vector<std::int64_t>({1, 6}, target_in), true)
                        .attention_weights;
  EXPECT_TRUE(all_close(map.weights, expected, 0, 0));
}

// Pairs of several lengths in one padded pass give each pair the maps it gets alone: the
// same names, tokens and shapes, weights to float32 rounding.
TEST(AttentionMaps, ABatchOfPairsGivesEachPairItsMapsAlone) {
  auto tokenizer = vocabulary();
  const std::int64_t vocab_size = tokenizer->vocab_size();
  nlohmann::json rnn_options = {{"source_vocab_size", vocab_size}, {"target_vocab_size", vocab_size},
                                {"embedding_size", 8}, {"hidden_size", 8}, {"dropout", 0.0}};
  std::vector<std::unique_ptr<tasks::TranslationModel>> models;
  models.push_back(tiny_transformer(vocab_size));
  models.push_back(tasks::TranslationModel::create("rnn", rnn_options));
  models.back()->module().eval();
  const std::vector<std::vector<std::int64_t>> sources = {
      tokenizer->encode("el perro come pan"), tokenizer->encode("pan"), tokenizer->encode("el pan")};
  const std::vector<std::vector<std::int64_t>> targets = {
      tokenizer->encode("the dog"), tokenizer->encode("the dog eats bread"), {}};
  for (const auto& model : models) {
    const std::vector<TranslationAttention> batch =
        translation_attention(*model, *tokenizer, *tokenizer, sources, targets);
    ASSERT_EQ(batch.size(), sources.size());
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const TranslationAttention alone =
          translation_attention(*model, *tokenizer, *tokenizer, sources[i], targets[i]);
      EXPECT_EQ(batch[i].source_tokens, alone.source_tokens);
      EXPECT_EQ(batch[i].target_tokens, alone.target_tokens);
      ASSERT_EQ(batch[i].maps.size(), alone.maps.size());
      for (std::size_t m = 0; m < alone.maps.size(); ++m) {
        const AttentionMap& got = batch[i].maps[m];
        const AttentionMap& expected = alone.maps[m];
        EXPECT_EQ(got.name, expected.name);
        EXPECT_EQ(got.query_tokens, expected.query_tokens);
        EXPECT_EQ(got.key_tokens, expected.key_tokens);
        ASSERT_EQ(got.weights.shape(), expected.weights.shape()) << model->arch() << " pair " << i << " " << got.name;
        EXPECT_TRUE(all_close(got.weights, expected.weights, 1e-6, 1e-6)) << model->arch() << " pair " << i << " " << got.name;
      }
    }
  }
  EXPECT_THROW(translation_attention(*models[0], *tokenizer, *tokenizer, sources, {targets[0]}), Error);
}

TEST(AttentionMaps, LanguageModelAndClassifierMaps) {
  auto tokenizer = vocabulary();
  const std::int64_t vocab_size = tokenizer->vocab_size();
  models::LanguageModelOptions lm_options;
  lm_options.vocab_size = vocab_size;
  lm_options.d_model = 16;
  lm_options.num_heads = 4;
  lm_options.d_ff = 32;
  lm_options.num_layers = 3;
  lm_options.max_length = 8;
  auto language_model = std::make_shared<models::TransformerLanguageModel>(lm_options);
  language_model->eval();
  tasks::TextGenerator generator(language_model, tokenizer);
  LanguageModelAttention lm = language_model_attention(generator, "dog");
  EXPECT_EQ(lm.tokens, (std::vector<std::string>{"</s>", "d", "o", "g"}));
  ASSERT_EQ(lm.maps.size(), 3u);
  EXPECT_EQ(lm.maps[2].name, "decoder.layers.2.self_attention");
  EXPECT_EQ(lm.maps[2].kind, AttentionKind::DecoderSelf);
  ASSERT_EQ(lm.maps[2].weights.shape(), (Shape{4, 4, 4}));
  EXPECT_EQ(at(lm.maps[2].weights, {3, 0, 0}), 1.0f);  // the first position sees itself
  EXPECT_THROW(language_model_attention(generator, "the dog eats"), Error);  // > max_length

  nlohmann::json classifier_options = {{"vocab_size", vocab_size}, {"num_classes", 3},
                                       {"d_model", 16}, {"num_heads", 2}, {"d_ff", 32},
                                       {"num_layers", 2}, {"max_length", 32}, {"dropout", 0.0}};
  std::shared_ptr<tasks::ClassificationModel> transformer_classifier =
      tasks::ClassificationModel::create("transformer", classifier_options);
  transformer_classifier->module().eval();
  tasks::Classifier classifier(transformer_classifier, tokenizer, {"a", "b", "c"}, 32,
                               data::Truncation::KeepStart);
  ClassificationAttention classified = classification_attention(classifier, "pan");
  EXPECT_EQ(classified.result.tokens, (std::vector<std::string>{"p", "a", "n"}));
  ASSERT_EQ(classified.maps.size(), 2u);
  EXPECT_EQ(classified.maps[1].name, "encoder.layers.1.self_attention");
  ASSERT_EQ(classified.maps[1].weights.shape(), (Shape{2, 3, 3}));

  nlohmann::json bigru_options = {{"vocab_size", vocab_size}, {"num_classes", 2},
                                  {"max_length", 32}, {"embedding_size", 8},
                                  {"hidden_size", 8}, {"attention_size", 4}, {"dropout", 0.0}};
  std::shared_ptr<tasks::ClassificationModel> bigru =
      tasks::ClassificationModel::create("bigru", bigru_options);
  bigru->module().eval();
  tasks::Classifier bigru_classifier(bigru, tokenizer, {"no", "yes"}, 32,
                                     data::Truncation::KeepStart);
  ClassificationAttention pooled = classification_attention(bigru_classifier, "dog");
  ASSERT_EQ(pooled.maps.size(), 1u);
  EXPECT_EQ(pooled.maps[0].kind, AttentionKind::Pooling);
  ASSERT_EQ(pooled.maps[0].weights.shape(), (Shape{1, 1, 3}));
  EXPECT_EQ(pooled.maps[0].key_tokens, (std::vector<std::string>{"d", "o", "g"}));
  EXPECT_NEAR(row_sum(pooled.maps[0].weights, 0, 0), 1.0f, 1e-5f);
}

TEST(AttentionMaps, BadInputIsAnError) {
  auto tokenizer = vocabulary();
  auto model = tiny_transformer(tokenizer->vocab_size());
  std::vector<std::int64_t> long_source(40, 5);  // 41 with </s>; the model takes 40
  EXPECT_THROW(translation_attention(*model, *tokenizer, *tokenizer, long_source, {5}), Error);
  EXPECT_EQ(parse_attention_kind("cross"), AttentionKind::Cross);
  EXPECT_THROW(parse_attention_kind("crosss"), Error);
}

}  // namespace
}  // namespace attn::inspect
