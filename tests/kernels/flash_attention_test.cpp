// The fused attention kernels against their scalar reference, for both score forms, every
// mask, dropout, odd sizes, sizes that cross tile boundaries and strided inputs.
//
// Tolerance (FlashAttention's rule): inputs are drawn in double, rounded to float, and the
// double reference on those rounded inputs is the oracle. A float result of the fused kernel
// passes when its largest error against the oracle is at most twice the largest error of the
// float reference, plus a floor of 4 float ulps at the magnitude of the result:
//   max|fused_f32 - oracle| <= 2 max|reference_f32 - oracle| + 4 eps_f32 max(1, max|oracle|).
// Both float implementations round differently (tile order versus row order), so neither can
// be bitwise right; the rule accepts the fused kernel when it is as accurate as the plain
// one. What is recomputed from the saved lse (the weights and the backward) gets one more
// term: P = e^(S - lse) inherits the rounding of lse (up to eps |lse| / 2) and of scores of
// that magnitude as a relative error, which for the backward scales a whole row of P at once,
// a systematic error that the reference, normalising by the row sum, does not have. So those
// results may also be off by 2 eps max|lse| max(1, max|oracle|) (FlashAttention shares this
// property; it only matters for scores of large magnitude, as in the rising_scores case).
// The gradients through the scores (grad_q, grad_k, grad_v_a) get one more: dS = P ∘ (dP − D)
// subtracts two sums of dv terms, D = Σ_e dO·O (per row) and dP = dO·Vᵀ, which cancel
// exactly where a row has one allowed key (dS = 0). The reference forms both the same way
// and so cancels to 0, the fused kernel forms them by different routes (its own loop and
// the GEMM library's kernels, which differ per instruction set), so its error there is the
// rounding of a dv-term sum: the floor for those gradients is (4 + dv) eps instead of 4 eps.
// In double, the fused kernel is compared with the oracle directly, with the classic bound
// for sums of n terms, n eps max(1, max|oracle|) with n = 4 (Nk + d + Nq).
#include "attn/kernels/flash_attention.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/kernels/flash_attention_reference.h"
#include "support/simd_targets.h"

