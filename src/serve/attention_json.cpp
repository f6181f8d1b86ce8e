// Attention maps and float32 vectors as JSON for the API (handlers.h).
#include <charconv>
#include <cstdint>

#include "attn/core/error.h"
#include "handlers.h"

namespace attn::serve {

namespace {

// The double that the shortest decimal of `value` denotes: JSON writes it with that decimal
// ("0.1", not the 0.10000000149011612 of a plain float-to-double conversion), which keeps
// responses short and still reads back as exactly `value` once rounded to float32.
double shortest_float(float value) {
  char buffer[32];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value);
  double result = value;
  std::from_chars(buffer, written.ptr, result);
  return result;
}

// weights [H, Nq, Nk] -> nested arrays.
nlohmann::ordered_json weights_json(const Tensor& weights) {
  ATTN_ASSERT(weights.dim() == 3, "attention weights must be [H, Nq, Nk]");
  const Tensor contiguous = weights.contiguous();
  const float* data = contiguous.data<float>();
  nlohmann::ordered_json heads = nlohmann::ordered_json::array();
  for (std::int64_t head = 0; head < weights.size(0); ++head) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (std::int64_t row = 0; row < weights.size(1); ++row) {
      nlohmann::ordered_json columns = nlohmann::ordered_json::array();
      for (std::int64_t column = 0; column < weights.size(2); ++column) {
        columns.push_back(shortest_float(*data++));
      }
      rows.push_back(std::move(columns));
    }
    heads.push_back(std::move(rows));
  }
  return heads;
}

nlohmann::ordered_json map_json(const inspect::AttentionMap& map) {
  nlohmann::ordered_json json;
  json["name"] = map.name;
  json["kind"] = inspect::attention_kind_name(map.kind);
  json["layer"] = map.layer;
  json["heads"] = map.num_heads();
  json["query_tokens"] = map.query_tokens;
  json["key_tokens"] = map.key_tokens;
  json["weights"] = weights_json(map.weights);
  return json;
}

}  // namespace

nlohmann::ordered_json float32_array_json(const std::vector<float>& values) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (float value : values) array.push_back(shortest_float(value));
  return array;
}

nlohmann::ordered_json maps_json(const std::vector<inspect::AttentionMap>& maps) {
  nlohmann::ordered_json json = nlohmann::ordered_json::array();
  for (const inspect::AttentionMap& map : maps) json.push_back(map_json(map));
  return json;
}

}  // namespace attn::serve
