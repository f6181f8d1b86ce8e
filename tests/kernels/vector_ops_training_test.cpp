// The training-step kernels of vector_ops.h (dropout, cross-entropy rows, column sums) against
// their scalar references, on every instruction set compiled in and supported here, for
// float and double, over lengths around the vector widths, misaligned arrays, and Philox
// stream offsets that start mid-block or need the counter's high word.
//
// Tolerances: the dropout mask and the plain dropout are exact (one comparison, one
// multiplication per element); adding the residual may fuse into one FMA, so that sum is
// within 1 ulp of |residual| + |x scale|. The cross-entropy follows log_softmax's error
// analysis (vector_ops_test.cpp): per row the sum S of exponentials carries a relative error
// of about sum_growth(cols) eps, which enters every log-probability as an absolute error.

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/kernels/vector_ops.h"
#include "support/simd_targets.h"

namespace attn::kernels {
namespace {

namespace ref = reference;

template <typename T>
constexpr double kEps = std::numeric_limits<T>::epsilon();

double sum_growth(std::int64_t n) { return std::sqrt(double(n) + 1); }

// n values uniform in [low, high), starting `shift` elements into the vector (misaligned).
template <typename T>
std::vector<T> uniform(std::mt19937& random, std::int64_t n, double low, double high,
                       std::int64_t shift = 0) {
  std::uniform_real_distribution<double> distribution(low, high);
  std::vector<T> values(shift + n);
  for (auto& value : values) value = T(distribution(random));
  return values;
}

std::vector<std::int64_t> test_lengths() {
  std::vector<std::int64_t> lengths;
  for (std::int64_t n = 0; n <= 70; ++n) lengths.push_back(n);
  lengths.push_back(1000);
  lengths.push_back(4099);
  lengths.push_back(70001);  // several chunks, so the threaded path runs too
  return lengths;
}

// Stream offsets at every position within a block, and past 2^34 (block counters >= 2^32).
std::vector<std::uint64_t> test_stream_offsets() {
  return {0, 1, 2, 3, 5, 4097, (std::uint64_t(1) << 34) + 2, (std::uint64_t(1) << 40) + 7};
}

class VectorOpsTrainingTest : public attn::testing::PerSimdTargetTest {};

ATTN_INSTANTIATE_PER_SIMD_TARGET(VectorOpsTrainingTest);

// ---- dropout ------------------------------------------------------------------------------

template <typename T>
void check_dropout(double p) {
  std::mt19937 random(1);
  const std::uint64_t seed = 0x1234'5678'9abc'def0;
  const T scale = T(1.0 / (1.0 - p));
  for (const std::int64_t n : test_lengths()) {
    for (const std::uint64_t offset : test_stream_offsets()) {
      if (n > 5000 && offset % 4 != 1) continue;  // one long case per length is enough
      const std::int64_t shift = std::int64_t(offset % 3);
      const std::string context = "n=" + std::to_string(n) + " offset=" + std::to_string(offset) +
                                  " p=" + std::to_string(p);
      const std::vector<T> x = uniform<T>(random, n, -3, 3, shift);
      const std::vector<T> residual = uniform<T>(random, n, -3, 3);
      std::vector<T> out(n), expected(n);
      std::vector<std::uint8_t> keep(n), expected_keep(n);

      dropout(x.data() + shift, static_cast<const T*>(nullptr), out.data(), keep.data(), n, seed,
              offset, p, scale);
      ref::dropout(x.data() + shift, static_cast<const T*>(nullptr), expected.data(),
                   expected_keep.data(), n, seed, offset, p, scale);
      ASSERT_EQ(keep, expected_keep) << context;
      ASSERT_EQ(out, expected) << context;

      dropout(x.data() + shift, residual.data(), out.data(), keep.data(), n, seed, offset, p,
              scale);
      ref::dropout(x.data() + shift, residual.data(), expected.data(), expected_keep.data(), n,
                   seed, offset, p, scale);
      ASSERT_EQ(keep, expected_keep) << context;
      for (std::int64_t i = 0; i < n; ++i) {
        const double bound =
            kEps<T> * (std::abs(double(residual[i])) + std::abs(double(x[shift + i]) * scale));
        ASSERT_LE(std::abs(double(out[i]) - double(expected[i])), bound) << context << " i=" << i;
      }

      const std::vector<T> grad = uniform<T>(random, n, -1, 1);
      std::vector<T> grad_in(n), expected_grad(n);
      dropout_backward(grad.data(), keep.data(), scale, grad_in.data(), n);
      ref::dropout_backward(grad.data(), keep.data(), scale, expected_grad.data(), n);
      ASSERT_EQ(grad_in, expected_grad) << context;
    }
  }
}

TEST_P(VectorOpsTrainingTest, DropoutMatchesReference) {
  for (const double p : {0.1, 0.5, 0.9}) {
    check_dropout<float>(p);
    check_dropout<double>(p);
  }
}

// The mask is the definition: element i is kept when philox_uniform(seed, offset, i) >= p.
TEST_P(VectorOpsTrainingTest, DropoutMaskIsPhiloxUniformAtLeastP) {
  const std::int64_t n = 10000;
  const double p = 0.3;
  std::vector<float> x(n, 1.0f), out(n);
  std::vector<std::uint8_t> keep(n);
  dropout(x.data(), static_cast<const float*>(nullptr), out.data(), keep.data(), n, 7, 13, p,
          float(1.0 / (1.0 - p)));
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(keep[i] != 0, philox_uniform(7, 13, std::uint64_t(i)) >= p) << i;
    ASSERT_EQ(out[i], keep[i] != 0 ? float(1.0 / (1.0 - p)) : 0.0f) << i;
    kept += keep[i];
  }
  // Binomial(10000, 0.7): standard deviation about 46.
  EXPECT_NEAR(double(kept), 7000.0, 250.0);
}

// p = 0 keeps everything, p = 1 drops everything; the threshold of an exact uniform value
// (k · 2^-24) keeps it.
TEST_P(VectorOpsTrainingTest, DropoutThresholdEdges) {
  EXPECT_EQ(uniform_threshold(0.0), 0u);
  EXPECT_EQ(uniform_threshold(1.0), 16777216u);
  EXPECT_EQ(uniform_threshold(0.5), 8388608u);
  EXPECT_EQ(uniform_threshold(0.5 + 0x1p-30), 8388609u);
  const std::int64_t n = 100;
  std::vector<double> x(n, 2.0), out(n);
  std::vector<std::uint8_t> keep(n);
  dropout(x.data(), static_cast<const double*>(nullptr), out.data(), keep.data(), n, 3, 0, 1.0,
          0.0);
  for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(keep[i], 0) << i;
  dropout(x.data(), static_cast<const double*>(nullptr), out.data(), keep.data(), n, 3, 0, 0.0,
          1.0);
  for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(out[i], 2.0) << i;
}

// ---- cross-entropy ------------------------------------------------------------------------

struct RowShape {
  std::int64_t rows, cols;
};

std::vector<RowShape> test_shapes() {
  return {{1, 1}, {3, 2}, {2, 7}, {4, 15}, {3, 16}, {3, 17}, {2, 33}, {7, 100}, {3, 4099},
          {0, 8}, {70, 9}, {40, 1000}};
}

template <typename T>
void check_cross_entropy(double smoothing) {
  std::mt19937 random(2);
  const std::int64_t ignore = -100;
  for (const RowShape shape : test_shapes()) {
    const std::int64_t rows = shape.rows, cols = shape.cols, n = rows * cols;
    const std::string context = "rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
                                " smoothing=" + std::to_string(smoothing);
    std::vector<T> logits = uniform<T>(random, n, -20, 20);
    std::vector<std::int64_t> targets(rows);
    for (std::int64_t i = 0; i < rows; ++i) {
      targets[i] = i % 5 == 3 ? ignore : std::int64_t(random() % cols);
    }
    if (rows > 2) {  // a fully masked row: log-probabilities -inf, loss inf (or NaN)
      for (std::int64_t j = 0; j < cols; ++j) {
        logits[cols + j] = -std::numeric_limits<T>::infinity();
      }
    }
    std::vector<T> loss(rows), row_max(rows), log_total(rows);
    std::vector<T> expected_loss(rows), expected_max(rows), expected_log_total(rows);
    cross_entropy_rows(logits.data(), targets.data(), loss.data(), row_max.data(),
                       log_total.data(), rows, cols, ignore, smoothing);
    ref::cross_entropy_rows(logits.data(), targets.data(), expected_loss.data(),
                            expected_max.data(), expected_log_total.data(), rows, cols, ignore,
                            smoothing);
    ASSERT_EQ(row_max, expected_max) << context;  // a maximum is exact
    const double growth = sum_growth(cols);
    for (std::int64_t i = 0; i < rows; ++i) {
      if (std::isnan(double(expected_loss[i])) || std::isinf(double(expected_loss[i]))) {
        EXPECT_TRUE(std::isnan(double(expected_loss[i])) ? std::isnan(double(loss[i]))
                                                         : loss[i] == expected_loss[i])
            << context << " row " << i << ": " << loss[i] << " vs " << expected_loss[i];
        continue;
      }
      // log_total: |log S| + growth; the loss: a mean of log-probabilities of magnitude up
      // to 40 + |log S|, each with that absolute error, and the sum over cols of them.
      EXPECT_NEAR(log_total[i], expected_log_total[i],
                  2 * kEps<T> * (std::abs(double(expected_log_total[i])) + growth))
          << context << " row " << i;
      const double magnitude = 40 + std::abs(double(expected_log_total[i]));
      EXPECT_NEAR(loss[i], expected_loss[i], 4 * kEps<T> * (magnitude + growth) * (1 + growth))
          << context << " row " << i;
    }

    // Backward with per-row weights, from the kernel's own statistics.
    const std::vector<double> weights = uniform<double>(random, rows, 0.5, 2);
    std::vector<T> grad(n), expected_grad(n);
    cross_entropy_backward_rows(logits.data(), targets.data(), row_max.data(), log_total.data(),
                                weights.data(), 1, grad.data(), rows, cols, ignore, smoothing);
    ref::cross_entropy_backward_rows(logits.data(), targets.data(), row_max.data(),
                                     log_total.data(), weights.data(), 1, expected_grad.data(),
                                     rows, cols, ignore, smoothing);
    for (std::int64_t k = 0; k < n; ++k) {
      // p = exp(log p) with log p up to about 40 in magnitude: 40 eps relative to p, plus the
      // rounding of w p - shift (and of the target's correction, up to w).
      const double weight = weights[k / cols];
      const double bound = kEps<T> * (50 * std::abs(double(expected_grad[k])) + 4 * weight);
      ASSERT_NEAR(grad[k], expected_grad[k], bound) << context << " element " << k;
    }
    // One weight for every row (stride 0).
    const double shared = 0.25;
    cross_entropy_backward_rows(logits.data(), targets.data(), row_max.data(), log_total.data(),
                                &shared, 0, grad.data(), rows, cols, ignore, smoothing);
    ref::cross_entropy_backward_rows(logits.data(), targets.data(), row_max.data(),
                                     log_total.data(), &shared, 0, expected_grad.data(), rows,
                                     cols, ignore, smoothing);
    for (std::int64_t k = 0; k < n; ++k) {
      ASSERT_NEAR(grad[k], expected_grad[k],
                  kEps<T> * (50 * std::abs(double(expected_grad[k])) + 4 * shared))
          << context << " element " << k;
    }
  }
}

TEST_P(VectorOpsTrainingTest, CrossEntropyMatchesReference) {
  for (const double smoothing : {0.0, 0.1, 1.0}) {
    check_cross_entropy<float>(smoothing);
    check_cross_entropy<double>(smoothing);
  }
}

// The fused rows give what log_softmax_rows followed by the loss over its output gives: the
// same log-probabilities, summed in the same order.
TEST_P(VectorOpsTrainingTest, CrossEntropyEqualsLogSoftmaxThenLoss) {
  std::mt19937 random(3);
  const std::int64_t rows = 9, cols = 1001;
  const double smoothing = 0.1;
  const std::vector<float> logits = uniform<float>(random, rows * cols, -8, 8);
  std::vector<std::int64_t> targets(rows);
  for (auto& target : targets) target = std::int64_t(random() % cols);
  std::vector<float> log_p(rows * cols), loss(rows), row_max(rows), log_total(rows);
  log_softmax_rows(logits.data(), log_p.data(), rows, cols);
  cross_entropy_rows(logits.data(), targets.data(), loss.data(), row_max.data(), log_total.data(),
                     rows, cols, -100, smoothing);
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* row = log_p.data() + i * cols;
    const float smooth = -sum(row, cols) / float(cols);
    const float expected = float(1 - smoothing) * -row[targets[i]] + float(smoothing) * smooth;
    EXPECT_NEAR(loss[i], expected, 2 * kEps<float> * std::abs(expected)) << i;
    for (std::int64_t j = 0; j < cols; ++j) {
      ASSERT_EQ((logits[i * cols + j] - row_max[i]) - log_total[i], row[j]) << i << " " << j;
    }
  }
}

