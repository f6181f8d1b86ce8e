#include "attn/nn/lstm.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nn/nn_test_support.h"

namespace attn::nn {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct ScalarState {
  std::vector<double> h, c;
};

// One LSTM step written out element by element: the oracle for lstm_cell.
// x [B, I], h and c [B, H], w_ih [4H, I], w_hh [4H, H], biases [4H]; gates i, f, g, o.
ScalarState reference_lstm_step(const std::vector<double>& x, const ScalarState& state,
                                const std::vector<double>& w_ih, const std::vector<double>& w_hh,
                                const std::vector<double>& b_ih, const std::vector<double>& b_hh,
                                int batch, int input_size, int hidden) {
  auto gate = [&](int b, int row) {
    double total = b_ih[row] + b_hh[row];
    for (int i = 0; i < input_size; ++i)
      total += w_ih[row * input_size + i] * x[b * input_size + i];
    for (int j = 0; j < hidden; ++j) total += w_hh[row * hidden + j] * state.h[b * hidden + j];
    return total;
  };
  ScalarState next{std::vector<double>(batch * hidden), std::vector<double>(batch * hidden)};
  for (int b = 0; b < batch; ++b) {
    for (int j = 0; j < hidden; ++j) {
      double input_gate = sigmoid(gate(b, j));
      double forget_gate = sigmoid(gate(b, hidden + j));
      double candidate = std::tanh(gate(b, 2 * hidden + j));
      double output_gate = sigmoid(gate(b, 3 * hidden + j));
      double c = forget_gate * state.c[b * hidden + j] + input_gate * candidate;
      next.c[b * hidden + j] = c;
      next.h[b * hidden + j] = output_gate * std::tanh(c);
    }
  }
  return next;
}

TEST(LSTM, OneStepMatchesTheScalarFormula) {
  const int batch = 2, input_size = 3, hidden = 4;
  LSTM lstm({.input_size = input_size, .hidden_size = hidden, .dtype = DType::Float64});
  Tensor x = attn::testing::random_tensor({1, batch, input_size}, 61);
  Tensor h0 = attn::testing::random_tensor({1, batch, hidden}, 62);
  Tensor c0 = attn::testing::random_tensor({1, batch, hidden}, 63, -2.0, 2.0);
  LSTMOutput result = lstm.forward(x, h0, c0);
  const RecurrentWeights& w = lstm.weights(0, 0);
  ScalarState expected = reference_lstm_step(
      x.to_vector<double>(), {h0.to_vector<double>(), c0.to_vector<double>()},
      w.weight_ih.to_vector<double>(), w.weight_hh.to_vector<double>(),
      w.bias_ih.to_vector<double>(), w.bias_hh.to_vector<double>(), batch, input_size, hidden);
  std::vector<double> output = result.output.to_vector<double>();
  std::vector<double> final_h = result.h_n.to_vector<double>();
  std::vector<double> final_c = result.c_n.to_vector<double>();
  ASSERT_EQ(output.size(), expected.h.size());
  for (std::size_t i = 0; i < expected.h.size(); ++i) {
    EXPECT_NEAR(output[i], expected.h[i], 1e-14);
    EXPECT_NEAR(final_h[i], expected.h[i], 1e-14);
    EXPECT_NEAR(final_c[i], expected.c[i], 1e-14);
  }
}

TEST(LSTM, ParameterShapesHoldFourGates) {
  LSTM lstm({.input_size = 3, .hidden_size = 5, .num_layers = 2, .bidirectional = true});
  std::map<std::string, Tensor> state = lstm.state_dict();
  EXPECT_EQ(state.at("weight_ih_l0").shape(), (Shape{20, 3}));
  EXPECT_EQ(state.at("weight_hh_l0_reverse").shape(), (Shape{20, 5}));
  EXPECT_EQ(state.at("weight_ih_l1").shape(), (Shape{20, 10}));  // both directions feed layer 1
  EXPECT_EQ(state.at("bias_hh_l1_reverse").shape(), (Shape{20}));
  EXPECT_EQ(lstm.num_parameters(), 2 * (20 * 3 + 20 * 5 + 40) + 2 * (20 * 10 + 20 * 5 + 40));
}

}  // namespace
}  // namespace attn::nn
