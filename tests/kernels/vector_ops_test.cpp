// SIMD kernels of vector_ops.h against their scalar references, on every instruction set
// the library was compiled for and this CPU supports (AVX-512, AVX2, SSE4, SSSE3, scalar),
// for float and double, over every length 0..64 (twice the widest vector, 16 floats, and
// more) plus long arrays, with arrays starting 0..3 elements past a 64-byte boundary.
//
// Tolerances come from the numerics of each kernel, as bound(i) = ulps * eps * scale(i),
// where scale(i) is the magnitude of the quantities rounded on the way to element i
// (written next to each check), with ulps a small constant. Sums: the reference adds
// sequentially, the SIMD kernel in 4 N interleaved partial sums (N = lanes); for inputs
// with random rounding errors both errors grow like sqrt(n) eps sum|terms| (the worst
// case, n eps sum|terms|, is not met by random data), so a reduction over n terms puts
// sum_growth(n) = sqrt(n + 1) times sum|terms| into its scale. A dropped or doubled
// element still exceeds these bounds many times over at the sizes tested.

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/kernels/vector_ops.h"
#include "support/simd_targets.h"

namespace attn::kernels {
namespace {

namespace ref = reference;

template <typename T>
constexpr double kEps = std::numeric_limits<T>::epsilon();

double sum_growth(std::int64_t n) { return std::sqrt(double(n) + 1); }

// ---- test data --------------------------------------------------------------------------

// n elements starting `offset` elements past a 64-byte boundary. The allocation ends
// exactly at element n, so a sanitizer build catches any access past the end.
template <typename T>
class Array {
 public:
  Array(std::int64_t n, std::int64_t offset) : size_(n) {
    const std::size_t bytes = std::size_t(offset + n) * sizeof(T);
    base_ = static_cast<T*>(::operator new (bytes == 0 ? 1 : bytes, std::align_val_t{64}));
    data_ = base_ + offset;
    for (std::int64_t i = 0; i < n; ++i) data_[i] = T(0);
  }
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  ~Array() { ::operator delete (base_, std::align_val_t{64}); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::int64_t size() const { return size_; }
  T& operator[](std::int64_t i) { return data_[i]; }
  const T& operator[](std::int64_t i) const { return data_[i]; }
  void fill_uniform(std::mt19937& random, double low, double high) {
    std::uniform_real_distribution<double> distribution(low, high);
    for (std::int64_t i = 0; i < size_; ++i) data_[i] = T(distribution(random));
  }
  void copy_from(const Array& other) {
    for (std::int64_t i = 0; i < size_; ++i) data_[i] = other[i];
  }

 private:
  T* base_ = nullptr;
  T* data_ = nullptr;
  std::int64_t size_ = 0;
};

// 0..64 and a few long lengths, one not a multiple of any vector width.
std::vector<std::int64_t> test_lengths() {
  std::vector<std::int64_t> lengths;
  for (std::int64_t n = 0; n <= 64; ++n) lengths.push_back(n);
  lengths.push_back(1000);
  lengths.push_back(4099);
  return lengths;
}

struct RowShape {
  std::int64_t rows, cols;
};

// Columns around vector widths (4, 8, 16 floats), a single column, long rows, empty
// shapes, and more than 32 rows (several partial-sum blocks in layer_norm_backward_rows).
std::vector<RowShape> test_shapes() {
  return {{1, 1},  {5, 1},   {3, 2},    {2, 7},    {4, 15}, {3, 16}, {3, 17}, {2, 31},  {3, 33},
          {2, 64}, {7, 100}, {2, 1000}, {3, 4099}, {0, 8},  {4, 0},  {70, 9}, {97, 130}};
}

std::string describe(const char* kernel, std::int64_t n, std::int64_t offset) {
  return std::string(kernel) + " n=" + std::to_string(n) + " offset=" + std::to_string(offset);
}

std::string describe(const char* kernel, RowShape shape, std::int64_t offset) {
  return std::string(kernel) + " rows=" + std::to_string(shape.rows) +
         " cols=" + std::to_string(shape.cols) + " offset=" + std::to_string(offset);
}

// ---- comparison -------------------------------------------------------------------------

// Numbers below the normal range carry only absolute accuracy.
template <typename T>
constexpr double kTinyFloor = std::numeric_limits<T>::min();

// |actual - expected| <= bound(i) for every element; NaN and infinities must match.
// Reports at most a few failing elements per call.
template <typename T, class Bound>
void expect_close(const T* actual, const T* expected, std::int64_t n, const Bound& bound,
                  const std::string& context) {
  int failures = 0;
  for (std::int64_t i = 0; i < n && failures < 5; ++i) {
    const double a = actual[i];
    const double e = expected[i];
    bool ok;
    if (std::isnan(e) || std::isinf(e)) {
      ok = std::isnan(e) ? std::isnan(a) : a == e;
    } else {
      ok = std::abs(a - e) <= bound(i);
    }
    if (!ok) {
      ++failures;
      ADD_FAILURE() << context << " element " << i << ": got " << a << ", expected " << e
                    << " (bound " << bound(i) << ")";
    }
  }
}

template <typename T>
void expect_equal(const T* actual, const T* expected, std::int64_t n, const std::string& context) {
  expect_close(
      actual, expected, n, [](std::int64_t) { return 0.0; }, context);
}

// bound(i) = ulps * eps * |expected(i)| + floor: for kernels accurate relative to their result.
template <typename T>
void expect_relative(const T* actual, const T* expected, std::int64_t n, double ulps,
                     const std::string& context) {
  expect_close(
      actual, expected, n,
      [&](std::int64_t i) {
        return ulps * kEps<T> * std::abs(double(expected[i])) + kTinyFloor<T>;
      },
      context);
}

// Every target: the test body runs once per instruction set.
class VectorOpsTest : public attn::testing::PerSimdTargetTest {};

ATTN_INSTANTIATE_PER_SIMD_TARGET(VectorOpsTest);

// ---- elementwise ------------------------------------------------------------------------

// Calls check(n, offset) for every tested length and misalignment.
template <class Check>
void for_lengths_and_offsets(const Check& check) {
  for (const std::int64_t n : test_lengths()) {
    for (std::int64_t offset = 0; offset < 4; ++offset) check(n, offset);
  }
}

template <typename T>
void check_binary_ops() {
  std::mt19937 random(1);
  for_lengths_and_offsets([&](std::int64_t n, std::int64_t offset) {
    // Different misalignments for the inputs and the output.
    Array<T> a(n, offset), b(n, (offset + 1) % 4), out(n, (offset + 2) % 4), expected(n, 0);
    a.fill_uniform(random, -10, 10);
    b.fill_uniform(random, 0.5, 4);  // away from 0 for div
    // One IEEE operation per element: bit-identical results.
    add(a.data(), b.data(), out.data(), n);
    ref::add(a.data(), b.data(), expected.data(), n);
    expect_equal(out.data(), expected.data(), n, describe("add", n, offset));
    sub(a.data(), b.data(), out.data(), n);
    ref::sub(a.data(), b.data(), expected.data(), n);
    expect_equal(out.data(), expected.data(), n, describe("sub", n, offset));
    mul(a.data(), b.data(), out.data(), n);
    ref::mul(a.data(), b.data(), expected.data(), n);
    expect_equal(out.data(), expected.data(), n, describe("mul", n, offset));
    div(a.data(), b.data(), out.data(), n);
    ref::div(a.data(), b.data(), expected.data(), n);
    expect_equal(out.data(), expected.data(), n, describe("div", n, offset));
  });
}

TEST_P(VectorOpsTest, BinaryOpsMatchReferenceExactly) {
  check_binary_ops<float>();
  check_binary_ops<double>();
}

template <typename T>
void check_affine_and_axpy() {
  std::mt19937 random(2);
  const T scale = T(-1.7), shift = T(0.3), alpha = T(2.5);
  for_lengths_and_offsets([&](std::int64_t n, std::int64_t offset) {
    Array<T> a(n, offset), out(n, (offset + 3) % 4), expected(n, 0);
    a.fill_uniform(random, -3, 3);
    // A fused multiply-add may round once where the reference rounds twice: 2 ulp of the
    // larger of the product and the addend.
    affine(a.data(), scale, shift, out.data(), n);
    ref::affine(a.data(), scale, shift, expected.data(), n);
    expect_close(
        out.data(), expected.data(), n,
        [&](std::int64_t i) {
          return 2 * kEps<T> * (std::abs(double(a[i] * scale)) + std::abs(double(shift)));
        },
        describe("affine", n, offset));

    Array<T> initial(n, 0);
    initial.fill_uniform(random, -3, 3);
    out.copy_from(initial);
    expected.copy_from(initial);
    axpy(alpha, a.data(), out.data(), n);
    ref::axpy(alpha, a.data(), expected.data(), n);
    expect_close(
        out.data(), expected.data(), n,
        [&](std::int64_t i) {
          return 2 * kEps<T> * (std::abs(double(alpha * a[i])) + std::abs(double(initial[i])));
        },
        describe("axpy", n, offset));
  });
}

TEST_P(VectorOpsTest, AffineAndAxpyMatchReference) {
  check_affine_and_axpy<float>();
  check_affine_and_axpy<double>();
}

template <typename T>
double sum_of_magnitudes(const T* x, std::int64_t n) {
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) total += std::abs(double(x[i]));
  return total;
}

template <typename T>
void check_sum() {
  std::mt19937 random(3);
  std::vector<std::int64_t> lengths = test_lengths();
  lengths.push_back(100003);  // several parallel chunks
  for (const std::int64_t n : lengths) {
    for (std::int64_t offset = 0; offset < 4; ++offset) {
      Array<T> x(n, offset);
      x.fill_uniform(random, -1, 1);
      const double bound = 2 * kEps<T> * sum_growth(n) * sum_of_magnitudes(x.data(), n);
      EXPECT_NEAR(double(sum(x.data(), n)), double(ref::sum(x.data(), n)), bound)
          << describe("sum", n, offset);
    }
  }
}

TEST_P(VectorOpsTest, SumMatchesReference) {
  check_sum<float>();
  check_sum<double>();
}

template <typename T>
void check_relu() {
  std::mt19937 random(4);
  for_lengths_and_offsets([&](std::int64_t n, std::int64_t offset) {
    Array<T> x(n, offset), grad(n, (offset + 1) % 4), out(n, (offset + 2) % 4), expected(n, 0);
    x.fill_uniform(random, -2, 2);
    grad.fill_uniform(random, -1, 1);
    relu(x.data(), out.data(), n);
    ref::relu(x.data(), expected.data(), n);
    expect_equal(out.data(), expected.data(), n, describe("relu", n, offset));
    relu_backward(x.data(), grad.data(), out.data(), n);
    ref::relu_backward(x.data(), grad.data(), expected.data(), n);
    expect_equal(out.data(), expected.data(), n, describe("relu_backward", n, offset));
  });
}

TEST_P(VectorOpsTest, ReluMatchesReferenceExactly) {
  check_relu<float>();
  check_relu<double>();
}

// exp: hn::Exp is within 1 ulp and std::exp within 0.5-1 ulp; the range reaches underflow
// (results 0 or subnormal) and overflow (inf, computed through std::exp).
template <typename T>
void check_exp() {
  std::mt19937 random(5);
  const double low = sizeof(T) == 4 ? -110 : -760;
  const double high = sizeof(T) == 4 ? 95 : 715;
  for_lengths_and_offsets([&](std::int64_t n, std::int64_t offset) {
    Array<T> x(n, offset), out(n, (offset + 1) % 4), expected(n, 0);
    x.fill_uniform(random, low, high);
    exp(x.data(), out.data(), n);
    ref::exp(x.data(), expected.data(), n);
    expect_relative(out.data(), expected.data(), n, 3, describe("exp", n, offset));
  });
}

TEST_P(VectorOpsTest, ExpMatchesReference) {
  check_exp<float>();
  check_exp<double>();
}

// tanh: hn::Tanh is within 4 ulp, std::tanh within 1-2. sigmoid: both versions round about
// three times (exp, add, divide). The sigmoid reference 1 / (1 + exp(-x)) returns 0 instead
// of a subnormal below x = -88 (float), covered by the floor of expect_relative.
template <typename T>
void check_tanh_and_sigmoid() {
  std::mt19937 random(6);
  for_lengths_and_offsets([&](std::int64_t n, std::int64_t offset) {
    Array<T> x(n, offset), out(n, (offset + 1) % 4), expected(n, 0);
    x.fill_uniform(random, -25, 25);
    tanh(x.data(), out.data(), n);
    ref::tanh(x.data(), expected.data(), n);
    expect_relative(out.data(), expected.data(), n, 6, describe("tanh", n, offset));
    x.fill_uniform(random, -120, 60);
    sigmoid(x.data(), out.data(), n);
    ref::sigmoid(x.data(), expected.data(), n);
    expect_relative(out.data(), expected.data(), n, 6, describe("sigmoid", n, offset));
  });
}

TEST_P(VectorOpsTest, TanhAndSigmoidMatchReference) {
  check_tanh_and_sigmoid<float>();
  check_tanh_and_sigmoid<double>();
}

// gelu: Cody's rational erfc evaluated in T against std::erfc; both feed the same rounded
// argument x / sqrt 2, so only erfc's own rounding differs. Inputs reach |x| = 14 (all three
// approximation intervals, erfc near underflow in float).
template <typename T>
void check_gelu() {
  std::mt19937 random(7);
  for_lengths_and_offsets([&](std::int64_t n, std::int64_t offset) {
    Array<T> x(n, offset), out(n, (offset + 1) % 4), expected(n, 0);
    x.fill_uniform(random, -14, 14);
    gelu(x.data(), out.data(), n);
    ref::gelu(x.data(), expected.data(), n);
    expect_relative(out.data(), expected.data(), n, 8, describe("gelu", n, offset));
  });
}

TEST_P(VectorOpsTest, GeluMatchesReference) {
  check_gelu<float>();
  check_gelu<double>();
}

// Backward rules. scale(i) = |grad_out(i)| times the magnitudes of the terms of the
// derivative, since the terms may cancel: gelu' = Phi + x phi, tanh' = 1 - y^2,
// sigmoid' = y (1 - y).
template <typename T>
void check_activation_backward() {
  std::mt19937 random(8);
  for_lengths_and_offsets([&](std::int64_t n, std::int64_t offset) {
    Array<T> x(n, offset), grad(n, (offset + 1) % 4), out(n, (offset + 2) % 4), expected(n, 0);
    grad.fill_uniform(random, -1, 1);
    const auto check = [&](const char* name, double ulps, auto&& derivative_scale) {
      expect_close(
          out.data(), expected.data(), n,
          [&](std::int64_t i) {
            return ulps * kEps<T> * std::abs(double(grad[i])) * derivative_scale(double(x[i])) +
                   kTinyFloor<T>;
          },
          describe(name, n, offset));
    };

    x.fill_uniform(random, -10, 10);
    gelu_backward(x.data(), grad.data(), out.data(), n);
    ref::gelu_backward(x.data(), grad.data(), expected.data(), n);
    check("gelu_backward", 8, [](double v) {
      return 0.5 * std::erfc(-v / std::sqrt(2.0)) +
             std::abs(v) * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI);
    });

    x.fill_uniform(random, -1, 1);  // here x holds the forward output y
    tanh_backward(x.data(), grad.data(), out.data(), n);
    ref::tanh_backward(x.data(), grad.data(), expected.data(), n);
    check("tanh_backward", 2, [](double y) { return std::abs(1 - y * y) + y * y; });

    x.fill_uniform(random, 0, 1);
    sigmoid_backward(x.data(), grad.data(), out.data(), n);
    ref::sigmoid_backward(x.data(), grad.data(), expected.data(), n);
    check("sigmoid_backward", 3, [](double y) { return y * (1 - y); });
  });
}

TEST_P(VectorOpsTest, ActivationBackwardMatchesReference) {
  check_activation_backward<float>();
  check_activation_backward<double>();
}

// Output may alias the input: in-place results equal out-of-place ones.
template <typename T>
void check_in_place() {
  std::mt19937 random(9);
  const std::int64_t n = 37;
  Array<T> x(n, 1), b(n, 2), in_place(n, 3), separate(n, 0);
  x.fill_uniform(random, -3, 3);
  b.fill_uniform(random, -3, 3);
  in_place.copy_from(x);
  gelu(in_place.data(), in_place.data(), n);
  gelu(x.data(), separate.data(), n);
  expect_equal(in_place.data(), separate.data(), n, "gelu in place");
  add(in_place.data(), b.data(), in_place.data(), n);
  add(separate.data(), b.data(), separate.data(), n);
  expect_equal(in_place.data(), separate.data(), n, "add in place");
}

TEST_P(VectorOpsTest, ElementwiseWorksInPlace) {
  check_in_place<float>();
  check_in_place<double>();
}

template <typename T>
void check_special_values() {
  const T inf = std::numeric_limits<T>::infinity();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T big = sizeof(T) == 4 ? T(100) : T(709);  // float overflows, double stays finite
  Array<T> x(6, 1), y(6, 0), expected(6, 0);
  const T inputs[6] = {nan, inf, -inf, big, T(0), T(-0.5)};
  for (int i = 0; i < 6; ++i) x[i] = inputs[i];

  exp(x.data(), y.data(), 6);
  ref::exp(x.data(), expected.data(), 6);
  expect_relative(y.data(), expected.data(), 6, 3, "exp special values");
  tanh(x.data(), y.data(), 6);
  ref::tanh(x.data(), expected.data(), 6);
  expect_relative(y.data(), expected.data(), 6, 6, "tanh special values");
  sigmoid(x.data(), y.data(), 6);
  ref::sigmoid(x.data(), expected.data(), 6);
  expect_relative(y.data(), expected.data(), 6, 6, "sigmoid special values");
  relu(x.data(), y.data(), 6);
  EXPECT_TRUE(std::isnan(y[0])) << "relu passes NaN through";
  gelu(x.data(), y.data(), 6);
  EXPECT_TRUE(std::isnan(y[0])) << "gelu(NaN)";
  EXPECT_EQ(y[1], inf) << "gelu(inf)";
  EXPECT_EQ(y[4], T(0)) << "gelu(0)";
}

TEST_P(VectorOpsTest, SpecialValuesFollowStdMath) {
  check_special_values<float>();
  check_special_values<double>();
}

TEST_P(VectorOpsTest, KnownValues) {
  const double x[4] = {-1, 0, 1, 3};
  double y[4];
  gelu(x, y, 4);  // x Phi(x)
  EXPECT_NEAR(y[0], -0.15865525393145707, 1e-15);
  EXPECT_EQ(y[1], 0.0);
  EXPECT_NEAR(y[2], 0.8413447460685429, 1e-15);
  EXPECT_NEAR(y[3], 2.99595030590511, 1e-14);
  gelu_backward(x, std::vector<double>(4, 1.0).data(), y, 4);  // Phi(x) + x phi(x)
  EXPECT_NEAR(y[0], -0.08331547058768629, 1e-15);
  EXPECT_NEAR(y[1], 0.5, 1e-15);
  EXPECT_NEAR(y[2], 1.0833154705876864, 1e-15);
  sigmoid(x, y, 4);
  EXPECT_NEAR(y[0], 0.2689414213699951, 1e-15);
  EXPECT_EQ(y[1], 0.5);
  tanh(x, y, 4);
  EXPECT_NEAR(y[2], 0.7615941559557649, 1e-15);
  const float ones[5] = {1, 2, 3, 4, 5};
  EXPECT_EQ(sum(ones, 5), 15.0f);
}

// ---- softmax ----------------------------------------------------------------------------

// Calls check(shape, offset) for every tested shape and misalignment.
template <class Check>
void for_shapes_and_offsets(const Check& check) {
  for (const RowShape shape : test_shapes()) {
    for (std::int64_t offset = 0; offset < 4; ++offset) check(shape, offset);
  }
}

// softmax y = e / S: exp (<= 1.5 ulp each side), the sum S of positive terms (relative
// error ~ sum_growth(cols) eps) and the normalisation (1-2 roundings).
// log_softmax y = (x - max) - log S: since x - max <= 0 <= log S there is no cancellation,
// and the error of S enters as an absolute error sum_growth eps.
template <typename T>
void check_softmax_forward() {
  std::mt19937 random(10);
  for_shapes_and_offsets([&](RowShape shape, std::int64_t offset) {
    const std::int64_t n = shape.rows * shape.cols;
    Array<T> x(n, offset), y(n, (offset + 1) % 4), expected(n, 0);
    x.fill_uniform(random, -20, 20);
    const double growth = sum_growth(shape.cols);
    softmax_rows(x.data(), y.data(), shape.rows, shape.cols);
    ref::softmax_rows(x.data(), expected.data(), shape.rows, shape.cols);
    expect_close(
        y.data(), expected.data(), n,
        [&](std::int64_t i) {
          return (4 + 2 * growth) * kEps<T> * std::abs(double(expected[i])) + kTinyFloor<T>;
        },
        describe("softmax_rows", shape, offset));
    log_softmax_rows(x.data(), y.data(), shape.rows, shape.cols);
    ref::log_softmax_rows(x.data(), expected.data(), shape.rows, shape.cols);
    expect_close(
        y.data(), expected.data(), n,
        [&](std::int64_t i) { return 2 * kEps<T> * (std::abs(double(expected[i])) + growth); },
        describe("log_softmax_rows", shape, offset));
  });
}

TEST_P(VectorOpsTest, SoftmaxMatchesReference) {
  check_softmax_forward<float>();
  check_softmax_forward<double>();
}

// softmax backward: grad_in = y (g - dot), dot = sum g y. scale = |y| (|g| + |dot| +
// growth sum|g y|). log_softmax backward: grad_in = g - p S, S = sum g, p = exp(y).
// scale = |g| + p (|S| + growth sum|g|).
template <typename T>
void check_softmax_backward() {
  std::mt19937 random(11);
  for_shapes_and_offsets([&](RowShape shape, std::int64_t offset) {
    const std::int64_t n = shape.rows * shape.cols, cols = shape.cols;
    Array<T> x(n, offset), y(n, 0), log_y(n, 0), grad(n, (offset + 1) % 4),
        out(n, (offset + 2) % 4), expected(n, 0);
    x.fill_uniform(random, -5, 5);
    grad.fill_uniform(random, -1, 1);
    ref::softmax_rows(x.data(), y.data(), shape.rows, cols);
    ref::log_softmax_rows(x.data(), log_y.data(), shape.rows, cols);
    const double growth = sum_growth(cols);

    // Per row: sum g y, sum |g y|, sum g, sum |g|.
    std::vector<double> dot(shape.rows), dot_magnitude(shape.rows), total(shape.rows),
        total_magnitude(shape.rows);
    for (std::int64_t i = 0; i < n; ++i) {
      dot[i / cols] += double(grad[i]) * y[i];
      dot_magnitude[i / cols] += std::abs(double(grad[i]) * y[i]);
      total[i / cols] += grad[i];
      total_magnitude[i / cols] += std::abs(double(grad[i]));
    }

    softmax_backward_rows(y.data(), grad.data(), out.data(), shape.rows, cols);
    ref::softmax_backward_rows(y.data(), grad.data(), expected.data(), shape.rows, cols);
    expect_close(
        out.data(), expected.data(), n,
        [&](std::int64_t i) {
          const std::int64_t row = i / cols;
          const double scale =
              std::abs(double(y[i])) *
              (std::abs(double(grad[i])) + std::abs(dot[row]) + growth * dot_magnitude[row]);
          return 3 * kEps<T> * scale + kTinyFloor<T>;
        },
        describe("softmax_backward_rows", shape, offset));

    log_softmax_backward_rows(log_y.data(), grad.data(), out.data(), shape.rows, cols);
    ref::log_softmax_backward_rows(log_y.data(), grad.data(), expected.data(), shape.rows, cols);
    expect_close(
        out.data(), expected.data(), n,
        [&](std::int64_t i) {
          const std::int64_t row = i / cols;
          const double probability = std::exp(double(log_y[i]));
          const double scale = std::abs(double(grad[i])) +
                               probability * (std::abs(total[row]) + growth * total_magnitude[row]);
          return 3 * kEps<T> * scale + kTinyFloor<T>;
        },
        describe("log_softmax_backward_rows", shape, offset));
  });
}

TEST_P(VectorOpsTest, SoftmaxBackwardMatchesReference) {
  check_softmax_backward<float>();
  check_softmax_backward<double>();
}

TEST_P(VectorOpsTest, SoftmaxKnownAnswer) {
  const double x[2] = {0, std::log(3.0)};
  double y[2];
  softmax_rows(x, y, 1, 2);
  EXPECT_NEAR(y[0], 0.25, 1e-15);
  EXPECT_NEAR(y[1], 0.75, 1e-15);
  log_softmax_rows(x, y, 1, 2);
  EXPECT_NEAR(y[0], std::log(0.25), 1e-15);
  EXPECT_NEAR(y[1], std::log(0.75), 1e-15);
  const float uniform[3] = {7, 7, 7};
  float p[3];
  softmax_rows(uniform, p, 1, 3);
  for (const float value : p) EXPECT_FLOAT_EQ(value, 1.0f / 3);
}

// Logits around +-1e4: without subtracting the maximum, exp overflows (float and double).
template <typename T>
void check_softmax_huge_logits() {
  std::mt19937 random(12);
  const std::int64_t rows = 4, cols = 37;
  Array<T> x(rows * cols, 1), y(rows * cols, 2);
  x.fill_uniform(random, -5, 5);
  for (std::int64_t i = 0; i < rows * cols; ++i) x[i] += (i / cols) % 2 == 0 ? T(1e4) : T(-1e4);
  softmax_rows(x.data(), y.data(), rows, cols);
  for (std::int64_t row = 0; row < rows; ++row) {
    double total = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      ASSERT_TRUE(std::isfinite(y[row * cols + j])) << "row " << row << " col " << j;
      total += y[row * cols + j];
    }
    EXPECT_NEAR(total, 1.0, 8 * cols * kEps<T>) << "row " << row;
  }
  log_softmax_rows(x.data(), y.data(), rows, cols);
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    ASSERT_TRUE(std::isfinite(y[i]) && y[i] <= 0) << "element " << i << ": " << y[i];
  }
}

