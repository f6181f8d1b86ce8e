// gemm against gemm_reference over transposes, odd sizes, submatrix views, alpha/beta,
// batch strides (including a broadcast B) and every float path, with tolerances derived
// from the rounding error of a length-k dot product.
#include "attn/kernels/gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "attn/core/error.h"

namespace attn::kernels {
namespace {

using Index = std::int64_t;

// A batched problem with its own storage; the leading dimensions and strides may exceed
// the matrix sizes (padding) so that the operands are views into larger buffers.
struct Shape {
  Index batch = 1, m = 1, n = 1, k = 1;
  bool transpose_a = false, transpose_b = false;
  Index pad_a = 0, pad_b = 0, pad_c = 0;  // extra elements per stored row
  bool broadcast_b = false;               // stride_b = 0
};

template <typename T>
struct Problem {
  GemmArgs<T> args;
  std::vector<T> a, b, c;
};

template <typename T>
std::vector<T> random_values(std::size_t count, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> values(count);
  for (T& value : values) value = T(uniform(generator));
  return values;
}

template <typename T>
Problem<T> make_problem(const Shape& shape, T alpha, T beta, std::uint32_t seed = 1) {
  Problem<T> problem;
  GemmArgs<T>& args = problem.args;
  args.batch = shape.batch;
  args.m = shape.m;
  args.n = shape.n;
  args.k = shape.k;
  args.transpose_a = shape.transpose_a;
  args.transpose_b = shape.transpose_b;
  args.alpha = alpha;
  args.beta = beta;
  // Stored shapes: A [m, k] or [k, m]; B [k, n] or [n, k]; C [m, n].
  const Index a_rows = shape.transpose_a ? shape.k : shape.m;
  const Index a_cols = shape.transpose_a ? shape.m : shape.k;
  const Index b_rows = shape.transpose_b ? shape.n : shape.k;
  const Index b_cols = shape.transpose_b ? shape.k : shape.n;
  args.lda = std::max<Index>(1, a_cols + shape.pad_a);
  args.ldb = std::max<Index>(1, b_cols + shape.pad_b);
  args.ldc = std::max<Index>(1, shape.n + shape.pad_c);
  // A gap of one row between batch entries checks that the strides are honoured.
  args.stride_a = (a_rows + 1) * args.lda;
  args.stride_b = shape.broadcast_b ? 0 : (b_rows + 1) * args.ldb;
  args.stride_c = (shape.m + 1) * args.ldc;
  problem.a = random_values<T>(std::size_t(shape.batch * args.stride_a), seed);
  problem.b =
      random_values<T>(std::size_t(shape.broadcast_b ? args.stride_b + (b_rows + 1) * args.ldb
                                                     : shape.batch * args.stride_b),
                       seed + 1);
  problem.c = random_values<T>(std::size_t(shape.batch * args.stride_c), seed + 2);
  args.a = problem.a.data();
  args.b = problem.b.data();
  args.c = problem.c.data();
  return problem;
}

template <typename T>
T stored(const std::vector<T>& matrix, Index offset, Index leading_dimension, bool transposed,
         Index row, Index col) {
  return transposed ? matrix[offset + col * leading_dimension + row]
                    : matrix[offset + row * leading_dimension + col];
}

// Bound on |gemm - reference| for one element. Each result is a length-k dot product, then
// scaled by alpha and added to beta * C: both sides carry at most (k + 2) * eps times the
// sum of absolute terms (the classic gamma_k bound), so their difference is at most twice that.
template <typename T>
double error_bound(const Problem<T>& problem, const std::vector<T>& c_before, Index index,
                   Index row, Index col) {
  const GemmArgs<T>& args = problem.args;
  double absolute_sum = 0;
  for (Index inner = 0; inner < args.k; ++inner) {
    absolute_sum += std::abs(
        double(stored(problem.a, index * args.stride_a, args.lda, args.transpose_a, row, inner)) *
        double(stored(problem.b, index * args.stride_b, args.ldb, args.transpose_b, inner, col)));
  }
  const double c_old = double(c_before[index * args.stride_c + row * args.ldc + col]);
  const double c_term = args.beta == T(0) ? 0.0 : std::abs(double(args.beta) * c_old);
  const double eps = std::numeric_limits<T>::epsilon();
  return 2.0 * double(args.k + 2) * eps * (std::abs(double(args.alpha)) * absolute_sum + c_term) +
         std::numeric_limits<T>::min();
}

// Compares every element of C, and checks that the padding between and after rows of C
// (which neither implementation may write) is untouched.
template <typename T>
void expect_close(const Problem<T>& fast, const Problem<T>& reference,
                  const std::vector<T>& c_before) {
  const GemmArgs<T>& args = fast.args;
  Index mismatches = 0;
  for (std::size_t position = 0; position < fast.c.size(); ++position) {
    const Index index = Index(position) / args.stride_c;
    const Index row = (Index(position) % args.stride_c) / args.ldc;
    const Index col = (Index(position) % args.stride_c) % args.ldc;
    const bool inside = row < args.m && col < args.n;
    const T actual = fast.c[position];
    if (!inside) {
      if (actual != c_before[position] && mismatches++ < 5) {
        ADD_FAILURE() << "padding of C changed at batch " << index << " row " << row << " col "
                      << col;
      }
      continue;
    }
    const double difference = std::abs(double(actual) - double(reference.c[position]));
    const double bound = error_bound(fast, c_before, index, row, col);
    if (!(difference <= bound) && mismatches++ < 5) {
      ADD_FAILURE() << "C[" << index << "][" << row << "][" << col << "] = " << actual
                    << ", reference " << reference.c[position] << ", |diff| " << difference
                    << " > bound " << bound;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

template <typename T>
void check_against_reference(const Shape& shape, T alpha, T beta,
                             void (*fast)(const GemmArgs<T>&)) {
  Problem<T> problem = make_problem<T>(shape, alpha, beta);
  Problem<T> expected = make_problem<T>(shape, alpha, beta);
  const std::vector<T> c_before = problem.c;
  fast(problem.args);
  gemm_reference(expected.args);
  expect_close(problem, expected, c_before);
}

void gemm_float(const GemmArgs<float>& args) { gemm(args); }
void gemm_double(const GemmArgs<double>& args) { gemm(args); }
void gemm_onednn_library(const GemmArgs<float>& args) {
  gemm(args, {GemmLibrary::onednn, GemmThreading::library});
}
void gemm_onednn_split(const GemmArgs<float>& args) {
  gemm(args, {GemmLibrary::onednn, GemmThreading::split});
}
void gemm_openblas_library(const GemmArgs<float>& args) {
  gemm(args, {GemmLibrary::openblas, GemmThreading::library});
}
void gemm_openblas_split(const GemmArgs<float>& args) {
  gemm(args, {GemmLibrary::openblas, GemmThreading::split});
}

template <typename T>
auto fast_gemm() {
  if constexpr (std::is_same_v<T, float>) {
    return &gemm_float;
  } else {
    return &gemm_double;
  }
}

// ---- typed tests: float and double through gemm() --------------------------------------

template <typename T>
class GemmTest : public ::testing::Test {};
using GemmTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GemmTest, GemmTypes);

const Index kOddSizes[] = {1, 7, 33, 129};

TYPED_TEST(GemmTest, AllTransposesAndOddSizes) {
  using T = TypeParam;
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      for (Index m : kOddSizes) {
        for (Index n : kOddSizes) {
          for (Index k : kOddSizes) {
            SCOPED_TRACE(testing::Message() << "ta=" << transpose_a << " tb=" << transpose_b
                                            << " m=" << m << " n=" << n << " k=" << k);
            Shape shape{
                .m = m, .n = n, .k = k, .transpose_a = transpose_a, .transpose_b = transpose_b};
            check_against_reference<T>(shape, T(1), T(0), fast_gemm<T>());
          }
        }
      }
    }
  }
}

TYPED_TEST(GemmTest, SubmatrixViewsWithAlphaAndBeta) {
  using T = TypeParam;
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      SCOPED_TRACE(testing::Message() << "ta=" << transpose_a << " tb=" << transpose_b);
      Shape shape{.m = 65,
                  .n = 47,
                  .k = 130,
                  .transpose_a = transpose_a,
                  .transpose_b = transpose_b,
                  .pad_a = 3,
                  .pad_b = 17,
                  .pad_c = 5};
      check_against_reference<T>(shape, T(0.75), T(-1.5), fast_gemm<T>());
      check_against_reference<T>(shape, T(-2), T(1), fast_gemm<T>());
    }
  }
}

