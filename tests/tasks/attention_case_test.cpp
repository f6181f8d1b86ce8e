#include "attn/tasks/attention_case.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "support/compare.h"
#include "support/temporary_directory.h"
#include "support/gradcheck.h"

namespace attn::tasks {
using namespace attn::ops;
namespace {

namespace fs = std::filesystem;
using attn::testing::all_close;
using attn::testing::random_tensor;

// A fresh directory per test for case and result files.
class AttentionCaseTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return directory_.file(name); }
  std::string write_case(const io::TensorMap& tensors, const io::Metadata& metadata,
                         const std::string& name = "case.safetensors") const {
    io::save_safetensors(path(name), tensors, metadata);
    return path(name);
  }

  testing::TemporaryDirectory directory_{"attn_attention_case"};
};

// A float32 case of the single op: B 2, H 2, Nq 3, Nk 5, d 4, dv 6, a 3.
io::TensorMap single_case(Score score) {
  io::TensorMap tensors{{"q", random_tensor({2, 2, 3, 4}, 1, -1, 1, DType::Float32)},
                        {"k", random_tensor({2, 2, 5, 4}, 2, -1, 1, DType::Float32)},
                        {"v", random_tensor({2, 2, 5, 6}, 3, -1, 1, DType::Float32)},
                        {"grad_out", random_tensor({2, 2, 3, 6}, 4, -1, 1, DType::Float32)}};
  // [B, 1, 1, Nk]: batch 1 may not attend its last two keys.
  tensors["mask"] = Tensor::from_list({2, 1, 1, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, DType::Bool);
  if (score == Score::General) tensors["w"] = random_tensor({4, 4}, 5, -1, 1, DType::Float32);
  if (score == Score::Additive) {
    tensors["w_q"] = random_tensor({4, 3}, 6, -1, 1, DType::Float32);
    tensors["w_k"] = random_tensor({4, 3}, 7, -1, 1, DType::Float32);
    tensors["v_a"] = random_tensor({3}, 8, -1, 1, DType::Float32);
  }
  if (score == Score::Cosine) tensors["scale"] = Tensor::scalar(3.0);
  return tensors;
}

// The same computation as a direct ops::attention call: the oracle for the case runner.
io::TensorMap direct_results(const io::TensorMap& tensors, Score score, bool causal,
                             std::optional<double> scale) {
  std::map<std::string, Tensor> leaves;
  for (const auto& [name, tensor] : tensors) {
    if (name == "mask" || name == "grad_out") continue;
    leaves[name] = tensor.clone().set_requires_grad(true);
  }
  AttentionOptions options{.score = score, .scale = scale};
  if (leaves.count("w")) options.parameters.w = leaves.at("w");
  if (leaves.count("w_q")) options.parameters.w_q = leaves.at("w_q");
  if (leaves.count("w_k")) options.parameters.w_k = leaves.at("w_k");
  if (leaves.count("v_a")) options.parameters.v_a = leaves.at("v_a");
  if (leaves.count("scale")) options.parameters.scale = leaves.at("scale");
  options.mask = {.causal = causal, .allowed = tensors.at("mask")};
  options.impl = AttentionImpl::Reference;
  options.need_weights = true;
  AttentionResult result = attention(leaves.at("q"), leaves.at("k"), leaves.at("v"), options);
  result.out.backward(tensors.at("grad_out"));
  io::TensorMap expected{{"out", result.out.detach()}, {"lse", result.lse},
                         {"weights", result.weights}};
  for (const auto& [name, leaf] : leaves) expected["grad_" + name] = leaf.grad();
  return expected;
}

TEST_F(AttentionCaseTest, EveryScoreMatchesADirectCall) {
  for (Score score : {Score::Dot, Score::ScaledDot, Score::General, Score::Additive,
                      Score::Cosine}) {
    SCOPED_TRACE(std::string(score_name(score)));
    io::TensorMap tensors = single_case(score);
    io::Metadata settings{{"score", std::string(score_name(score))},
                          {"causal", "true"},
                          {"need_weights", "true"},
                          {"impl", "reference"}};
    std::optional<double> scale;
    if (score == Score::ScaledDot) {
      settings["scale"] = "0.25";
      scale = 0.25;
    }
    AttentionCaseResult result = run_attention_case({tensors, settings}, "in-memory");
    io::TensorMap expected = direct_results(tensors, score, true, scale);
    ASSERT_EQ(result.tensors.size(), expected.size());
    for (const auto& [name, tensor] : expected) {
      ASSERT_EQ(result.tensors.count(name), 1u) << name;
      // Same implementation, same inputs: the same numbers.
      EXPECT_TRUE(all_close(result.tensors.at(name), tensor, 0, 0)) << name;
    }
    EXPECT_EQ(result.metadata.at("score"), score_name(score));
    EXPECT_EQ(result.metadata.at("impl"), "reference");
    EXPECT_EQ(result.metadata.at("causal"), "true");
  }
}

TEST_F(AttentionCaseTest, WeightsAndGradientsOnlyWhenAskedFor) {
  io::TensorMap tensors = single_case(Score::Dot);
  tensors.erase("grad_out");
  AttentionCaseResult result = run_attention_case({tensors, {{"score", "dot"}}}, "in-memory");
  std::vector<std::string> names;
  for (const auto& [name, tensor] : result.tensors) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"lse", "out"}));
  EXPECT_EQ(result.tensors.at("out").shape(), (Shape{2, 2, 3, 6}));
  EXPECT_EQ(result.tensors.at("lse").shape(), (Shape{2, 2, 3}));
}