TEST_P(VectorOpsTest, SoftmaxIsStableForHugeLogits) {
  check_softmax_huge_logits<float>();
  check_softmax_huge_logits<double>();
}

// -inf entries (masked positions) get probability 0; a row of only -inf gives zeros from
// softmax and -inf from log_softmax (documented choice; PyTorch gives NaN).
template <typename T>
void check_softmax_masked() {
  const T inf = std::numeric_limits<T>::infinity();
  const std::int64_t cols = 19;
  Array<T> x(2 * cols, 3), y(2 * cols, 1);
  for (std::int64_t j = 0; j < cols; ++j) {
    x[j] = j % 3 == 0 ? T(0.5) : -inf;  // row 0: 7 unmasked equal logits
    x[cols + j] = -inf;                 // row 1: fully masked
  }
  softmax_rows(x.data(), y.data(), 2, cols);
  for (std::int64_t j = 0; j < cols; ++j) {
    EXPECT_NEAR(y[j], j % 3 == 0 ? 1.0 / 7 : 0.0, 4 * kEps<T>) << "col " << j;
    EXPECT_EQ(y[cols + j], T(0)) << "fully masked row, col " << j;
  }
  log_softmax_rows(x.data(), y.data(), 2, cols);
  for (std::int64_t j = 0; j < cols; ++j) {
    if (j % 3 == 0) {
      EXPECT_NEAR(y[j], -std::log(7.0), 4 * kEps<T>) << "col " << j;
    } else {
      EXPECT_EQ(y[j], -inf) << "col " << j;
    }
    EXPECT_EQ(y[cols + j], -inf) << "fully masked row, col " << j;
  }
}

