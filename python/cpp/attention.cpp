#include "attention.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "attn/ops/attention.h"

namespace attn::python {

namespace {

using OptionalArray = std::optional<InputArray>;

// The score function's name and parameters, as Python passed them.
struct ScoreArguments {
  std::string score;
  std::optional<double> scale;
  OptionalArray w, w_q, w_k, v_a, learned_scale;
};

// The masks; `key_padding` is already attn's "true = may attend".
struct MaskArguments {
  bool causal = false;
  OptionalArray key_lengths, key_padding, allowed, bias;
};

Tensor or_undefined(const std::optional<Tensor>& tensor) { return tensor ? *tensor : Tensor(); }

ops::AttentionOptions options_from(const ScoreArguments& score, const MaskArguments& mask,
                                   const std::string& impl) {
  ops::AttentionOptions options;
  options.score = ops::parse_score(score.score);
  options.scale = score.scale;
  options.parameters.w = or_undefined(borrow(score.w, "w"));
  options.parameters.w_q = or_undefined(borrow(score.w_q, "w_q"));
  options.parameters.w_k = or_undefined(borrow(score.w_k, "w_k"));
  options.parameters.v_a = or_undefined(borrow(score.v_a, "v_a"));
  options.parameters.scale = or_undefined(borrow(score.learned_scale, "learned_scale"));
  options.mask.causal = mask.causal;
  options.mask.key_lengths = or_undefined(borrow(mask.key_lengths, "key_lengths"));
  options.mask.key_padding = or_undefined(borrow(mask.key_padding, "key_padding_mask"));
  options.mask.allowed = or_undefined(borrow(mask.allowed, "mask"));
  options.mask.bias = or_undefined(borrow(mask.bias, "mask"));
  options.impl = ops::parse_impl(impl);
  return options;
}

void require_attention_inputs(const InputArray& q, const InputArray& k) {
  require_rank(q, 4, "q", "[B, H, Nq, d]");
  require_rank(k, 4, "k", "[B, H, Nk, d]");
}

nb::tuple attention(const InputArray& q, const InputArray& k, const InputArray& v,
                    const ScoreArguments& score, const MaskArguments& mask, bool need_weights,
                    const std::string& impl) {
  require_attention_inputs(q, k);
  require_rank(v, 4, "v", "[B, H, Nk, dv]");
  ops::AttentionOptions options = options_from(score, mask, impl);
  options.need_weights = need_weights;
  Tensor q_tensor = borrow(q, "q"), k_tensor = borrow(k, "k"), v_tensor = borrow(v, "v");
  ops::AttentionResult result;
  {
    nb::gil_scoped_release unlocked;
    result = ops::attention(q_tensor, k_tensor, v_tensor, options);
    result.out = result.out.contiguous();
  }
  nb::object weights = result.weights.defined() ? to_numpy(result.weights) : nb::none();
  return nb::make_tuple(to_numpy(result.out), weights, to_numpy(result.lse));
}

nb::object weights_from_lse(const InputArray& q, const InputArray& k, const InputArray& lse,
                            const ScoreArguments& score, const MaskArguments& mask,
                            std::int64_t row_begin, std::int64_t row_end,
                            const std::vector<std::int64_t>& heads) {
  require_attention_inputs(q, k);
  require_rank(lse, 3, "lse", "[B, H, Nq]");
  ops::AttentionOptions options = options_from(score, mask, "fused");
  Tensor q_tensor = borrow(q, "q"), k_tensor = borrow(k, "k"), lse_tensor = borrow(lse, "lse");
  Tensor weights;
  {
    nb::gil_scoped_release unlocked;
    weights = ops::attention_weights_from_lse(q_tensor, k_tensor, lse_tensor, options, row_begin,
                                              row_end, heads)
                  .contiguous();
  }
  return to_numpy(weights);
}

}  // namespace

void bind_attention(nb::module_& module) {
  module.def(
      "attention",
      [](const InputArray& q, const InputArray& k, const InputArray& v, std::string score,
         std::optional<double> scale, OptionalArray w, OptionalArray w_q, OptionalArray w_k,
         OptionalArray v_a, OptionalArray learned_scale, bool causal, OptionalArray key_lengths,
         OptionalArray key_padding, OptionalArray allowed, OptionalArray bias, bool need_weights,
         std::string impl) {
        return attention(q, k, v, {score, scale, w, w_q, w_k, v_a, learned_scale},
                         {causal, key_lengths, key_padding, allowed, bias}, need_weights, impl);
      },
      nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("score"), nb::arg("scale").none(),
      nb::arg("w").none(), nb::arg("w_q").none(), nb::arg("w_k").none(), nb::arg("v_a").none(),
      nb::arg("learned_scale").none(), nb::arg("causal"), nb::arg("key_lengths").none(),
      nb::arg("key_padding").none(), nb::arg("allowed").none(), nb::arg("bias").none(),
      nb::arg("need_weights"), nb::arg("impl"),
      "attn::ops::attention over NumPy arrays: returns (out, weights or None, lse).");
  module.def(
      "attention_weights_from_lse",
      [](const InputArray& q, const InputArray& k, const InputArray& lse, std::string score,
         std::optional<double> scale, OptionalArray w, OptionalArray w_q, OptionalArray w_k,
         OptionalArray v_a, OptionalArray learned_scale, bool causal, OptionalArray key_lengths,
         OptionalArray key_padding, OptionalArray allowed, OptionalArray bias,
         std::int64_t row_begin, std::int64_t row_end, std::vector<std::int64_t> heads) {
        return weights_from_lse(q, k, lse, {score, scale, w, w_q, w_k, v_a, learned_scale},
                                {causal, key_lengths, key_padding, allowed, bias}, row_begin,
                                row_end, heads);
      },
      nb::arg("q"), nb::arg("k"), nb::arg("lse"), nb::arg("score"), nb::arg("scale").none(),
      nb::arg("w").none(), nb::arg("w_q").none(), nb::arg("w_k").none(), nb::arg("v_a").none(),
      nb::arg("learned_scale").none(), nb::arg("causal"), nb::arg("key_lengths").none(),
      nb::arg("key_padding").none(), nb::arg("allowed").none(), nb::arg("bias").none(),
      nb::arg("row_begin"), nb::arg("row_end"), nb::arg("heads"),
      "attn::ops::attention_weights_from_lse over NumPy arrays.");
}

}  // namespace attn::python
