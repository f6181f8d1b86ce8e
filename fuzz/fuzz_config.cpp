// Training configurations on arbitrary text: train::Config::parse (toml++ and attn's schema of
// keys) with the schema of a task kind, then the overrides of the command line. The kind
// (translation, classification, language model) is picked by the input's length, so that
// each input is parsed once and the TOML text still starts at its first byte.
//
// Input: TOML text, optionally followed by a line "#overrides" and one "key=value" override a
// line. A configuration that parses must round-trip through to_toml(), and the trainer's
// option check must answer with an attn::Error or accept it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/error.h"
#include "attn/tasks/registry.h"
#include "attn/train/config.h"
#include "attn/train/trainer.h"
#include "fuzz_support.h"

namespace {

const std::vector<attn::train::Schema>& schemas() {
  static const std::vector<attn::train::Schema> all = [] {
    std::vector<attn::train::Schema> result;
    for (const std::string& kind : attn::tasks::task_kinds())
      result.push_back(attn::tasks::task_schema(kind));
    return result;
  }();
  return all;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

void check_round_trip(const attn::train::Config& config, const attn::train::Schema& schema) {
  attn::train::Config reread(schema);
  try {
    reread = attn::train::Config::parse(config.to_toml(), schema, "to_toml");
  } catch (const attn::Error&) {
    attn::fuzz::property_failed("to_toml() wrote text that does not parse back");
  }
  if (!(reread == config)) attn::fuzz::property_failed("to_toml() round trip changed values");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = attn::fuzz::as_text(data, size);
  constexpr std::string_view kMarker = "\n#overrides\n";
  std::size_t marker = input.find(kMarker);
  std::string_view toml_text = input.substr(0, marker);
  std::vector<std::string> overrides;
  if (marker != std::string_view::npos)
    overrides = split_lines(input.substr(marker + kMarker.size()));

  const attn::train::Schema& schema = schemas()[size % schemas().size()];
  try {
    attn::train::Config config = attn::train::Config::parse(toml_text, schema, "fuzz.toml");
    config.apply_overrides(overrides);
    check_round_trip(config, schema);
    attn::train::check_options(attn::train::trainer_options(config));
  } catch (const attn::Error&) {
    // rejected with a message: the expected answer to a bad configuration
  }
  return 0;
}