TEST_P(VectorOpsTest, SoftmaxHandlesMaskedEntries) {
  check_softmax_masked<float>();
  check_softmax_masked<double>();
}

// ---- layer norm -------------------------------------------------------------------------

// Per-row statistics in double, for the tolerance scales.
struct RowStatistics {
  double mean = 0, rstd = 0, mean_magnitude = 0;  // mean_magnitude = mean |x|
};

template <typename T>
RowStatistics row_statistics(const T* x, std::int64_t cols, double epsilon) {
  RowStatistics stats;
  if (cols == 0) return stats;
  double squares = 0;
  for (std::int64_t j = 0; j < cols; ++j) {
    stats.mean += x[j];
    stats.mean_magnitude += std::abs(double(x[j]));
  }
  stats.mean /= double(cols);
  stats.mean_magnitude /= double(cols);
  for (std::int64_t j = 0; j < cols; ++j) squares += (x[j] - stats.mean) * (x[j] - stats.mean);
  stats.rstd = 1 / std::sqrt(squares / double(cols) + epsilon);
  return stats;
}

// Forward y = (x - mean) rstd gamma + beta. The mean is off by ~growth eps mean|x|, the
// deviation x - mean rounds at |x| + |mean|, rstd is off by ~growth eps relative (a sum
// of squares, positive terms):
// scale = |gamma| rstd (|x| + |mean| + growth mean|x|) + |gamma xhat| growth + |beta|.
// Inputs have an offset (mean 3, std ~3) so that centring matters.
template <typename T>
void check_layer_norm_forward(bool affine) {
  std::mt19937 random(13);
  const T epsilon = T(1e-5);
  for_shapes_and_offsets([&](RowShape shape, std::int64_t offset) {
    const std::int64_t n = shape.rows * shape.cols, cols = shape.cols;
    Array<T> x(n, offset), gamma(cols, 1), beta(cols, 2), y(n, (offset + 1) % 4), expected(n, 0);
    Array<T> mean(shape.rows, offset), rstd(shape.rows, 0), mean_expected(shape.rows, 0),
        rstd_expected(shape.rows, 0);
    x.fill_uniform(random, -2, 8);
    gamma.fill_uniform(random, 0.5, 1.5);
    beta.fill_uniform(random, -1, 1);
    const T* gamma_ptr = affine ? gamma.data() : nullptr;
    const T* beta_ptr = affine ? beta.data() : nullptr;
    layer_norm_rows(x.data(), gamma_ptr, beta_ptr, y.data(), mean.data(), rstd.data(), shape.rows,
                    cols, epsilon);
    ref::layer_norm_rows(x.data(), gamma_ptr, beta_ptr, expected.data(), mean_expected.data(),
                         rstd_expected.data(), shape.rows, cols, epsilon);
    const double growth = sum_growth(cols);
    std::vector<RowStatistics> stats;
    for (std::int64_t row = 0; row < shape.rows; ++row) {
      stats.push_back(row_statistics(x.data() + row * cols, cols, epsilon));
    }
    const std::string context =
        describe(affine ? "layer_norm_rows" : "layer_norm_rows (no affine)", shape, offset);
    expect_close(
        y.data(), expected.data(), n,
        [&](std::int64_t i) {
          const RowStatistics& s = stats[i / cols];
          const double g = affine ? std::abs(double(gamma[i % cols])) : 1.0;
          const double b = affine ? std::abs(double(beta[i % cols])) : 0.0;
          const double xhat = std::abs(x[i] - s.mean) * s.rstd;
          const double deviation_error =
              std::abs(double(x[i])) + std::abs(s.mean) + growth * s.mean_magnitude;
          return 3 * kEps<T> * (g * s.rstd * deviation_error + g * xhat * growth + b);
        },
        context);
    expect_close(
        mean.data(), mean_expected.data(), shape.rows,
        [&](std::int64_t row) { return 2 * kEps<T> * growth * stats[row].mean_magnitude; },
        context + " mean");
    expect_close(
        rstd.data(), rstd_expected.data(), shape.rows,
        [&](std::int64_t row) { return 3 * kEps<T> * growth * stats[row].rstd; },
        context + " rstd");
  });
}

