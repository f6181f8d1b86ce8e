// inspect::AttentionMap as Python sees it: {name, kind, layer, weights [H, Nq, Nk] (NumPy,
// float32), query_tokens, key_tokens}.
#pragma once

#include <nanobind/nanobind.h>

#include <vector>

#include "attn/inspect/attention_maps.h"

namespace attn::python {

nanobind::list maps_list(const std::vector<inspect::AttentionMap>& maps);

}  // namespace attn::python
