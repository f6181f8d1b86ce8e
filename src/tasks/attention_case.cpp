#include "attn/tasks/attention_case.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>

#include "attn/autograd/grad_mode.h"
#include "attn/nn/multihead_attention.h"

namespace attn::tasks {
using namespace attn::ops;  // the case runner speaks in the op's types throughout

namespace {

constexpr std::string_view kMultihead = "multihead";

const std::vector<std::string> kSingleTensors{"q", "k", "v", "mask", "grad_out",
                                              "w", "w_q", "w_k", "v_a", "scale"};
const std::vector<std::string> kMultiheadTensors{
    "query",        "key",           "value",           "in_proj_weight",   "q_proj_weight",
    "k_proj_weight", "v_proj_weight", "in_proj_bias",   "out_proj.weight",  "out_proj.bias",
    "key_padding_mask", "attn_mask", "grad_out"};
// "format" is written by some safetensors tools; it carries no setting.
const std::vector<std::string> kSettings{"score",     "causal",       "scale",
                                         "num_heads", "impl",         "need_weights",
                                         "average_attn_weights",      "format"};

// Text that reads back as the same double.
std::string format_real(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

std::string join(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// Reads a case's tensors and settings, turning every problem into one error that names the
// file, so the command can print a single line.
class CaseReader {
 public:
  CaseReader(const io::SafetensorsData& data, std::string source)
      : data_(data), source_(std::move(source)) {}

  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw Error(detail::concat("attention case '", source_, "': ", parts...));
  }
  template <typename... Parts>
  void check(bool condition, const Parts&... parts) const {
    if (!condition) fail(parts...);
  }

  // ---- settings ----
  std::optional<std::string> setting(const std::string& key) const {
    auto found = data_.metadata.find(key);
    if (found == data_.metadata.end()) return std::nullopt;
    return found->second;
  }
  bool flag(const std::string& key, bool fallback) const {
    std::optional<std::string> text = setting(key);
    if (!text) return fallback;
    check(*text == "true" || *text == "false", "setting '", key,
          "' must be true or false, got '", *text, "'");
    return *text == "true";
  }
  std::optional<double> real(const std::string& key) const {
    std::optional<std::string> text = setting(key);
    if (!text) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    double value = std::strtod(text->c_str(), &end);
    bool whole = !text->empty() && end == text->c_str() + text->size();
    check(whole && errno == 0 && std::isfinite(value), "setting '", key,
          "' must be a finite number, got '", *text, "'");
    return value;
  }
  std::optional<std::int64_t> positive_integer(const std::string& key) const {
    std::optional<std::string> text = setting(key);
    if (!text) return std::nullopt;
    std::int64_t value = 0;
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    bool whole = error == std::errc() && end == text->data() + text->size();
    check(whole && value > 0, "setting '", key, "' must be a positive integer, got '", *text, "'");
    return value;
  }

  // ---- tensors ----
  bool has(const std::string& name) const { return data_.tensors.count(name) > 0; }
  Tensor optional_tensor(const std::string& name) const {
    auto found = data_.tensors.find(name);
    return found == data_.tensors.end() ? Tensor() : found->second;
  }
  Tensor required(const std::string& name, const std::string& why) const {
    check(has(name), "missing tensor '", name, "' (", why, ")");
    return data_.tensors.at(name);
  }

  void check_names(const std::vector<std::string>& tensors, const std::string& score) const {
    for (const auto& [name, tensor] : data_.tensors) {
      check(std::find(tensors.begin(), tensors.end(), name) != tensors.end(),
            "unexpected tensor '", name, "' for score ", score, " (expected some of ",
            join(tensors), ")");
    }
    for (const auto& [key, value] : data_.metadata) {
      check(std::find(kSettings.begin(), kSettings.end(), key) != kSettings.end(),
            "unknown setting '", key, "' (expected some of ", join(kSettings), ")");
    }
  }

  // A floating tensor of the case's dtype (the dtype of q or query).
  void check_dtype(const std::string& name, const Tensor& tensor, DType dtype,
                   const std::string& first) const {
    check(tensor.dtype() == dtype, "tensor '", name, "' must have ", first, "'s dtype ",
          dtype_name(dtype), ", got ", tensor.describe());
  }
  void check_shape(const std::string& name, const Tensor& tensor, const Shape& expected,
                   const std::string& meaning) const {
    check(tensor.shape() == expected, "tensor '", name, "' must be ", meaning, " = ",
          to_string(expected), ", got ", tensor.describe());
  }

 private:
  const io::SafetensorsData& data_;
  std::string source_;
};

struct CommonSettings {
  bool causal = false;
  AttentionImpl impl = AttentionImpl::Auto;
  bool need_weights = false;
};

CommonSettings read_common(const CaseReader& reader, std::optional<AttentionImpl> impl_override) {
  CommonSettings settings;
  settings.causal = reader.flag("causal", false);
  settings.need_weights = reader.flag("need_weights", false);
  if (std::optional<std::string> impl = reader.setting("impl")) {
    reader.check(*impl == "reference" || *impl == "fused" || *impl == "auto",
                 "setting 'impl' must be reference, fused or auto, got '", *impl, "'");
    settings.impl = parse_impl(*impl);
  }
  if (impl_override) settings.impl = *impl_override;
  return settings;
}

DType case_dtype(const CaseReader& reader, const std::string& name, const Tensor& first) {
  reader.check(first.dtype() == DType::Float32 || first.dtype() == DType::Float64, "tensor '",
               name, "' must be float32 or float64, got ", first.describe());
  return first.dtype();
}

// A fresh leaf holding the file's values, so the gradient lands on it alone.
Tensor make_leaf(const Tensor& tensor, bool requires_grad) {
  Tensor leaf = tensor.clone();
  if (requires_grad) leaf.set_requires_grad(true);
  return leaf;
}

Tensor gradient_of(const Tensor& leaf) {
  Tensor grad = leaf.grad();
  return grad.defined() ? grad.contiguous() : Tensor::zeros(leaf.shape(), leaf.dtype());
}

// ---- the single op -------------------------------------------------------------------------

// The sizes of a single-op case, read off q, k and v.
struct SingleShape {
  std::int64_t batch = 0, heads = 0, queries = 0, keys = 0, d = 0, value_dim = 0;
};

struct SingleCase {
  // q, k, v and the score's parameters, by file name: every tensor that gets a gradient.
  std::vector<std::pair<std::string, Tensor>> inputs;
  Tensor grad_out;
  AttentionOptions options;  // settings and mask; the tensors are bound at run time
  SingleShape shape;
};

// Binds a score parameter, by its file name, into ops::attention's parameters.
void bind_parameter(ScoreParameters& parameters, const std::string& name, const Tensor& tensor) {
  if (name == "w") parameters.w = tensor;
  if (name == "w_q") parameters.w_q = tensor;
  if (name == "w_k") parameters.w_k = tensor;
  if (name == "v_a") parameters.v_a = tensor;
  if (name == "scale") parameters.scale = tensor;
}

SingleShape read_qkv(const CaseReader& reader, const std::string& score_text, SingleCase& single) {
  const std::string why = "the " + score_text + " score needs q, k and v";
  Tensor q = reader.required("q", why), k = reader.required("k", why);
  Tensor v = reader.required("v", why);
  const DType dtype = case_dtype(reader, "q", q);
  reader.check_dtype("k", k, dtype, "q");
  reader.check_dtype("v", v, dtype, "q");
  reader.check(q.dim() == 4, "tensor 'q' must be 4-D [B, H, Nq, d], got ", q.describe());
  SingleShape shape{q.size(0), q.size(1), q.size(2), 0, q.size(3), 0};
  reader.check(k.dim() == 4 && k.size(0) == shape.batch && k.size(1) == shape.heads &&
                   k.size(3) == shape.d,
               "tensor 'k' must be [B, H, Nk, d] with B = ", shape.batch, ", H = ", shape.heads,
               ", d = ", shape.d, " from q ", q.describe(), ", got ", k.describe());
  shape.keys = k.size(2);
  reader.check(v.dim() == 4 && v.size(0) == shape.batch && v.size(1) == shape.heads &&
                   v.size(2) == shape.keys,
               "tensor 'v' must be [B, H, Nk, dv] with B = ", shape.batch, ", H = ", shape.heads,
               ", Nk = ", shape.keys, " from q and k, got ", v.describe());
  shape.value_dim = v.size(3);
  single.inputs = {{"q", q}, {"k", k}, {"v", v}};
  return shape;
}

// The parameters of the chosen score, and none of another score's.
void read_score_parameters(const CaseReader& reader, Score score, SingleCase& single) {
  const std::string score_text(score_name(score));
  const std::int64_t d = single.shape.d;
  const DType dtype = single.inputs.front().second.dtype();
  auto parameter = [&](const std::string& name, const Shape& shape, const std::string& meaning) {
    Tensor tensor = reader.required(name, "the " + score_text + " score needs it");
    reader.check_dtype(name, tensor, dtype, "q");
    reader.check_shape(name, tensor, shape, meaning);
    single.inputs.emplace_back(name, tensor);
  };
  auto reject = [&](const std::string& name, const std::string& owner) {
    reader.check(!reader.has(name), "tensor '", name, "' belongs to the ", owner,
                 " score, not ", score_text);
  };
  if (score == Score::General) {
    parameter("w", {d, d}, "[d, d]");
  } else {
    reject("w", "general");
  }
  if (score == Score::Additive) {
    Tensor w_q = reader.required("w_q", "the additive score needs w_q, w_k and v_a");
    reader.check(w_q.dim() == 2, "tensor 'w_q' must be [d, a], got ", w_q.describe());
    const std::int64_t a = w_q.size(1);
    parameter("w_q", {d, a}, "[d, a]");
    parameter("w_k", {d, a}, "[d, a] (a from w_q)");
    parameter("v_a", {a}, "[a] (a from w_q)");
  } else {
    for (const char* name : {"w_q", "w_k", "v_a"}) reject(name, "additive");
  }
  if (reader.has("scale")) {
    reader.check(score == Score::Cosine, "tensor 'scale' (a learned scale) is for the cosine ",
                 "score, not ", score_text);
    reader.check(!reader.setting("scale"), "give the cosine scale either as setting 'scale' ",
                 "(fixed) or as tensor 'scale' (learned), not both");
    parameter("scale", {}, "a scalar []");
  }
}

// The settings only the single op has, or may not have.
void read_single_settings(const CaseReader& reader, Score score, SingleCase& single) {
  std::optional<double> scale = reader.real("scale");
  bool takes_scale = score == Score::ScaledDot || score == Score::Cosine;
  reader.check(takes_scale || !scale, "setting 'scale' is for the scaled_dot and cosine scores, ",
               "not ", score_name(score));
  single.options.scale = scale;
  if (std::optional<std::int64_t> num_heads = reader.positive_integer("num_heads")) {
    reader.check(*num_heads == single.shape.heads, "setting 'num_heads' is ", *num_heads,
                 " but q has H = ", single.shape.heads, " heads");
  }
  reader.check(!reader.setting("average_attn_weights"),
               "setting 'average_attn_weights' is for score multihead only");
}

void check_broadcastable_mask(const CaseReader& reader, const Tensor& mask, const Shape& target) {
  reader.check(mask.dtype() == DType::Bool, "tensor 'mask' must be bool (true = may attend), got ",
               mask.describe());
  bool fits = mask.dim() <= 4;
  for (std::int64_t i = 1; fits && i <= mask.dim(); ++i) {
    std::int64_t extent = mask.size(-i);
    fits = extent == 1 || extent == target[4 - i];
  }
  reader.check(fits, "tensor 'mask' must broadcast to [B, H, Nq, Nk] = ", to_string(target),
               ", got ", mask.describe());
}

void read_mask_and_grad_out(const CaseReader& reader, SingleCase& single) {
  const SingleShape& shape = single.shape;
  Tensor mask = reader.optional_tensor("mask");
  if (mask.defined()) {
    check_broadcastable_mask(reader, mask, {shape.batch, shape.heads, shape.queries, shape.keys});
    single.options.mask.allowed = mask;
  }
  single.grad_out = reader.optional_tensor("grad_out");
  if (single.grad_out.defined()) {
    reader.check_dtype("grad_out", single.grad_out, single.inputs.front().second.dtype(), "q");
    reader.check_shape("grad_out", single.grad_out,
                       {shape.batch, shape.heads, shape.queries, shape.value_dim},
                       "[B, H, Nq, dv] like out");
  }
}

SingleCase read_single(const CaseReader& reader, Score score, const CommonSettings& common) {
  reader.check_names(kSingleTensors, std::string(score_name(score)));
  SingleCase single;
  single.shape = read_qkv(reader, std::string(score_name(score)), single);
  read_score_parameters(reader, score, single);
  read_single_settings(reader, score, single);
  read_mask_and_grad_out(reader, single);
  single.options.score = score;
  single.options.mask.causal = common.causal;
  single.options.impl = common.impl;
  single.options.need_weights = common.need_weights;
  return single;
}

AttentionCaseResult run_single(const CaseReader& reader, Score score,
                               const CommonSettings& common) {
  SingleCase single = read_single(reader, score, common);
  const bool backward = single.grad_out.defined();
  std::vector<std::pair<std::string, Tensor>> leaves;
  AttentionOptions options = single.options;
  for (const auto& [name, tensor] : single.inputs) {
    leaves.emplace_back(name, make_leaf(tensor, backward));
    bind_parameter(options.parameters, name, leaves.back().second);
  }

  AttentionCaseResult result;
  {
    std::optional<NoGradGuard> no_grad;
    if (!backward) no_grad.emplace();
    // leaves hold q, k, v first.
    AttentionResult computed = attention(leaves[0].second, leaves[1].second, leaves[2].second,
                                         options);
    if (backward) computed.out.backward(single.grad_out);
    result.tensors["out"] = computed.out.detach().contiguous();
    result.tensors["lse"] = computed.lse.contiguous();
    if (computed.weights.defined()) result.tensors["weights"] = computed.weights.contiguous();
  }
  if (backward) {
    for (const auto& [name, leaf] : leaves) result.tensors["grad_" + name] = gradient_of(leaf);
  }
  if (options.scale) result.metadata["scale"] = format_real(*options.scale);
  result.metadata["num_heads"] = std::to_string(single.shape.heads);
  return result;
}

// ---- multihead -----------------------------------------------------------------------------

// The sizes of a multihead case, read off query, key and value and the settings.
struct MultiheadShape {
  std::int64_t batch = 0, queries = 0, keys = 0, embed_dim = 0, kdim = 0, vdim = 0;
  std::int64_t num_heads = 0;
};

struct MultiheadCase {
  Tensor query, key, value, key_padding_mask, attn_mask, grad_out;
  std::map<std::string, Tensor> state;  // PyTorch's state_dict names
  MultiheadShape shape;
  DType dtype = DType::Float32;
  bool average_attn_weights = true;
};

MultiheadShape read_query_key_value(const CaseReader& reader, MultiheadCase& mha) {
  const std::string why = "multihead needs query, key and value";
  mha.query = reader.required("query", why);
  mha.key = reader.required("key", why);
  mha.value = reader.required("value", why);
  mha.dtype = case_dtype(reader, "query", mha.query);
  reader.check_dtype("key", mha.key, mha.dtype, "query");
  reader.check_dtype("value", mha.value, mha.dtype, "query");
  reader.check(mha.query.dim() == 3, "tensor 'query' must be 3-D [B, Nq, E] (batch first), got ",
               mha.query.describe());
  MultiheadShape shape;
  shape.batch = mha.query.size(0);
  shape.queries = mha.query.size(1);
  shape.embed_dim = mha.query.size(2);
  reader.check(mha.key.dim() == 3 && mha.key.size(0) == shape.batch,
               "tensor 'key' must be [B, Nk, kdim] with B = ", shape.batch, " from query, got ",
               mha.key.describe());
  shape.keys = mha.key.size(1);
  shape.kdim = mha.key.size(2);
  reader.check(mha.value.dim() == 3 && mha.value.size(0) == shape.batch &&
                   mha.value.size(1) == shape.keys,
               "tensor 'value' must be [B, Nk, vdim] with B = ", shape.batch, ", Nk = ",
               shape.keys, " from query and key, got ", mha.value.describe());
  shape.vdim = mha.value.size(2);
  return shape;
}

void read_multihead_settings(const CaseReader& reader, MultiheadCase& mha) {
  std::optional<std::int64_t> num_heads = reader.positive_integer("num_heads");
  reader.check(num_heads.has_value(), "missing setting 'num_heads' (multihead needs it)");
  reader.check(mha.shape.embed_dim % *num_heads == 0, "setting 'num_heads' ", *num_heads,
               " does not divide E = ", mha.shape.embed_dim);
  mha.shape.num_heads = *num_heads;
  reader.check(!reader.setting("scale"), "setting 'scale' is not for multihead (its scale is ",
               "1/sqrt(E/num_heads))");
  mha.average_attn_weights = reader.flag("average_attn_weights", true);
}

// The weights, in one of PyTorch's two layouts, into mha.state.
void read_weights(const CaseReader& reader, MultiheadCase& mha) {
  const std::int64_t embed_dim = mha.shape.embed_dim, kdim = mha.shape.kdim;
  const std::int64_t vdim = mha.shape.vdim;
  auto weight = [&](const std::string& name, const Shape& shape, const std::string& meaning) {
    Tensor tensor = reader.required(name, "multihead needs it");
    reader.check_dtype(name, tensor, mha.dtype, "query");
    reader.check_shape(name, tensor, shape, meaning);
    mha.state[name] = tensor;
  };
  const bool separate = reader.has("q_proj_weight") || reader.has("k_proj_weight") ||
                        reader.has("v_proj_weight");
  if (reader.has("in_proj_weight")) {
    reader.check(!separate, "give either in_proj_weight or q_proj_weight, k_proj_weight and ",
                 "v_proj_weight, not both");
    reader.check(kdim == embed_dim && vdim == embed_dim, "in_proj_weight needs key and value ",
                 "with E = ", embed_dim, " features (got kdim ", kdim, ", vdim ", vdim,
                 "); otherwise give q_proj_weight, k_proj_weight and v_proj_weight");
    weight("in_proj_weight", {3 * embed_dim, embed_dim}, "[3E, E]");
  } else {
    reader.check(separate, "missing tensor 'in_proj_weight' (or q_proj_weight, k_proj_weight ",
                 "and v_proj_weight when kdim or vdim differs from E)");
    reader.check(kdim != embed_dim || vdim != embed_dim, "with kdim = vdim = E = ", embed_dim,
                 " the projections are one tensor, in_proj_weight [3E, E], as in PyTorch's ",
                 "state_dict");
    weight("q_proj_weight", {embed_dim, embed_dim}, "[E, E]");
    weight("k_proj_weight", {embed_dim, kdim}, "[E, kdim]");
    weight("v_proj_weight", {embed_dim, vdim}, "[E, vdim]");
  }
  weight("out_proj.weight", {embed_dim, embed_dim}, "[E, E]");
  if (reader.has("in_proj_bias") || reader.has("out_proj.bias")) {
    reader.check(reader.has("in_proj_bias") && reader.has("out_proj.bias"),
                 "give in_proj_bias and out_proj.bias together (PyTorch's bias=True) or neither");
    weight("in_proj_bias", {3 * embed_dim}, "[3E]");
    weight("out_proj.bias", {embed_dim}, "[E]");
  }
}

void check_float_mask(const CaseReader& reader, const std::string& name, const Tensor& mask,
                      DType dtype) {
  reader.check(mask.dtype() == DType::Bool || mask.dtype() == dtype, "tensor '", name,
               "' must be bool (true = not allowed) or ", dtype_name(dtype),
               " (added to the scores), got ", mask.describe());
}

void read_masks_and_grad_out(const CaseReader& reader, MultiheadCase& mha) {
  const MultiheadShape& shape = mha.shape;
  mha.key_padding_mask = reader.optional_tensor("key_padding_mask");
  if (mha.key_padding_mask.defined()) {
    check_float_mask(reader, "key_padding_mask", mha.key_padding_mask, mha.dtype);
    reader.check_shape("key_padding_mask", mha.key_padding_mask, {shape.batch, shape.keys},
                       "[B, Nk]");
  }
  mha.attn_mask = reader.optional_tensor("attn_mask");
  if (mha.attn_mask.defined()) {
    check_float_mask(reader, "attn_mask", mha.attn_mask, mha.dtype);
    Shape two_dim{shape.queries, shape.keys};
    Shape per_head{shape.batch * shape.num_heads, shape.queries, shape.keys};
    reader.check(mha.attn_mask.shape() == two_dim || mha.attn_mask.shape() == per_head,
                 "tensor 'attn_mask' must be [Nq, Nk] = ", to_string(two_dim),
                 " or [B*H, Nq, Nk] = ", to_string(per_head), ", got ", mha.attn_mask.describe());
  }
  mha.grad_out = reader.optional_tensor("grad_out");
  if (mha.grad_out.defined()) {
    reader.check_dtype("grad_out", mha.grad_out, mha.dtype, "query");
    reader.check_shape("grad_out", mha.grad_out, {shape.batch, shape.queries, shape.embed_dim},
                       "[B, Nq, E] like out");
  }
}

MultiheadCase read_multihead(const CaseReader& reader) {
  reader.check_names(kMultiheadTensors, std::string(kMultihead));
  MultiheadCase mha;
  mha.shape = read_query_key_value(reader, mha);
  read_multihead_settings(reader, mha);
  read_weights(reader, mha);
  read_masks_and_grad_out(reader, mha);
  return mha;
}

AttentionCaseResult run_multihead(const CaseReader& reader, const CommonSettings& common) {
  MultiheadCase mha = read_multihead(reader);
  nn::MultiHeadAttention module({.embed_dim = mha.shape.embed_dim,
                                 .num_heads = mha.shape.num_heads,
                                 .bias = mha.state.count("in_proj_bias") > 0,
                                 .kdim = mha.shape.kdim,
                                 .vdim = mha.shape.vdim,
                                 .batch_first = true,
                                 .impl = common.impl,
                                 .dtype = mha.dtype});
  module.load_state_dict(mha.state, /*strict=*/true);
  module.eval();
  const bool backward = mha.grad_out.defined();
  std::vector<std::pair<std::string, Tensor>> leaves{{"query", make_leaf(mha.query, backward)},
                                                     {"key", make_leaf(mha.key, backward)},
                                                     {"value", make_leaf(mha.value, backward)}};
  AttentionCaseResult result;
  {
    std::optional<NoGradGuard> no_grad;
    if (!backward) no_grad.emplace();
    nn::MultiHeadAttentionOutput computed =
        module.forward(leaves[0].second, leaves[1].second, leaves[2].second,
                       mha.key_padding_mask, mha.attn_mask, common.need_weights,
                       mha.average_attn_weights, common.causal);
    if (backward) computed.output.backward(mha.grad_out);
    result.tensors["out"] = computed.output.detach().contiguous();
    result.tensors["lse"] = computed.lse.contiguous();
    if (computed.weights.defined()) result.tensors["weights"] = computed.weights.contiguous();
  }
  if (backward) {
    for (const auto& [name, leaf] : leaves) result.tensors["grad_" + name] = gradient_of(leaf);
    for (const auto& [name, parameter] : module.named_parameters()) {
      result.tensors["grad_" + name] = gradient_of(parameter);
    }
  }
  result.metadata["num_heads"] = std::to_string(mha.shape.num_heads);
  result.metadata["average_attn_weights"] = mha.average_attn_weights ? "true" : "false";
  return result;
}

// ---- differences ---------------------------------------------------------------------------

void accumulate_difference(double a, double b, TensorDifference& difference) {
  if (a == b) return;  // equal values, infinities included
  double absolute = std::abs(a - b);
  if (std::isnan(absolute)) absolute = std::numeric_limits<double>::infinity();
  double relative = absolute / std::max(std::abs(a), std::abs(b));
  if (std::isnan(relative)) relative = std::numeric_limits<double>::infinity();
  difference.max_absolute = std::max(difference.max_absolute, absolute);
  difference.max_relative = std::max(difference.max_relative, relative);
}

}  // namespace

AttentionCaseResult run_attention_case(const io::SafetensorsData& input,
                                       const std::string& source_name,
                                       std::optional<AttentionImpl> impl) {
  CaseReader reader(input, source_name);
  std::string score_text = reader.setting("score").value_or(
      input.tensors.count("query") ? std::string(kMultihead) : std::string("scaled_dot"));
  const std::vector<std::string> scores{"dot", "scaled_dot", "general", "additive", "cosine",
                                        std::string(kMultihead)};
  reader.check(std::find(scores.begin(), scores.end(), score_text) != scores.end(),
               "unknown score '", score_text, "' (expected one of ", join(scores), ")");
  CommonSettings common = read_common(reader, impl);

  AttentionCaseResult result = score_text == kMultihead
                                   ? run_multihead(reader, common)
                                   : run_single(reader, parse_score(score_text), common);
  result.metadata["score"] = score_text;
  result.metadata["impl"] = std::string(impl_name(common.impl));
  result.metadata["causal"] = common.causal ? "true" : "false";
  result.metadata["need_weights"] = common.need_weights ? "true" : "false";
  return result;
}

std::vector<TensorDifference> compare_results(const io::TensorMap& actual,
                                              const io::TensorMap& expected) {
  std::vector<TensorDifference> differences;
  for (const auto& [name, reference] : expected) {
    auto found = actual.find(name);
    ATTN_CHECK(found != actual.end(), "compare_results: '", name, "' is missing");
    ATTN_CHECK(found->second.shape() == reference.shape(), "compare_results: '", name,
               "' has shape ", to_string(found->second.shape()), ", expected ",
               to_string(reference.shape()));
    TensorDifference difference{name, reference.shape()};
    std::vector<double> got = found->second.to_vector<double>();
    std::vector<double> want = reference.to_vector<double>();
    for (std::size_t i = 0; i < got.size(); ++i) {
      accumulate_difference(got[i], want[i], difference);
      if (std::isfinite(want[i])) {
        difference.max_expected = std::max(difference.max_expected, std::abs(want[i]));
      }
    }
    differences.push_back(difference);
  }
  return differences;
}

AttentionCaseRun run_attention_case_file(const std::string& input_path,
                                         const std::string& output_path, bool compare) {
  io::SafetensorsData input = io::load_safetensors(input_path);
  AttentionCaseRun run;
  run.result = run_attention_case(input, input_path);
  if (compare) {
    auto run_with = [&](AttentionImpl impl) {
      if (run.result.metadata.at("impl") == impl_name(impl)) return run.result;
      return run_attention_case(input, input_path, impl);
    };
    AttentionCaseResult reference = run_with(AttentionImpl::Reference);
    AttentionCaseResult fused = run_with(AttentionImpl::Fused);
    run.differences = compare_results(fused.tensors, reference.tensors);
  }
  if (!output_path.empty()) io::save_safetensors(output_path, run.result.tensors, run.result.metadata);
  return run;
}

}  // namespace attn::tasks
