// Helpers shared by the nn tests: PyTorch fixtures, the comparison rule, gradient checks of
// whole modules and error-message checks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/io/safetensors.h"
#include "attn/nn/module.h"
#include "support/gradcheck.h"

namespace attn::testing {

// A fixture written by tools/make_nn_fixtures.py.
inline io::SafetensorsData load_nn_fixture(const std::string& name) {
  return io::load_safetensors(std::string(ATTN_FIXTURE_DIR) + "/nn/" + name + ".safetensors");
}

// The fixture's "param.<name>" tensors, keyed by <name>: a state dict.
inline std::map<std::string, Tensor> fixture_parameters(const io::TensorMap& fixture) {
  const std::string prefix = "param.";
  std::map<std::string, Tensor> state;
  for (const auto& [name, tensor] : fixture) {
    if (name.rfind(prefix, 0) == 0) state.emplace(name.substr(prefix.size()), tensor);
  }
  return state;
}

inline const Tensor& fixture_tensor(const io::TensorMap& fixture, const std::string& name) {
  auto found = fixture.find(name);
  if (found == fixture.end()) throw Error("fixture: no tensor '" + name + "'");
  return found->second;
}

// A float32 copy of a fixture input that requires a gradient.
inline Tensor fixture_leaf(const io::TensorMap& fixture, const std::string& name) {
  Tensor leaf = fixture_tensor(fixture, name).clone();
  leaf.set_requires_grad(true);
  return leaf;
}

// The references are float64 results rounded to float32, so they carry at most half an ulp
// of error. attn's float32 forward and backward through these small modules (at most a few
// dozen dependent operations, values of order one) stay within a few ulp; PyTorch's own
// float32 run of the same fixtures stays within 1.5e-7 relative. The bound
//   |attn - reference| <= 1e-5 * max(1, |reference|)
// leaves room for reordered sums and vectorised transcendental functions while still being
// far below the size of any formula error (a wrong gate or mask moves values by ~1e-1).
inline ::testing::AssertionResult matches_reference(const std::string& what, const Tensor& actual,
                                                    const Tensor& reference,
                                                    double tolerance = 1e-5) {
  if (!actual.defined()) return ::testing::AssertionFailure() << what << ": undefined";
  if (actual.shape() != reference.shape()) {
    return ::testing::AssertionFailure() << what << ": shape " << to_string(actual.shape())
                                         << ", expected " << to_string(reference.shape());
  }
  std::vector<double> got = actual.to_vector<double>();
  std::vector<double> expected = reference.to_vector<double>();
  for (std::size_t i = 0; i < got.size(); ++i) {
    double bound = tolerance * std::max(1.0, std::abs(expected[i]));
    if (!(std::abs(got[i] - expected[i]) <= bound)) {
      return ::testing::AssertionFailure()
             << what << " element " << i << ": " << got[i] << ", expected " << expected[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// sum(output * projection) for the fixture's "projection.<name>".
inline Tensor projected(const io::TensorMap& fixture, const std::string& name,
                        const Tensor& output) {
  return ops::sum(ops::mul(output, fixture_tensor(fixture, "projection." + name)));
}

// Every parameter gradient against the fixture's "grad.<name>".
inline void expect_parameter_gradients(const nn::Module& module, const io::TensorMap& fixture) {
  for (const auto& [name, parameter] : module.named_parameters()) {
    EXPECT_TRUE(matches_reference("grad." + name, parameter.grad(),
                                  fixture_tensor(fixture, "grad." + name)));
  }
}

// gradcheck of `forward` with respect to `inputs` and every parameter of a float64 module.
// The parameters are the module's own tensors, so gradcheck perturbs them in place.
inline ::testing::AssertionResult module_gradcheck(
    const nn::Module& module, std::vector<Tensor> inputs,
    const std::function<Tensor(const std::vector<Tensor>&)>& forward) {
  for (const Tensor& parameter : module.parameters()) inputs.push_back(parameter);
  return gradcheck(forward, inputs);
}

// Runs `action`, expecting an attn::Error whose message contains every one of `parts`.
inline ::testing::AssertionResult throws_error_with(const std::function<void()>& action,
                                                    std::initializer_list<std::string> parts) {
  try {
    action();
  } catch (const Error& error) {
    std::string message = error.what();
    for (const std::string& part : parts) {
      if (message.find(part) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "message \"" << message << "\" lacks \"" << part << "\"";
      }
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no attn::Error thrown";
}

}  // namespace attn::testing