TYPED_TEST(GemmTest, LargeEnoughToUseEveryThread) {
  using T = TypeParam;
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      SCOPED_TRACE(testing::Message() << "ta=" << transpose_a << " tb=" << transpose_b);
      check_against_reference<T>({.m = 301,
                                  .n = 257,
                                  .k = 200,
                                  .transpose_a = transpose_a,
                                  .transpose_b = transpose_b,
                                  .pad_c = 1},
                                 T(1), T(0.5), fast_gemm<T>());
      // Wide C: split by columns.
      check_against_reference<T>({.m = 20,
                                  .n = 611,
                                  .k = 300,
                                  .transpose_a = transpose_a,
                                  .transpose_b = transpose_b,
                                  .pad_b = 2},
                                 T(1), T(0), fast_gemm<T>());
    }
  }
}

TYPED_TEST(GemmTest, BatchedWithStridesAndBroadcastB) {
  using T = TypeParam;
  for (Index batch : {2, 3, 17}) {
    for (bool broadcast_b : {false, true}) {
      SCOPED_TRACE(testing::Message() << "batch=" << batch << " broadcast_b=" << broadcast_b);
      Shape shape{.batch = batch,
                  .m = 33,
                  .n = 20,
                  .k = 7,
                  .transpose_b = true,
                  .pad_a = 1,
                  .pad_c = 2,
                  .broadcast_b = broadcast_b};
      check_against_reference<T>(shape, T(1.25), T(0.5), fast_gemm<T>());
    }
  }
  // One large entry and fewer entries than threads: blocks within an entry.
  check_against_reference<T>({.batch = 3, .m = 200, .n = 300, .k = 64, .transpose_a = true}, T(1),
                             T(0), fast_gemm<T>());
}