TEST_F(AttentionCaseTest, DefaultScoreIsScaledDotAndFloat64IsKept) {
  io::TensorMap tensors{{"q", random_tensor({1, 1, 2, 3}, 11)},
                        {"k", random_tensor({1, 1, 4, 3}, 12)},
                        {"v", random_tensor({1, 1, 4, 3}, 13)}};
  AttentionCaseResult result = run_attention_case({tensors, {}}, "in-memory");
  EXPECT_EQ(result.metadata.at("score"), "scaled_dot");
  EXPECT_EQ(result.tensors.at("out").dtype(), DType::Float64);
  Tensor expected = attention(tensors.at("q"), tensors.at("k"), tensors.at("v")).out;
  EXPECT_TRUE(all_close(result.tensors.at("out"), expected, 1e-12, 1e-12));
}

// The multihead case written by tools/make_attention_module_fixtures.py, against the results
// PyTorch's nn.MultiheadAttention gave for it (float64 rounded to float32). The tolerance is
// that of the module tests: |attn - torch| <= 1e-5 |torch| + 1e-6.
TEST_F(AttentionCaseTest, MultiheadCaseMatchesPyTorch) {
  const std::string case_path = attn::testing::fixture_path("attention_modules/case_multihead.safetensors");
  io::TensorMap expected =
      attn::testing::load_fixture("attention_modules/case_multihead_expected.safetensors").tensors;
  for (AttentionImpl impl : {AttentionImpl::Reference, AttentionImpl::Fused}) {
    SCOPED_TRACE(std::string(impl_name(impl)));
    AttentionCaseResult result =
        run_attention_case(io::load_safetensors(case_path), case_path, impl);
    ASSERT_EQ(result.tensors.size(), expected.size());
    for (const auto& [name, tensor] : expected) {
      ASSERT_EQ(result.tensors.count(name), 1u) << name;
      EXPECT_TRUE(all_close(result.tensors.at(name), tensor, 1e-5, 1e-6)) << name;
    }
  }
}