TEST_P(VectorOpsTest, LayerNormMatchesReference) {
  check_layer_norm_forward<float>(/*affine=*/true);
  check_layer_norm_forward<float>(/*affine=*/false);
  check_layer_norm_forward<double>(/*affine=*/true);
  check_layer_norm_forward<double>(/*affine=*/false);
}

// Scales for layer_norm_backward_rows, with xhat = (x - mean) rstd and g = grad_y gamma:
// xhat rounds at eps rstd (|x| + |mean|) + eps |xhat|; the row means of g and g xhat are
// sums (growth); grad_x = rstd (g - mean(g) - xhat mean(g xhat)) may cancel, so its scale
// sums the magnitudes of its terms. grad_gamma / grad_beta sum over rows.
template <typename T>
class LayerNormBackwardScales {
 public:
  LayerNormBackwardScales(RowShape shape, const Array<T>& x, const Array<T>& gamma,
                          const Array<T>& mean, const Array<T>& rstd, const Array<T>& grad_y)
      : shape_(shape), x_(x), gamma_(gamma), mean_(mean), rstd_(rstd), grad_y_(grad_y) {
    for (std::int64_t row = 0; row < shape.rows; ++row) rows_.push_back(row_sums(row));
  }

  double grad_x(std::int64_t i) const {
    const RowSums& row = rows_[i / shape_.cols];
    const double growth = sum_growth(shape_.cols);
    const double terms =
        std::abs(g(i)) + std::abs(row.mean_g) + std::abs(xhat(i) * row.mean_g_xhat);
    const double sums = growth * (row.mean_abs_g + std::abs(xhat(i)) * row.mean_abs_g_xhat);
    const double xhat_terms =
        xhat_error(i) * std::abs(row.mean_g_xhat) + std::abs(xhat(i)) * row.mean_g_xhat_error;
    return rstd_[i / shape_.cols] * (terms + sums + xhat_terms);
  }

