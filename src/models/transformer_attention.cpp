// Multi-head attention as a Transformer sublayer, on nn::MultiHeadAttention's parameters,
// and the key/value cache of incremental decoding.
#include <algorithm>
#include <cstring>

#include "attn/autograd/grad_mode.h"
#include "attn/nn/attention_capture.h"
#include "attn/ops/views.h"
#include "transformer_internal.h"

namespace attn::models {
namespace detail {
namespace {

// [B, N, parts·E] -> `parts` views [B, H, N, d], one per E-wide block of features. The
// views keep unit-stride rows, which the fused attention kernel reads in place.
std::vector<Tensor> split_heads(const Tensor& x, std::int64_t parts, std::int64_t num_heads) {
  std::vector<Tensor> views;
  for (std::int64_t part = 0; part < parts; ++part) {
    views.push_back(head_part(x, parts, part, num_heads));
  }
  return views;
}

// Rows [begin, end) of in_proj_weight and in_proj_bias: the projections of Q (0, E), K
// (E, 2E), V (2E, 3E), or several together, as one GEMM.
Tensor projection(const nn::MultiHeadAttention& attention, const Tensor& x, std::int64_t begin,
                  std::int64_t end) {
  return linear(x, attention.in_proj_weight(), attention.in_proj_bias(), begin, end);
}

// softmax(QKᵀ/√d + mask) V for every head, heads merged, then the output projection.
// q [B, H, Nq, d], keys and values [B, H, Nk, d] -> [B, Nq, E]. `cached`: the keys view a
// key/value cache, which later steps extend or reorder, so an attention capture copies them.
Tensor attend(const nn::MultiHeadAttention& attention, const Tensor& q, const Tensor& keys,
              const Tensor& values, const ops::AttentionMask& mask, bool cached = false) {
  const nn::MultiHeadAttentionOptions& options = attention.options();
  ops::AttentionOptions attention_options;
  attention_options.score = ops::Score::ScaledDot;
  attention_options.mask = mask;
  attention_options.impl = options.impl;
  attention_options.dropout = options.dropout;
  attention_options.training = attention.is_training();
  // heads [B, H, Nq, d] -> merged [B, Nq, E]
  ops::AttentionResult result = ops::attention(q, keys, values, attention_options);
  nn::AttentionCapture::record(&attention, q, keys, result.lse, attention_options, cached);
  const Tensor& heads = result.out;
  const nn::Linear& out_proj = attention.out_proj();
  return linear(merge_heads(heads), out_proj.weight(), out_proj.bias());
}

}  // namespace

Tensor self_attention(const nn::MultiHeadAttention& attention, const Tensor& x,
                      const ops::AttentionMask& mask, KeyValueCache* cache) {
  const std::int64_t embed_dim = attention.options().embed_dim;
  // qkv [B, N, 3E]: one GEMM for the three projections
  Tensor qkv = projection(attention, x, 0, 3 * embed_dim);
  std::vector<Tensor> heads = split_heads(qkv, 3, attention.options().num_heads);
  if (cache == nullptr) return attend(attention, heads[0], heads[1], heads[2], mask);
  cache->append(heads[1], heads[2]);
  return attend(attention, heads[0], cache->keys(), cache->values(), mask, /*cached=*/true);
}

KeyValues memory_key_values(const nn::MultiHeadAttention& attention, const Tensor& memory) {
  const std::int64_t embed_dim = attention.options().embed_dim;
  // kv [B, S, 2E]: keys and values of the memory in one GEMM
  Tensor kv = projection(attention, memory, embed_dim, 3 * embed_dim);
  std::vector<Tensor> heads = split_heads(kv, 2, attention.options().num_heads);
  return {heads[0], heads[1]};
}

Tensor cross_attention(const nn::MultiHeadAttention& attention, const Tensor& x,
                       const KeyValues& memory, const ops::AttentionMask& mask) {
  const std::int64_t embed_dim = attention.options().embed_dim;
  Tensor q =
      split_heads(projection(attention, x, 0, embed_dim), 1, attention.options().num_heads)[0];
  return attend(attention, q, memory.keys, memory.values, mask);
}

nn::MultiHeadAttentionOptions attention_options(const LayerOptions& options, DType dtype) {
  nn::MultiHeadAttentionOptions attention;
  attention.embed_dim = options.d_model;
  attention.num_heads = options.num_heads;
  attention.dropout = options.attention_dropout;
  attention.batch_first = true;
  attention.dtype = dtype;
  return attention;
}

// ---- rows ----------------------------------------------------------------------------

void check_rows(const std::vector<std::int64_t>& rows, std::int64_t num_rows,
                std::string_view owner) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ATTN_CHECK(rows[i] >= 0 && rows[i] < num_rows, owner, ": select: row ", rows[i], " (entry ", i,
               ") is outside [0, ", num_rows, ")");
  }
}

bool is_identity(const std::vector<std::int64_t>& rows, std::int64_t num_rows) {
  if (static_cast<std::int64_t>(rows.size()) != num_rows) return false;
  for (std::int64_t i = 0; i < num_rows; ++i) {
    if (rows[i] != i) return false;
  }
  return true;
}

Tensor gather_rows(const Tensor& x, const std::vector<std::int64_t>& rows) {
  ATTN_ASSERT(x.is_contiguous() && x.dim() >= 1);
  Shape shape = x.shape();
  shape[0] = static_cast<std::int64_t>(rows.size());
  Tensor out = Tensor::empty(shape, x.dtype());
  const std::size_t row_bytes =
      (x.size(0) == 0 ? 0 : x.numel() / x.size(0)) * dtype_size(x.dtype());
  auto* source = static_cast<const std::byte*>(x.raw_data());
  auto* destination = static_cast<std::byte*>(out.raw_data());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(destination + i * row_bytes, source + rows[i] * row_bytes, row_bytes);
  }
  return out;
}

}  // namespace detail

