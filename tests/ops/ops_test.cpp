// Known answers, PyTorch parity and error messages of the ops.
#include <gtest/gtest.h>

#include <cmath>

#include "attn/ops/ops.h"
#include "support/compare.h"

namespace attn {
namespace {

using testing::all_close;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(Ops, BroadcastingArithmeticKnownAnswer) {
  Tensor a = Tensor::from_list({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_list({3}, {10, 20, 30});
  EXPECT_EQ((a + b).to_vector<float>(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  Tensor column = Tensor::from_list({2, 1}, {2, 4});
  EXPECT_EQ((a / column).to_vector<float>(), (std::vector<float>{0.5, 1, 1.5, 1, 1.25, 1.5}));
  // A strided (transposed) operand goes through the row-by-row path.
  Tensor t = ops::transpose(Tensor::from_list({3, 2}, {1, 4, 2, 5, 3, 6}), 0, 1);
  EXPECT_EQ((a - t).to_vector<float>(), (std::vector<float>(6, 0.0f)));
}

TEST(Ops, ShapeMismatchesNameTheOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3});
  Tensor b = Tensor::zeros({4});
  std::string message = error_of([&] { ops::add(a, b); });
  EXPECT_NE(message.find("add"), std::string::npos);
  EXPECT_NE(message.find("[2, 3]"), std::string::npos);
  EXPECT_NE(message.find("[4]"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::matmul(a, Tensor::zeros({4, 2})); }).find("matmul"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::reshape(a, {4, 2}); }).find("reshape"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::add(a, Tensor::zeros({2, 3}, DType::Float64)); }).find("dtypes differ"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::layer_norm(a, {4}, Tensor(), Tensor()); }).find("layer_norm"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::linear(a, Tensor::zeros({5, 4})); }).find("linear"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::transpose(a, 0, 2); }).find("out of range"), std::string::npos);
}

TEST(Ops, OutOfRangeIndicesAreErrors) {
  Tensor weight = Tensor::zeros({5, 2});
  Tensor indices = Tensor::from_vector<std::int64_t>({3}, {0, 5, 1});
  std::string message = error_of([&] { ops::embedding(indices, weight); });
  EXPECT_NE(message.find("index 5"), std::string::npos);
  Tensor logits = Tensor::zeros({2, 3});
  Tensor targets = Tensor::from_vector<std::int64_t>({2}, {0, 3});
  EXPECT_NE(error_of([&] { ops::cross_entropy(logits, targets); }).find("target 3"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::select(weight, 0, 5); }).find("select"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::dropout(weight, 1.5, true); }).find("dropout"), std::string::npos);
}

// NaN settings would silently poison every result; they are rejected where they enter.
TEST(Ops, NaNSettingsAreErrors) {
  double nan = std::nan("");
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_NE(error_of([&] { ops::dropout(x, nan, true); }).find("dropout"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::layer_norm(x, {3}, Tensor(), Tensor(), nan); }).find("epsilon"),
            std::string::npos);
  Tensor targets = Tensor::from_vector<std::int64_t>({2}, {0, 1});
  EXPECT_NE(error_of([&] { ops::cross_entropy(x, targets, {.label_smoothing = nan}); })
                .find("label_smoothing"),
            std::string::npos);
  // NaN data, by contrast, flows through as in PyTorch, and all_finite reports it.
  Tensor with_nan = Tensor::from_list({2}, {1.0, nan});
  EXPECT_FALSE(ops::all_finite(with_nan));
  EXPECT_TRUE(std::isnan(ops::softmax(with_nan).to_vector<float>()[0]));
}