TYPED_TEST(GemmTest, BetaZeroNeverReadsC) {
  using T = TypeParam;
  Shape shape{.batch = 2, .m = 17, .n = 40, .k = 9, .pad_c = 3};
  Problem<T> problem = make_problem<T>(shape, T(1), T(0));
  Problem<T> expected = make_problem<T>(shape, T(1), T(0));
  std::vector<T> c_before = problem.c;
  for (std::size_t position = 0; position < problem.c.size(); ++position) {
    const Index within = Index(position) % problem.args.stride_c;
    // NaN in every element of the result, finite values in the padding (checked unchanged).
    if (within / problem.args.ldc < shape.m && within % problem.args.ldc < shape.n) {
      problem.c[position] = expected.c[position] = c_before[position] =
          std::numeric_limits<T>::quiet_NaN();
    }
  }
  gemm(problem.args);
  gemm_reference(expected.args);
  expect_close(problem, expected, c_before);
}

TYPED_TEST(GemmTest, EmptyInnerDimensionScalesC) {
  using T = TypeParam;
  for (T beta : {T(0), T(2)}) {
    Problem<T> problem = make_problem<T>({.batch = 2, .m = 5, .n = 6, .k = 0}, T(1), beta);
    const std::vector<T> c_before = problem.c;
    if (beta == T(0))
      std::fill(problem.c.begin(), problem.c.end(), std::numeric_limits<T>::quiet_NaN());
    problem.args.a = nullptr;  // k == 0: A and B are never read
    problem.args.b = nullptr;
    gemm(problem.args);
    for (Index index = 0; index < 2; ++index) {
      for (Index row = 0; row < 5; ++row) {
        for (Index col = 0; col < 6; ++col) {
          const Index position = index * problem.args.stride_c + row * problem.args.ldc + col;
          EXPECT_EQ(problem.c[position], beta * c_before[position]);
        }
      }
    }
  }
}

