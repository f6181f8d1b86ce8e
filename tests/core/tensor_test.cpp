#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "attn/core/random.h"
#include "attn/core/tensor.h"

namespace attn {
namespace {

TEST(Tensor, FactoriesAreContiguousAndAligned) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw_data()) % Storage::kAlignment, 0u);
  for (float value : t.to_vector<float>()) EXPECT_EQ(value, 0.0f);
  Tensor filled = Tensor::full({3}, 2.5, DType::Float64);
  EXPECT_EQ(filled.to_vector<double>(), (std::vector<double>{2.5, 2.5, 2.5}));
}

TEST(Tensor, ScalarAndEmptyShapes) {
  Tensor scalar = Tensor::scalar(3.0);
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.item<float>(), 3.0f);
  Tensor empty = Tensor::empty({0, 5});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_TRUE(empty.to_vector<float>().empty());
}

TEST(Tensor, FromVectorChecksTheCount) {
  EXPECT_THROW(Tensor::from_vector<float>({2, 2}, {1, 2, 3}), Error);
  Tensor t = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Tensor, BorrowedMemoryIsSharedAndReleasedOnceByTheLastView) {
  std::vector<double> owner = {1, 2, 3, 4, 5, 6};
  int releases = 0;
  {
    Tensor borrowed = Tensor::borrow(owner.data(), {2, 3}, DType::Float64, [&] { ++releases; });
    EXPECT_EQ(borrowed.raw_data(), owner.data());
    EXPECT_TRUE(borrowed.is_contiguous());
    Tensor view = borrowed.as_strided({3}, {1}, 3);  // the second row
    borrowed = Tensor();
    EXPECT_EQ(releases, 0);
    owner[4] = 50;  // no copy: the view sees the owner's writes
    EXPECT_EQ(view.to_vector<double>(), (std::vector<double>{4, 50, 6}));
  }
  EXPECT_EQ(releases, 1);
  EXPECT_THROW(Tensor::borrow(nullptr, {2}, DType::Float32, [] {}), Error);
  EXPECT_THROW(Tensor::borrow(owner.data(), {2}, DType::Float64, {}), Error);
  EXPECT_THROW(Tensor::borrow(owner.data(), {-1}, DType::Float64, [] {}), Error);
}

TEST(Tensor, StridedViewCopiesInRowMajorOrder) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor transposed = t.as_strided({3, 2}, {1, 3}, 0);
  EXPECT_FALSE(transposed.is_contiguous());
  EXPECT_EQ(transposed.contiguous().to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(transposed.storage(), t.storage());  // a view shares storage
  Tensor broadcast = t.as_strided({2, 3}, {0, 1}, 3);  // both rows are the second row
  EXPECT_EQ(broadcast.to_vector<float>(), (std::vector<float>{4, 5, 6, 4, 5, 6}));
}

TEST(Tensor, AsStridedRejectsViewsPastTheStorage) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_THROW(t.as_strided({2, 3}, {3, 1}, 1), Error);
  EXPECT_THROW(t.as_strided({7}, {1}, 0), Error);
  EXPECT_THROW(t.as_strided({2}, {1, 1}, 0), Error);
}

TEST(Tensor, DataChecksTheDtype) {
  Tensor t = Tensor::zeros({2});
  EXPECT_NO_THROW(t.data<float>());
  try {
    t.data<double>();
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("float32"), std::string::npos);
  }
}

TEST(Tensor, UndefinedTensorUseIsAnError) {
  Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  EXPECT_THROW(undefined.shape(), Error);
}

TEST(Tensor, DtypeConversionRoundTrips) {
  Tensor t = Tensor::from_vector<float>({4}, {1.5f, -2.0f, 0.0f, 3.25f});
  EXPECT_EQ(t.to(DType::Float64).to(DType::Float32).to_vector<float>(), t.to_vector<float>());
  EXPECT_EQ(t.to(DType::Int64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, -2, 0, 3}));
  EXPECT_EQ(t.to(DType::Bool).to_vector<float>(), (std::vector<float>{1, 1, 0, 1}));
  // These values are exact in bfloat16.
  EXPECT_EQ(t.to(DType::BFloat16).to_vector<float>(), t.to_vector<float>());
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(float(BFloat16(1.0f)), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(float(BFloat16(1.0f + 1.0f / 256)), 1.0f);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to 1 + 2^-6.
  EXPECT_EQ(float(BFloat16(1.0f + 3.0f / 256)), 1.0f + 1.0f / 64);
  EXPECT_TRUE(std::isnan(float(BFloat16(std::nanf("")))));
}

TEST(Tensor, NegativeExtentIsAnError) { EXPECT_THROW(Tensor::zeros({2, -1}), Error); }

TEST(Shape, BroadcastFollowsNumpy) {
  EXPECT_EQ(broadcast_shapes({3, 1, 5}, {4, 1}, "test"), (Shape{3, 4, 5}));
  EXPECT_EQ(broadcast_shapes({}, {2}, "test"), (Shape{2}));
  EXPECT_THROW(broadcast_shapes({3}, {4}, "test"), Error);
}

TEST(Shape, NormalizeDim) {
  EXPECT_EQ(normalize_dim(-1, 3, "test"), 2);
  EXPECT_THROW(normalize_dim(3, 3, "test"), Error);
  EXPECT_THROW(normalize_dim(-4, 3, "test"), Error);
}

// Known-answer vectors of Philox4x32-10 from the Random123 distribution.
TEST(Philox, MatchesKnownAnswers) {
  PhiloxBlock zero = philox4x32(0, 0, 0);
  EXPECT_EQ(zero.words[0], 0x6627e8d5u);
  EXPECT_EQ(zero.words[1], 0xe169c58du);
  EXPECT_EQ(zero.words[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.words[3], 0x9b00dbd8u);
  PhiloxBlock ones = philox4x32(~0ull, ~0ull, ~0ull);
  EXPECT_EQ(ones.words[0], 0x408f276du);
  EXPECT_EQ(ones.words[1], 0x41c83b0eu);
  EXPECT_EQ(ones.words[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.words[3], 0x6d5451fdu);
}

TEST(Philox, UniformIsInRangeAndDependsOnlyOnPosition) {
  double total = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    float value = philox_uniform(7, 0, i);
    ASSERT_GE(value, 0.0f);
    ASSERT_LT(value, 1.0f);
    total += value;
  }
  EXPECT_NEAR(total / 10000, 0.5, 0.02);
  EXPECT_EQ(philox_uniform(7, 10, 5), philox_uniform(7, 15, 0));
  EXPECT_NE(philox_uniform(7, 0, 0), philox_uniform(8, 0, 0));
}

}  // namespace
}  // namespace attn