TEST(Ops, MatmulKnownAnswer) {
  Tensor a = Tensor::from_list({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_list({2, 2}, {5, 6, 7, 8});
  EXPECT_EQ(ops::matmul(a, b).to_vector<float>(), (std::vector<float>{19, 22, 43, 50}));
  EXPECT_EQ(ops::matmul(ops::transpose(a, 0, 1), b).to_vector<float>(),
            (std::vector<float>{26, 30, 38, 44}));
  // A broadcast (stride 0) batch of the left operand.
  Tensor batched = ops::matmul(ops::expand(a, {3, 2, 2}), b);
  EXPECT_EQ(batched.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(ops::select(batched, 0, 2).to_vector<float>(), (std::vector<float>{19, 22, 43, 50}));
}

TEST(Ops, SumMeanMaxArgmax) {
  Tensor x = Tensor::from_list({2, 3}, {1, 5, 3, 4, 2, 6});
  EXPECT_EQ(ops::sum(x, {0}).to_vector<float>(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(ops::sum(x, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_FLOAT_EQ(ops::mean(x).item<float>(), 3.5f);
  EXPECT_EQ(ops::max(x, 1).to_vector<float>(), (std::vector<float>{5, 6}));
  EXPECT_EQ(ops::argmax(x, 1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(ops::argmax(x, 0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0, 1}));
}

TEST(Ops, ViewsShareStorage) {
  Tensor x = Tensor::from_list({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor row = ops::select(x, 0, 1);
  EXPECT_EQ(row.storage(), x.storage());
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(ops::slice(x, 1, 0, 3, 2).to_vector<float>(), (std::vector<float>{1, 3, 4, 6}));
  EXPECT_EQ(ops::permute(x, {1, 0}).to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(ops::expand(Tensor::from_list({1}, {7}), {2, 2}).to_vector<float>(),
            (std::vector<float>{7, 7, 7, 7}));
  EXPECT_EQ(ops::cat({x, x}, 0).shape(), (Shape{4, 3}));
  EXPECT_EQ(ops::chunk(x, 2, 1).size(), 2u);
  EXPECT_EQ(ops::chunk(x, 2, 1)[1].shape(), (Shape{2, 1}));
}

TEST(Ops, SoftmaxIsStableForHugeLogits) {
  Tensor x = Tensor::from_list({1, 3}, {1e4, -1e4, 1e4 - 1});
  std::vector<float> p = ops::softmax(x).to_vector<float>();
  EXPECT_NEAR(p[0], 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(p[1], 0.0f);
  std::vector<float> log_p = ops::log_softmax(x).to_vector<float>();
  EXPECT_TRUE(std::isfinite(log_p[1]));
  EXPECT_NEAR(log_p[1], -2e4 - std::log1p(std::exp(-1.0)), 1.0);
}

TEST(Ops, DropoutMaskIsReproducibleAndScaled) {
  Tensor x = Tensor::ones({1000});
  Generator first(9), second(9);
  std::vector<float> a = ops::dropout(x, 0.25, true, first).to_vector<float>();
  std::vector<float> b = ops::dropout(x, 0.25, true, second).to_vector<float>();
  EXPECT_EQ(a, b);
  int kept = 0;
  for (float value : a) {
    ASSERT_TRUE(value == 0.0f || std::abs(value - 1.0f / 0.75f) < 1e-6f);
    kept += value != 0.0f;
  }
  EXPECT_NEAR(kept / 1000.0, 0.75, 0.05);
  // A second draw from the same generator gives a different mask.
  EXPECT_NE(ops::dropout(x, 0.25, true, first).to_vector<float>(), a);
  EXPECT_EQ(ops::dropout(x, 0.25, false).to_vector<float>(), x.to_vector<float>());
}

// PyTorch parity. Tolerance: float32 results within 1e-5 relative plus 1e-6 absolute, a few
// ulps of float32 for these short reductions.
TEST(OpsParity, CrossEntropyWithLabelSmoothingMatchesPyTorch) {
  auto fixture = testing::load_fixture("ops/cross_entropy.safetensors").tensors;
  Tensor logits = fixture.at("logits");
  Tensor targets = fixture.at("targets");
  struct Case { const char* name; double smoothing; ops::Reduction reduction; };
  for (Case c : {Case{"mean_plain", 0.0, ops::Reduction::Mean}, Case{"mean_smooth", 0.1, ops::Reduction::Mean},
                 Case{"sum_smooth", 0.25, ops::Reduction::Sum}, Case{"none_smooth", 0.1, ops::Reduction::None}}) {
    std::string name = c.name;
    Tensor x = logits.clone().set_requires_grad(true);
    Tensor loss = ops::cross_entropy(x, targets, {.label_smoothing = c.smoothing, .reduction = c.reduction});
    EXPECT_TRUE(all_close(loss, fixture.at(name + ".loss"), 1e-5, 1e-6)) << name;
    ops::sum(ops::mul(loss, fixture.at(name + ".upstream"))).backward();
    EXPECT_TRUE(all_close(x.grad(), fixture.at(name + ".grad"), 1e-5, 1e-6)) << name;
  }
}

TEST(OpsParity, ActivationsMatchPyTorch) {
  auto fixture = testing::load_fixture("ops/activations.safetensors").tensors;
  std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> cases = {
      {"softmax", [](const Tensor& t) { return ops::softmax(t, -1); }},
      {"softmax_dim0", [](const Tensor& t) { return ops::softmax(t, 0); }},
      {"log_softmax", [](const Tensor& t) { return ops::log_softmax(t, -1); }},
      {"gelu", [](const Tensor& t) { return ops::gelu(t); }},
      {"tanh", [](const Tensor& t) { return ops::tanh(t); }},
      {"sigmoid", [](const Tensor& t) { return ops::sigmoid(t); }},
      {"relu", [](const Tensor& t) { return ops::relu(t); }},
  };
  for (auto& [name, function] : cases) {
    Tensor x = fixture.at("x").clone().set_requires_grad(true);
    Tensor y = function(x);
    EXPECT_TRUE(all_close(y, fixture.at(name + ".y"), 1e-5, 1e-6)) << name;
    ops::sum(ops::mul(y, fixture.at(name + ".upstream"))).backward();
    EXPECT_TRUE(all_close(x.grad(), fixture.at(name + ".grad"), 1e-5, 1e-6)) << name;
  }
}

}  // namespace
}  // namespace attn
