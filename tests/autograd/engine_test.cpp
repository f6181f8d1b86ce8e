#include <gtest/gtest.h>

#include "attn/autograd/engine.h"
#include "attn/autograd/grad_mode.h"
#include "attn/ops/ops.h"

namespace attn {
namespace {

Tensor parameter(std::vector<double> values) {
  Tensor t = Tensor::from_vector<double>({static_cast<std::int64_t>(values.size())}, values);
  t.set_requires_grad(true);
  return t;
}

TEST(Autograd, BackwardFromAScalar) {
  Tensor x = parameter({1, 2, 3});
  Tensor loss = ops::sum(x * x);  // d/dx = 2x
  loss.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
}

TEST(Autograd, GradientsAccumulateUntilZeroGrad) {
  Tensor x = parameter({1, 2});
  ops::sum(x * 3.0).backward();
  ops::sum(x * 3.0).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6, 6}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, AValueUsedTwiceGetsBothContributions) {
  Tensor x = parameter({2});
  Tensor y = x * x + x;  // dy/dx = 2x + 1
  ops::sum(y * y).backward();  // d/dx = 2y (2x + 1) = 2·6·5
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 60.0);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = parameter({1});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * 2.0;
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
  EXPECT_THROW(y.backward(), Error);
}

TEST(Autograd, DetachStopsTheGradient) {
  Tensor x = parameter({3});
  Tensor y = x * x.detach();  // the detached factor is a constant
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 3.0);
  EXPECT_EQ(x.detach().storage(), x.storage());
}

TEST(Autograd, NonScalarOutputNeedsAGradient) {
  Tensor x = parameter({1, 2});
  Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(), Error);
  y.backward(Tensor::from_vector<double>({2}, {1, 10}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 20}));
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = parameter({1});
  Tensor y = ops::sum(x * x);
  autograd::backward(y, Tensor(), {.retain_graph = true});
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 4.0);
  EXPECT_THROW(y.backward(), Error);
}

TEST(Autograd, DeepChainsDoNotOverflowTheStack) {
  Tensor x = parameter({1});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0;
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 1.0);
}

TEST(Autograd, RequiresGradOnlyForFloatingLeaves) {
  Tensor indices = Tensor::from_vector<std::int64_t>({2}, {0, 1});
  EXPECT_THROW(indices.set_requires_grad(true), Error);
  Tensor x = parameter({1});
  Tensor y = x * 2.0;
  EXPECT_THROW(y.set_requires_grad(false), Error);
}

TEST(Autograd, LeafGradientIsNotSharedWithOtherTensors) {
  Tensor x = parameter({1, 1});
  Tensor upstream = Tensor::from_vector<double>({2}, {5, 5});
  (x + 0.0).backward(upstream);
  x.grad().data<double>()[0] = 0;  // e.g. clipping in place
  EXPECT_EQ(upstream.to_vector<double>(), (std::vector<double>{5, 5}));
}

TEST(Autograd, LeafGradientsOfOneSharedGradientAreSeparate) {
  // The sum's backward hands the same gradient to both inputs.
  Tensor x = parameter({1, 1});
  Tensor z = parameter({2, 2});
  (x + z).backward(Tensor::from_vector<double>({2}, {3, 3}));
  EXPECT_FALSE(x.grad().storage() == z.grad().storage());
  x.grad().data<double>()[0] = 0;
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{3, 3}));
}

TEST(Autograd, FreshLeafGradientIsKeptWithoutACopy) {
  // x * 2 makes a new gradient tensor for x alone: it becomes .grad as it is, and later
  // accumulation still gives fresh sums.
  Tensor x = parameter({1, 2});
  ops::sum(x * 2.0).backward();
  Tensor first = x.grad();
  ops::sum(x * 2.0).backward();
  EXPECT_EQ(first.to_vector<double>(), (std::vector<double>{2, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 4}));
}

