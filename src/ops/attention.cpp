// attention(): validation, the choice of implementation, and dispatch. The implementations
// live in attention_reference.cpp and attention_fused.cpp.
#include "attn/ops/attention.h"

#include <array>
#include <cmath>
#include <string>

#include "attention_internal.h"
#include "attn/autograd/grad_mode.h"
#include "attn/autograd/node.h"

namespace attn::ops {

using namespace attention_detail;

namespace {

constexpr std::array<std::pair<Score, std::string_view>, 5> kScoreNames{{
    {Score::Dot, "dot"},
    {Score::ScaledDot, "scaled_dot"},
    {Score::General, "general"},
    {Score::Additive, "additive"},
    {Score::Cosine, "cosine"},
}};

constexpr std::array<std::pair<AttentionImpl, std::string_view>, 3> kImplNames{{
    {AttentionImpl::Reference, "reference"},
    {AttentionImpl::Fused, "fused"},
    {AttentionImpl::Auto, "auto"},
}};

// ---- validation -------------------------------------------------------------------------

std::string describe_qkv(const Tensor& q, const Tensor& k, const Tensor& v) {
  return detail::concat("q ", q.describe(), ", k ", k.describe(), ", v ", v.describe());
}

void check_query_key(const Tensor& q, const Tensor& k) {
  ATTN_CHECK(q.defined() && k.defined(), "attention: q and k must be defined");
  ATTN_CHECK(q.dim() == 4 && k.dim() == 4,
             "attention: expected q and k of rank 4 ([batch, heads, tokens, features]), got q ",
             q.describe(), ", k ", k.describe());
  ATTN_CHECK(q.dtype() == DType::Float32 || q.dtype() == DType::Float64,
             "attention: expected float32 or float64 tensors, got q ", q.describe());
  ATTN_CHECK(k.dtype() == q.dtype(), "attention: q and k dtypes differ, q ", q.describe(), ", k ",
             k.describe());
  ATTN_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1),
             "attention: q and k must agree in batch and heads, got q ", q.describe(), ", k ",
             k.describe());
  ATTN_CHECK(q.size(3) == k.size(3), "attention: q and k must have the same feature size d, got q ",
             q.describe(), ", k ", k.describe());
}

void check_value(const Tensor& q, const Tensor& k, const Tensor& v) {
  ATTN_CHECK(v.defined(), "attention: v must be defined");
  ATTN_CHECK(v.dim() == 4, "attention: expected v of rank 4 ([batch, heads, keys, dv]), got ",
             describe_qkv(q, k, v));
  ATTN_CHECK(v.dtype() == q.dtype(), "attention: q, k and v dtypes differ, got ",
             describe_qkv(q, k, v));
  ATTN_CHECK(v.size(0) == k.size(0) && v.size(1) == k.size(1),
             "attention: q, k and v must agree in batch and heads, got ", describe_qkv(q, k, v));
  ATTN_CHECK(v.size(2) == k.size(2), "attention: k and v must have the same number of keys, got ",
             describe_qkv(q, k, v));
}

void check_parameter(const Tensor& parameter, const char* name, const Shape& expected,
                     const Tensor& q, std::string_view score) {
  ATTN_CHECK(parameter.defined(), "attention: the ", score, " score needs parameters.", name, " ",
             to_string(expected));
  ATTN_CHECK(parameter.shape() == expected, "attention: parameters.", name, " must be ",
             to_string(expected), " for the ", score, " score with d = ", q.size(3), ", got ",
             parameter.describe());
  ATTN_CHECK(parameter.dtype() == q.dtype(), "attention: parameters.", name,
             " must have q's dtype ", dtype_name(q.dtype()), ", got ", parameter.describe());
}

// Returns the attention size a (0 unless Additive).
std::int64_t check_score_parameters(const AttentionOptions& options, const Tensor& q) {
  const ScoreParameters& parameters = options.parameters;
  std::string_view score = score_name(options.score);
  std::int64_t d = q.size(3);
  if (options.score == Score::General) check_parameter(parameters.w, "w", {d, d}, q, score);
  if (options.score != Score::Additive) return 0;
  ATTN_CHECK(parameters.w_q.defined() && parameters.w_q.dim() == 2,
             "attention: the additive score needs parameters.w_q [d, a], got ",
             parameters.w_q.defined() ? parameters.w_q.describe() : "none");
  std::int64_t a = parameters.w_q.size(1);
  check_parameter(parameters.w_q, "w_q", {d, a}, q, score);
  check_parameter(parameters.w_k, "w_k", {d, a}, q, score);
  check_parameter(parameters.v_a, "v_a", {a}, q, score);
  return a;
}

