// Binary ops on broadcast and strided operands, where the trailing dimensions that both
// operands lay out row-major are merged into one run per kernel call: every layout must give
// the element-by-element result.
#include <gtest/gtest.h>

#include <vector>

#include "attn/ops/elementwise.h"
#include "attn/ops/views.h"
#include "support/gradcheck.h"

namespace attn {
namespace {

using testing::random_tensor;

// a + b and a * b against a loop over the broadcast indices of [2, 3, 4].
void expect_elementwise(const Tensor& a, const Tensor& b, const std::string& context) {
  const Shape shape = {2, 3, 4};
  Tensor full_a = ops::contiguous(ops::expand(a, shape));
  Tensor full_b = ops::contiguous(ops::expand(b, shape));
  std::vector<double> x = full_a.to_vector<double>(), y = full_b.to_vector<double>();
  std::vector<double> sum = ops::add(a, b).to_vector<double>();
  std::vector<double> product = ops::mul(a, b).to_vector<double>();
  ASSERT_EQ(sum.size(), x.size()) << context;
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(sum[i], x[i] + y[i]) << context << " element " << i;
    EXPECT_EQ(product[i], x[i] * y[i]) << context << " element " << i;
  }
}

TEST(BroadcastLayouts, EveryLayoutGivesTheElementwiseResult) {
  Tensor batch = random_tensor({2, 3, 4}, 1);
  // [N, E] over a batch: both trailing dims merge (the positional-encoding case)
  expect_elementwise(batch, random_tensor({3, 4}, 2), "[3, 4] over the batch");
  // broadcast in the middle: only the last dim is a run
  expect_elementwise(batch, random_tensor({2, 1, 4}, 3), "[2, 1, 4]");
  // a column: no run at all
  expect_elementwise(batch, random_tensor({2, 3, 1}, 4), "[2, 3, 1]");
  // a scalar-like [1, 1, 1]
  expect_elementwise(batch, random_tensor({1, 1, 1}, 5), "[1, 1, 1]");
  // a transposed operand: its trailing dims are not row-major
  Tensor transposed = ops::transpose(random_tensor({2, 4, 3}, 6), 1, 2);
  expect_elementwise(batch, transposed, "transposed");
  expect_elementwise(transposed, random_tensor({3, 4}, 7), "transposed plus [3, 4]");
  // a slice whose rows are row-major but not adjacent: only the last dim merges
  Tensor sliced = ops::slice(random_tensor({2, 3, 6}, 8), 2, 1, 5, 1);
  expect_elementwise(sliced, random_tensor({3, 4}, 9), "sliced rows");
}

}  // namespace
}  // namespace attn