TEST(Autograd, SlicesOfOneTensorAccumulateIntoOneGradient) {
  // y is an op output (not a leaf), read whole once and row by row: the rows' gradients are
  // added into y's pending gradient in place, whatever order the nodes run in.
  Tensor x = Tensor::from_vector<double>({4, 3}, std::vector<double>(12, 1.0));
  x.set_requires_grad(true);
  Tensor y = x * 2.0;
  for (bool retain : {true, false}) {
    x.zero_grad();
    Tensor loss = ops::sum(y);
    for (std::int64_t t = 0; t < 4; ++t) loss = loss + ops::sum(ops::select(y, 0, t) * double(t));
    autograd::backward(loss, Tensor(), {.retain_graph = retain});
    std::vector<double> expected;
    for (int t = 0; t < 4; ++t) expected.insert(expected.end(), 3, 2.0 * (t + 1));
    EXPECT_EQ(x.grad().to_vector<double>(), expected) << "retain_graph " << retain;
  }
}

// The residual pattern: y is read by a sum (whose backward passes its upstream gradient on
// unchanged) and by another op. Gradients of y are added in place only into tensors that
// nothing else holds: the caller's upstream gradient and the other input's gradient stay as
// they were, in either order of arrival.
TEST(Autograd, PendingGradientsAddInPlaceOnlyWhenUnshared) {
  Tensor x = parameter({1, 2, 3});
  Tensor w = parameter({4, 5, 6});
  for (bool residual_first : {true, false}) {
    x.zero_grad();
    w.zero_grad();
    Tensor y = x * 3.0;     // not a leaf
    Tensor branch = y * w;  // dy = w
    Tensor out = residual_first ? y + branch : branch + y;
    Tensor upstream = Tensor::from_vector<double>({3}, {1, 1, 1});
    out.backward(upstream);
    EXPECT_EQ(upstream.to_vector<double>(), (std::vector<double>{1, 1, 1}));
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{15, 18, 21}));  // 3 (1 + w)
    EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{3, 6, 9}));   // y
  }
}

// Three reads of one op output, each adding its gradient: the sum is exact and the first
// gradient, once the engine owns it alone, takes the others in place.
TEST(Autograd, ManyReadsOfOneOutputSumTheirGradients) {
  Tensor x = parameter({1, -1});
  Tensor y = x * 2.0;
  Tensor loss = ops::sum(y * 1.0) + ops::sum(y * 10.0) + ops::sum(y * 100.0);
  loss.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{222, 222}));
}

// The hook sees each leaf once, with its final gradient, and the leaf nearest the output
// (read last in the forward pass) before the one read first.
TEST(Autograd, LeafDoneHookSeesEachLeafOnceWithItsFinalGradient) {
  Tensor first = parameter({1, 2});
  Tensor second = parameter({3, 4});
  Tensor hidden = first * 2.0 + first;  // `first` read by two ops
  Tensor loss = ops::sum(hidden * second);
  std::vector<std::pair<std::string, std::vector<double>>> seen;
  autograd::BackwardOptions options;
  options.on_leaf_done = [&](const Tensor& leaf) {
    seen.emplace_back(leaf.same_impl(first) ? "first" : "second", leaf.grad().to_vector<double>());
  };
  autograd::backward(loss, Tensor(), options);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "second");
  EXPECT_EQ(seen[0].second, (std::vector<double>{3, 6}));  // hidden = 3 * first
  EXPECT_EQ(seen[1].first, "first");
  EXPECT_EQ(seen[1].second, (std::vector<double>{9, 12}));  // 3 * second
  EXPECT_EQ(first.grad().to_vector<double>(), seen[1].second);
}

TEST(Autograd, LeafDoneHookOnALeafRoot) {
  Tensor x = parameter({5});
  int calls = 0;
  autograd::BackwardOptions options;
  options.on_leaf_done = [&](const Tensor& leaf) { calls += leaf.same_impl(x); };
  autograd::backward(x, Tensor(), options);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace attn
