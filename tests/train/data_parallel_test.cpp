// DataParallel in one process (gradient accumulation) and the slicing of batches; the
// exchange between processes is tested end to end under mpirun (distributed_test.cpp).
#include "attn/train/data_parallel.h"

#include <gtest/gtest.h>

#include <cmath>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/nn/linear.h"
#include "attn/ops/ops.h"
#include "attn/optim/adam.h"
#include "attn/optim/clip.h"
#include "attn/train/task.h"

namespace attn::train {
namespace {

std::vector<std::pair<std::size_t, std::size_t>> all_slices(const std::vector<std::int64_t>& costs,
                                                            std::int64_t count) {
  std::vector<std::pair<std::size_t, std::size_t>> bounds;
  for (std::int64_t index = 0; index < count; ++index) bounds.push_back(slice_bounds(costs, {index, count}));
  return bounds;
}

using Bounds = std::vector<std::pair<std::size_t, std::size_t>>;

TEST(SliceBounds, CutsAtTheFirstItemThatReachesEachShareOfTheCost) {
  EXPECT_EQ(all_slices({1, 1, 1, 1, 1}, 2), (Bounds{{0, 3}, {3, 5}}));
  EXPECT_EQ(all_slices({10, 1, 1, 1}, 2), (Bounds{{0, 1}, {1, 4}}));
  EXPECT_EQ(all_slices({3, 3, 3, 3, 3, 3}, 3), (Bounds{{0, 2}, {2, 4}, {4, 6}}));
  EXPECT_EQ(all_slices({5}, 1), (Bounds{{0, 1}}));
}

TEST(SliceBounds, EveryPartGetsAnItemWhenThereAreEnough) {
  // By cost alone the first part would take everything.
  EXPECT_EQ(all_slices({1, 1, 100}, 3), (Bounds{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(all_slices({100, 1, 1}, 3), (Bounds{{0, 1}, {1, 2}, {2, 3}}));
}

TEST(SliceBounds, FewerItemsThanPartsLeavesTheLastPartsEmpty) {
  EXPECT_EQ(all_slices({4, 4}, 3), (Bounds{{0, 1}, {1, 2}, {2, 2}}));
  EXPECT_EQ(all_slices({}, 2), (Bounds{{0, 0}, {0, 0}}));
}

TEST(SliceBounds, ZeroCostsCutByCount) {
  EXPECT_EQ(all_slices({0, 0, 0, 0}, 2), (Bounds{{0, 2}, {2, 4}}));
}

TEST(SliceBounds, ASliceOutsideTheCountIsAnError) {
  EXPECT_THROW(slice_bounds(std::vector<std::int64_t>{1, 2}, {2, 2}), Error);
  EXPECT_THROW(slice_bounds(std::vector<std::int64_t>{1, 2}, {0, 0}), Error);
}

using Offsets = std::vector<std::int64_t>;

TEST(ShardOffsets, CutsTheWholeEvenlyAtGrainsCountedFromEachTensorsStart) {
  // One tensor of 10,000 elements over 3 ranks: cuts near 3,333 and 6,667, on multiples of 1,000.
  EXPECT_EQ(shard_offsets({10000}, 3, 1000), (Offsets{0, 3000, 7000, 10000}));
  // A cut inside the second tensor counts grains from its start (element 500).
  EXPECT_EQ(shard_offsets({500, 9500}, 2, 1000), (Offsets{0, 5500, 10000}));
  // A cut rounds to a tensor's start or end when its grain would pass the end.
  EXPECT_EQ(shard_offsets({4600, 5400}, 2, 1000), (Offsets{0, 4600, 10000}));
  EXPECT_EQ(shard_offsets({5700, 5300}, 2, 1000), (Offsets{0, 5700, 11000}));
  EXPECT_EQ(shard_offsets({10, 20, 30}, 1), (Offsets{0, 60}));
}

TEST(ShardOffsets, FewerGrainsThanRanksLeavesSomeShardsEmpty) {
  EXPECT_EQ(shard_offsets({100}, 3, 1000), (Offsets{0, 0, 0, 100}));
  EXPECT_EQ(shard_offsets({}, 2, 1000), (Offsets{0, 0, 0}));
  EXPECT_THROW(shard_offsets({10}, 0, 1000), Error);
}

TEST(ShardOffsets, ShardsOfAModelWithOneHugeTensorStayEven) {
  // An embedding of 32,000 x 512 and sixty small tensors, over 64 ranks: whole-tensor shards
  // would leave one rank with most of the model; element shards differ by under a grain.
  std::vector<std::int64_t> sizes{32000 * 512};
  for (int i = 0; i < 60; ++i) sizes.push_back(512 * 512);
  const Offsets offsets = shard_offsets(sizes, 64);
  std::int64_t total = 0;
  for (std::int64_t size : sizes) total += size;
  for (std::size_t rank = 0; rank + 1 < offsets.size(); ++rank) {
    EXPECT_LE(std::abs((offsets[rank + 1] - offsets[rank]) - total / 64), kShardGrain) << rank;
  }
}

class DataParallelOneProcess : public ::testing::Test {
 protected:
  DataParallelOneProcess() : layer_(3, 2), world_(dist::single_process()) {
    std::vector<float> values;
    for (int i = 0; i < 8 * 3; ++i) values.push_back(std::sin(0.7f * static_cast<float>(i)));
    inputs_ = Tensor::from_vector<float>({8, 3}, values);
  }
  // Mean squared output over rows [begin, end), times `share` of the batch.
  void backward_rows(std::int64_t begin, std::int64_t end, double share) {
    const Tensor rows = inputs_.as_strided({end - begin, 3}, {3, 1}, begin * 3);
    const Tensor loss = ops::mean(ops::mul(layer_.forward(rows), layer_.forward(rows)));
    loss.backward(Tensor::full(loss.shape(), share, loss.dtype()));
  }

  nn::Linear layer_;
  std::unique_ptr<dist::Communicator> world_;
  Tensor inputs_;
};

TEST_F(DataParallelOneProcess, AccumulatedSlicesGiveTheWholeBatchGradient) {
  backward_rows(0, 8, 1.0);
  std::vector<std::vector<float>> whole;
  for (const Tensor& parameter : layer_.parameters()) whole.push_back(parameter.grad().to_vector<float>());
  const double whole_norm = optim::global_grad_norm(layer_.parameters());
  for (Tensor parameter : layer_.parameters()) parameter.zero_grad();

  DataParallel data_parallel(layer_.parameters(), *world_);
  ASSERT_EQ(data_parallel.owned_parameters().size(), layer_.parameters().size());
  backward_rows(0, 3, 3.0 / 8.0);
  data_parallel.accumulate_gradients();
  EXPECT_FALSE(layer_.parameters()[0].grad().defined()) << "accumulating drops the gradients";
  backward_rows(3, 8, 5.0 / 8.0);
  data_parallel.accumulate_gradients();
  data_parallel.reduce_gradients();
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const std::vector<float> sliced = layer_.parameters()[i].grad().to_vector<float>();
    ASSERT_EQ(sliced.size(), whole[i].size());
    for (std::size_t j = 0; j < sliced.size(); ++j) EXPECT_NEAR(sliced[j], whole[i][j], 1e-6);
  }
  EXPECT_NEAR(data_parallel.global_grad_norm(), whole_norm, 1e-6);
  EXPECT_EQ(data_parallel.global_grad_norm(), optim::global_grad_norm(layer_.parameters()));
}

TEST_F(DataParallelOneProcess, AParameterNoMicroBatchReachedGetsNoGradient) {
  DataParallel data_parallel(layer_.parameters(), *world_);
  // Only the weight takes part: the bias stays without a gradient, so Adam skips it.
  const Tensor loss = ops::sum(ops::matmul(inputs_, ops::transpose(layer_.weight(), 0, 1)));
  loss.backward();
  data_parallel.accumulate_gradients();
  data_parallel.reduce_gradients();
  EXPECT_TRUE(layer_.weight().grad().defined());
  EXPECT_FALSE(layer_.bias().grad().defined());
}

TEST_F(DataParallelOneProcess, OptimizerStateOfTheOneShardIsTheWholeState) {
  DataParallel data_parallel(layer_.parameters(), *world_);
  optim::Adam adam(data_parallel.owned_parameters());
  backward_rows(0, 8, 1.0);
  adam.step();
  const std::map<std::string, Tensor> state = adam.state_dict();
  const std::map<std::string, Tensor> gathered = data_parallel.gather_optimizer_state(state);
  ASSERT_EQ(gathered.size(), state.size());
  for (const auto& [key, tensor] : state) {
    ASSERT_TRUE(gathered.count(key)) << key;
    EXPECT_EQ(gathered.at(key).to_vector<double>(), tensor.to_vector<double>()) << key;
  }
  EXPECT_EQ(data_parallel.shard_of_optimizer_state(gathered).size(), state.size());
}

TEST_F(DataParallelOneProcess, RefusesParametersItCannotExchange) {
  nn::Linear doubles(2, 2, true, DType::Float64);
  EXPECT_THROW(DataParallel(doubles.parameters(), *world_), Error);
}

TEST(Fingerprint, DependsOnEveryValueAndItsPlace) {
  Fingerprint a, b, c;
  a.add(std::vector<std::int64_t>{1, 2, 3});
  b.add(std::vector<std::int64_t>{1, 3, 2});
  c.add(std::vector<std::int64_t>{1, 2, 3});
  EXPECT_NE(a.value(), b.value());
  EXPECT_EQ(a.value(), c.value());
  Fingerprint empty_text, other_text;
  empty_text.add(std::string_view(""));
  other_text.add(std::string_view("x"));
  EXPECT_NE(empty_text.value(), other_text.value());
}

}  // namespace
}  // namespace attn::train