void check_scale(const AttentionOptions& options, const Tensor& q) {
  const Tensor& learned = options.parameters.scale;
  bool takes_scale = options.score == Score::ScaledDot || options.score == Score::Cosine;
  ATTN_CHECK(takes_scale || !options.scale.has_value(), "attention: the ",
             score_name(options.score), " score takes no scale, got scale = ", *options.scale);
  if (!learned.defined()) return;
  ATTN_CHECK(options.score == Score::Cosine,
             "attention: parameters.scale (a learned scale) is for "
             "the cosine score only, got score ",
             score_name(options.score));
  ATTN_CHECK(!options.scale.has_value(), "attention: give either scale = ", *options.scale,
             " or a learned parameters.scale, not both");
  ATTN_CHECK(learned.numel() == 1 && learned.dim() <= 1,
             "attention: parameters.scale must be a scalar (shape []), got ", learned.describe());
  ATTN_CHECK(learned.dtype() == q.dtype(), "attention: parameters.scale must have q's dtype ",
             dtype_name(q.dtype()), ", got ", learned.describe());
}

// A mask of rank <= 4 that broadcasts to [B, H, Nq, Nk] without growing.
void check_broadcastable(const Tensor& mask, const char* name, const AttentionShape& shape) {
  Shape full{shape.batch, shape.heads, shape.queries, shape.keys};
  bool fits = mask.dim() <= 4;
  for (std::int64_t i = 0; fits && i < mask.dim(); ++i) {
    std::int64_t extent = mask.size(mask.dim() - 1 - i);
    fits = extent == 1 || extent == full[3 - i];
  }
  ATTN_CHECK(fits, "attention: mask.", name, " ", mask.describe(),
             " does not broadcast to [B, H, Nq, Nk] = ", to_string(full));
}

void check_key_lengths(const Tensor& lengths, const AttentionShape& shape) {
  ATTN_CHECK(
      lengths.dtype() == DType::Int64 && lengths.dim() == 1 && lengths.size(0) == shape.batch,
      "attention: mask.key_lengths must be int64 [B] = [", shape.batch, "], got ",
      lengths.describe());
  std::vector<std::int64_t> values = lengths.to_vector<std::int64_t>();
  for (std::size_t b = 0; b < values.size(); ++b) {
    ATTN_CHECK(values[b] >= 0 && values[b] <= shape.keys, "attention: mask.key_lengths[", b,
               "] = ", values[b], " is outside [0, Nk] = [0, ", shape.keys, "]");
  }
}

void check_mask(const AttentionMask& mask, const AttentionShape& shape, DType dtype) {
  if (mask.key_lengths.defined()) check_key_lengths(mask.key_lengths, shape);
  if (mask.key_padding.defined()) {
    ATTN_CHECK(mask.key_padding.dtype() == DType::Bool &&
                   mask.key_padding.shape() == Shape({shape.batch, shape.keys}),
               "attention: mask.key_padding must be bool [B, Nk] = [", shape.batch, ", ",
               shape.keys, "], got ", mask.key_padding.describe());
  }
  if (mask.allowed.defined()) {
    ATTN_CHECK(mask.allowed.dtype() == DType::Bool, "attention: mask.allowed must be bool, got ",
               mask.allowed.describe());
    check_broadcastable(mask.allowed, "allowed", shape);
  }
  if (mask.bias.defined()) {
    ATTN_CHECK(mask.bias.dtype() == dtype, "attention: mask.bias must have q's dtype ",
               dtype_name(dtype), ", got ", mask.bias.describe());
    check_broadcastable(mask.bias, "bias", shape);
  }
}

void check_dropout(const AttentionOptions& options) {
  ATTN_CHECK(options.dropout >= 0.0 && options.dropout < 1.0,
             "attention: dropout must be in [0, 1), got ", options.dropout);
}

AttentionShape validate(const Tensor& q, const Tensor& k, const Tensor& v,
                        const AttentionOptions& options) {
  check_query_key(q, k);
  check_value(q, k, v);
  AttentionShape shape{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), v.size(3), 0};
  shape.attention_dim = check_score_parameters(options, q);
  check_scale(options, q);
  check_mask(options.mask, shape, q.dtype());
  check_dropout(options);
  return shape;
}

// ---- the Auto rule ----------------------------------------------------------------------

bool bias_needs_gradient(const AttentionOptions& options) {
  const Tensor& bias = options.mask.bias;
  return bias.defined() && bias.requires_grad() && autograd::is_grad_enabled();
}

