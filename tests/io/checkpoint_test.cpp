#include "attn/io/checkpoint.h"
#include "support/temporary_directory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>

namespace attn::io {
namespace {

using attn::testing::TemporaryDirectory;

// A child with a float64 parameter, so names nest ("head.scale") and dtypes vary.
class Head : public nn::Module {
 public:
  explicit Head(double scale) {
    register_parameter("scale", Tensor::from_vector<double>({2}, {scale, -scale}));
  }
};

// Tiny model: parameters, a buffer of another dtype and a child. The constructor arguments
// create the mismatches the tests need.
class TinyModel : public nn::Module {
 public:
  explicit TinyModel(float fill, Shape weight_shape = {2, 3}, DType weight_dtype = DType::Float32,
                     bool with_extra = false) {
    weight = register_parameter("weight", Tensor::full(weight_shape, fill, weight_dtype));
    register_parameter("bias", Tensor::from_list({3}, {fill, fill + 1, fill + 2}));
    register_buffer("steps", Tensor::scalar(fill * 10, DType::Int64));
    register_buffer("mask", Tensor::from_list({2}, {1, 0}, DType::Bool));
    register_module("head", std::make_shared<Head>(fill));
    if (with_extra) register_parameter("extra", Tensor::zeros({1}));
  }
  Tensor weight;
};

const std::string kConfig = R"({"dim": 3, "num_layers": 1})";

std::vector<std::uint8_t> bytes_of(const Tensor& tensor) {
  Tensor contiguous = tensor.contiguous();
  const auto* begin = static_cast<const std::uint8_t*>(contiguous.raw_data());
  return {begin, begin + contiguous.numel() * dtype_size(contiguous.dtype())};
}

// Name -> bytes of every tensor in the module: a snapshot to compare against.
std::map<std::string, std::vector<std::uint8_t>> snapshot(const nn::Module& module) {
  std::map<std::string, std::vector<std::uint8_t>> result;
  for (const auto& [name, tensor] : module.state_dict()) result[name] = bytes_of(tensor);
  return result;
}

void expect_error_mentions(const std::function<void()>& action,
                           std::initializer_list<std::string> fragments) {
  try {
    action();
    ADD_FAILURE() << "expected an attn::Error";
  } catch (const Error& error) {
    for (const std::string& fragment : fragments) {
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
    }
  }
}

TEST(Checkpoint, RoundTripRestoresEveryTensorExactly) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  TinyModel saved(0.25f);
  save_checkpoint(path, saved, kConfig, {{"step", "1200"}});

  Checkpoint checkpoint = load_checkpoint(path);
  EXPECT_EQ(checkpoint.config_json, kConfig);
  EXPECT_EQ(checkpoint.format_version, kCheckpointFormatVersion);
  EXPECT_EQ(checkpoint.extra, (Metadata{{"step", "1200"}}));
  EXPECT_EQ(checkpoint.tensors.size(), 5u);

  TinyModel restored(9.0f);
  ASSERT_NE(snapshot(restored), snapshot(saved));
  load_into(checkpoint, restored);
  EXPECT_EQ(snapshot(restored), snapshot(saved));
  EXPECT_TRUE(restored.weight.requires_grad());  // copied into the existing parameter
}

TEST(Checkpoint, IsAPlainSafetensorsFileWithTheFormatInItsMetadata) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  save_checkpoint(path, TinyModel(1.0f), kConfig);
  SafetensorsData data = load_safetensors(path);
  EXPECT_EQ(data.metadata,
            (Metadata{{"config", kConfig}, {"format", "attn"}, {"format_version", "1"}}));
  EXPECT_EQ(data.tensors.count("head.scale"), 1u);
  EXPECT_EQ(data.tensors.at("steps").item<std::int64_t>(), 10);
}

