#include "attn/nn/gru.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// One GRU step written out element by element: the oracle for gru_cell.
// x [B, I], h [B, H], w_ih [3H, I], w_hh [3H, H], biases [3H]; all row-major.
std::vector<double> reference_gru_step(const std::vector<double>& x, const std::vector<double>& h,
                                       const std::vector<double>& w_ih,
                                       const std::vector<double>& w_hh,
                                       const std::vector<double>& b_ih,
                                       const std::vector<double>& b_hh, int batch, int input_size,
                                       int hidden) {
  auto input_term = [&](int b, int row) {
    double total = b_ih[row];
    for (int i = 0; i < input_size; ++i)
      total += w_ih[row * input_size + i] * x[b * input_size + i];
    return total;
  };
  auto hidden_term = [&](int b, int row) {
    double total = b_hh[row];
    for (int j = 0; j < hidden; ++j) total += w_hh[row * hidden + j] * h[b * hidden + j];
    return total;
  };
  std::vector<double> next(batch * hidden);
  for (int b = 0; b < batch; ++b) {
    for (int j = 0; j < hidden; ++j) {
      double r = sigmoid(input_term(b, j) + hidden_term(b, j));
      double z = sigmoid(input_term(b, hidden + j) + hidden_term(b, hidden + j));
      double n = std::tanh(input_term(b, 2 * hidden + j) + r * hidden_term(b, 2 * hidden + j));
      next[b * hidden + j] = (1 - z) * n + z * h[b * hidden + j];
    }
  }
  return next;
}

TEST(GRU, OneStepMatchesTheScalarFormula) {
  const int batch = 2, input_size = 3, hidden = 4;
  GRU gru({.input_size = input_size, .hidden_size = hidden, .dtype = DType::Float64});
  Tensor x = attn::testing::random_tensor({1, batch, input_size}, 51);
  Tensor h0 = attn::testing::random_tensor({1, batch, hidden}, 52);
  GRUOutput result = gru.forward(x, h0);
  const RecurrentWeights& w = gru.weights(0, 0);
  std::vector<double> expected = reference_gru_step(
      x.to_vector<double>(), h0.to_vector<double>(), w.weight_ih.to_vector<double>(),
      w.weight_hh.to_vector<double>(), w.bias_ih.to_vector<double>(), w.bias_hh.to_vector<double>(),
      batch, input_size, hidden);
  std::vector<double> output = result.output.to_vector<double>();
  std::vector<double> final_state = result.h_n.to_vector<double>();
  ASSERT_EQ(output.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(output[i], expected[i], 1e-14);
    EXPECT_NEAR(final_state[i], expected[i], 1e-14);
  }
}

TEST(GRU, WithoutBiasHasOnlyWeights) {
  GRU gru({.input_size = 3, .hidden_size = 2, .bias = false});
  std::vector<std::string> names;
  for (const auto& [name, tensor] : gru.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"}));
  EXPECT_EQ(gru.forward(Tensor::zeros({2, 1, 3})).h_n.to_vector<float>(),
            (std::vector<float>{0, 0}));  // zero input, zero state, no bias: n = 0, h stays 0
}

}  // namespace
}  // namespace attn::nn
