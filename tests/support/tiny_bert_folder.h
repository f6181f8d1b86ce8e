// A tiny random-weight BERT written as a Hugging Face model folder (config.json,
// model.safetensors under transformers' BertModel names, vocab.txt, tokenizer_config.json),
// for tests of the pretrained loader and of fine-tuning. The names are spelled out here,
// independently of the loader's table, so the table is checked against them.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attn/io/safetensors.h"
#include "attn/models/bert.h"
#include "attn/ops/views.h"
#include "support/temporary_directory.h"

namespace attn::testing {

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// The vocabulary of the default folder: specials first, as BERT's.
inline std::vector<std::string> tiny_bert_vocabulary() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", "on", "mat", "."};
}

inline models::BertOptions tiny_bert_options(std::int64_t vocab_size) {
  models::BertOptions options;
  options.vocab_size = vocab_size;
  options.hidden_size = 8;
  options.num_layers = 2;
  options.num_heads = 2;
  options.intermediate_size = 16;
  options.max_position_embeddings = 16;
  return options;
}

// config.json for tiny_bert_options(vocab_size).
inline nlohmann::json tiny_bert_config(std::int64_t vocab_size) {
  return nlohmann::json{{"model_type", "bert"},         {"vocab_size", vocab_size},
                        {"hidden_size", 8},             {"num_hidden_layers", 2},
                        {"num_attention_heads", 2},     {"intermediate_size", 16},
                        {"hidden_act", "gelu"},         {"max_position_embeddings", 16},
                        {"type_vocab_size", 2},         {"layer_norm_eps", 1e-12},
                        {"hidden_dropout_prob", 0.1},   {"attention_probs_dropout_prob", 0.1},
                        {"position_embedding_type", "absolute"}};
}

// attn's names -> transformers' BertModel names.
inline io::TensorMap hugging_face_bert_tensors(const models::BertModel& model) {
  io::TensorMap out;
  for (const auto& [name, tensor] : model.state_dict()) {
    std::string hf = name;
    auto replace = [&](const std::string& from, const std::string& to) {
      const std::size_t at = hf.find(from);
      if (at != std::string::npos) hf.replace(at, from.size(), to);
    };
    replace("embeddings.layer_norm", "embeddings.LayerNorm");
    if (hf.find("self_attention.in_proj_") != std::string::npos) {
      const std::string suffix = hf.substr(hf.rfind('_') + 1);  // weight or bias
      replace("encoder.layers.", "encoder.layer.");
      const std::string layer = hf.substr(0, hf.find(".self_attention"));
      const std::int64_t part = tensor.size(0) / 3;
      const char* parts[] = {"query", "key", "value"};
      for (int p = 0; p < 3; ++p) {
        out[layer + ".attention.self." + parts[p] + "." + suffix] =
            ops::slice(tensor, 0, p * part, (p + 1) * part).contiguous();
      }
      continue;
    }
    replace("encoder.layers.", "encoder.layer.");
    replace("self_attention.out_proj", "attention.output.dense");
    replace("self_attention_norm", "attention.output.LayerNorm");
    replace("feed_forward.w1", "intermediate.dense");
    replace("feed_forward.w2", "output.dense");
    replace("feed_forward_norm", "output.LayerNorm");
    out[hf] = tensor.clone();
  }
  return out;
}

// A folder: config.json, model.safetensors, vocab.txt and tokenizer_config.json. Change
// `config` or `tensors` before write() to make a broken one.
struct TinyBertFolder {
  explicit TinyBertFolder(std::vector<std::string> vocabulary_tokens = tiny_bert_vocabulary())
      : vocabulary(std::move(vocabulary_tokens)),
        model(tiny_bert_options(static_cast<std::int64_t>(vocabulary.size()))),
        config(tiny_bert_config(static_cast<std::int64_t>(vocabulary.size()))),
        tensors(hugging_face_bert_tensors(model)) {}

  void write() const {
    write_text(directory.path() / "config.json", config.dump());
    io::save_safetensors(directory.file("model.safetensors"), tensors);
    std::string lines;
    for (const std::string& token : vocabulary) lines += token + "\n";
    write_text(directory.path() / "vocab.txt", lines);
    write_text(directory.path() / "tokenizer_config.json",
               R"({"do_lower_case": true, "tokenizer_class": "BertTokenizer"})");
  }
  std::string path() const { return directory.path().string(); }

  TemporaryDirectory directory{"attn_pretrained"};
  std::vector<std::string> vocabulary;
  models::BertModel model;
  nlohmann::json config;
  io::TensorMap tensors;
};

}  // namespace attn::testing
