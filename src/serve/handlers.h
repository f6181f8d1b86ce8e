// The API's model routes (translate, classify, generate, embed) and the JSON they answer with, for service.cpp. Each handler reads
// a request body and returns the response body, or throws HttpError (with its status) or
// attn::Error (a 400: the library refused the input).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/inspect/attention_maps.h"
#include "attn/serve/service.h"

namespace attn::serve {

// What a handler needs from the Service.
struct HandlerContext {
  const Models& models;
  const Limits& limits;
  const std::map<const ServedModel*, std::unique_ptr<BatchQueue>>& queues;  // one per model
};

nlohmann::ordered_json translate(const HandlerContext& context, std::string_view body);
nlohmann::ordered_json classify(const HandlerContext& context, std::string_view body);
nlohmann::ordered_json generate(const HandlerContext& context, std::string_view body);
nlohmann::ordered_json embed(const HandlerContext& context, std::string_view body);

// GET /api/models.
nlohmann::ordered_json models_json(const Models& models, const Limits& limits);

// {"name", "kind", "layer", "heads", "query_tokens", "key_tokens", "weights": [H][Nq][Nk]}
// per map. Each weight is written as the shortest decimal that reads back as the same
// float32, so a client that parses it and rounds to float32 has the library's value exactly.
nlohmann::ordered_json maps_json(const std::vector<inspect::AttentionMap>& maps);
// The same shortest-decimal rule for a vector (an embedding).
nlohmann::ordered_json float32_array_json(const std::vector<float>& values);

}  // namespace attn::serve