// Logits of +-1e4 (float) keep every log-probability finite and the gradient a probability
// distribution shifted by the one-hot target.
TEST_P(VectorOpsTrainingTest, CrossEntropyIsStableForHugeLogits) {
  const std::int64_t cols = 5;
  const std::vector<float> logits = {1e4f, -1e4f, 1e4f - 1, 0.0f, -3.0f};
  const std::vector<std::int64_t> targets = {2};
  float loss = 0, row_max = 0, log_total = 0;
  cross_entropy_rows(logits.data(), targets.data(), &loss, &row_max, &log_total, 1, cols, -100,
                     0.0);
  // log p[2] = -1 - log(1 + e^-1)
  EXPECT_NEAR(loss, 1 + std::log1p(std::exp(-1.0)), 1e-6);
  std::vector<float> grad(cols);
  const double weight = 1;
  cross_entropy_backward_rows(logits.data(), targets.data(), &row_max, &log_total, &weight, 0,
                              grad.data(), 1, cols, -100, 0.0);
  const double p0 = 1 / (1 + std::exp(-1.0));
  EXPECT_NEAR(grad[0], p0, 1e-6);
  EXPECT_NEAR(grad[2], (1 - p0) - 1, 1e-6);
  EXPECT_EQ(grad[1], 0.0f);
}

