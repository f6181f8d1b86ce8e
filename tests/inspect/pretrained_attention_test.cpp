// The attention maps of a pretrained encoder (all-MiniLM-L6-v2) on a text and on a pair:
// labelled with the tokenizer's pieces, one map per layer, each row a distribution, and the
// same weights transformers gives (the fixture batch's pair row).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "attn/inspect/attention_maps.h"
#include "attn/ops/views.h"
#include "support/compare.h"
#include "support/pretrained_model.h"

namespace attn::inspect {
namespace {

using attn::testing::all_close;

const models::PretrainedEncoder& minilm() {
  static const auto model = models::load_pretrained(testing::minilm_directory());
  return *model;
}

TEST(PretrainedAttention, APairIsLabelledAndEqualsTransformersAttention) {
  // The fourth row of the fixture batch: this pair, without padding.
  PretrainedAttention attention =
      pretrained_attention(minilm(), "Who was the heroine?", "Anne Elliot, of Kellynch Hall.");
  ASSERT_GE(attention.tokens.size(), 4u);
  EXPECT_EQ(attention.tokens.front(), "[CLS]");
  EXPECT_EQ(attention.tokens.back(), "[SEP]");
  EXPECT_EQ(attention.tokens[1], "who");
  EXPECT_EQ(attention.type_ids.front(), 0);
  EXPECT_EQ(attention.type_ids.back(), 1);
  const auto n = std::int64_t(attention.tokens.size());
  ASSERT_EQ(attention.maps.size(), 6u);
  io::SafetensorsData fixture = testing::load_fixture("pretrained/minilm_states.safetensors");
  const Tensor& expected = fixture.tensors.at("attentions");  // [6, 4, 12, N, N], padded
  for (std::int64_t layer = 0; layer < 6; ++layer) {
    const AttentionMap& map = attention.maps[std::size_t(layer)];
    EXPECT_EQ(map.name, "encoder.layers." + std::to_string(layer) + ".self_attention");
    EXPECT_EQ(map.kind, AttentionKind::EncoderSelf);
    ASSERT_EQ(map.weights.shape(), (Shape{12, n, n}));
    EXPECT_EQ(map.query_tokens, attention.tokens);
    Tensor want = ops::slice(ops::slice(ops::select(ops::select(expected, 0, layer), 0, 3), 1, 0, n), 2, 0, n);
    EXPECT_TRUE(all_close(map.weights, want.contiguous(), 0, 1e-4)) << "layer " << layer;
  }
}

TEST(PretrainedAttention, AnEmptyTextIsAnError) {
  EXPECT_THROW(pretrained_attention(minilm(), ""), Error);
}

}  // namespace
}  // namespace attn::inspect