TEST_F(AttentionCaseTest, FileRunnerWritesTheResultsAndComparesImplementations) {
  io::TensorMap tensors = single_case(Score::Additive);
  std::string input = write_case(tensors, {{"score", "additive"}, {"need_weights", "true"}});
  std::string output = path("result.safetensors");
  AttentionCaseRun run = run_attention_case_file(input, output, true);
  io::SafetensorsData written = io::load_safetensors(output);
  EXPECT_EQ(written.metadata.at("score"), "additive");
  EXPECT_EQ(written.metadata.at("impl"), "auto");
  ASSERT_EQ(written.tensors.size(), run.result.tensors.size());
  for (const auto& [name, tensor] : run.result.tensors) {
    EXPECT_TRUE(all_close(written.tensors.at(name), tensor, 0, 0)) << name;
  }
  // One line per result tensor; fused and reference agree to float32 rounding.
  ASSERT_EQ(run.differences.size(), run.result.tensors.size());
  for (const TensorDifference& difference : run.differences) {
    EXPECT_LE(difference.max_absolute, 1e-5 * std::max(1.0, difference.max_expected))
        << difference.name;
    EXPECT_GT(difference.max_expected, 0.0) << difference.name;
  }
}

TEST(AttentionCaseCompare, RelativeDifferencesTreatEqualInfinitiesAsEqual) {
  double infinity = std::numeric_limits<double>::infinity();
  io::TensorMap actual{{"x", Tensor::from_list({3}, {1.0, -infinity, 2.0}, DType::Float64)}};
  io::TensorMap expected{{"x", Tensor::from_list({3}, {1.5, -infinity, 2.0}, DType::Float64)}};
  std::vector<TensorDifference> differences = compare_results(actual, expected);
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_DOUBLE_EQ(differences[0].max_absolute, 0.5);
  EXPECT_DOUBLE_EQ(differences[0].max_relative, 0.5 / 1.5);
  EXPECT_DOUBLE_EQ(differences[0].max_expected, 2.0);
}

// ---- bad cases -----------------------------------------------------------------------------

struct BadCase {
  const char* what;
  std::function<void(io::TensorMap&, io::Metadata&)> spoil;
  std::vector<std::string> message_parts;
};

io::TensorMap multihead_case() {
  return io::load_safetensors(
             attn::testing::fixture_path("attention_modules/case_multihead.safetensors"))
      .tensors;
}