  // Column j of grad_gamma (with_xhat) or grad_beta, accumulated onto `initial`.
  double parameter_grad(std::int64_t j, bool with_xhat, double initial) const {
    double magnitude = 0, xhat_errors = 0;
    for (std::int64_t row = 0; row < shape_.rows; ++row) {
      const std::int64_t i = row * shape_.cols + j;
      magnitude += std::abs(double(grad_y_[i]) * (with_xhat ? xhat(i) : 1.0));
      if (with_xhat) xhat_errors += std::abs(double(grad_y_[i])) * xhat_error(i);
    }
    return sum_growth(shape_.rows) * magnitude + xhat_errors + std::abs(initial);
  }

 private:
  struct RowSums {
    double mean_g = 0, mean_abs_g = 0, mean_g_xhat = 0, mean_abs_g_xhat = 0;
    double mean_g_xhat_error = 0;  // mean of |g| times the error of xhat
  };

  double xhat(std::int64_t i) const {
    const std::int64_t row = i / shape_.cols;
    return (double(x_[i]) - mean_[row]) * rstd_[row];
  }
  double xhat_error(std::int64_t i) const {
    const std::int64_t row = i / shape_.cols;
    return rstd_[row] * (std::abs(double(x_[i])) + std::abs(double(mean_[row]))) +
           std::abs(xhat(i));
  }
  double g(std::int64_t i) const { return double(grad_y_[i]) * gamma_[i % shape_.cols]; }

