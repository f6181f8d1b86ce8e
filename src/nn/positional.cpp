#include "attn/nn/positional.h"

#include <cmath>

#include "attn/ops/elementwise.h"
#include "attn/ops/views.h"

namespace attn::nn {
namespace {

void check_even_dim(std::int64_t dim, const char* what) {
  ATTN_CHECK(dim > 0 && dim % 2 == 0, what, ": expected a positive even dimension (features ",
             "come in sin/cos pairs), got ", dim);
}

void check_range(std::int64_t length, std::int64_t offset, std::int64_t max_len,
                 const char* what) {
  ATTN_CHECK(length >= 0 && offset >= 0, what, ": expected a non-negative length and offset, ",
             "got ", length, " and ", offset);
  ATTN_CHECK(offset + length <= max_len, what, ": positions ", offset, " to ",
             offset + length - 1, " exceed max_len ", max_len,
             " (the last position available is ", max_len - 1, ")");
}

// x [..., N, dim] checked against the encoding's feature size and dtype.
void check_sequence(const Tensor& x, std::int64_t dim, DType dtype, const char* what) {
  ATTN_CHECK(x.defined() && x.dim() >= 2 && x.size(-1) == dim, what, ": expected input [..., N, ",
             dim, "], got ", x.defined() ? x.describe() : std::string("an undefined tensor"));
  ATTN_CHECK(x.dtype() == dtype, what, ": expected ", dtype_name(dtype), " input, got ",
             x.describe());
}

// The angle pos · base^(-2i/d) of feature pair i; both encodings share it.
double angle(std::int64_t position, std::int64_t pair, std::int64_t dim, double base) {
  double exponent = static_cast<double>(2 * pair) / static_cast<double>(dim);
  return static_cast<double>(position) * std::pow(base, -exponent);
}

}  // namespace

Tensor sinusoidal_encoding(std::int64_t length, std::int64_t dim, std::int64_t offset,
                           DType dtype) {
  check_even_dim(dim, "sinusoidal_encoding");
  ATTN_CHECK(length >= 0 && offset >= 0, "sinusoidal_encoding: expected a non-negative length ",
             "and offset, got ", length, " and ", offset);
  ATTN_CHECK(is_floating(dtype), "sinusoidal_encoding: expected a floating dtype, got ",
             dtype_name(dtype));
  Tensor table = Tensor::empty({length, dim}, DType::Float64);
  double* values = table.data<double>();
  for (std::int64_t row = 0; row < length; ++row) {
    for (std::int64_t pair = 0; pair < dim / 2; ++pair) {
      double theta = angle(offset + row, pair, dim, 10000.0);
      values[row * dim + 2 * pair] = std::sin(theta);
      values[row * dim + 2 * pair + 1] = std::cos(theta);
    }
  }
  return table.to(dtype);
}

// ---- sinusoidal ---------------------------------------------------------------------------

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(std::int64_t dim, std::int64_t max_len,
                                                           DType dtype)
    : dim_(dim), max_len_(max_len) {
  check_even_dim(dim, "SinusoidalPositionalEncoding");
  ATTN_CHECK(max_len > 0, "SinusoidalPositionalEncoding: expected a positive max_len, got ",
             max_len);
  table_ = sinusoidal_encoding(max_len, dim, 0, dtype);
}

Tensor SinusoidalPositionalEncoding::encoding(std::int64_t length, std::int64_t offset) const {
  check_range(length, offset, max_len_, "SinusoidalPositionalEncoding");
  return ops::slice(table_, 0, offset, offset + length);
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x, std::int64_t offset) const {
  check_sequence(x, dim_, table_.dtype(), "SinusoidalPositionalEncoding");
  return ops::add(x, encoding(x.size(-2), offset));
}

// ---- learned ------------------------------------------------------------------------------

LearnedPositionalEncoding::LearnedPositionalEncoding(std::int64_t max_len, std::int64_t dim,
                                                     DType dtype)
    : embedding_(register_module("embedding",
                                 std::make_shared<Embedding>(max_len, dim, -1, dtype))) {}

Tensor LearnedPositionalEncoding::encoding(std::int64_t length, std::int64_t offset) const {
  check_range(length, offset, max_len(), "LearnedPositionalEncoding");
  return ops::slice(embedding_->weight(), 0, offset, offset + length);
}

Tensor LearnedPositionalEncoding::forward(const Tensor& x, std::int64_t offset) const {
  check_sequence(x, dim(), embedding_->weight().dtype(), "LearnedPositionalEncoding");
  return ops::add(x, encoding(x.size(-2), offset));
}

// ---- rotary -------------------------------------------------------------------------------

RotaryEmbedding::RotaryEmbedding(std::int64_t head_dim, std::int64_t max_len, double base,
                                 DType dtype)
    : head_dim_(head_dim), max_len_(max_len), base_(base) {
  check_even_dim(head_dim, "RotaryEmbedding");
  ATTN_CHECK(max_len > 0, "RotaryEmbedding: expected a positive max_len, got ", max_len);
  ATTN_CHECK(base > 1.0 && std::isfinite(base), "RotaryEmbedding: expected a base > 1, got ",
             base);
  ATTN_CHECK(is_floating(dtype), "RotaryEmbedding: expected a floating dtype, got ",
             dtype_name(dtype));
  Tensor cos_table = Tensor::empty({max_len, head_dim}, DType::Float64);
  Tensor sin_table = Tensor::empty({max_len, head_dim}, DType::Float64);
  const std::int64_t half = head_dim / 2;
  for (std::int64_t position = 0; position < max_len; ++position) {
    for (std::int64_t pair = 0; pair < half; ++pair) {
      double theta = angle(position, pair, head_dim, base);
      // Rotate-half layout: feature i and feature i + d/2 share the angle θ_i.
      for (std::int64_t column : {pair, pair + half}) {
        cos_table.data<double>()[position * head_dim + column] = std::cos(theta);
        sin_table.data<double>()[position * head_dim + column] = std::sin(theta);
      }
    }
  }
  cos_ = cos_table.to(dtype);
  sin_ = sin_table.to(dtype);
}

void RotaryEmbedding::check_positions(std::int64_t length, std::int64_t offset) const {
  check_range(length, offset, max_len_, "RotaryEmbedding");
}

Tensor RotaryEmbedding::cos(std::int64_t length, std::int64_t offset) const {
  check_positions(length, offset);
  return ops::slice(cos_, 0, offset, offset + length);
}

Tensor RotaryEmbedding::sin(std::int64_t length, std::int64_t offset) const {
  check_positions(length, offset);
  return ops::slice(sin_, 0, offset, offset + length);
}

Tensor RotaryEmbedding::apply(const Tensor& x, std::int64_t offset) const {
  check_sequence(x, head_dim_, cos_.dtype(), "RotaryEmbedding");
  const std::int64_t length = x.size(-2), half = head_dim_ / 2;
  // rotate_half(x) = [-x_{d/2..d}, x_{0..d/2}]
  Tensor first = ops::slice(x, -1, 0, half);
  Tensor second = ops::slice(x, -1, half, head_dim_);
  Tensor rotated = ops::cat({ops::neg(second), first}, -1);
  // cos and sin [N, d] broadcast over the leading (batch, head) dimensions.
  return ops::add(ops::mul(x, cos(length, offset)), ops::mul(rotated, sin(length, offset)));
}

std::pair<Tensor, Tensor> RotaryEmbedding::forward(const Tensor& q, const Tensor& k,
                                                   std::int64_t key_offset) const {
  check_sequence(q, head_dim_, cos_.dtype(), "RotaryEmbedding");
  check_sequence(k, head_dim_, cos_.dtype(), "RotaryEmbedding");
  const std::int64_t query_length = q.size(-2), key_length = k.size(-2);
  ATTN_CHECK(query_length <= key_length, "RotaryEmbedding: the queries (", query_length,
             ") must not outnumber the keys (", key_length, "); q takes the last positions");
  return {apply(q, key_offset + key_length - query_length), apply(k, key_offset)};
}

}  // namespace attn::nn
