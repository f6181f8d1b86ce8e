// The attention masks as bool tensors (for the reference) and as strided views over
// [B, H, Nq, Nk] (for the fused kernel). Masks carry no gradient, so everything here is raw.
#include <vector>

#include "attention_internal.h"
#include "internal.h"

namespace attn::ops::attention_detail {

using internal::raw_expand;

namespace {

// A rank <= 4 tensor viewed as rank 4 by prepending unit dimensions.
Tensor as_rank4(const Tensor& x) {
  Shape shape = x.shape(), strides = x.strides();
  while (shape.size() < 4) {
    shape.insert(shape.begin(), 1);
    strides.insert(strides.begin(), 0);
  }
  return x.as_strided(shape, strides, x.offset());
}

// [1, 1, Nq, Nk]: query i may attend key j iff j <= i + (Nk - Nq) (aligned to the end).
Tensor causal_positions(const AttentionShape& shape) {
  Tensor allowed = Tensor::empty({1, 1, shape.queries, shape.keys}, DType::Bool);
  bool* values = allowed.data<bool>();
  std::int64_t shift = shape.keys - shape.queries;
  for (std::int64_t i = 0; i < shape.queries; ++i) {
    for (std::int64_t j = 0; j < shape.keys; ++j) values[i * shape.keys + j] = j <= i + shift;
  }
  return allowed;
}

// [B, 1, 1, Nk]: key j of batch b is real iff j < key_lengths[b].
Tensor length_positions(const Tensor& key_lengths, const AttentionShape& shape) {
  Tensor allowed = Tensor::empty({shape.batch, 1, 1, shape.keys}, DType::Bool);
  bool* values = allowed.data<bool>();
  std::vector<std::int64_t> lengths = key_lengths.to_vector<std::int64_t>();
  for (std::int64_t b = 0; b < shape.batch; ++b) {
    for (std::int64_t j = 0; j < shape.keys; ++j) values[b * shape.keys + j] = j < lengths[b];
  }
  return allowed;
}

// key_padding [B, Nk] viewed as [B, 1, 1, Nk].
Tensor padding_positions(const Tensor& key_padding) {
  const Shape& strides = key_padding.strides();
  return key_padding.as_strided({key_padding.size(0), 1, 1, key_padding.size(1)},
                                {strides[0], 0, 0, strides[1]}, key_padding.offset());
}

std::vector<Tensor> chosen_parts(const AttentionMask& mask, const AttentionShape& shape,
                                 MaskParts parts) {
  std::vector<Tensor> chosen;
  if (parts == MaskParts::All && mask.causal) chosen.push_back(causal_positions(shape));
  if (parts == MaskParts::All && mask.key_lengths.defined()) {
    chosen.push_back(length_positions(mask.key_lengths, shape));
  }
  if (mask.key_padding.defined()) chosen.push_back(padding_positions(mask.key_padding));
  if (mask.allowed.defined()) chosen.push_back(as_rank4(mask.allowed));
  return chosen;
}

// The elementwise AND of rank-4 bool tensors, in their broadcast shape.
Tensor conjunction(const std::vector<Tensor>& parts) {
  Shape shape = parts.front().shape();
  for (const Tensor& part : parts) shape = broadcast_shapes(shape, part.shape(), "attention");
  Tensor result = Tensor::full(shape, 1.0, DType::Bool);
  bool* out = result.data<bool>();
  for (const Tensor& part : parts) {
    Tensor expanded = raw_expand(part, shape, "attention");
    const bool* in = expanded.data<bool>();
    const Shape& s = expanded.strides();
    std::int64_t index = 0;
    for (std::int64_t b = 0; b < shape[0]; ++b)
      for (std::int64_t h = 0; h < shape[1]; ++h)
        for (std::int64_t i = 0; i < shape[2]; ++i)
          for (std::int64_t j = 0; j < shape[3]; ++j, ++index)
            out[index] = out[index] && in[b * s[0] + h * s[1] + i * s[2] + j * s[3]];
  }
  return result;
}

}  // namespace

Tensor allowed_positions(const AttentionMask& mask, const AttentionShape& shape, MaskParts parts) {
  std::vector<Tensor> chosen = chosen_parts(mask, shape, parts);
  if (chosen.empty()) return Tensor();
  return conjunction(chosen);
}

Tensor logical_not(const Tensor& mask) {
  Tensor source = mask.contiguous();
  Tensor result = Tensor::empty(mask.shape(), DType::Bool);
  const bool* in = source.data<bool>();
  bool* out = result.data<bool>();
  for (std::int64_t i = 0; i < result.numel(); ++i) out[i] = !in[i];
  return result;
}

KernelMasks kernel_masks(const AttentionMask& mask, const AttentionShape& shape) {
  Shape full{shape.batch, shape.heads, shape.queries, shape.keys};
  KernelMasks result;
  result.causal = mask.causal;
  if (mask.key_lengths.defined()) result.key_lengths = mask.key_lengths.contiguous();
  Tensor allowed = allowed_positions(mask, shape, MaskParts::BooleanOnly);
  if (allowed.defined()) result.allowed = raw_expand(allowed, full, "attention");
  if (mask.bias.defined()) result.bias = raw_expand(mask.bias.detach(), full, "attention");
  return result;
}

}  // namespace attn::ops::attention_detail