  RowSums row_sums(std::int64_t row) const {
    RowSums sums;
    const double cols = double(shape_.cols);
    for (std::int64_t i = row * shape_.cols; i < (row + 1) * shape_.cols; ++i) {
      sums.mean_g += g(i) / cols;
      sums.mean_abs_g += std::abs(g(i)) / cols;
      sums.mean_g_xhat += g(i) * xhat(i) / cols;
      sums.mean_abs_g_xhat += std::abs(g(i) * xhat(i)) / cols;
      sums.mean_g_xhat_error += std::abs(g(i)) * xhat_error(i) / cols;
    }
    return sums;
  }

  RowShape shape_;
  const Array<T>& x_;
  const Array<T>& gamma_;
  const Array<T>& mean_;
  const Array<T>& rstd_;
  const Array<T>& grad_y_;
  std::vector<RowSums> rows_;
};

template <typename T>
void check_layer_norm_backward(bool with_parameter_grads) {
  std::mt19937 random(14);
  for_shapes_and_offsets([&](RowShape shape, std::int64_t offset) {
    const std::int64_t n = shape.rows * shape.cols, cols = shape.cols, rows = shape.rows;
    Array<T> x(n, offset), gamma(cols, 1), grad_y(n, 2), grad_x(n, (offset + 1) % 4),
        expected(n, 0), mean(rows, 3), rstd(rows, 0), y(n, 0);
    x.fill_uniform(random, -2, 8);
    gamma.fill_uniform(random, 0.5, 1.5);
    grad_y.fill_uniform(random, -1, 1);
    ref::layer_norm_rows(x.data(), gamma.data(), static_cast<const T*>(nullptr), y.data(),
                         mean.data(), rstd.data(), rows, cols, T(1e-5));
    // grad_gamma / grad_beta start non-zero: the kernel accumulates.
    Array<T> grad_gamma(cols, offset), grad_beta(cols, 1), gamma_expected(cols, 0),
        beta_expected(cols, 0), initial(cols, 0);
    initial.fill_uniform(random, -1, 1);
    grad_gamma.copy_from(initial);
    grad_beta.copy_from(initial);
    gamma_expected.copy_from(initial);
    beta_expected.copy_from(initial);
    T* gamma_out = with_parameter_grads ? grad_gamma.data() : nullptr;
    T* beta_out = with_parameter_grads ? grad_beta.data() : nullptr;
    layer_norm_backward_rows(x.data(), gamma.data(), mean.data(), rstd.data(), grad_y.data(),
                             grad_x.data(), gamma_out, beta_out, rows, cols);
    ref::layer_norm_backward_rows(
        x.data(), gamma.data(), mean.data(), rstd.data(), grad_y.data(), expected.data(),
        with_parameter_grads ? gamma_expected.data() : nullptr,
        with_parameter_grads ? beta_expected.data() : nullptr, rows, cols);
    const LayerNormBackwardScales<T> scales(shape, x, gamma, mean, rstd, grad_y);
    const std::string context = describe("layer_norm_backward_rows", shape, offset);
    expect_close(
        grad_x.data(), expected.data(), n,
        [&](std::int64_t i) { return 3 * kEps<T> * scales.grad_x(i) + kTinyFloor<T>; },
        context + " grad_x");
    expect_close(
        grad_gamma.data(), gamma_expected.data(), cols,
        [&](std::int64_t j) { return 3 * kEps<T> * scales.parameter_grad(j, true, initial[j]); },
        context + " grad_gamma");
    expect_close(
        grad_beta.data(), beta_expected.data(), cols,
        [&](std::int64_t j) { return 3 * kEps<T> * scales.parameter_grad(j, false, initial[j]); },
        context + " grad_beta");
  });
}

