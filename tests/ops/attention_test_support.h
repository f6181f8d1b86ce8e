// Helpers of the attention tests: the PyTorch fixture cases (tools/make_attention_fixtures.py)
// loaded as ready-to-run attention calls, one run's outputs and gradients by name, and an
// error measure that treats equal infinities (the -inf lse of a fully masked row) as equal.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "attn/ops/attention.h"
#include "attn/ops/ops.h"
#include "support/compare.h"
#include "support/gradcheck.h"

namespace attn::testing {

using TensorsByName = std::map<std::string, Tensor>;

// The score parameters a fixture may hold, by their names in the file.
inline const std::vector<std::string>& parameter_names() {
  static const std::vector<std::string> names{"w", "w_q", "w_k", "v_a", "scale"};
  return names;
}

// The case names (file stems) under tests/fixtures/attention, sorted.
inline std::vector<std::string> attention_fixture_names() {
  std::vector<std::string> names;
  std::filesystem::path folder = fixture_path("attention");
  if (!std::filesystem::exists(folder)) return names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() == ".safetensors") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// One fixture case as an attention call: leaves (q, k, v and the score parameters) in the
// requested dtype requiring gradients, the options, grad_out, and the expected float64 values.
struct AttentionCase {
  TensorsByName leaves;
  Tensor grad_out;
  ops::AttentionOptions options;
  io::TensorMap expected;  // out, lse, weights, grad_<leaf>
};

inline Tensor fresh_leaf(const Tensor& stored, DType dtype) {
  Tensor leaf = stored.to(dtype).clone();
  leaf.set_requires_grad(true);
  return leaf;
}

inline void read_masks(const io::SafetensorsData& data, DType dtype, ops::AttentionMask& mask) {
  const io::TensorMap& t = data.tensors;
  mask.causal = data.metadata.at("causal") == "true";
  if (t.count("key_lengths")) mask.key_lengths = t.at("key_lengths");
  if (t.count("key_padding")) mask.key_padding = t.at("key_padding");
  if (t.count("allowed")) mask.allowed = t.at("allowed");
  if (t.count("bias")) mask.bias = t.at("bias").to(dtype);
}

inline AttentionCase load_attention_case(const std::string& name, DType dtype) {
  io::SafetensorsData data = load_fixture("attention/" + name + ".safetensors");
  AttentionCase loaded;
  for (const char* input : {"q", "k", "v"}) {
    loaded.leaves[input] = fresh_leaf(data.tensors.at(input), dtype);
  }
  ops::ScoreParameters& parameters = loaded.options.parameters;
  std::map<std::string, Tensor*> slots{{"w", &parameters.w},
                                       {"w_q", &parameters.w_q},
                                       {"w_k", &parameters.w_k},
                                       {"v_a", &parameters.v_a},
                                       {"scale", &parameters.scale}};
  for (const std::string& parameter : parameter_names()) {
    if (!data.tensors.count(parameter)) continue;
    loaded.leaves[parameter] = fresh_leaf(data.tensors.at(parameter), dtype);
    *slots[parameter] = loaded.leaves[parameter];
  }
  loaded.options.score = ops::parse_score(data.metadata.at("score"));
  if (data.metadata.count("scale")) loaded.options.scale = std::stod(data.metadata.at("scale"));
  read_masks(data, dtype, loaded.options.mask);
  loaded.grad_out = data.tensors.at("grad_out").to(dtype);
  for (const auto& [key, tensor] : data.tensors) {
    bool expected = key == "out" || key == "lse" || key == "weights" || key.rfind("grad_", 0) == 0;
    if (expected && key != "grad_out") loaded.expected[key] = tensor;
  }
  return loaded;
}

// out, lse, weights and grad_<leaf> of one forward + backward.
inline TensorsByName run_attention_case(AttentionCase& loaded, ops::AttentionImpl impl) {
  ops::AttentionOptions options = loaded.options;
  options.impl = impl;
  options.need_weights = true;
  ops::AttentionResult result =
      ops::attention(loaded.leaves.at("q"), loaded.leaves.at("k"), loaded.leaves.at("v"), options);
  result.out.backward(loaded.grad_out);
  TensorsByName values{
      {"out", result.out.detach()}, {"lse", result.lse}, {"weights", result.weights}};
  for (const auto& [name, leaf] : loaded.leaves) values["grad_" + name] = leaf.grad();
  return values;
}

// max |actual - expected| over the elements; equal infinities count as no error, an
// infinity or NaN against anything else as an infinite error. Shapes must match.
inline double max_error(const Tensor& actual, const Tensor& expected) {
  if (!actual.defined() || actual.shape() != expected.shape()) {
    return std::numeric_limits<double>::infinity();
  }
  std::vector<double> got = actual.to_vector<double>(), want = expected.to_vector<double>();
  double largest = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    double difference = std::abs(got[i] - want[i]);
    largest = std::isnan(difference) ? std::numeric_limits<double>::infinity()
                                     : std::max(largest, difference);
  }
  return largest;
}

// max |x| over the finite elements (at least 1, so tolerances scale with O(1) values).
inline double magnitude(const Tensor& x) {
  double largest = 1.0;
  for (double value : x.to_vector<double>()) {
    if (std::isfinite(value)) largest = std::max(largest, std::abs(value));
  }
  return largest;
}

}  // namespace attn::testing
