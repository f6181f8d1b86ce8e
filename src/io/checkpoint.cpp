#include "attn/io/checkpoint.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace attn::io {
namespace {

bool is_reserved_key(const std::string& key) {
  return key == kFormatKey || key == kFormatVersionKey || key == kConfigKey;
}

// The configuration is checked on both sides: a checkpoint whose config cannot be parsed
// cannot rebuild its model, so it is better refused when written.
void check_config(const std::string& config_json, const std::string& context) {
  bool is_object = false;
  try {
    is_object = nlohmann::json::parse(config_json).is_object();
  } catch (const nlohmann::json::exception& error) {
    ATTN_CHECK(false, context, ": the config is not valid JSON: ", error.what());
  }
  ATTN_CHECK(is_object, context, ": the config must be a JSON object");
}

int parse_format_version(const std::string& text, const std::string& path) {
  int version = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), version);
  ATTN_CHECK(error == std::errc() && end == text.data() + text.size() && version >= 1,
             "load_checkpoint: ", path, ": invalid format_version '", text, "'");
  ATTN_CHECK(version <= kCheckpointFormatVersion, "load_checkpoint: ", path, ": format_version ",
             version, " is newer than this build reads (up to ", kCheckpointFormatVersion, ")");
  return version;
}

const std::string& required_metadata(const Metadata& metadata, const char* key,
                                     const std::string& path) {
  auto found = metadata.find(key);
  ATTN_CHECK(found != metadata.end(), "load_checkpoint: ", path, ": not an attn checkpoint (no \"",
             key, "\" in the safetensors metadata)");
  return found->second;
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& module,
                     const std::string& config_json, const Metadata& extra) {
  check_config(config_json, "save_checkpoint: " + path);
  for (const auto& [key, value] : extra) {
    ATTN_CHECK(!is_reserved_key(key), "save_checkpoint: ", path, ": the metadata key '", key,
               "' is reserved for the checkpoint format");
  }
  Metadata metadata = extra;
  metadata[kFormatKey] = kCheckpointFormat;
  metadata[kFormatVersionKey] = std::to_string(kCheckpointFormatVersion);
  metadata[kConfigKey] = config_json;
  save_safetensors(path, module.state_dict(), metadata);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsData data = load_safetensors(path);
  const std::string& format = required_metadata(data.metadata, kFormatKey, path);
  ATTN_CHECK(format == kCheckpointFormat, "load_checkpoint: ", path,
             ": not an attn checkpoint (format is '", format, "', expected '", kCheckpointFormat,
             "')");
  Checkpoint checkpoint;
  checkpoint.format_version =
      parse_format_version(required_metadata(data.metadata, kFormatVersionKey, path), path);
  checkpoint.config_json = required_metadata(data.metadata, kConfigKey, path);
  check_config(checkpoint.config_json, "load_checkpoint: " + path);
  for (auto& [key, value] : data.metadata) {
    if (!is_reserved_key(key)) checkpoint.extra.emplace(key, value);
  }
  checkpoint.tensors = std::move(data.tensors);
  return checkpoint;
}

void load_into(const Checkpoint& checkpoint, nn::Module& module) {
  module.load_state_dict(checkpoint.tensors, /*strict=*/true);
}

}  // namespace attn::io