TEST_F(AttentionCaseTest, BadCasesGiveOneLineErrorsAndWriteNothing) {
  const std::vector<BadCase> cases{
      {"missing q", [](auto& t, auto&) { t.erase("q"); }, {"missing tensor 'q'"}},
      {"unknown score", [](auto&, auto& m) { m["score"] = "softmax"; },
       {"unknown score 'softmax'", "additive", "multihead"}},
      {"bad causal", [](auto&, auto& m) { m["causal"] = "yes"; },
       {"setting 'causal'", "true or false", "'yes'"}},
      {"bad impl", [](auto&, auto& m) { m["impl"] = "fast"; }, {"setting 'impl'", "'fast'"}},
      {"bad scale", [](auto&, auto& m) { m["scale"] = "0.5x"; },
       {"setting 'scale'", "finite number", "'0.5x'"}},
      {"scale for dot", [](auto&, auto& m) { m["score"] = "dot"; m["scale"] = "2"; },
       {"setting 'scale'", "not dot"}},
      {"bad num_heads", [](auto&, auto& m) { m["num_heads"] = "3"; },
       {"setting 'num_heads' is 3", "H = 2"}},
      {"k of the wrong size", [](auto& t, auto&) { t["k"] = Tensor::zeros({2, 2, 5, 3}); },
       {"tensor 'k'", "[B, H, Nk, d]", "d = 4", "float32[2, 2, 5, 3]"}},
      {"v with another Nk", [](auto& t, auto&) { t["v"] = Tensor::zeros({2, 2, 4, 6}); },
       {"tensor 'v'", "Nk = 5"}},
      {"q not 4-D", [](auto& t, auto&) { t["q"] = Tensor::zeros({2, 3, 4}); },
       {"tensor 'q'", "4-D"}},
      {"k float64", [](auto& t, auto&) { t["k"] = t["k"].to(DType::Float64); },
       {"tensor 'k'", "float32", "float64"}},
      {"float mask", [](auto& t, auto&) { t["mask"] = Tensor::zeros({2, 1, 1, 5}); },
       {"tensor 'mask'", "bool"}},
      {"mask of the wrong shape",
       [](auto& t, auto&) { t["mask"] = Tensor::zeros({2, 1, 1, 4}, DType::Bool); },
       {"tensor 'mask'", "[2, 2, 3, 5]", "bool[2, 1, 1, 4]"}},
      {"grad_out of the wrong shape",
       [](auto& t, auto&) { t["grad_out"] = Tensor::zeros({2, 2, 3, 4}); },
       {"tensor 'grad_out'", "[2, 2, 3, 6]"}},
      {"general without w", [](auto&, auto& m) { m["score"] = "general"; },
       {"missing tensor 'w'"}},
      {"w for dot", [](auto& t, auto& m) { m["score"] = "dot"; t["w"] = Tensor::zeros({4, 4}); },
       {"tensor 'w'", "general", "not dot"}},
      {"additive w_k of the wrong shape",
       [](auto& t, auto& m) {
         m["score"] = "additive";
         t["w_q"] = Tensor::zeros({4, 3});
         t["w_k"] = Tensor::zeros({4, 2});
         t["v_a"] = Tensor::zeros({3});
       },
       {"tensor 'w_k'", "[4, 3]"}},
      {"unexpected tensor", [](auto& t, auto&) { t["maks"] = t["mask"]; },
       {"unexpected tensor 'maks'"}},
      {"unknown setting", [](auto&, auto& m) { m["casual"] = "true"; },
       {"unknown setting 'casual'"}},
      {"average_attn_weights for the op", [](auto&, auto& m) { m["average_attn_weights"] = "false"; },
       {"average_attn_weights", "multihead"}},
      {"multihead without num_heads",
       [](auto& t, auto& m) { t = multihead_case(); m = {{"score", "multihead"}}; },
       {"missing setting 'num_heads'"}},
      {"multihead num_heads not dividing E",
       [](auto& t, auto& m) { t = multihead_case(); m = {{"num_heads", "3"}}; },
       {"num_heads' 3", "E = 8"}},
      {"multihead attn_mask of the wrong shape",
       [](auto& t, auto& m) {
         t = multihead_case();
         t["attn_mask"] = Tensor::zeros({3, 3, 5});
         m = {{"num_heads", "2"}};
       },
       {"tensor 'attn_mask'", "[3, 5]", "[4, 3, 5]"}},
      {"multihead with q and in_proj weights",
       [](auto& t, auto& m) {
         t = multihead_case();
         t["q_proj_weight"] = Tensor::zeros({8, 8});
         m = {{"num_heads", "2"}};
       },
       {"either in_proj_weight or q_proj_weight"}},
      {"multihead bias half given",
       [](auto& t, auto& m) { t = multihead_case(); t.erase("out_proj.bias"); m = {{"num_heads", "2"}}; },
       {"in_proj_bias and out_proj.bias together"}},
      {"multihead key of another kdim with in_proj_weight",
       [](auto& t, auto& m) {
         t = multihead_case();
         t["key"] = Tensor::zeros({2, 5, 6});
         m = {{"num_heads", "2"}};
       },
       {"in_proj_weight needs key and value", "kdim 6"}},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.what);
    io::TensorMap tensors = single_case(Score::ScaledDot);
    io::Metadata settings{{"need_weights", "true"}};
    bad.spoil(tensors, settings);
    std::string input = write_case(tensors, settings);
    std::string output = path("result.safetensors");
    try {
      run_attention_case_file(input, output, true);
      ADD_FAILURE() << "no error";
    } catch (const Error& error) {
      std::string message = error.what();
      EXPECT_NE(message.find("attention case '" + input + "'"), std::string::npos) << message;
      for (const std::string& part : bad.message_parts) {
        EXPECT_NE(message.find(part), std::string::npos) << message << "\nlacks: " << part;
      }
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(output));
  }
}

TEST_F(AttentionCaseTest, MissingFileIsAnErrorNamingIt) {
  std::string missing = path("absent.safetensors");
  try {
    run_attention_case_file(missing, path("result.safetensors"), false);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("absent.safetensors"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(path("result.safetensors")));
}

}  // namespace
}  // namespace attn::tasks