TEST(Checkpoint, MismatchedShapeIsNamedAndLeavesTheModuleUnchanged) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  save_checkpoint(path, TinyModel(1.0f), kConfig);
  Checkpoint checkpoint = load_checkpoint(path);

  TinyModel wrong_shape(5.0f, {3, 2});
  auto before = snapshot(wrong_shape);
  expect_error_mentions([&] { load_into(checkpoint, wrong_shape); },
                        {"'weight'", "[2, 3]", "[3, 2]"});
  EXPECT_EQ(snapshot(wrong_shape), before);
}

TEST(Checkpoint, MismatchedDtypeIsNamedAndLeavesTheModuleUnchanged) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  save_checkpoint(path, TinyModel(1.0f), kConfig);
  Checkpoint checkpoint = load_checkpoint(path);

  TinyModel wrong_dtype(5.0f, {2, 3}, DType::Float64);
  auto before = snapshot(wrong_dtype);
  expect_error_mentions([&] { load_into(checkpoint, wrong_dtype); },
                        {"'weight'", "float32", "float64"});
  EXPECT_EQ(snapshot(wrong_dtype), before);
}

TEST(Checkpoint, MissingOrUnexpectedNamesAreNamedAndLeaveTheModuleUnchanged) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  save_checkpoint(path, TinyModel(1.0f), kConfig);
  Checkpoint checkpoint = load_checkpoint(path);

  TinyModel larger(5.0f, {2, 3}, DType::Float32, /*with_extra=*/true);
  auto before = snapshot(larger);
  expect_error_mentions([&] { load_into(checkpoint, larger); }, {"missing", "'extra'"});
  EXPECT_EQ(snapshot(larger), before);

  checkpoint.tensors["stray"] = Tensor::ones({1});
  TinyModel same(5.0f);
  before = snapshot(same);
  expect_error_mentions([&] { load_into(checkpoint, same); }, {"unexpected", "'stray'"});
  EXPECT_EQ(snapshot(same), before);
}

TEST(Checkpoint, SavingRejectsBadConfigAndReservedKeysWithoutWriting) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  TinyModel model(1.0f);
  expect_error_mentions([&] { save_checkpoint(path, model, "{\"dim\": "); },
                        {"config is not valid JSON"});
  expect_error_mentions([&] { save_checkpoint(path, model, "[1, 2]"); },
                        {"config must be a JSON object"});
  expect_error_mentions(
      [&] {
        save_checkpoint(path, model, kConfig, {{"format", "x"}});
      },
      {"'format'", "reserved"});
  expect_error_mentions(
      [&] {
        save_checkpoint(path, model, kConfig, {{"config", "{}"}});
      },
      {"'config'", "reserved"});
  EXPECT_TRUE(directory.is_empty());
}

TEST(Checkpoint, LoadingRejectsFilesThatAreNotAttnCheckpoints) {
  TemporaryDirectory directory;
  std::string path = directory.file("other.safetensors");
  TensorMap tensors{{"w", Tensor::ones({1})}};
  auto expect_rejected = [&](const Metadata& metadata,
                             std::initializer_list<std::string> fragments) {
    save_safetensors(path, tensors, metadata);
    expect_error_mentions([&] { load_checkpoint(path); }, fragments);
  };
  expect_rejected({}, {path, "not an attn checkpoint", "\"format\""});
  expect_rejected({{"format", "pt"}}, {"not an attn checkpoint", "'pt'"});
  expect_rejected({{"format", "attn"}, {"config", kConfig}}, {"\"format_version\""});
  expect_rejected({{"format", "attn"}, {"format_version", "1"}}, {"\"config\""});
  expect_rejected({{"format", "attn"}, {"format_version", "one"}, {"config", kConfig}},
                  {"invalid format_version 'one'"});
  expect_rejected({{"format", "attn"}, {"format_version", "2"}, {"config", kConfig}},
                  {"format_version 2 is newer"});
  expect_rejected({{"format", "attn"}, {"format_version", "1"}, {"config", "not json"}},
                  {"config is not valid JSON"});
}

}  // namespace
}  // namespace attn::io
