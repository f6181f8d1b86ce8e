// Pieces of the pretrained-model loader: the name tables that map a checkpoint's tensor
// names onto an attn assembly's, and one entry per architecture (model_type).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attn/io/safetensors.h"
#include "attn/models/bert.h"
#include "attn/nn/module.h"

namespace attn::models::pretrained {

// One rule of a name table: the checkpoint's name and attn's, "{i}" standing for a layer
// index in both. A packed attn tensor (in_proj_weight = [W_q; W_k; W_v]) is assembled along
// its first dimension from `parts` checkpoint tensors, this one being part `part`.
struct NameRule {
  std::string_view checkpoint;
  std::string_view attn;
  int part = 0;
  int parts = 1;
};

struct NameTable {
  std::vector<std::string_view> optional_prefixes;  // "bert.": stripped when present
  // Old names for the same tensor (TensorFlow-era LayerNorm ".gamma" for ".weight").
  std::vector<std::pair<std::string_view, std::string_view>> legacy_suffixes;
  // Tensors the assembly does not use (names, or prefixes ending in '.'), skipped.
  std::vector<std::string_view> ignored;
  std::vector<NameRule> rules;
};

// Maps `checkpoint` onto `module`'s state through `table`, converts every tensor to the
// module's dtype, and loads it. Unused, missing, doubled or misshapen tensors are errors that
// name them and `source` (the file).
void load_checkpoint(nn::Module& module, const io::TensorMap& checkpoint, const NameTable& table,
                     const std::string& source);

// ---- architectures ------------------------------------------------------------------------

// Reads a field of config.json with a type check; `source` names the file in errors.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::string source);
  std::int64_t integer(const char* key) const;                        // required
  std::int64_t integer(const char* key, std::int64_t fallback) const;  // optional
  double number(const char* key, double fallback) const;
  std::string string(const char* key, const std::string& fallback) const;
  bool boolean(const char* key, bool fallback) const;
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json* find(const char* key) const;
  const nlohmann::json& config_;
  std::string source_;
};

// BERT (pretrained_bert.cpp).
BertOptions bert_options(const ConfigReader& config);
const NameTable& bert_names();

}  // namespace attn::models::pretrained