TEST(VectorOpsTrainingErrors, OutOfRangeTargetsThrow) {
  const std::vector<float> logits(6, 0.0f);
  const std::vector<std::int64_t> targets = {0, 3};
  std::vector<float> loss(2), row_max(2), log_total(2);
  try {
    cross_entropy_rows(logits.data(), targets.data(), loss.data(), row_max.data(),
                       log_total.data(), 2, 3, -100, 0.0);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("target 3"), std::string::npos) << error.what();
  }
  EXPECT_THROW(dropout(logits.data(), static_cast<const float*>(nullptr), loss.data(), nullptr,
                       -1, 0, 0, 0.5, 2.0f),
               Error);
  EXPECT_THROW(column_sums(logits.data(), loss.data(), -1, 2), Error);
}

// ---- column sums --------------------------------------------------------------------------

template <typename T>
void check_column_sums() {
  std::mt19937 random(4);
  for (const RowShape shape : std::vector<RowShape>{
           {1, 1}, {3, 17}, {33, 16}, {100, 7}, {300, 33}, {4099, 3}, {0, 5}, {9000, 40}}) {
    const std::int64_t rows = shape.rows, cols = shape.cols;
    const std::vector<T> x = uniform<T>(random, rows * cols, -1, 1);
    std::vector<T> sums(cols, T(7)), expected(cols);
    column_sums(x.data(), sums.data(), rows, cols);
    ref::column_sums(x.data(), expected.data(), rows, cols);
    for (std::int64_t j = 0; j < cols; ++j) {
      // Both sums of `rows` terms err by about sum_growth(rows) eps sum|x|.
      double magnitude = 0;
      for (std::int64_t i = 0; i < rows; ++i) magnitude += std::abs(double(x[i * cols + j]));
      EXPECT_NEAR(sums[j], expected[j], 2 * kEps<T> * sum_growth(rows) * magnitude)
          << "rows=" << rows << " cols=" << cols << " column " << j;
    }
  }
}