namespace attn::kernels {
namespace {

using Index = std::int64_t;
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// ---- problems -------------------------------------------------------------------------------

enum class Layout {
  Contiguous,     // [B, H, N, ·]
  TransposedQ,    // q stored [B, Nq, H, d] (a transposed view)
  PaddedSharedKV  // k rows padded; v shared by all heads (head stride 0) with padded rows
};

struct Case {
  std::string name;
  Index batch = 1, heads = 2, queries = 7, keys = 7, head_dim = 24, value_dim = 24;
  FlashScore score = FlashScore::Dot;
  bool causal = false;
  std::vector<Index> key_lengths;  // empty: none
  bool allowed = false;            // random, broadcast over heads, some rows all false
  bool bias = false;               // random, broadcast over batch
  bool rising_bias = false;        // 0.5 j broadcast over b, h, i: the max grows every tile
  Layout layout = Layout::Contiguous;
  double dropout = 0.0;
  double scale = -1.0;  // negative: 1/sqrt(d) for Dot
};

void PrintTo(const Case& c, std::ostream* stream) { *stream << c.name; }

std::vector<double> random_values(std::size_t count, std::uint32_t seed, double spread = 1.0) {
  std::mt19937 generator(seed);
  std::normal_distribution<double> normal(0.0, spread);
  std::vector<double> values(count);
  for (double& value : values) value = normal(generator);
  return values;
}

// Inputs in storage order with their strides; the same storage serves every precision.
struct Storage {
  Case spec;
  std::vector<double> q, k, v, v_a, bias, grad_out;
  Index q_strides[4], k_strides[4], v_strides[4], bias_strides[4] = {0, 0, 0, 0};
  std::vector<std::int64_t> key_lengths;
  std::shared_ptr<bool[]> allowed;
  Index allowed_strides[4] = {0, 0, 0, 0};
};

void set_strides(Index (&strides)[4], Index s0, Index s1, Index s2, Index s3) {
  strides[0] = s0;
  strides[1] = s1;
  strides[2] = s2;
  strides[3] = s3;
}

void make_layout(const Case& c, Storage& s) {
  const Index B = c.batch, H = c.heads, Nq = c.queries, Nk = c.keys, d = c.head_dim,
              dv = c.value_dim;
  if (c.layout == Layout::TransposedQ) {
    set_strides(s.q_strides, Nq * H * d, d, H * d, 1);
  } else {
    set_strides(s.q_strides, H * Nq * d, Nq * d, d, 1);
  }
  if (c.layout == Layout::PaddedSharedKV) {
    set_strides(s.k_strides, H * Nk * (d + 5), Nk * (d + 5), d + 5, 1);
    set_strides(s.v_strides, Nk * (dv + 3), 0, dv + 3, 1);
  } else {
    set_strides(s.k_strides, H * Nk * d, Nk * d, d, 1);
    set_strides(s.v_strides, H * Nk * dv, Nk * dv, dv, 1);
  }
  s.q = random_values(std::size_t(B * H * Nq * d), 11);
  s.k = random_values(std::size_t(B * s.k_strides[0]), 12);
  s.v = random_values(std::size_t(B * std::max(s.v_strides[0], H * Nk * dv)), 13);
}

void make_masks(const Case& c, Storage& s) {
  const Index B = c.batch, H = c.heads, Nq = c.queries, Nk = c.keys;
  s.key_lengths.assign(c.key_lengths.begin(), c.key_lengths.end());
  if (c.allowed) {
    // [B, 1, Nq, Nk]: about 70% allowed; every third row of batch 0 fully masked.
    s.allowed = std::make_shared<bool[]>(std::size_t(std::max<Index>(1, B * Nq * Nk)));
    const std::vector<double> draws = random_values(std::size_t(B * Nq * Nk), 21);
    for (Index e = 0; e < B * Nq * Nk; ++e) {
      const Index b = e / (Nq * Nk), i = e / Nk % Nq;
      s.allowed[e] = draws[e] > -0.5 && !(b == 0 && i % 3 == 1);
    }
    set_strides(s.allowed_strides, Nq * Nk, 0, Nk, 1);
  }
  if (c.bias) {
    s.bias = random_values(std::size_t(H * Nq * Nk), 22);  // [1, H, Nq, Nk]
    set_strides(s.bias_strides, 0, Nq * Nk, Nk, 1);
  } else if (c.rising_bias) {
    s.bias.resize(std::size_t(Nk));  // [1, 1, 1, Nk]
    for (Index j = 0; j < Nk; ++j) s.bias[j] = 0.5 * double(j);
    set_strides(s.bias_strides, 0, 0, 0, 1);
  }
}

Storage make_storage(const Case& c) {
  Storage s;
  s.spec = c;
  make_layout(c, s);
  make_masks(c, s);
  s.v_a = random_values(std::size_t(c.head_dim), 14,
                        1.0 / std::sqrt(double(std::max<Index>(1, c.head_dim))));
  s.grad_out = random_values(std::size_t(c.batch * c.heads * c.queries * c.value_dim), 15);
  return s;
}

// The same inputs rounded to float: the oracle sees exactly what the float kernels see.
Storage rounded_to_float(const Storage& storage) {
  Storage rounded = storage;
  for (auto* values :
       {&rounded.q, &rounded.k, &rounded.v, &rounded.v_a, &rounded.bias, &rounded.grad_out}) {
    for (double& value : *values) value = double(float(value));
  }
  return rounded;
}

// The storage in precision T, and the kernel arguments pointing into it.
template <typename T>
struct Inputs {
  std::vector<T> q, k, v, v_a, bias, grad_out;
  std::vector<std::int64_t> key_lengths;
  std::shared_ptr<bool[]> allowed;
  FlashAttentionParams<T> params;
};

template <typename T>
std::vector<T> convert(const std::vector<double>& values) {
  return std::vector<T>(values.begin(), values.end());
}

void copy_strides(const Index (&from)[4], std::int64_t (&to)[4]) { std::copy(from, from + 4, to); }

template <typename T>
std::unique_ptr<Inputs<T>> make_inputs(const Storage& s) {
  auto inputs = std::make_unique<Inputs<T>>();
  inputs->q = convert<T>(s.q);
  inputs->k = convert<T>(s.k);
  inputs->v = convert<T>(s.v);
  inputs->v_a = convert<T>(s.v_a);
  inputs->bias = convert<T>(s.bias);
  inputs->grad_out = convert<T>(s.grad_out);
  inputs->key_lengths = s.key_lengths;
  inputs->allowed = s.allowed;
  const Case& c = s.spec;
  FlashAttentionParams<T>& p = inputs->params;
  p.batch = c.batch;
  p.heads = c.heads;
  p.queries = c.queries;
  p.keys = c.keys;
  p.head_dim = c.head_dim;
  p.value_dim = c.value_dim;
  p.score = c.score;
  p.scale = c.scale >= 0 ? c.scale : 1.0 / std::sqrt(double(std::max<Index>(1, c.head_dim)));
  p.q = inputs->q.data();
  p.k = inputs->k.data();
  p.v = inputs->v.data();
  p.v_a = c.score == FlashScore::Additive ? inputs->v_a.data() : nullptr;
  copy_strides(s.q_strides, p.q_strides);
  copy_strides(s.k_strides, p.k_strides);
  copy_strides(s.v_strides, p.v_strides);
  p.mask.causal = c.causal;
  p.mask.key_lengths = inputs->key_lengths.empty() ? nullptr : inputs->key_lengths.data();
  p.mask.allowed = inputs->allowed.get();
  copy_strides(s.allowed_strides, p.mask.allowed_strides);
  p.mask.bias = s.bias.empty() ? nullptr : inputs->bias.data();
  copy_strides(s.bias_strides, p.mask.bias_strides);
  p.dropout = c.dropout;
  p.dropout_seed = 1234;
  p.dropout_offset = 77;
  return inputs;
}

// ---- running both implementations ----------------------------------------------------------

template <typename T>
struct Results {
  std::vector<T> out, lse, weights, grad_q, grad_k, grad_v, grad_v_a;
};

// Rows [1, Nq) (all of them when Nq <= 1) of the last head and head 0, in that order.
struct WeightRows {
  Index row_begin, row_end;
  std::vector<std::int64_t> heads;
};

WeightRows weight_rows(const Case& c) {
  WeightRows rows{c.queries > 1 ? 1 : 0, c.queries, {c.heads - 1}};
  if (c.heads > 1) rows.heads.push_back(0);
  return rows;
}

enum class Impl { Fused, Reference };

template <typename T>
Results<T> run(Impl impl, const Inputs<T>& inputs, const WeightRows& rows) {
  const FlashAttentionParams<T>& p = inputs.params;
  const Index slices = p.batch * p.heads;
  Results<T> r;
  r.out.assign(std::size_t(slices * p.queries * p.value_dim), T(-7));  // garbage to overwrite
  r.lse.assign(std::size_t(slices * p.queries), T(-7));
  r.weights.assign(
      std::size_t(p.batch * Index(rows.heads.size()) * (rows.row_end - rows.row_begin) * p.keys),
      T(-7));
  r.grad_q.assign(std::size_t(slices * p.queries * p.head_dim), T(-7));
  r.grad_k.assign(std::size_t(slices * p.keys * p.head_dim), T(-7));
  r.grad_v.assign(std::size_t(slices * p.keys * p.value_dim), T(-7));
  r.grad_v_a.assign(std::size_t(p.head_dim), T(-7));
  const FlashAttentionOutputs<T> outputs{r.out.data(), r.lse.data()};
  const FlashAttentionGradients<T> grads{
      r.out.data(),
      r.lse.data(),
      inputs.grad_out.data(),
      r.grad_q.data(),
      r.grad_k.data(),
      r.grad_v.data(),
      p.score == FlashScore::Additive ? r.grad_v_a.data() : nullptr};
  if (p.score != FlashScore::Additive) r.grad_v_a.clear();
  if (impl == Impl::Fused) {
    flash_attention_forward(p, outputs);
    flash_attention_weights(p, r.lse.data(), rows.row_begin, rows.row_end, rows.heads.data(),
                            Index(rows.heads.size()), r.weights.data());
    flash_attention_backward(p, grads);
  } else {
    reference::flash_attention_forward(p, outputs);
    reference::flash_attention_weights(p, r.lse.data(), rows.row_begin, rows.row_end,
                                       rows.heads.data(), Index(rows.heads.size()),
                                       r.weights.data());
    reference::flash_attention_backward(p, grads);
  }
  return r;
}

// ---- comparisons ----------------------------------------------------------------------------

// Largest |got - want|; -inf must match -inf exactly (fully masked rows' lse).
template <typename T>
double max_error(const std::vector<T>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double error = 0;
  for (std::size_t e = 0; e < std::min(got.size(), want.size()); ++e) {
    if (std::isinf(want[e]) || std::isinf(double(got[e]))) {
      if (double(got[e]) != want[e]) return kInfinity;
      continue;
    }
    const double difference = std::abs(double(got[e]) - want[e]);
    if (!(difference <= error)) error = std::isnan(difference) ? kInfinity : difference;
  }
  return error;
}

double max_magnitude(const std::vector<double>& values) {
  double magnitude = 1.0;
  for (double value : values) {
    if (std::isfinite(value)) magnitude = std::max(magnitude, std::abs(value));
  }
  return magnitude;
}

// lse_magnitude: max|lse| for results recomputed from the saved lse, 0 otherwise.
// cancelling_terms: dv for gradients through the scores, 0 otherwise.
void expect_float_within_rule(const char* name, const std::vector<float>& fused,
                              const std::vector<float>& reference,
                              const std::vector<double>& oracle, double lse_magnitude,
                              double cancelling_terms = 0) {
  const double fused_error = max_error(fused, oracle);
  const double reference_error = max_error(reference, oracle);
  const double eps = std::numeric_limits<float>::epsilon();
  const double floor_terms = 4.0 + cancelling_terms + 2.0 * lse_magnitude;
  const double bound = 2.0 * reference_error + floor_terms * eps * max_magnitude(oracle);
  EXPECT_LE(fused_error, bound) << name << ": fused float error " << fused_error
                                << ", reference float error " << reference_error;
}

void expect_double_close(const char* name, const std::vector<double>& fused,
                         const std::vector<double>& oracle, const Case& c) {
  const double terms = 4.0 * double(c.keys + c.head_dim + c.queries);
  const double bound = terms * std::numeric_limits<double>::epsilon() * max_magnitude(oracle);
  EXPECT_LE(max_error(fused, oracle), bound) << name << " (double)";
}

void expect_all_within_rule(const Results<float>& fused, const Results<float>& reference,
                            const Results<double>& oracle, Index value_dim) {
  double lse_magnitude = 0;
  for (double value : oracle.lse) {
    if (std::isfinite(value)) lse_magnitude = std::max(lse_magnitude, std::abs(value));
  }
  expect_float_within_rule("out", fused.out, reference.out, oracle.out, 0);
  expect_float_within_rule("lse", fused.lse, reference.lse, oracle.lse, 0);
  expect_float_within_rule("weights", fused.weights, reference.weights, oracle.weights,
                           lse_magnitude);
  const auto dv = double(value_dim);
  expect_float_within_rule("grad_q", fused.grad_q, reference.grad_q, oracle.grad_q, lse_magnitude,
                           dv);
  expect_float_within_rule("grad_k", fused.grad_k, reference.grad_k, oracle.grad_k, lse_magnitude,
                           dv);
  expect_float_within_rule("grad_v", fused.grad_v, reference.grad_v, oracle.grad_v, lse_magnitude);
  expect_float_within_rule("grad_v_a", fused.grad_v_a, reference.grad_v_a, oracle.grad_v_a,
                           lse_magnitude, dv);
}

// ---- the cases -------------------------------------------------------------------------------

Case dot(std::string name) {
  Case c;
  c.name = std::move(name);
  return c;
}

Case additive(std::string name) {
  Case c;
  c.name = std::move(name);
  c.score = FlashScore::Additive;
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  auto add = [&](Case c, const std::function<void(Case&)>& edit) {
    edit(c);
    all.push_back(c);
  };
  // Dot (also the reduced form of scaled-dot, general and cosine).
  add(dot("dot_small"), [](Case& c) { c.batch = 2; });
  add(dot("dot_single_key_dv_differs"), [](Case& c) {
    c.queries = 1;
    c.keys = 1;
    c.value_dim = 40;
  });
  add(dot("dot_causal_129_d80"), [](Case& c) {
    c.queries = c.keys = 129;
    c.head_dim = c.value_dim = 80;
    c.causal = true;
  });
  add(dot("dot_causal_fewer_queries"), [](Case& c) {
    c.queries = 130;
    c.keys = 300;
    c.head_dim = 64;
    c.causal = true;
  });
  add(dot("dot_causal_more_queries"), [](Case& c) {
    c.queries = 300;
    c.keys = 130;
    c.head_dim = 64;
    c.causal = true;
  });
  add(dot("dot_decode_d96"), [](Case& c) {
    c.queries = 1;
    c.keys = 300;
    c.head_dim = c.value_dim = 96;
    c.causal = true;
    c.heads = 3;
  });
  add(dot("dot_key_lengths"), [](Case& c) {
    c.batch = 3;
    c.queries = 129;
    c.keys = 129;
    c.key_lengths = {129, 0, 50};
  });
  add(dot("dot_allowed"), [](Case& c) {
    c.batch = 2;
    c.queries = 33;
    c.keys = 129;
  });
  add(dot("dot_bias"), [](Case& c) {
    c.batch = 2;
    c.queries = 33;
    c.keys = 129;
    c.bias = true;
  });
  add(dot("dot_rising_scores"), [](Case& c) {
    c.queries = 140;
    c.keys = 600;
    c.rising_bias = true;
    c.scale = 2.0;
  });
  add(dot("dot_all_masks"), [](Case& c) {
    c.batch = 2;
    c.queries = 200;
    c.keys = 290;
    c.causal = true;
    c.key_lengths = {250, 290};
    c.allowed = true;
    c.bias = true;
  });
  add(dot("dot_transposed_q"), [](Case& c) {
    c.batch = 2;
    c.heads = 3;
    c.queries = 129;
    c.keys = 7;
    c.head_dim = 24;
    c.value_dim = 8;
    c.layout = Layout::TransposedQ;
  });
  add(dot("dot_padded_shared_kv"), [](Case& c) {
    c.batch = 2;
    c.queries = 20;
    c.keys = 260;
    c.layout = Layout::PaddedSharedKV;
    c.causal = true;
  });
  add(dot("dot_dropout"), [](Case& c) {
    c.queries = 130;
    c.keys = 270;
    c.causal = true;
    c.dropout = 0.3;
  });
  add(dot("dot_many_tiles"), [](Case& c) {
    c.heads = 1;
    c.queries = 260;
    c.keys = 520;
    c.head_dim = c.value_dim = 64;
  });
  add(dot("dot_no_keys"), [](Case& c) { c.keys = 0; });
  add(dot("dot_no_queries"), [](Case& c) { c.queries = 0; });
  add(dot("dot_empty_head_dim"), [](Case& c) {  // every score 0: uniform weights
    c.queries = 20;
    c.head_dim = 0;
  });
  // Additive (Bahdanau): head_dim is the attention size a.
  add(additive("additive_small"), [](Case& c) { c.batch = 2; });
  add(additive("additive_causal"), [](Case& c) {
    c.queries = 130;
    c.keys = 270;
    c.head_dim = 32;
    c.causal = true;
  });
  add(additive("additive_masks_dropout"), [](Case& c) {
    c.batch = 2;
    c.queries = 40;
    c.keys = 129;
    c.key_lengths = {129, 60};
    c.allowed = true;
    c.bias = true;
    c.dropout = 0.2;
  });
  add(additive("additive_transposed_q_d80"), [](Case& c) {
    c.queries = 7;
    c.keys = 129;
    c.head_dim = 80;
    c.value_dim = 16;
    c.layout = Layout::TransposedQ;
  });
  add(additive("additive_padded_shared_kv"), [](Case& c) {
    c.queries = 1;
    c.keys = 300;
    c.layout = Layout::PaddedSharedKV;
    c.causal = true;
  });
  return all;
}

class FlashAttentionCase : public ::testing::TestWithParam<Case> {};

TEST_P(FlashAttentionCase, FusedMatchesReferenceInFloat) {
  const Storage storage = make_storage(GetParam());
  const WeightRows rows = weight_rows(GetParam());
  const auto float_inputs = make_inputs<float>(storage);
  const auto double_inputs = make_inputs<double>(rounded_to_float(storage));
  const Results<double> oracle = run(Impl::Reference, *double_inputs, rows);
  const Results<float> fused = run(Impl::Fused, *float_inputs, rows);
  const Results<float> reference = run(Impl::Reference, *float_inputs, rows);
  expect_all_within_rule(fused, reference, oracle, GetParam().value_dim);
}

TEST_P(FlashAttentionCase, FusedMatchesReferenceInDouble) {
  const Storage storage = make_storage(GetParam());
  const WeightRows rows = weight_rows(GetParam());
  const auto inputs = make_inputs<double>(storage);
  const Results<double> oracle = run(Impl::Reference, *inputs, rows);
  const Results<double> fused = run(Impl::Fused, *inputs, rows);
  const Case& c = GetParam();
  expect_double_close("out", fused.out, oracle.out, c);
  expect_double_close("lse", fused.lse, oracle.lse, c);
  expect_double_close("weights", fused.weights, oracle.weights, c);
  expect_double_close("grad_q", fused.grad_q, oracle.grad_q, c);
  expect_double_close("grad_k", fused.grad_k, oracle.grad_k, c);
  expect_double_close("grad_v", fused.grad_v, oracle.grad_v, c);
  expect_double_close("grad_v_a", fused.grad_v_a, oracle.grad_v_a, c);
}

INSTANTIATE_TEST_SUITE_P(Cases, FlashAttentionCase, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// ---- every instruction set --------------------------------------------------------------------

// The SIMD kernels are compiled once per instruction set, with register tiles sized per
// set; the cases above run on the best one of this CPU, these on each.
class FlashAttentionTarget : public attn::testing::PerSimdTargetTest {};

TEST_P(FlashAttentionTarget, FusedMatchesReferenceInFloat) {
  std::vector<Case> chosen;
  for (const Case& c : cases()) {
    if (c.name == "dot_all_masks" || c.name == "dot_transposed_q" || c.name == "dot_dropout" ||
        c.name == "additive_masks_dropout") {
      chosen.push_back(c);
    }
  }
  ASSERT_EQ(chosen.size(), 4u);
  for (const Case& c : chosen) {
    SCOPED_TRACE(c.name);
    const Storage storage = make_storage(c);
    const auto float_inputs = make_inputs<float>(storage);
    const auto double_inputs = make_inputs<double>(rounded_to_float(storage));
    const WeightRows rows = weight_rows(c);
    expect_all_within_rule(run(Impl::Fused, *float_inputs, rows),
                           run(Impl::Reference, *float_inputs, rows),
                           run(Impl::Reference, *double_inputs, rows), c.value_dim);
  }
}

// The contract of flash_attention_weights (docs/ATTENTION.md, "Weights"): a row's weights do
// not depend on which other rows are asked for, bit for bit, on every instruction set. The
// ranges start and end inside and on the edges of the 128-query blocks.
TEST_P(FlashAttentionTarget, WeightsOfAnyRowRangeEqualTheSameRowsOfTheWholeMap) {
  for (Case c : {dot("weights_ranges"), additive("weights_ranges")}) {
    SCOPED_TRACE(c.name);
    c.queries = 300;
    c.keys = 37;
    c.key_lengths = {29};
    const Storage storage = make_storage(c);
    const auto inputs = make_inputs<float>(storage);
    const FlashAttentionParams<float>& p = inputs->params;
    const Results<float> whole = run(Impl::Fused, *inputs, WeightRows{0, c.queries, {1, 0}});
    for (auto [begin, end] : std::vector<std::pair<Index, Index>>{
             {1, 3}, {0, 1}, {127, 129}, {128, 256}, {5, 300}, {299, 300}, {200, 201}}) {
      std::vector<float> part(std::size_t(2 * (end - begin) * c.keys), -7.0f);
      const std::int64_t heads[] = {1, 0};
      flash_attention_weights(p, whole.lse.data(), begin, end, heads, 2, part.data());
      for (Index slot = 0; slot < 2; ++slot) {
        for (Index i = begin; i < end; ++i) {
          for (Index j = 0; j < c.keys; ++j) {
            const float got = part[std::size_t((slot * (end - begin) + i - begin) * c.keys + j)];
            const float want = whole.weights[std::size_t((slot * c.queries + i) * c.keys + j)];
            ASSERT_EQ(got, want) << "rows [" << begin << ", " << end << ") slot " << slot
                                 << " row " << i << " key " << j;
          }
        }
      }
    }
  }
}

ATTN_INSTANTIATE_PER_SIMD_TARGET(FlashAttentionTarget);

// ---- behaviour on masked rows -----------------------------------------------------------------

// Causal with Nq > Nk: rows i < Nq - Nk see no key at all.
TEST(FlashAttention, FullyMaskedRowsGiveZerosMinusInfinityAndZeroGradients) {
  Case c = dot("masked_rows");
  c.queries = 300;
  c.keys = 130;
  c.causal = true;
  c.key_lengths = {100};  // keys [100, 130) are never attended
  const Storage storage = make_storage(c);
  const auto inputs = make_inputs<float>(storage);
  const Results<float> fused = run(Impl::Fused, *inputs, weight_rows(c));
  const Index masked_rows = c.queries - c.keys;
  for (Index h = 0; h < c.heads; ++h) {
    for (Index i = 0; i < c.queries; ++i) {
      const Index row = h * c.queries + i;
      const bool masked = i < masked_rows;
      EXPECT_EQ(std::isinf(fused.lse[row]) && fused.lse[row] < 0, masked) << "row " << i;
      for (Index e = 0; e < c.value_dim && masked; ++e)
        ASSERT_EQ(fused.out[row * c.value_dim + e], 0.0f);
      for (Index e = 0; e < c.head_dim && masked; ++e)
        ASSERT_EQ(fused.grad_q[row * c.head_dim + e], 0.0f);
    }
    for (Index j = 100; j < c.keys; ++j) {
      for (Index e = 0; e < c.head_dim; ++e)
        ASSERT_EQ(fused.grad_k[(h * c.keys + j) * c.head_dim + e], 0.0f);
      for (Index e = 0; e < c.value_dim; ++e)
        ASSERT_EQ(fused.grad_v[(h * c.keys + j) * c.value_dim + e], 0.0f);
    }
  }
  for (float value : fused.out) ASSERT_TRUE(std::isfinite(value));
  for (float value : fused.grad_q) ASSERT_TRUE(std::isfinite(value));
}

TEST(FlashAttention, WeightsAreTheSoftmaxWithoutDropout) {
  Case c = dot("weights");
  c.queries = 40;
  c.keys = 300;
  c.causal = true;
  c.dropout = 0.5;  // ignored by the weights; the lse is that of the undropped softmax
  const Storage storage = make_storage(c);
  const auto inputs = make_inputs<double>(storage);
  const WeightRows rows{0, c.queries, {1, 0}};
  const Results<double> fused = run(Impl::Fused, *inputs, rows);
  for (Index slot = 0; slot < 2; ++slot) {
    for (Index i = 0; i < c.queries; ++i) {
      const double* row = fused.weights.data() + (slot * c.queries + i) * c.keys;
      double total = 0;
      for (Index j = 0; j < c.keys; ++j) total += row[j];
      EXPECT_NEAR(total, 1.0, 1e-12) << "head slot " << slot << " row " << i;
      // Causal: keys after i + (Nk - Nq) get exactly zero.
      for (Index j = i + c.keys - c.queries + 1; j < c.keys; ++j) ASSERT_EQ(row[j], 0.0);
    }
  }
}

// ---- dropout -----------------------------------------------------------------------------------

TEST(FlashAttention, DropoutOneZeroesTheOutputButNotTheNormaliser) {
  Case c = dot("dropout_one");
  c.queries = 20;
  c.keys = 40;
  c.dropout = 1.0;
  const Storage storage = make_storage(c);
  const auto inputs = make_inputs<float>(storage);
  const Results<float> fused = run(Impl::Fused, *inputs, weight_rows(c));
  for (float value : fused.out) ASSERT_EQ(value, 0.0f);
  for (float value : fused.grad_q) ASSERT_EQ(value, 0.0f);
  for (float value : fused.lse) ASSERT_TRUE(std::isfinite(value));
}

TEST(FlashAttention, DropoutChangesWithTheSeedAndOffset) {
  Case c = dot("dropout_seed");
  c.queries = 16;
  c.keys = 64;
  c.dropout = 0.5;
  const Storage storage = make_storage(c);
  auto inputs = make_inputs<float>(storage);
  const Results<float> first = run(Impl::Fused, *inputs, weight_rows(c));
  inputs->params.dropout_offset += 1;
  const Results<float> shifted = run(Impl::Fused, *inputs, weight_rows(c));
  EXPECT_GT(max_error(shifted.out, std::vector<double>(first.out.begin(), first.out.end())), 1e-3);
  inputs->params.dropout_offset -= 1;
  const Results<float> again = run(Impl::Fused, *inputs, weight_rows(c));
  EXPECT_EQ(again.out, first.out);
}

// ---- threads -----------------------------------------------------------------------------------

class ScopedThreads {
 public:
  explicit ScopedThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ScopedThreads() { omp_set_num_threads(previous_); }

 private:
  int previous_;
};

// The backward splits the keys of a head when there are few heads; its partial sums are
// added in a fixed order, so every thread count gives the same bits.
template <typename T>
void expect_same_results_for_1_and_3_threads(const Case& c) {
  const Storage storage = make_storage(c);
  const auto inputs = make_inputs<T>(storage);
  Results<T> one, three;
  {
    const ScopedThreads threads(1);
    one = run(Impl::Fused, *inputs, weight_rows(c));
  }
  {
    const ScopedThreads threads(3);
    three = run(Impl::Fused, *inputs, weight_rows(c));
  }
  EXPECT_EQ(one.out, three.out);
  EXPECT_EQ(one.lse, three.lse);
  EXPECT_EQ(one.weights, three.weights);
  EXPECT_EQ(one.grad_q, three.grad_q);
  EXPECT_EQ(one.grad_k, three.grad_k);
  EXPECT_EQ(one.grad_v, three.grad_v);
  EXPECT_EQ(one.grad_v_a, three.grad_v_a);
}

TEST(FlashAttention, ResultsDoNotDependOnTheThreadCount) {
  for (const FlashScore score : {FlashScore::Dot, FlashScore::Additive}) {
    Case c = score == FlashScore::Dot ? dot("threads") : additive("threads");
    c.heads = 1;
    c.queries = 300;
    c.keys = 700;
    c.causal = true;
    SCOPED_TRACE(score == FlashScore::Dot ? "dot" : "additive");
    expect_same_results_for_1_and_3_threads<float>(c);
    expect_same_results_for_1_and_3_threads<double>(c);
  }
}

// ---- the oracle itself -------------------------------------------------------------------------

// The reference backward against central differences of the reference forward, in double:
// loss = Σ grad_out · out, perturbing some elements of q, k, v and v_a.
TEST(FlashAttentionReference, BackwardMatchesFiniteDifferences) {
  for (const FlashScore score : {FlashScore::Dot, FlashScore::Additive}) {
    Case c = score == FlashScore::Dot ? dot("gradcheck") : additive("gradcheck");
    c.queries = 5;
    c.keys = 6;
    c.head_dim = 4;
    c.value_dim = 3;
    c.causal = true;
    c.bias = true;
    c.dropout = 0.3;
    c.allowed = true;
    const Storage storage = make_storage(c);
    auto inputs = make_inputs<double>(storage);
    const Results<double> analytic = run(Impl::Reference, *inputs, weight_rows(c));
    const auto loss = [&] {
      const Index rows = c.heads * c.queries;
      std::vector<double> out(static_cast<std::size_t>(rows * c.value_dim));
      std::vector<double> lse(static_cast<std::size_t>(rows));
      reference::flash_attention_forward(inputs->params,
                                         FlashAttentionOutputs<double>{out.data(), lse.data()});
      double total = 0;
      for (std::size_t e = 0; e < out.size(); ++e) total += out[e] * inputs->grad_out[e];
      return total;
    };
    const auto check = [&](std::vector<double>& values, const std::vector<double>& gradient,
                           const char* name) {
      for (std::size_t e = 0; e < values.size(); e += 3) {
        const double saved = values[e], step = 1e-6;
        values[e] = saved + step;
        const double plus = loss();
        values[e] = saved - step;
        const double minus = loss();
        values[e] = saved;
        EXPECT_NEAR(gradient[e], (plus - minus) / (2 * step), 1e-7) << name << "[" << e << "]";
      }
    };
    check(inputs->q, analytic.grad_q, "q");
    check(inputs->k, analytic.grad_k, "k");
    check(inputs->v, analytic.grad_v, "v");
    if (score == FlashScore::Additive) check(inputs->v_a, analytic.grad_v_a, "v_a");
  }
}

// ---- misuse ------------------------------------------------------------------------------------

template <typename Edit>
void expect_error(const Edit& edit, const std::string& expected) {
  const Storage storage = make_storage(dot("errors"));
  auto inputs = make_inputs<float>(storage);
  std::vector<std::int64_t> lengths = {3};
  inputs->params.mask.key_lengths = lengths.data();
  edit(inputs->params);
  std::vector<float> out(1000), lse(100);
  try {
    flash_attention_forward(inputs->params, FlashAttentionOutputs<float>{out.data(), lse.data()});
    ADD_FAILURE() << "no error; expected one mentioning '" << expected << "'";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("flash_attention_forward"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
}

TEST(FlashAttention, RejectsMisuseWithClearErrors) {
  expect_error([](auto& p) { p.q_strides[3] = 2; }, "last stride of q");
  expect_error([](auto& p) { p.v_strides[3] = 0; }, "last stride of v");
  expect_error([](auto& p) { p.dropout = 1.5; }, "dropout");
  expect_error(
      [](auto& p) {
        p.score = FlashScore::Additive;
        p.v_a = nullptr;
      },
      "v_a");
  expect_error([](auto& p) { p.head_dim = -1; }, "non-negative");
  expect_error([](auto& p) { p.k = nullptr; }, "k is null");
}

TEST(FlashAttention, RejectsKeyLengthsOutOfRange) {
  expect_error(
      [](auto& p) {
        static const std::int64_t too_long[1] = {8};
        p.mask.key_lengths = too_long;
      },
      "key_lengths[0]");
}

}  // namespace
}  // namespace attn::kernels
