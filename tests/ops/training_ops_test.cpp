// The fused ops of a training step: add_dropout against residual + dropout (the same mask from
// the same part of the stream), finite-difference gradient checks in double, the evaluation
// and edge cases, and errors; cross_entropy's fused rows on a vocabulary-sized row.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/models/transformer.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "attn/ops/reduce.h"
#include "support/gradcheck.h"

namespace attn {
namespace {

using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

Tensor leaf(const Shape& shape, std::uint64_t seed) {
  return random_tensor(shape, seed).set_requires_grad(true);
}

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// Same mask (zeros in the same places) and the same values up to one rounding: the fused op
// may add residual + x · scale in one FMA.
TEST(AddDropout, EqualsResidualPlusDropout) {
  for (const DType dtype : {DType::Float32, DType::Float64}) {
    Tensor residual = random_tensor({3, 5, 37}, 1, -2, 2, dtype);
    Tensor x = random_tensor({3, 5, 37}, 2, -2, 2, dtype);
    Generator fused_generator(77), plain_generator(77);
    fused_generator.set_offset(5);  // a stream position in the middle of a Philox block
    plain_generator.set_offset(5);
    std::vector<double> fused =
        ops::add_dropout(residual, x, 0.4, true, fused_generator).to_vector<double>();
    std::vector<double> dropped = ops::dropout(x, 0.4, true, plain_generator).to_vector<double>();
    EXPECT_EQ(fused_generator.offset(), plain_generator.offset());
    std::vector<double> r = residual.to_vector<double>();
    const double eps = dtype == DType::Float32 ? 0x1p-23 : 0x1p-52;
    int kept = 0;
    for (std::size_t i = 0; i < fused.size(); ++i) {
      const double want = r[i] + dropped[i];
      ASSERT_LE(std::abs(fused[i] - want), eps * (std::abs(r[i]) + std::abs(dropped[i]))) << i;
      kept += dropped[i] != 0.0;
    }
    EXPECT_NEAR(kept / double(fused.size()), 0.6, 0.08);
  }
}

TEST(AddDropout, GradcheckWithAFixedMask) {
  Inputs inputs{leaf({4, 9}, 3), leaf({4, 9}, 4)};
  EXPECT_TRUE(gradcheck([](const Inputs& x) {
    Generator generator(123);  // the same mask on every evaluation
    generator.set_offset(3);
    return ops::add_dropout(x[0], x[1], 0.3, true, generator);
  }, inputs));
}

// The gradient of the residual is the upstream gradient itself; that of x is masked and scaled.
TEST(AddDropout, GradientsAreUpstreamAndMasked) {
  Tensor residual = leaf({2, 50}, 5), x = leaf({2, 50}, 6);
  Generator generator(9);
  Tensor out = ops::add_dropout(residual, x, 0.5, true, generator);
  Tensor upstream = random_tensor({2, 50}, 7);
  ops::sum(ops::mul(out, upstream)).backward();
  std::vector<double> u = upstream.to_vector<double>(), o = out.to_vector<double>(),
                      r = residual.to_vector<double>();
  std::vector<double> grad_r = residual.grad().to_vector<double>(),
                      grad_x = x.grad().to_vector<double>();
  for (std::size_t i = 0; i < u.size(); ++i) {
    EXPECT_EQ(grad_r[i], u[i]) << i;
    const bool kept = o[i] != r[i];
    EXPECT_EQ(grad_x[i], kept ? u[i] * 2.0 : 0.0) << i;
  }
}

TEST(AddDropout, EvaluationAndEdgeProbabilities) {
  Tensor residual = random_tensor({3, 4}, 8), x = random_tensor({3, 4}, 9);
  std::vector<double> sum = ops::add(residual, x).to_vector<double>();
  Generator generator(1);
  EXPECT_EQ(ops::add_dropout(residual, x, 0.3, false, generator).to_vector<double>(), sum);
  EXPECT_EQ(ops::add_dropout(residual, x, 0.0, true, generator).to_vector<double>(), sum);
  EXPECT_EQ(generator.offset(), 0u);  // nothing drawn
  EXPECT_EQ(ops::add_dropout(residual, x, 1.0, true, generator).to_vector<double>(),
            residual.to_vector<double>());
}

TEST(AddDropout, BadArgumentsAreErrors) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 2});
  EXPECT_NE(error_of([&] { ops::add_dropout(a, b, 0.1, true); }).find("same shape"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { ops::add_dropout(a, a.to(DType::Float64), 0.1, true); }).find("add_dropout"),
      std::string::npos);
  EXPECT_NE(error_of([&] { ops::add_dropout(a, a, 1.5, true); }).find("[0, 1]"), std::string::npos);
  EXPECT_NE(error_of([&] {
              ops::add_dropout(a, a, std::numeric_limits<double>::quiet_NaN(), true);
            }).find("add_dropout"),
            std::string::npos);
}

// The fused dropout keeps exactly the elements whose uniform is >= p.
TEST(Dropout, MaskIsPhiloxUniformAtLeastP) {
  Tensor x = Tensor::ones({2, 1001});
  Generator generator(31);
  generator.set_offset(2);
  std::vector<float> y = ops::dropout(x, 0.2, true, generator).to_vector<float>();
  for (std::size_t i = 0; i < y.size(); ++i) {
    ASSERT_EQ(y[i] != 0.0f, philox_uniform(31, 2, i) >= 0.2) << i;
  }
  EXPECT_EQ(generator.offset(), 2u + 2002u);
}