TEST_P(VectorOpsTrainingTest, ColumnSumsMatchReference) {
  check_column_sums<float>();
  check_column_sums<double>();
}

// ---- bias and ReLU ---------------------------------------------------------------------------

// One addition and one comparison per element: exact, NaN passing through, with and without a
// bias.
template <typename T>
void check_bias_relu() {
  std::mt19937 random(6);
  for (const RowShape shape : test_shapes()) {
    const std::int64_t n = shape.rows * shape.cols;
    std::vector<T> y = uniform<T>(random, n, -2, 2);
    if (n > 3) y[3] = std::numeric_limits<T>::quiet_NaN();
    const std::vector<T> bias = uniform<T>(random, shape.cols, -1, 1);
    for (const bool with_bias : {true, false}) {
      std::vector<T> out = y, expected = y;
      bias_relu_rows(out.data(), with_bias ? bias.data() : nullptr, shape.rows, shape.cols);
      ref::bias_relu_rows(expected.data(), with_bias ? bias.data() : nullptr, shape.rows,
                          shape.cols);
      for (std::int64_t k = 0; k < n; ++k) {
        if (std::isnan(double(expected[k]))) {
          ASSERT_TRUE(std::isnan(double(out[k]))) << k;
        } else {
          ASSERT_EQ(out[k], expected[k]) << "rows=" << shape.rows << " cols=" << shape.cols
                                         << " bias=" << with_bias << " element " << k;
        }
      }
    }
  }
}