AttentionImpl choose_impl(const AttentionOptions& options) {
  if (options.impl == AttentionImpl::Fused) {
    ATTN_CHECK(!bias_needs_gradient(options),
               "attention: the fused implementation treats "
               "mask.bias as a constant, but it requires a gradient; use impl = reference");
    return AttentionImpl::Fused;
  }
  if (options.impl == AttentionImpl::Reference) return AttentionImpl::Reference;
  // Auto: the fused path measured as fast or faster on every shape down to N = 8 (forward
  // 2-5x, forward + backward 1-3x; docs/ATTENTION.md), so only a bias that needs a gradient,
  // which the fused path cannot give, sends a call to the reference.
  if (bias_needs_gradient(options)) return AttentionImpl::Reference;
  return AttentionImpl::Fused;
}

// ---- attention_weights_from_lse ---------------------------------------------------------

void check_lse(const Tensor& lse, const AttentionShape& shape, DType dtype) {
  Shape expected{shape.batch, shape.heads, shape.queries};
  ATTN_CHECK(lse.defined() && lse.shape() == expected && lse.dtype() == dtype,
             "attention_weights_from_lse: lse must be ", dtype_name(dtype), to_string(expected),
             " (from attention() on the same q), got ",
             lse.defined() ? lse.describe() : "undefined");
}

std::vector<std::int64_t> checked_heads(const std::vector<std::int64_t>& heads,
                                        std::int64_t num_heads) {
  if (heads.empty()) {
    std::vector<std::int64_t> all(num_heads);
    for (std::int64_t h = 0; h < num_heads; ++h) all[h] = h;
    return all;
  }
  for (std::int64_t head : heads) {
    ATTN_CHECK(head >= 0 && head < num_heads, "attention_weights_from_lse: head ", head,
               " is outside [0, H) = [0, ", num_heads, ")");
  }
  return heads;
}

}  // namespace

std::string_view score_name(Score score) {
  for (const auto& [value, name] : kScoreNames) {
    if (value == score) return name;
  }
  ATTN_ASSERT(false, "unknown Score ", static_cast<int>(score));
}

Score parse_score(std::string_view name) {
  for (const auto& [value, known] : kScoreNames) {
    if (known == name) return value;
  }
  throw Error(detail::concat("attention: unknown score '", name,
                             "', expected dot, scaled_dot, general, additive or cosine"));
}

std::string_view impl_name(AttentionImpl impl) {
  for (const auto& [value, name] : kImplNames) {
    if (value == impl) return name;
  }
  ATTN_ASSERT(false, "unknown AttentionImpl ", static_cast<int>(impl));
}

AttentionImpl parse_impl(std::string_view name) {
  for (const auto& [value, known] : kImplNames) {
    if (known == name) return value;
  }
  throw Error(detail::concat("attention: unknown implementation '", name,
                             "', expected reference, fused or auto"));
}

namespace attention_detail {

double fixed_scale(const AttentionOptions& options, const AttentionShape& shape) {
  if (options.score == Score::ScaledDot) {
    return options.scale.value_or(1.0 / std::sqrt(static_cast<double>(shape.head_dim)));
  }
  if (options.score == Score::Cosine) return options.scale.value_or(1.0);
  return 1.0;
}

}  // namespace attention_detail

AttentionResult attention(const Tensor& q, const Tensor& k, const Tensor& v,
                          const AttentionOptions& options) {
  AttentionShape shape = validate(q, k, v, options);
  if (choose_impl(options) == AttentionImpl::Fused) {
    return fused_attention(q, k, v, options, shape);
  }
  return reference_attention(q, k, v, options, shape);
}

Tensor attention_weights_from_lse(const Tensor& q, const Tensor& k, const Tensor& lse,
                                  const AttentionOptions& options, std::int64_t row_begin,
                                  std::int64_t row_end, const std::vector<std::int64_t>& heads) {
  check_query_key(q, k);
  // v plays no part in the weights; k stands in for it so the shared checks apply.
  AttentionShape shape{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), k.size(3), 0};
  shape.attention_dim = check_score_parameters(options, q);
  check_scale(options, q);
  check_mask(options.mask, shape, q.dtype());
  check_lse(lse, shape, q.dtype());
  ATTN_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= shape.queries,
             "attention_weights_from_lse: rows [", row_begin, ", ", row_end,
             ") are not within [0, Nq) = [0, ", shape.queries, ")");
  return fused_weights_from_lse(q, k, lse, options, shape, row_begin, row_end,
                                checked_heads(heads, shape.heads));
}

}  // namespace attn::ops
