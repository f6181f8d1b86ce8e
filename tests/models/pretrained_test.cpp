// The real all-MiniLM-L6-v2 against sentence-transformers and transformers (fixtures written
// by tools/make_pretrained_fixtures.py), and the loader's checks on tiny random BERT folders
// written here.
//
// Tolerances (the targets): embeddings max |Δ| <= 1e-5 and cosine >= 0.99999; hidden
// states <= 1e-4 (six post-norm layers of float32 at |x| up to about 10, summed in another
// order than PyTorch's); attention probabilities <= 1e-4 with padded keys exactly 0; a text
// alone and inside a padded batch <= 1e-6 (padding changes only the GEMM shapes).
#include "attn/models/pretrained.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/io/safetensors.h"
#include "attn/nn/attention_capture.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/views.h"
#include "support/compare.h"
#include "support/pretrained_model.h"
#include "support/temporary_directory.h"

namespace attn::models {
namespace {

using attn::testing::all_close;
using attn::testing::load_fixture;
using attn::testing::TemporaryDirectory;
namespace fs = std::filesystem;

// ---- the real model -----------------------------------------------------------------------

using attn::testing::minilm_directory;

// Loaded once for the whole program: 90 MB of weights.
const PretrainedEncoder& minilm() {
  static const std::shared_ptr<PretrainedEncoder> model = [] {
    const std::string directory = minilm_directory();
    if (!fs::exists(fs::path(directory) / "model.safetensors")) {
      throw Error("the pretrained model is not installed at " + directory +
                  " (scripts/setup.sh installs it; ATTN_MINILM_DIR names another folder)");
    }
    return load_pretrained(directory);
  }();
  return *model;
}

std::vector<std::string> fixture_sentences() {
  std::ifstream stream(attn::testing::fixture_path("pretrained/minilm_sentences.txt"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

double cosine(const float* a, const float* b, std::int64_t size) {
  double dot = 0, norm_a = 0, norm_b = 0;
  for (std::int64_t i = 0; i < size; ++i) {
    dot += double(a[i]) * b[i];
    norm_a += double(a[i]) * a[i];
    norm_b += double(b[i]) * b[i];
  }
  return dot / std::sqrt(norm_a * norm_b);
}

// The first `count` fixture sentences: attn's token ids equal transformers', and the
// embeddings sentence-transformers'.
void expect_embeddings_match(std::int64_t count) {
  const std::vector<std::string> sentences = fixture_sentences();
  ASSERT_EQ(sentences.size(), 1000u);
  io::SafetensorsData fixture = load_fixture("pretrained/minilm_embeddings.safetensors");
  const Tensor& expected = fixture.tensors.at("embeddings");
  const std::int64_t* ids = fixture.tensors.at("ids").data<std::int64_t>();
  const std::int64_t* offsets = fixture.tensors.at("offsets").data<std::int64_t>();
  std::vector<std::string> texts(sentences.begin(), sentences.begin() + count);
  for (std::int64_t i = 0; i < count; ++i) {
    const text::WordPieceEncoding encoding = minilm().tokenizer().encode(texts[i], 256);
    const std::vector<std::int64_t> want(ids + offsets[i], ids + offsets[i + 1]);
    ASSERT_EQ(encoding.ids, want) << "sentence " << i;
  }
  Tensor embeddings = minilm().embed(texts);
  ASSERT_EQ(embeddings.shape(), (Shape{count, 384}));
  double worst_difference = 0, worst_cosine = 1;
  for (std::int64_t i = 0; i < count; ++i) {
    const float* got = embeddings.data<float>() + i * 384;
    const float* want = expected.data<float>() + i * 384;
    for (std::int64_t j = 0; j < 384; ++j) {
      worst_difference = std::max(worst_difference, double(std::abs(got[j] - want[j])));
    }
    worst_cosine = std::min(worst_cosine, cosine(got, want, 384));
  }
  EXPECT_LE(worst_difference, 1e-5);
  EXPECT_GE(worst_cosine, 0.99999);
}

TEST(PretrainedMiniLM, ReadsTheFolderAsSentenceTransformersDoes) {
  const PretrainedEncoder& model = minilm();
  EXPECT_EQ(model.model_type(), "bert");
  const BertOptions& options = model.model().options();
  EXPECT_EQ(options.num_layers, 6);
  EXPECT_EQ(options.hidden_size, 384);
  EXPECT_EQ(options.num_heads, 12);
  EXPECT_EQ(options.intermediate_size, 1536);
  EXPECT_EQ(options.vocab_size, 30522);
  EXPECT_EQ(options.activation, nn::Activation::GELU);
  EXPECT_TRUE(model.is_sentence_transformer());
  EXPECT_EQ(model.sentence_options().pooling, Pooling::Mean);
  EXPECT_TRUE(model.sentence_options().normalize);
  // max_seq_length from sentence_bert_config.json, not tokenizer.json's 128.
  EXPECT_EQ(model.max_length(), 256);
  EXPECT_FALSE(model.model().is_training());
}

TEST(PretrainedMiniLM, HiddenStatesAndAttentionEqualTransformersEager) {
  io::SafetensorsData fixture = load_fixture("pretrained/minilm_states.safetensors");
  const Tensor& ids = fixture.tensors.at("ids");
  Tensor padding = ops::eq(fixture.tensors.at("mask"), Tensor::zeros({}, DType::Int64));
  NoGradGuard no_grad;
  nn::AttentionCapture capture;
  Tensor hidden = minilm().model().forward(ids, fixture.tensors.at("type_ids"), padding);
  EXPECT_TRUE(all_close(hidden, fixture.tensors.at("last_hidden_state"), 0, 1e-4));
  const Tensor& attentions = fixture.tensors.at("attentions");  // [6, B, H, N, N]
  ASSERT_EQ(capture.entries().size(), 6u);
  for (std::int64_t layer = 0; layer < 6; ++layer) {
    Tensor weights = capture.entries()[std::size_t(layer)].weights();
    EXPECT_TRUE(all_close(weights, ops::select(attentions, 0, layer), 0, 1e-4)) << "layer " << layer;
    // Padded keys get exactly nothing.
    for (std::int64_t b = 0; b < ids.size(0); ++b) {
      for (std::int64_t j = 0; j < ids.size(1); ++j) {
        if (!padding.data<bool>()[b * ids.size(1) + j]) continue;
        for (std::int64_t h = 0; h < 12; ++h) {
          for (std::int64_t i = 0; i < ids.size(1); ++i) {
            ASSERT_EQ(weights.data<float>()[((b * 12 + h) * ids.size(1) + i) * ids.size(1) + j], 0.0f);
          }
        }
      }
    }
  }
}

TEST(PretrainedMiniLM, EmbeddingsOfTheFirstSentencesEqualSentenceTransformers) {
  expect_embeddings_match(48);
}

// All 1,000 passages (1 to 300+ tokens, cut at 256): the slowest test of the suite, run once
// per CI run (scripts/test.sh leaves it out of the repeats per SIMD target and under the
// sanitizers, which run the 48-passage test above).
TEST(PretrainedMiniLMSlow, EmbeddingsOfAThousandPassagesEqualSentenceTransformers) {
  expect_embeddings_match(1000);
}

TEST(PretrainedMiniLM, ATextAloneEqualsItselfInsideAPaddedBatchOf32) {
  std::vector<std::string> sentences = fixture_sentences();
  std::vector<std::string> batch(sentences.begin(), sentences.begin() + 32);
  Tensor together = minilm().embed(batch, 32);
  for (std::int64_t i : {0, 5, 31}) {
    Tensor alone = minilm().embed({batch[std::size_t(i)]});
    EXPECT_TRUE(all_close(alone, ops::slice(together, 0, i, i + 1), 0, 1e-6)) << "text " << i;
  }
}

TEST(PretrainedMiniLM, InvalidUtf8IsAnErrorNamingTheText) {
  try {
    minilm().embed({"fine", std::string("bad \xFF byte")});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("text 2"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace attn::models
