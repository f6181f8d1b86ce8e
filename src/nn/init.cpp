#include "attn/nn/init.h"

#include <cmath>
#include <numbers>
#include <vector>

namespace attn::nn::init {
namespace {

thread_local int skip_depth = 0;

// Whether an initialiser leaves `tensor` as it is (SkipInitialisation alive); the argument
// checks still run.
bool skipping() { return skip_depth > 0; }

void check_floating(const Tensor& tensor, const char* name) {
  ATTN_CHECK(tensor.defined(), "init::", name, ": the tensor is undefined");
  ATTN_CHECK(is_floating(tensor.dtype()), "init::", name,
             ": expected a floating-point tensor, got ", tensor.describe());
}

// Writes row-major `values` into `tensor`, whatever its layout and floating dtype.
void assign(const Tensor& tensor, const std::vector<double>& values) {
  Tensor source = Tensor::from_vector<double>(tensor.shape(), values);
  Tensor destination = tensor;
  destination.copy_from(source);
}

}  // namespace

SkipInitialisation::SkipInitialisation() { ++skip_depth; }
SkipInitialisation::~SkipInitialisation() { --skip_depth; }

void uniform_(const Tensor& tensor, double low, double high, Generator& generator) {
  check_floating(tensor, "uniform_");
  ATTN_CHECK(low <= high, "init::uniform_: expected low <= high, got [", low, ", ", high, ")");
  if (skipping()) return;
  auto count = static_cast<std::uint64_t>(tensor.numel());
  std::uint64_t offset = generator.reserve(count);
  std::vector<double> values(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    values[i] = low + (high - low) * philox_uniform(generator.seed(), offset, i);
  }
  assign(tensor, values);
}

void normal_(const Tensor& tensor, double mean, double std, Generator& generator) {
  check_floating(tensor, "normal_");
  ATTN_CHECK(std >= 0, "init::normal_: expected std >= 0, got ", std);
  if (skipping()) return;
  auto count = static_cast<std::uint64_t>(tensor.numel());
  // Element i uses uniforms 2i and 2i + 1 of the reserved range, so it depends on i alone.
  std::uint64_t offset = generator.reserve(2 * count);
  std::vector<double> values(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    // 1 - u lies in (0, 1], keeping the logarithm finite.
    double radius_uniform = 1.0 - philox_uniform(generator.seed(), offset, 2 * i);
    double angle_uniform = philox_uniform(generator.seed(), offset, 2 * i + 1);
    double radius = std::sqrt(-2.0 * std::log(radius_uniform));
    values[i] = mean + std * radius * std::cos(2.0 * std::numbers::pi * angle_uniform);
  }
  assign(tensor, values);
}

void constant_(const Tensor& tensor, double value) {
  check_floating(tensor, "constant_");
  if (skipping()) return;
  Tensor destination = tensor;
  destination.copy_from(Tensor::full(tensor.shape(), value, tensor.dtype()));
}

void zeros_(const Tensor& tensor) { constant_(tensor, 0.0); }

void ones_(const Tensor& tensor) { constant_(tensor, 1.0); }

void xavier_uniform_(const Tensor& tensor, double gain, Generator& generator) {
  check_floating(tensor, "xavier_uniform_");
  ATTN_CHECK(tensor.dim() >= 2, "init::xavier_uniform_: expected at least 2 dimensions, got ",
             tensor.describe());
  std::int64_t receptive = 1;
  for (std::int64_t d = 2; d < tensor.dim(); ++d) receptive *= tensor.size(d);
  double fan_in = static_cast<double>(tensor.size(1) * receptive);
  double fan_out = static_cast<double>(tensor.size(0) * receptive);
  double bound = gain * std::sqrt(6.0 / (fan_in + fan_out));
  uniform_(tensor, -bound, bound, generator);
}

}  // namespace attn::nn::init
