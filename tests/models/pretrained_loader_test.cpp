// load_pretrained on tiny random BERT folders written here: the names of transformers'
// BertModel (written by this test's own reverse mapping, so the loader's table is checked
// against an independent spelling), old and prefixed names, BF16 weights, and every error.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/io/safetensors.h"
#include "attn/models/pretrained.h"
#include "attn/ops/views.h"
#include "support/compare.h"
#include "support/temporary_directory.h"
#include "support/tiny_bert_folder.h"

namespace attn::models {
namespace {

using attn::testing::all_close;
using attn::testing::TemporaryDirectory;
using attn::testing::write_text;
using Json = nlohmann::json;

using TinyFolder = attn::testing::TinyBertFolder;

Tensor sample_ids() { return Tensor::from_list({2, 5}, {2, 5, 6, 7, 3, 2, 6, 8, 3, 0}, DType::Int64); }
Tensor sample_padding() {
  return Tensor::from_list({2, 5}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, DType::Bool);
}

void expect_same_outputs(const BertModel& loaded, BertModel& original, double tolerance) {
  NoGradGuard no_grad;
  original.eval();
  Tensor want = original.forward(sample_ids(), Tensor(), sample_padding());
  Tensor got = loaded.forward(sample_ids(), Tensor(), sample_padding());
  EXPECT_TRUE(all_close(got, want, 0, tolerance));
}

void expect_error(const TinyFolder& folder, const std::vector<std::string>& fragments) {
  folder.write();
  try {
    load_pretrained(folder.path());
    ADD_FAILURE() << "expected an attn::Error mentioning " << fragments.front();
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
    }
  }
}

TEST(LoadPretrained, ReadsTransformersNamesExactly) {
  TinyFolder folder;
  folder.write();
  auto loaded = load_pretrained(folder.path());
  EXPECT_EQ(loaded->model_type(), "bert");
  EXPECT_FALSE(loaded->is_sentence_transformer());
  EXPECT_EQ(loaded->max_length(), 16);
  for (const auto& [name, tensor] : folder.model.state_dict()) {
    EXPECT_TRUE(all_close(loaded->model().state_dict().at(name), tensor, 0, 0)) << name;
  }
  expect_same_outputs(loaded->model(), folder.model, 0);
}

TEST(LoadPretrained, AcceptsTheBertPrefixOldLayerNormNamesAndSkipsUnusedHeads) {
  TinyFolder folder;
  io::TensorMap renamed;
  for (const auto& [name, tensor] : folder.tensors) {
    std::string new_name = "bert." + name;
    if (new_name.size() > 7 && new_name.compare(new_name.size() - 7, 7, ".weight") == 0 &&
        new_name.find("LayerNorm") != std::string::npos) {
      new_name.replace(new_name.size() - 7, 7, ".gamma");
    }
    renamed[new_name] = tensor;
  }
  renamed["bert.embeddings.position_ids"] = Tensor::arange(16);
  renamed["bert.pooler.dense.weight"] = Tensor::zeros({8, 8});
  renamed["cls.predictions.bias"] = Tensor::zeros({12});
  folder.tensors = renamed;
  folder.write();
  expect_same_outputs(load_pretrained(folder.path())->model(), folder.model, 0);
}

TEST(LoadPretrained, ConvertsBFloat16WeightsToFloat32) {
  TinyFolder folder;
  for (auto& [name, tensor] : folder.tensors) tensor = tensor.to(DType::BFloat16);
  folder.write();
  auto loaded = load_pretrained(folder.path());
  for (const auto& [name, tensor] : loaded->model().state_dict()) {
    EXPECT_EQ(tensor.dtype(), DType::Float32) << name;
  }
  const Tensor word = loaded->model().state_dict().at("embeddings.word_embeddings.weight");
  EXPECT_TRUE(all_close(word, folder.tensors.at("embeddings.word_embeddings.weight").to(DType::Float32), 0, 0));
}

TEST(LoadPretrained, ReadsTheSentenceTransformersModules) {
  TinyFolder folder;
  folder.write();
  write_text(folder.directory.path() / "modules.json",
             R"([{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
                 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}])");
  std::filesystem::create_directory(folder.directory.path() / "1_Pooling");
  write_text(folder.directory.path() / "1_Pooling" / "config.json",
             R"({"word_embedding_dimension": 8, "pooling_mode_cls_token": true})");
  write_text(folder.directory.path() / "sentence_bert_config.json", R"({"max_seq_length": 7})");
  auto loaded = load_pretrained(folder.path());
  EXPECT_TRUE(loaded->is_sentence_transformer());
  EXPECT_EQ(loaded->sentence_options().pooling, Pooling::Cls);
  EXPECT_FALSE(loaded->sentence_options().normalize);
  EXPECT_EQ(loaded->max_length(), 7);
  // cls pooling: the [CLS] state; texts cut at 7 tokens with specials.
  TokenBatch batch = loaded->tokenize({"the cat sat on the mat . the cats", "cat"});
  EXPECT_EQ(batch.ids.size(1), 7);
  NoGradGuard no_grad;
  Tensor hidden = loaded->hidden_states(batch);
  EXPECT_TRUE(all_close(loaded->embed({"cat"}), ops::slice(ops::select(hidden, 1, 0), 0, 1, 2), 0, 1e-6));
}