TEST_P(VectorOpsTest, LayerNormBackwardMatchesReference) {
  check_layer_norm_backward<float>(/*with_parameter_grads=*/true);
  check_layer_norm_backward<float>(/*with_parameter_grads=*/false);
  check_layer_norm_backward<double>(/*with_parameter_grads=*/true);
  check_layer_norm_backward<double>(/*with_parameter_grads=*/false);
}

TEST_P(VectorOpsTest, LayerNormKnownAnswer) {
  const double x[3] = {1, 2, 3};
  double y[3], mean, rstd;
  // mean 2, biased variance 2/3
  layer_norm_rows(x, static_cast<const double*>(nullptr), static_cast<const double*>(nullptr), y,
                  &mean, &rstd, 1, 3, 0.0);
  EXPECT_NEAR(mean, 2.0, 1e-15);
  EXPECT_NEAR(rstd, std::sqrt(1.5), 1e-15);
  EXPECT_NEAR(y[0], -std::sqrt(1.5), 1e-15);
  EXPECT_NEAR(y[1], 0.0, 1e-15);
  EXPECT_NEAR(y[2], std::sqrt(1.5), 1e-15);
  // A constant row has variance 0: rstd = 1 / sqrt(epsilon), y = beta.
  const float constant[4] = {5, 5, 5, 5}, beta[4] = {1, 2, 3, 4};
  float out[4], mean_f, rstd_f;
  layer_norm_rows(constant, static_cast<const float*>(nullptr), beta, out, &mean_f, &rstd_f, 1, 4,
                  0.25f);
  EXPECT_EQ(rstd_f, 2.0f);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(out[j], beta[j]);
}

