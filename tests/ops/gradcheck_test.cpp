// Finite-difference checks (double precision) of every differentiable op's backward rule.
#include <gtest/gtest.h>

#include "attn/ops/ops.h"
#include "support/compare.h"
#include "support/gradcheck.h"

namespace attn {
namespace {

using testing::gradcheck;
using testing::leaf;
using testing::all_close;
using Inputs = std::vector<Tensor>;

TEST(Gradcheck, BroadcastingArithmetic) {
  Inputs inputs{leaf({2, 3, 4}, 1), leaf({3, 1}, 2)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::add(x[0], x[1]); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::sub(x[1], x[0]); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::mul(x[0], x[1]); }, inputs));
  Inputs positive{leaf({2, 3, 4}, 3), leaf({4}, 4, 0.5, 2.0)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::div(x[0], x[1]); }, positive));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::div(x[1], x[0]); },
                        {leaf({2, 3, 4}, 5, 0.5, 2.0), leaf({4}, 6)}));
}

TEST(Gradcheck, ScalarArithmetic) {
  Inputs inputs{leaf({5}, 5)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::add(x[0], 2.5); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::mul(x[0], -1.5); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::neg(x[0]); }, inputs));
}

TEST(Gradcheck, UnaryFunctions) {
  Inputs any{leaf({3, 7}, 6, -3, 3)};
  Inputs positive{leaf({3, 7}, 7, 0.2, 3)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::exp(x[0]); }, any));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::log(x[0]); }, positive));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::sqrt(x[0]); }, positive));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::pow(x[0], 3.0); }, any));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::pow(x[0], -0.5); }, positive));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::gelu(x[0]); }, any));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::gelu_tanh(x[0]); }, any));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::tanh(x[0]); }, any));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::sigmoid(x[0]); }, any));
  // Random inputs land within eps of ReLU's kink at 0 with negligible probability.
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::relu(x[0]); }, any));
}

TEST(Gradcheck, WhereAndMaskedFill) {
  Tensor condition = Tensor::from_list({2, 3}, {1, 0, 1, 0, 0, 1}, DType::Bool);
  Inputs inputs{leaf({2, 3}, 8), leaf({3}, 9)};
  EXPECT_TRUE(gradcheck([&](const Inputs& x) { return ops::where(condition, x[0], x[1]); }, inputs));
  Tensor mask = Tensor::from_list({3}, {0, 1, 0}, DType::Bool);
  EXPECT_TRUE(gradcheck([&](const Inputs& x) { return ops::masked_fill(x[0], mask, -5.0); }, inputs));
}

TEST(Gradcheck, Views) {
  Inputs inputs{leaf({2, 3, 4}, 10)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::reshape(x[0], {4, -1}); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::flatten(x[0], 1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::transpose(x[0], 0, 2); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::permute(x[0], {2, 0, 1}); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::slice(x[0], 2, 1, 4, 2); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::select(x[0], 1, -1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::unsqueeze(x[0], 1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::squeeze(ops::slice(x[0], 0, 0, 1), 0);
  }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::contiguous(ops::transpose(x[0], 0, 1));
  }, inputs));
  // A transposed view fed to reshape must copy and still route gradients correctly.
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::reshape(ops::transpose(x[0], 1, 2), {-1});
  }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::expand(x[0], {2, 2, 3, 4}); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::expand(ops::slice(x[0], 1, 0, 1), {2, 5, 4});
  }, inputs));
}

TEST(Gradcheck, ConcatenateStackChunk) {
  Inputs inputs{leaf({2, 3}, 11), leaf({2, 1}, 12), leaf({2, 3}, 13)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::cat({x[0], x[1], x[2]}, 1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::stack({x[0], x[2]}, 1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    std::vector<Tensor> pieces = ops::chunk(x[0], 2, 1);
    return ops::mul(pieces[0], pieces[1]);  // [2, 2] x [2, 1]
  }, inputs));
}

TEST(Gradcheck, Reductions) {
  Inputs inputs{leaf({3, 4, 5}, 14)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::sum(x[0]); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::sum(x[0], {0, 2}); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::sum(x[0], {1}, true); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::mean(x[0], {-1}); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::mean(x[0]); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::max(x[0], 1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::max(x[0], 0, true); }, inputs));
}