TEST(LoadPretrained, PoolingFollowsSentenceTransformers) {
  // hidden [1, 3, 2] with the last position padded.
  Tensor hidden = Tensor::from_list({1, 3, 2}, {1, -2, 3, 4, 100, 100});
  Tensor padding = Tensor::from_list({1, 3}, {0, 0, 1}, DType::Bool);
  EXPECT_TRUE(all_close(pool(hidden, padding, Pooling::Cls), Tensor::from_list({1, 2}, {1, -2}), 0, 0));
  EXPECT_TRUE(all_close(pool(hidden, padding, Pooling::Mean), Tensor::from_list({1, 2}, {2, 1}), 0, 0));
  EXPECT_TRUE(all_close(pool(hidden, padding, Pooling::Max), Tensor::from_list({1, 2}, {3, 4}), 0, 0));
  EXPECT_TRUE(all_close(pool(hidden, padding, Pooling::MeanSqrtLength),
                        Tensor::from_list({1, 2}, {4 / std::sqrt(2.0f), 2 / std::sqrt(2.0f)}), 1e-7, 0));
  EXPECT_TRUE(all_close(normalize_rows(Tensor::from_list({2, 2}, {3, 4, 0, 0})),
                        Tensor::from_list({2, 2}, {0.6f, 0.8f, 0, 0}), 1e-7, 0));
  EXPECT_EQ(parse_pooling("mean_sqrt_len"), Pooling::MeanSqrtLength);
  EXPECT_THROW(parse_pooling("median"), Error);
}

TEST(LoadPretrainedErrors, NameWhatIsWrongInTheConfig) {
  {
    TinyFolder folder;
    folder.config["model_type"] = "gpt2";
    expect_error(folder, {"config.json", "model_type \"gpt2\" is not supported", "bert"});
  }
  {
    TinyFolder folder;
    folder.config["hidden_act"] = "swish";
    expect_error(folder, {"hidden_act \"swish\" is not supported"});
  }
  {
    TinyFolder folder;
    folder.config["position_embedding_type"] = "relative_key";
    expect_error(folder, {"position_embedding_type \"relative_key\" is not supported"});
  }
  {
    TinyFolder folder;
    folder.config.erase("hidden_size");
    expect_error(folder, {"config.json", "missing \"hidden_size\""});
  }
  {
    TinyFolder folder;
    folder.config["num_attention_heads"] = 3;  // 8 is not divisible by 3
    expect_error(folder, {"config.json"});
  }
  {
    TinyFolder folder;
    folder.config["vocab_size"] = "many";
    expect_error(folder, {"\"vocab_size\" must be an integer"});
  }
}

TEST(LoadPretrainedErrors, NameMissingUnexpectedAndMisshapenTensors) {
  {
    TinyFolder folder;
    folder.tensors.erase("encoder.layer.1.attention.self.key.weight");
    expect_error(folder, {"model.safetensors", "missing tensor(s) 'encoder.layer.1.attention.self.key.weight'"});
  }
  {
    TinyFolder folder;
    folder.tensors["encoder.layer.0.attention.self.rotary.weight"] = Tensor::zeros({2});
    expect_error(folder, {"unexpected tensor(s) 'encoder.layer.0.attention.self.rotary.weight'"});
  }
  {
    TinyFolder folder;
    folder.tensors["encoder.layer.0.intermediate.dense.weight"] = Tensor::zeros({15, 8});
    expect_error(folder, {"'encoder.layer.0.intermediate.dense.weight' has shape [15, 8]", "needs [16, 8]"});
  }
  {
    TinyFolder folder;
    folder.tensors["encoder.layer.2.output.dense.bias"] = Tensor::zeros({8});
    expect_error(folder, {"'encoder.layer.2.output.dense.bias'", "layers the config does not have"});
  }
  {
    TinyFolder folder;
    folder.tensors["bert.embeddings.word_embeddings.weight"] =
        folder.tensors.at("embeddings.word_embeddings.weight");
    expect_error(folder, {"the same tensor under two names"});
  }
  {
    TinyFolder folder;
    folder.tensors["embeddings.word_embeddings.weight"] = Tensor::zeros({12, 8}, DType::Int64);
    expect_error(folder, {"'embeddings.word_embeddings.weight' is int64"});
  }
}

TEST(LoadPretrainedErrors, NameMissingAndMalformedFiles) {
  {
    TinyFolder folder;
    folder.write();
    std::filesystem::remove(folder.directory.path() / "model.safetensors");
    write_text(folder.directory.path() / "pytorch_model.bin", "not read");
    EXPECT_THROW(
        {
          try {
            load_pretrained(folder.path());
          } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find("pytorch_model.bin"), std::string::npos);
            throw;
          }
        },
        Error);
  }
  {
    TinyFolder folder;
    folder.write();
    write_text(folder.directory.path() / "config.json", "{\"model_type\": ");
    EXPECT_THROW(load_pretrained(folder.path()), Error);
  }
  {
    TinyFolder folder;
    folder.write();
    write_text(folder.directory.path() / "modules.json",
               R"([{"path":"2_Dense","type":"sentence_transformers.models.Dense"}])");
    try {
      load_pretrained(folder.path());
      ADD_FAILURE() << "expected an error";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("sentence_transformers.models.Dense"), std::string::npos)
          << error.what();
    }
  }
  {
    TinyFolder folder;
    folder.write();
    write_text(folder.directory.path() / "modules.json",
               R"([{"path":"1_Pooling","type":"sentence_transformers.models.Pooling"}])");
    std::filesystem::create_directory(folder.directory.path() / "1_Pooling");
    write_text(folder.directory.path() / "1_Pooling" / "config.json",
               R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})");
    try {
      load_pretrained(folder.path());
      ADD_FAILURE() << "expected an error";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("exactly one pooling mode"), std::string::npos)
          << error.what();
    }
  }
  EXPECT_THROW(load_pretrained("/nonexistent/attn/model"), Error);
}

}  // namespace
}  // namespace attn::models
