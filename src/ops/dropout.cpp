#include "attn/kernels/vector_ops.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

// 0 or 1/(1-p) per element, element i drawn from position offset + i of the Philox stream
// (the numbering philox_uniform uses: position q is word q % 4 of block q / 4). One Philox
// call fills the four positions of a block; blocks are independent, so any split of the
// loop across threads gives the same mask.
template <typename T>
Tensor dropout_scale(const Shape& shape, double p, std::uint64_t seed, std::uint64_t offset) {
  Tensor scale = Tensor::empty(shape, dtype_of<T>());
  T* values = scale.data<T>();
  const std::int64_t count = scale.numel();
  if (count == 0) return scale;
  const T kept = T(1.0 / (1.0 - p));
  const auto first_block = static_cast<std::int64_t>(offset / 4);
  const auto last_block = static_cast<std::int64_t>((offset + count - 1) / 4);
#pragma omp parallel for schedule(static) if (count > 65536)
  for (std::int64_t block = first_block; block <= last_block; ++block) {
    const PhiloxBlock words = philox4x32(seed, static_cast<std::uint64_t>(block), 0);
    for (int lane = 0; lane < 4; ++lane) {
      const std::int64_t i = block * 4 + lane - static_cast<std::int64_t>(offset);
      if (i < 0 || i >= count) continue;
      values[i] = philox_word_to_uniform(words.words[lane]) >= p ? kept : T(0);
    }
  }
  return scale;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& generator) {
  check_defined(x, "dropout", "input");
  ATTN_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  std::uint64_t offset = generator.reserve(static_cast<std::uint64_t>(x.numel()));
  Tensor scale = dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    return dropout_scale<T>(x.shape(), p, generator.seed(), offset);
  });
  return mul(x, scale);
}

}  // namespace attn::ops
