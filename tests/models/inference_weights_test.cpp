// The inference copies of a model's linear weights: an exact transpose, used only while a
// Scope is alive, the same forward as without them, and dropped by PretrainedEncoder when
// its model is handed out for change.
#include "attn/models/inference_weights.h"

#include <gtest/gtest.h>

#include "attn/autograd/grad_mode.h"
#include "attn/models/bert.h"
#include "attn/models/pretrained.h"
#include "attn/nn/init.h"
#include "attn/ops/views.h"
#include "support/compare.h"
#include "support/tiny_bert_folder.h"

namespace attn::models {
namespace {

Tensor token_ids(std::int64_t batch, std::int64_t length, std::int64_t vocab_size) {
  Tensor ids = Tensor::empty({batch, length}, DType::Int64);
  for (std::int64_t i = 0; i < ids.numel(); ++i) ids.data<std::int64_t>()[i] = (i * 7 + 3) % vocab_size;
  return ids;
}

TEST(InferenceWeights, HoldsAnExactTransposeOfEveryMatrixMultiplied) {
  BertModel model(attn::testing::tiny_bert_options(12));
  model.eval();
  const InferenceWeights weights;
  EXPECT_EQ(weights.size(), 0u);
  {
    NoGradGuard no_grad;
    const InferenceWeights::Scope scope(&weights);
    model.forward(token_ids(2, 5, 12));
  }
  // Per layer: in_proj_weight, out_proj.weight, w1.weight, w2.weight. The embedding tables
  // are looked up, not multiplied, and LayerNorm's vectors are not matrices: no copies.
  EXPECT_EQ(weights.size(), 2u * 4u);
  EXPECT_EQ(weights.bytes(), std::int64_t(sizeof(float)) * (2 * (3 * 8 * 8 + 8 * 8 + 2 * 8 * 16)));
  for (const auto& [name, parameter] : model.encoder().named_parameters()) {
    if (parameter.dim() != 2) continue;
    const Tensor* copy = weights.transposed(parameter);
    ASSERT_NE(copy, nullptr) << name;
    ASSERT_EQ(copy->shape(), Shape({parameter.size(1), parameter.size(0)})) << name;
    for (std::int64_t r = 0; r < parameter.size(0); ++r) {
      for (std::int64_t c = 0; c < parameter.size(1); ++c) {
        ASSERT_EQ(copy->data<float>()[c * parameter.size(0) + r],
                  parameter.data<float>()[r * parameter.size(1) + c])
            << name;
      }
    }
  }
  EXPECT_EQ(weights.size(), 2u * 4u);  // asking again made no new copies
  // The same storage seen with another shape, a vector, or a double matrix has none.
  const Tensor& w1 = model.encoder().layer(0).feed_forward().w1().weight();
  EXPECT_EQ(weights.transposed(ops::reshape(w1, {w1.size(1), w1.size(0)})), nullptr);
  EXPECT_EQ(weights.transposed(ops::reshape(w1, {w1.numel()})), nullptr);
  EXPECT_EQ(weights.transposed(Tensor::zeros({3, 4}, DType::Float64)), nullptr);
}

TEST(InferenceWeights, ScopesNestAndEndOnTheirThread) {
  const InferenceWeights outer, inner;
  EXPECT_EQ(InferenceWeights::active(), nullptr);
  {
    const InferenceWeights::Scope first(&outer);
    EXPECT_EQ(InferenceWeights::active(), &outer);
    {
      const InferenceWeights::Scope second(&inner);
      EXPECT_EQ(InferenceWeights::active(), &inner);
    }
    EXPECT_EQ(InferenceWeights::active(), &outer);
  }
  EXPECT_EQ(InferenceWeights::active(), nullptr);
}

TEST(InferenceWeights, TheForwardIsTheSameWithAndWithoutThem) {
  BertModel model(attn::testing::tiny_bert_options(12));
  model.eval();
  const InferenceWeights weights;
  NoGradGuard no_grad;
  // 1 × 5 rows and 3 × 9 = 27 rows: both under the row limit of the copies.
  for (const auto& [batch, length] : {std::pair<std::int64_t, std::int64_t>{1, 5}, {3, 9}}) {
    const Tensor ids = token_ids(batch, length, 12);
    const Tensor plain = model.forward(ids);
    Tensor with_copies;
    {
      const InferenceWeights::Scope scope(&weights);
      with_copies = model.forward(ids);
    }
    // The same products, summed in another order by the GEMM library.
    EXPECT_TRUE(attn::testing::all_close(with_copies, plain, 1e-5, 1e-5));
  }
}

TEST(InferenceWeights, APretrainedEncoderDropsThemWhenItsModelIsHandedOut) {
  attn::testing::TinyBertFolder folder;
  folder.write();
  const std::shared_ptr<PretrainedEncoder> encoder = load_pretrained(folder.path());
  EXPECT_TRUE(encoder->uses_inference_weights());
  const TokenBatch batch = encoder->tokenize({"the cat sat on the mat ."});
  NoGradGuard no_grad;
  const Tensor before = encoder->hidden_states(batch);

  // Changing a weight through model(): the encoder must compute from the changed weight,
  // not from its earlier copy.
  const Tensor& w2 = encoder->model().encoder().layer(1).feed_forward().w2().weight();
  EXPECT_FALSE(encoder->uses_inference_weights());
  nn::init::constant_(w2, 0.5);
  const Tensor after = encoder->hidden_states(batch);
  const Tensor expected = encoder->model().forward(batch.ids, batch.type_ids, batch.padding);
  EXPECT_TRUE(attn::testing::all_close(after, expected, 0, 0));
  EXPECT_FALSE(attn::testing::all_close(after, before, 1e-3, 1e-3));

  const std::shared_ptr<PretrainedEncoder> other = load_pretrained(folder.path());
  EXPECT_TRUE(other->uses_inference_weights());
  EXPECT_NE(other->shared_model(), nullptr);
  EXPECT_FALSE(other->uses_inference_weights());
}

}  // namespace
}  // namespace attn::models