// A vocabulary-sized row (8000 classes, as the translation model's output): the fused loss and
// gradient against the closed forms computed in double from log_softmax.
TEST(CrossEntropy, WideRowsMatchTheClosedForm) {
  const std::int64_t rows = 3, classes = 8000;
  Tensor logits = random_tensor({rows, classes}, 10, -6, 6, DType::Float32).set_requires_grad(true);
  Tensor targets = Tensor::from_vector<std::int64_t>({rows}, {17, 0, 7999});
  ops::CrossEntropyOptions options{.ignore_index = 0, .label_smoothing = 0.1};
  Tensor loss = ops::cross_entropy(logits, targets, options);
  loss.backward();
  std::vector<double> z = logits.to_vector<double>(), grad = logits.grad().to_vector<double>();
  double total_loss = 0;
  for (std::int64_t i : {0, 2}) {
    double max = -1e300, sum_exp = 0, sum_z = 0;
    for (std::int64_t c = 0; c < classes; ++c) max = std::max(max, z[i * classes + c]);
    for (std::int64_t c = 0; c < classes; ++c) {
      sum_exp += std::exp(z[i * classes + c] - max);
      sum_z += z[i * classes + c];
    }
    const double lse = max + std::log(sum_exp);
    const std::int64_t t = targets.to_vector<std::int64_t>()[i];
    total_loss += 0.9 * (lse - z[i * classes + t]) + 0.1 * (lse - sum_z / classes);
    for (std::int64_t c = 0; c < classes; ++c) {
      const double p = std::exp(z[i * classes + c] - lse);
      const double expected = 0.5 * (p - 0.1 / classes - (c == t ? 0.9 : 0.0));
      ASSERT_NEAR(grad[i * classes + c], expected, 1e-7) << i << " " << c;
    }
  }
  for (std::int64_t c = 0; c < classes; ++c) ASSERT_EQ(grad[classes + c], 0.0) << c;  // ignored
  EXPECT_NEAR(loss.item<double>(), total_loss / 2, 1e-5);
}

// ---- the Transformer sublayers built on these ops ------------------------------------------

models::LayerOptions small_layer(models::NormPlacement norm) {
  models::LayerOptions options;
  options.d_model = 8;
  options.num_heads = 2;
  options.d_ff = 16;
  options.dropout = 0.25;
  options.norm = norm;
  return options;
}

Tensor parameter(const nn::Module& module, const std::string& name) {
  for (const auto& [parameter_name, tensor] : module.named_parameters()) {
    if (parameter_name == name) return tensor;
  }
  ADD_FAILURE() << "no parameter " << name;
  return Tensor();
}

// The encoder layer (fused: add_dropout, the ReLU in the first linear) against the same layer
// written with the plain ops and modules, with the same dropout masks: equal to rounding.
TEST(FusedSublayers, EncoderLayerEqualsTheUnfusedComposition) {
  for (const models::NormPlacement placement :
       {models::NormPlacement::Pre, models::NormPlacement::Post}) {
    models::EncoderLayer layer(small_layer(placement), DType::Float64);
    layer.train();
    Tensor x = random_tensor({2, 5, 8}, 11);
    manual_seed(21);
    Tensor fused = layer.forward(x, ops::AttentionMask());

    manual_seed(21);
    auto norm = [&](const std::string& name, const Tensor& input) {
      return ops::layer_norm(input, {8}, parameter(layer, name + ".weight"),
                             parameter(layer, name + ".bias"));
    };
    auto attend = [&](const Tensor& input) {
      return layer.self_attention().forward(input, input, input, Tensor(), Tensor(), false).output;
    };
    auto sublayer = [&](const std::string& norm_name, const Tensor& input, auto&& function) {
      if (placement == models::NormPlacement::Post) {
        return norm(norm_name, ops::add(input, ops::dropout(function(input), 0.25, true)));
      }
      return ops::add(input, ops::dropout(function(norm(norm_name, input)), 0.25, true));
    };
    Tensor h = sublayer("self_attention_norm", x, attend);
    Tensor unfused = sublayer("feed_forward_norm", h, [&](const Tensor& input) {
      return layer.feed_forward().forward(input);
    });
    std::vector<double> a = fused.to_vector<double>(), b = unfused.to_vector<double>();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << i;
  }
}

// Finite differences through the fused layer, dropout on (the same masks on every evaluation).
TEST(FusedSublayers, EncoderLayerGradcheckWithDropout) {
  for (const models::NormPlacement placement :
       {models::NormPlacement::Pre, models::NormPlacement::Post}) {
    models::EncoderLayer layer(small_layer(placement), DType::Float64);
    layer.train();
    Inputs inputs{leaf({2, 3, 8}, 12)};
    EXPECT_TRUE(gradcheck([&](const Inputs& x) {
      manual_seed(5);
      return layer.forward(x[0], ops::AttentionMask());
    }, inputs));
  }
}

}  // namespace
}  // namespace attn
