#include "attention_maps.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>

#include "arrays.h"

namespace attn::python {

nb::list maps_list(const std::vector<inspect::AttentionMap>& maps) {
  nb::list list;
  for (const inspect::AttentionMap& map : maps) {
    nb::dict entry;
    entry["name"] = map.name;
    entry["kind"] = std::string(inspect::attention_kind_name(map.kind));
    entry["layer"] = map.layer;
    entry["weights"] = to_numpy(map.weights.contiguous());
    entry["query_tokens"] = map.query_tokens;
    entry["key_tokens"] = map.key_tokens;
    list.append(entry);
  }
  return list;
}

}  // namespace attn::python