TYPED_TEST(GemmTest, AlphaZeroScalesC) {
  using T = TypeParam;
  Problem<T> problem = make_problem<T>({.m = 4, .n = 3, .k = 8}, T(0), T(-1));
  const std::vector<T> c_before = problem.c;
  gemm(problem.args);
  for (Index row = 0; row < 4; ++row) {
    for (Index col = 0; col < 3; ++col) {
      EXPECT_EQ(problem.c[row * problem.args.ldc + col], -c_before[row * problem.args.ldc + col]);
    }
  }
}

TYPED_TEST(GemmTest, EmptyResultTouchesNothing) {
  using T = TypeParam;
  GemmArgs<T> args;  // batch 1, m = n = k = 0, null pointers
  args.lda = args.ldb = args.ldc = 1;
  EXPECT_NO_THROW(gemm(args));
  args.m = 3;
  args.k = 4;
  args.lda = 4;
  EXPECT_NO_THROW(gemm(args));  // n == 0
  args.batch = 0;
  args.n = 2;
  args.ldb = args.ldc = 2;
  EXPECT_NO_THROW(gemm(args));
  EXPECT_NO_THROW(gemm_reference(args));
}

TYPED_TEST(GemmTest, InsideAParallelRegion) {
  using T = TypeParam;
  // Callers that own the threads (e.g. one head per thread) call gemm concurrently.
  std::vector<Problem<T>> problems, expected;
  for (std::uint32_t seed = 0; seed < 4; ++seed) {
    problems.push_back(make_problem<T>({.m = 40, .n = 50, .k = 60}, T(1), T(0), seed));
    expected.push_back(make_problem<T>({.m = 40, .n = 50, .k = 60}, T(1), T(0), seed));
  }
  std::vector<std::vector<T>> c_before;
  for (const Problem<T>& problem : problems) c_before.push_back(problem.c);
#pragma omp parallel for num_threads(2)
  for (int index = 0; index < 4; ++index) gemm(problems[index].args);
  for (int index = 0; index < 4; ++index) {
    gemm_reference(expected[index].args);
    expect_close(problems[index], expected[index], c_before[index]);
  }
}

// ---- every float path, including those only benchmarks choose ---------------------------
// Sizes are large enough (a few MFLOP) that gemm shares the work out to two threads.

using FloatGemm = void (*)(const GemmArgs<float>&);

class GemmFloatPathTest : public ::testing::TestWithParam<std::tuple<const char*, FloatGemm>> {};