TEST(Gradcheck, MatrixProducts) {
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::matmul(x[0], x[1]); },
                        {leaf({3, 4}, 15), leaf({4, 5}, 16)}));
  // Batched, with the second operand broadcast over the batch.
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::matmul(x[0], x[1]); },
                        {leaf({2, 3, 4}, 17), leaf({4, 2}, 18)}));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::matmul(x[0], x[1]); },
                        {leaf({3, 4}, 19), leaf({2, 1, 4, 2}, 20)}));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::matmul(x[0], x[1]); },
                        {leaf({2, 1, 3, 4}, 21), leaf({1, 3, 4, 2}, 22)}));
  // Transposed views and vectors.
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::matmul(ops::transpose(x[0], -1, -2), ops::transpose(x[1], 0, 1));
  }, {leaf({2, 4, 3}, 23), leaf({5, 4}, 24)}));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::matmul(x[0], x[1]); },
                        {leaf({4}, 25), leaf({4, 3}, 26)}));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::matmul(x[0], x[1]); },
                        {leaf({2, 3, 4}, 27), leaf({4}, 28)}));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::linear(x[0], x[1], x[2]); },
                        {leaf({2, 3, 4}, 29), leaf({5, 4}, 30), leaf({5}, 31)}));
}

TEST(Gradcheck, SoftmaxFamily) {
  Inputs inputs{leaf({3, 4, 5}, 32, -3, 3)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::softmax(x[0], -1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::softmax(x[0], 1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::log_softmax(x[0], -1); }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) { return ops::log_softmax(x[0], 0); }, inputs));
}

TEST(Gradcheck, LayerNorm) {
  Inputs inputs{leaf({3, 2, 6}, 33, -2, 2), leaf({6}, 34), leaf({6}, 35)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::layer_norm(x[0], {6}, x[1], x[2]);
  }, inputs));
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::layer_norm(x[0], {6}, Tensor(), Tensor());
  }, inputs));
  Inputs two_dims{leaf({3, 2, 6}, 36, -2, 2), leaf({2, 6}, 37), leaf({2, 6}, 38)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    return ops::layer_norm(x[0], {2, 6}, x[1], x[2]);
  }, two_dims));
}

TEST(Gradcheck, Embedding) {
  Tensor indices = Tensor::from_vector<std::int64_t>({2, 3}, {0, 2, 2, 4, 1, 0});
  Inputs weight{leaf({5, 3}, 39)};
  EXPECT_TRUE(gradcheck([&](const Inputs& x) { return ops::embedding(indices, x[0]); }, weight));
}

// The padding row takes part in the forward pass but, by definition, never gets a gradient
// (so it cannot be finite-difference checked); every other row gets its usual gradient.
TEST(Gradcheck, EmbeddingPaddingRowGetsNoGradient) {
  Tensor indices = Tensor::from_vector<std::int64_t>({2, 3}, {0, 2, 2, 4, 1, 0});
  Tensor weight = leaf({5, 3}, 39);
  ops::sum(ops::embedding(indices, weight, 2)).backward();
  std::vector<double> grad = weight.grad().to_vector<double>();
  std::vector<double> rows_used = {2, 1, 2, 0, 1};  // occurrences of each index
  for (int row = 0; row < 5; ++row) {
    double expected = row == 2 ? 0.0 : rows_used[row];
    for (int column = 0; column < 3; ++column) EXPECT_EQ(grad[row * 3 + column], expected) << row;
  }
}

TEST(Gradcheck, DropoutWithAFixedMask) {
  Inputs inputs{leaf({4, 8}, 40)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    Generator generator(123);  // the same mask on every evaluation
    return ops::dropout(x[0], 0.3, true, generator);
  }, inputs));
}

TEST(Gradcheck, CrossEntropy) {
  Tensor targets = Tensor::from_vector<std::int64_t>({4}, {1, -100, 0, 3});
  Inputs logits{leaf({4, 5}, 41, -2, 2)};
  for (double smoothing : {0.0, 0.2}) {
    for (ops::Reduction reduction : {ops::Reduction::Mean, ops::Reduction::Sum, ops::Reduction::None}) {
      ops::CrossEntropyOptions options{.label_smoothing = smoothing, .reduction = reduction};
      EXPECT_TRUE(gradcheck([&](const Inputs& x) {
        return ops::cross_entropy(x[0], targets, options);
      }, logits)) << "smoothing " << smoothing;
    }
  }
}

// torch.nn.functional.gelu(x, approximate="tanh") in float64 (Hugging Face's gelu_new).
TEST(Activations, GeluTanhEqualsPyTorchsTanhApproximation) {
  Tensor x = Tensor::from_list({7}, {-3, -1, -0.5, 0, 0.5, 1, 3}, DType::Float64);
  Tensor want = Tensor::from_list({7}, {-0.0036373920817729943, -0.15880800939172324,
                                        -0.15428599017485606, 0.0, 0.34571400982514394,
                                        0.8411919906082768, 2.996362607918227},
                                  DType::Float64);
  EXPECT_TRUE(all_close(ops::gelu_tanh(x), want, 1e-15, 1e-16));
}

}  // namespace
}  // namespace attn