// ---- threads ----------------------------------------------------------------------------

// Sets the OpenMP thread count for one scope.
class ScopedThreads {
 public:
  explicit ScopedThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ScopedThreads() { omp_set_num_threads(previous_); }

 private:
  int previous_;
};

// Large enough to run in parallel; results must be bit-identical for 1, 2 and 3 threads,
// including the reductions (sum, grad_gamma, grad_beta).
template <typename T>
void check_thread_count_independence() {
  std::mt19937 random(15);
  const std::int64_t rows = 300, cols = 257, n = rows * cols;
  Array<T> x(n, 1), grad_y(n, 2), gamma(cols, 3);
  x.fill_uniform(random, -3, 3);
  grad_y.fill_uniform(random, -1, 1);
  gamma.fill_uniform(random, 0.5, 1.5);
  struct Results {
    std::vector<T> sum, softmax, gelu, layer_norm, grad_x, grad_gamma, grad_beta;
  };
  const auto run = [&](int threads) {
    ScopedThreads scoped(threads);
    Results r;
    r.sum = {sum(x.data(), n)};
    r.softmax.resize(n);
    r.gelu.resize(n);
    r.layer_norm.resize(n);
    r.grad_x.resize(n);
    r.grad_gamma.assign(cols, T(0.5));
    r.grad_beta.assign(cols, T(0.5));
    std::vector<T> mean(rows), rstd(rows);
    softmax_rows(x.data(), r.softmax.data(), rows, cols);
    gelu(x.data(), r.gelu.data(), n);
    layer_norm_rows(x.data(), gamma.data(), static_cast<const T*>(nullptr), r.layer_norm.data(),
                    mean.data(), rstd.data(), rows, cols, T(1e-5));
    layer_norm_backward_rows(x.data(), gamma.data(), mean.data(), rstd.data(), grad_y.data(),
                             r.grad_x.data(), r.grad_gamma.data(), r.grad_beta.data(), rows, cols);
    return r;
  };
  const Results one = run(1);
  for (const int threads : {2, 3}) {
    const Results many = run(threads);
    const std::string context = std::to_string(threads) + " threads";
    EXPECT_EQ(one.sum, many.sum) << context;
    EXPECT_EQ(one.softmax, many.softmax) << context;
    EXPECT_EQ(one.gelu, many.gelu) << context;
    EXPECT_EQ(one.layer_norm, many.layer_norm) << context;
    EXPECT_EQ(one.grad_x, many.grad_x) << context;
    EXPECT_EQ(one.grad_gamma, many.grad_gamma) << context;
    EXPECT_EQ(one.grad_beta, many.grad_beta) << context;
  }
}

TEST_P(VectorOpsTest, ResultsDoNotDependOnThreadCount) {
  check_thread_count_independence<float>();
  check_thread_count_independence<double>();
}

TEST(VectorOpsErrors, NegativeSizesThrow) {
  float value = 0;
  EXPECT_THROW(add(&value, &value, &value, -1), Error);
  EXPECT_THROW(softmax_rows(&value, &value, 1, -2), Error);
  EXPECT_THROW(
      layer_norm_backward_rows(&value, &value, &value, &value, &value, &value,
                               static_cast<float*>(nullptr), static_cast<float*>(nullptr), 1, 1),
      Error);  // grad_x aliases x
}

}  // namespace
}  // namespace attn::kernels