TEST_P(GemmFloatPathTest, MatchesReference) {
  const FloatGemm fast = std::get<1>(GetParam());
  for (int threads : {1, 2}) {
    const int previous = omp_get_max_threads();
    omp_set_num_threads(threads);
    for (bool transpose_a : {false, true}) {
      for (bool transpose_b : {false, true}) {
        SCOPED_TRACE(testing::Message()
                     << "threads=" << threads << " ta=" << transpose_a << " tb=" << transpose_b);
        check_against_reference<float>({.m = 257,
                                        .n = 100,
                                        .k = 130,
                                        .transpose_a = transpose_a,
                                        .transpose_b = transpose_b,
                                        .pad_a = 1,
                                        .pad_c = 3},
                                       0.5f, 2.0f, fast);
        check_against_reference<float>({.m = 33,
                                        .n = 500,
                                        .k = 130,
                                        .transpose_a = transpose_a,
                                        .transpose_b = transpose_b,
                                        .pad_b = 1},
                                       1.0f, 0.0f, fast);
        check_against_reference<float>({.batch = 5,
                                        .m = 60,
                                        .n = 70,
                                        .k = 80,
                                        .transpose_a = transpose_a,
                                        .transpose_b = transpose_b,
                                        .broadcast_b = true},
                                       1.0f, 1.0f, fast);
      }
    }
    omp_set_num_threads(previous);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, GemmFloatPathTest,
                         ::testing::Values(std::make_tuple("automatic", &gemm_float),
                                           std::make_tuple("onednn_library", &gemm_onednn_library),
                                           std::make_tuple("onednn_split", &gemm_onednn_split),
                                           std::make_tuple("openblas_library",
                                                           &gemm_openblas_library),
                                           std::make_tuple("openblas_split", &gemm_openblas_split)),
                         [](const auto& info) { return std::string(std::get<0>(info.param)); });

// ---- invalid arguments ------------------------------------------------------------------

// A valid 4x5 = (4x3)(3x5) problem to break one field at a time.
struct ValidArgs {
  std::vector<float> a = std::vector<float>(12), b = std::vector<float>(15),
                     c = std::vector<float>(20);
  GemmArgs<float> args;
  ValidArgs() {
    args.m = 4;
    args.n = 5;
    args.k = 3;
    args.a = a.data();
    args.lda = 3;
    args.b = b.data();
    args.ldb = 5;
    args.c = c.data();
    args.ldc = 5;
  }
};

// Expects both gemm and gemm_reference to throw attn::Error whose message names gemm and
// contains `fragment`.
void expect_rejected(const GemmArgs<float>& args, const std::string& fragment) {
  for (auto call : {+[](const GemmArgs<float>& a) { gemm(a); },
                    +[](const GemmArgs<float>& a) { gemm_reference(a); }}) {
    try {
      call(args);
      ADD_FAILURE() << "expected attn::Error mentioning '" << fragment << "'";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("gemm"), std::string::npos) << message;
      EXPECT_NE(message.find(fragment), std::string::npos) << message;
    }
  }
  GemmArgs<double> as_double{};
  as_double.batch = args.batch;
  as_double.m = args.m;
  as_double.n = args.n;
  as_double.k = args.k;
  as_double.transpose_a = args.transpose_a;
  as_double.transpose_b = args.transpose_b;
  as_double.lda = args.lda;
  as_double.ldb = args.ldb;
  as_double.ldc = args.ldc;
  as_double.stride_a = args.stride_a;
  as_double.stride_b = args.stride_b;
  as_double.stride_c = args.stride_c;
  std::vector<double> storage(64);
  as_double.a = args.a ? storage.data() : nullptr;
  as_double.b = args.b ? storage.data() : nullptr;
  as_double.c = args.c ? storage.data() : nullptr;
  EXPECT_THROW(gemm(as_double), Error);
}

TEST(GemmArguments, ValidBaselineIsAccepted) {
  ValidArgs valid;
  EXPECT_NO_THROW(gemm(valid.args));
}

TEST(GemmArguments, LeadingDimensionTooShort) {
  ValidArgs valid;
  GemmArgs<float> args = valid.args;
  args.lda = 2;  // A is [4, 3]
  expect_rejected(args, "lda >= 3");
  args = valid.args;
  args.transpose_a = true;  // A stored as [3, 4]: lda 3 is now too short
  expect_rejected(args, "lda >= 4");
  args = valid.args;
  args.ldb = 4;  // B is [3, 5]
  expect_rejected(args, "ldb >= 5");
  args = valid.args;
  args.transpose_b = true;  // B stored as [5, 3]: needs ldb >= 3
  args.ldb = 2;
  expect_rejected(args, "ldb >= 3");
  args = valid.args;
  args.ldc = 4;
  expect_rejected(args, "ldc >= 5 for C stored as [4, 5], got ldc=4");
}

TEST(GemmArguments, NegativeSizesAndStrides) {
  ValidArgs valid;
  GemmArgs<float> args = valid.args;
  args.m = -1;
  expect_rejected(args, "m=-1");
  args = valid.args;
  args.batch = 2;
  args.stride_a = -12;
  expect_rejected(args, "stride_a=-12");
}

TEST(GemmArguments, OverlappingBatchEntriesOfC) {
  ValidArgs valid;
  GemmArgs<float> args = valid.args;
  args.batch = 2;
  args.stride_c = 19;  // C entries span 20 elements
  expect_rejected(args, "stride_c >= 20");
}

TEST(GemmArguments, NullPointers) {
  ValidArgs valid;
  GemmArgs<float> args = valid.args;
  args.c = nullptr;
  expect_rejected(args, "C is null");
  args = valid.args;
  args.b = nullptr;
  expect_rejected(args, "null");
}

}  // namespace
}  // namespace attn::kernels