TEST_P(VectorOpsTrainingTest, BiasReluMatchesReferenceExactly) {
  check_bias_relu<float>();
  check_bias_relu<double>();
}

// ---- threads ------------------------------------------------------------------------------

// Dropout masks, cross-entropy rows and column sums: bit-identical for 1 and 2 threads.
TEST_P(VectorOpsTrainingTest, ResultsDoNotDependOnThreadCount) {
  std::mt19937 random(5);
  const std::int64_t rows = 300, cols = 700, n = rows * cols;
  const std::vector<float> x = uniform<float>(random, n, -4, 4);
  std::vector<std::int64_t> targets(rows);
  for (auto& target : targets) target = std::int64_t(random() % cols);
  const double weight = 0.5;
  struct Results {
    std::vector<float> dropped, loss, grad, sums;
    std::vector<std::uint8_t> keep;
  };
  const auto run = [&](int threads) {
    const int previous = omp_get_max_threads();
    omp_set_num_threads(threads);
    Results results{std::vector<float>(n), std::vector<float>(rows), std::vector<float>(n),
                    std::vector<float>(cols), std::vector<std::uint8_t>(n)};
    std::vector<float> row_max(rows), log_total(rows);
    dropout(x.data(), x.data(), results.dropped.data(), results.keep.data(), n, 11, 6, 0.25,
            float(1 / 0.75));
    cross_entropy_rows(x.data(), targets.data(), results.loss.data(), row_max.data(),
                       log_total.data(), rows, cols, -100, 0.1);
    cross_entropy_backward_rows(x.data(), targets.data(), row_max.data(), log_total.data(),
                                &weight, 0, results.grad.data(), rows, cols, -100, 0.1);
    column_sums(x.data(), results.sums.data(), rows, cols);
    omp_set_num_threads(previous);
    return results;
  };
  const Results one = run(1), two = run(2);
  EXPECT_EQ(one.keep, two.keep);
  EXPECT_EQ(one.dropped, two.dropped);
  EXPECT_EQ(one.loss, two.loss);
  EXPECT_EQ(one.grad, two.grad);
  EXPECT_EQ(one.sums, two.sums);
}

}  // namespace
}  // namespace attn::kernels
