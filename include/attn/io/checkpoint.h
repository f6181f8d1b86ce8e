// Checkpoints: a module's state_dict in one safetensors file, with the model configuration
// (a JSON object, as text) in the file's metadata, so one file rebuilds the model:
//
//   __metadata__: {"format": "attn", "format_version": "1", "config": "{...}", <extra keys>}
//
// Files are written atomically. They are ordinary safetensors files, readable by any
// safetensors reader. docs/CHECKPOINTS.md describes the format.
#pragma once

#include <string>

#include "attn/io/safetensors.h"
#include "attn/nn/module.h"

namespace attn::io {

inline constexpr const char* kCheckpointFormat = "attn";
inline constexpr int kCheckpointFormatVersion = 1;

// Metadata keys that save_checkpoint sets itself.
inline constexpr const char* kFormatKey = "format";
inline constexpr const char* kFormatVersionKey = "format_version";
inline constexpr const char* kConfigKey = "config";

struct Checkpoint {
  TensorMap tensors;        // the state_dict, by hierarchical name
  std::string config_json;  // exactly as given to save_checkpoint
  int format_version = kCheckpointFormatVersion;
  Metadata extra;  // metadata besides the three keys above
};

// Saves module.state_dict() with its configuration. `config_json` must be a JSON object;
// `extra` may not use the reserved keys.
void save_checkpoint(const std::string& path, const nn::Module& module,
                     const std::string& config_json, const Metadata& extra = {});

// Reads a checkpoint, checking that it is an attn checkpoint of a version this build reads.
Checkpoint load_checkpoint(const std::string& path);

// Copies the checkpoint's tensors into `module` (Module::load_state_dict, strict): names,
// dtypes and shapes must match exactly, and on a mismatch the module is left unchanged.
void load_into(const Checkpoint& checkpoint, nn::Module& module);

}  // namespace attn::io