// ---- KeyValueCache -------------------------------------------------------------------
namespace {

// Copies x [B, H, n, d] (unit-stride rows) into buffer [B, H, capacity, d] at position
// `at`, row by row.
void copy_positions(const Tensor& x, const Tensor& buffer, std::int64_t at) {
  ATTN_ASSERT(x.strides()[3] == 1 || x.size(3) <= 1);
  const std::size_t element = dtype_size(x.dtype());
  const std::int64_t heads = x.size(1), positions = x.size(2), head_dim = x.size(3);
  const std::int64_t capacity = buffer.size(2);
  auto* source = static_cast<const std::byte*>(x.raw_data());
  auto* destination = static_cast<std::byte*>(buffer.raw_data());
  for (std::int64_t b = 0; b < x.size(0); ++b) {
    for (std::int64_t h = 0; h < heads; ++h) {
      for (std::int64_t i = 0; i < positions; ++i) {
        std::int64_t from = b * x.strides()[0] + h * x.strides()[1] + i * x.strides()[2];
        std::int64_t to = ((b * heads + h) * capacity + at + i) * head_dim;
        std::memcpy(destination + to * element, source + from * element, head_dim * element);
      }
    }
  }
}

// The first `length` positions of buffer [B, H, capacity, d], as a view.
Tensor leading_positions(const Tensor& buffer, std::int64_t length) {
  const Shape& strides = buffer.strides();
  return buffer.as_strided({buffer.size(0), buffer.size(1), length, buffer.size(3)}, strides,
                           buffer.offset());
}

// Rows of buffer [B, H, capacity, d] listed in `rows`, same capacity; only the first
// `length` positions are copied (the rest is never read).
Tensor gather_cache_rows(const Tensor& buffer, const std::vector<std::int64_t>& rows,
                         std::int64_t length) {
  const std::int64_t heads = buffer.size(1), capacity = buffer.size(2), head_dim = buffer.size(3);
  Tensor out = Tensor::empty({static_cast<std::int64_t>(rows.size()), heads, capacity, head_dim},
                             buffer.dtype());
  const std::size_t element = dtype_size(buffer.dtype());
  const std::size_t block = capacity * head_dim * element;  // one (row, head)
  auto* source = static_cast<const std::byte*>(buffer.raw_data());
  auto* destination = static_cast<std::byte*>(out.raw_data());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::int64_t h = 0; h < heads; ++h) {
      std::memcpy(destination + (i * heads + h) * block, source + (rows[i] * heads + h) * block,
                  length * head_dim * element);
    }
  }
  return out;
}

}  // namespace

void KeyValueCache::reserve(std::int64_t capacity) {
  if (key_buffer_.size(2) >= capacity) return;
  // Doubling keeps the copies of a growing cache linear in its final length.
  capacity = std::max<std::int64_t>({capacity, 2 * key_buffer_.size(2), 16});
  auto grow = [&](const Tensor& old) {
    Tensor buffer = Tensor::empty({old.size(0), old.size(1), capacity, old.size(3)}, old.dtype());
    if (length_ > 0) copy_positions(leading_positions(old, length_), buffer, 0);
    return buffer;
  };
  key_buffer_ = grow(key_buffer_);
  value_buffer_ = grow(value_buffer_);
}

void KeyValueCache::append(const Tensor& keys, const Tensor& values) {
  ATTN_CHECK(!autograd::is_grad_enabled() || (!keys.requires_grad() && !values.requires_grad()),
             "KeyValueCache: the cache is for inference; append under NoGradGuard");
  ATTN_CHECK(keys.dim() == 4 && keys.shape() == values.shape(),
             "KeyValueCache: expected keys and values [B, H, n, d] of one shape, got ",
             keys.describe(), " and ", values.describe());
  if (!key_buffer_.defined()) {
    // Start from an empty buffer of the right rows, heads and head size.
    Shape shape{keys.size(0), keys.size(1), 0, keys.size(3)};
    key_buffer_ = Tensor::empty(shape, keys.dtype());
    value_buffer_ = Tensor::empty(shape, keys.dtype());
  }
  ATTN_CHECK(keys.size(0) == key_buffer_.size(0) && keys.size(1) == key_buffer_.size(1) &&
                 keys.size(3) == key_buffer_.size(3) && keys.dtype() == key_buffer_.dtype(),
             "KeyValueCache: expected keys [", key_buffer_.size(0), ", ", key_buffer_.size(1),
             ", n, ", key_buffer_.size(3), "] of ", dtype_name(key_buffer_.dtype()), ", got ",
             keys.describe());
  const std::int64_t added = keys.size(2);
  reserve(length_ + added);
  copy_positions(keys, key_buffer_, length_);
  copy_positions(values, value_buffer_, length_);
  length_ += added;
}

Tensor KeyValueCache::keys() const {
  ATTN_CHECK(key_buffer_.defined(), "KeyValueCache: nothing cached yet");
  return leading_positions(key_buffer_, length_);
}

Tensor KeyValueCache::values() const {
  ATTN_CHECK(value_buffer_.defined(), "KeyValueCache: nothing cached yet");
  return leading_positions(value_buffer_, length_);
}

void KeyValueCache::select(const std::vector<std::int64_t>& rows) {
  if (!key_buffer_.defined()) return;
  detail::check_rows(rows, key_buffer_.size(0), "KeyValueCache");
  if (detail::is_identity(rows, key_buffer_.size(0))) return;
  key_buffer_ = gather_cache_rows(key_buffer_, rows, length_);
  value_buffer_ = gather_cache_rows(value_buffer_, rows, length_);
}

}  // namespace attn::models
