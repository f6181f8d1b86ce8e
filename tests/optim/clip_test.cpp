// Gradient clipping by global norm, on gradients with known norms.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "attn/optim/clip.h"

namespace attn {
namespace {

using optim::clip_grad_norm;

Tensor with_grad(const Shape& shape, std::initializer_list<double> grad,
                 DType dtype = DType::Float64) {
  Tensor parameter = Tensor::zeros(shape, dtype);
  parameter.set_requires_grad(true);
  parameter.set_grad(Tensor::from_list(shape, grad, dtype));
  return parameter;
}

TEST(ClipGradNorm, ScalesAllGradientsByOneFactorWhenTheNormIsTooLarge) {
  // The gradients (3, 0) and (4) have global norm 5.
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor a = with_grad({2}, {3.0, 0.0}, dtype);
    Tensor b = with_grad({1}, {4.0}, dtype);
    EXPECT_EQ(clip_grad_norm({a, b}, 1.0), 5.0);
    double scale = 1.0 / (5.0 + 1e-6);  // PyTorch's: max_norm / (total_norm + 1e-6)
    double tolerance = dtype == DType::Float32 ? 1e-7 : 1e-15;
    EXPECT_NEAR(a.grad().to_vector<double>()[0], 3.0 * scale, tolerance);
    EXPECT_EQ(a.grad().to_vector<double>()[1], 0.0);
    EXPECT_NEAR(b.grad().item<double>(), 4.0 * scale, tolerance);
  }
}

TEST(ClipGradNorm, LeavesSmallGradientsExactlyAsTheyWere) {
  Tensor a = with_grad({2}, {0.3, -0.4});
  Tensor grad_before = a.grad();
  EXPECT_NEAR(clip_grad_norm({a}, 1.0), 0.5, 1e-16);
  EXPECT_TRUE(a.grad().same_impl(grad_before));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.3, -0.4}));
}

TEST(ClipGradNorm, ANormEqualToTheLimitIsStillScaledByTheEpsilon) {
  Tensor a = with_grad({1}, {2.0});
  EXPECT_EQ(clip_grad_norm({a}, 2.0), 2.0);
  EXPECT_EQ(a.grad().item<double>(), 2.0 * (2.0 / (2.0 + 1e-6)));
}

TEST(ClipGradNorm, SkipsParametersWithoutGradients) {
  Tensor a = with_grad({1}, {6.0});
  Tensor no_grad = Tensor::ones({3}, DType::Float64);
  EXPECT_EQ(clip_grad_norm({a, no_grad}, 100.0), 6.0);
  EXPECT_EQ(clip_grad_norm({no_grad}, 1.0), 0.0);
}

TEST(ClipGradNorm, AccumulatesFloat32GradientsInDouble) {
  // 10^6 copies of 0.1f: a float32 running sum of squares would drift by about 1e-3
  // relative; the double sum is good to about 1e-12.
  const std::int64_t count = 1'000'000;
  Tensor a = Tensor::zeros({count}, DType::Float32);
  a.set_grad(Tensor::full({count}, 0.1, DType::Float32));
  double element = static_cast<double>(0.1f);
  double expected = std::sqrt(static_cast<double>(count) * element * element);
  EXPECT_NEAR(optim::global_grad_norm({a}), expected, 1e-10 * expected);
}

TEST(ClipGradNorm, ReportsANonFiniteNormAndLeavesTheGradientsAlone) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double infinity = std::numeric_limits<double>::infinity();
  Tensor finite = with_grad({1}, {3.0});
  Tensor with_nan = with_grad({2}, {1.0, nan});
  EXPECT_TRUE(std::isnan(clip_grad_norm({finite, with_nan}, 1.0)));
  EXPECT_EQ(finite.grad().item<double>(), 3.0);

  Tensor with_infinity = with_grad({2}, {1.0, -infinity});
  EXPECT_EQ(clip_grad_norm({finite, with_infinity}, 1.0), infinity);
  EXPECT_EQ(finite.grad().item<double>(), 3.0);
  EXPECT_EQ(with_infinity.grad().to_vector<double>()[0], 1.0);
}

TEST(ClipGradNorm, ABroadcastGradientIsReplacedNotScaledTwice) {
  // A gradient that is one stored value viewed twice: norm sqrt(3^2 + 3^2).
  Tensor storage = Tensor::from_list({1}, {3.0}, DType::Float64);
  Tensor broadcast = storage.as_strided({2}, {0}, 0);
  Tensor parameter = Tensor::zeros({2}, DType::Float64);
  parameter.set_grad(broadcast);
  double norm = clip_grad_norm({parameter}, 1.0);
  EXPECT_NEAR(norm, 3.0 * std::sqrt(2.0), 1e-15);
  double scaled = 3.0 * (1.0 / (norm + 1e-6));
  std::vector<double> grad = parameter.grad().to_vector<double>();
  EXPECT_NEAR(grad[0], scaled, 1e-15);
  EXPECT_NEAR(grad[1], scaled, 1e-15);
  EXPECT_EQ(storage.item<double>(), 3.0);
}

TEST(ClipGradNorm, RejectsBadArguments) {
  Tensor a = with_grad({1}, {1.0});
  EXPECT_THROW(clip_grad_norm({a}, -1.0), Error);
  EXPECT_THROW(clip_grad_norm({a}, std::numeric_limits<double>::quiet_NaN()), Error);
  EXPECT_THROW(clip_grad_norm({Tensor()}, 1.0), Error);
  Tensor mismatched = Tensor::zeros({2}, DType::Float64);
  mismatched.impl()->grad = Tensor::zeros({3}, DType::Float64).impl_ptr();
  EXPECT_THROW(clip_grad_norm({mismatched}, 1.0), Error);
}

TEST(GradSumOfSquares, IsItsBlocksAddedInOrderSoABlockAlignedPartGivesTheSameBlocks) {
  // Values whose squares round differently depending on how they are grouped.
  std::vector<float> values;
  for (int i = 0; i < 2 * 1024 + 300; ++i) values.push_back(std::sin(0.37f * static_cast<float>(i)) * 1e3f);
  const Tensor grad = Tensor::from_vector<float>({static_cast<std::int64_t>(values.size())}, values);
  const std::vector<double> blocks = optim::grad_block_sums_of_squares(grad);
  ASSERT_EQ(blocks.size(), 3u);
  double added = 0.0;
  for (double block : blocks) added += block;
  EXPECT_EQ(optim::grad_sum_of_squares(grad), added);
  // The part from element 1024 on, as a rank holding it would see it.
  const Tensor tail = grad.as_strided({static_cast<std::int64_t>(values.size()) - 1024}, {1}, 1024);
  EXPECT_EQ(optim::grad_block_sums_of_squares(tail), std::vector<double>(blocks.begin() + 1, blocks.end()));
}

}  // namespace
}  // namespace attn
