#include "attn/viz/attention_figures.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"
#include "attn/io/safetensors.h"

namespace attn::viz {
namespace {

using inspect::AttentionKind;
using inspect::AttentionMap;
using nlohmann::ordered_json;

std::string kind_list(const std::vector<AttentionKind>& kinds) {
  std::string list;
  for (AttentionKind kind : kinds) list += (list.empty() ? "" : ", ") + std::string(inspect::attention_kind_name(kind));
  return list;
}

std::vector<const AttentionMap*> maps_in_layers(const std::vector<const AttentionMap*>& maps,
                                                const AttentionSelection& selection) {
  const std::string kind(inspect::attention_kind_name(selection.kind));
  switch (selection.layers) {
    case LayerPick::All: return maps;
    case LayerPick::Last: return {maps.back()};
    case LayerPick::One: break;
  }
  for (const AttentionMap* map : maps) {
    if (map->layer == selection.layer) return {map};
  }
  ATTN_CHECK(false, "attention maps: layer ", selection.layer, " is out of range: the ", kind,
             " maps have layers ", maps.front()->layer, " to ", maps.back()->layer);
  return {};
}

// weights [H, Nq, Nk] -> [1, Nq, Nk] of head `head`.
Tensor one_head(const Tensor& weights, std::int64_t head) {
  const std::int64_t rows = weights.size(1), columns = weights.size(2);
  const float* begin = weights.contiguous().data<float>() + head * rows * columns;
  return Tensor::from_vector<float>({1, rows, columns}, std::vector<float>(begin, begin + rows * columns));
}

SelectedMap select_heads(const AttentionMap& map, const AttentionSelection& selection) {
  SelectedMap selected{map, {}, selection.average_heads, map.num_heads()};
  if (selection.head) {
    ATTN_CHECK(*selection.head >= 0 && *selection.head < map.num_heads(), "attention maps: head ", *selection.head,
               " is out of range: ", map.name, " has heads 0 to ", map.num_heads() - 1);
    selected.map.weights = one_head(map.weights, *selection.head);
    selected.heads = {*selection.head};
    return selected;
  }
  for (std::int64_t h = 0; h < map.num_heads(); ++h) selected.heads.push_back(h);
  if (selection.average_heads) selected.map = inspect::average_heads(map);
  return selected;
}

// [Nq, Nk] values of row `index` of weights [n, Nq, Nk].
std::vector<float> head_values(const Tensor& weights, std::int64_t index) {
  const std::int64_t size = weights.size(1) * weights.size(2);
  const float* begin = weights.contiguous().data<float>() + index * size;
  return {begin, begin + size};
}

std::vector<std::string> labels(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (const std::string& token : tokens) out.push_back(display_label(token));
  return out;
}

std::string panel_title(const SelectedMap& selected, std::size_t index, bool several_layers) {
  std::string title;
  if (selected.averaged) {
    title = selected.model_heads > 1 ? "mean of " + std::to_string(selected.model_heads) + " heads" : "";
  } else if (selected.model_heads > 1) {
    title = "head " + std::to_string(selected.heads[index]);
  }
  if (!several_layers) return title;
  const std::string layer = "layer " + std::to_string(selected.map.layer);
  return title.empty() ? layer : layer + ", " + title;
}

std::string kind_title(AttentionKind kind, const std::string& name) {
  switch (kind) {
    case AttentionKind::Cross: return name == "attention" ? "Attention" : "Cross-attention";
    case AttentionKind::EncoderSelf: return "Encoder self-attention";
    case AttentionKind::DecoderSelf: return "Decoder self-attention";
    case AttentionKind::Pooling: return "Attention pooling";
  }
  return "Attention";
}

// Six significant digits: enough for a weight, and a compact file.
double rounded(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", static_cast<double>(value));
  return std::strtod(text, nullptr);
}

ordered_json map_fields(const SelectedMap& selected) {
  ordered_json fields;
  fields["name"] = selected.map.name;
  fields["kind"] = std::string(inspect::attention_kind_name(selected.map.kind));
  fields["layer"] = selected.map.layer;
  fields["heads"] = selected.heads;
  fields["averaged"] = selected.averaged;
  fields["query_tokens"] = selected.map.query_tokens;
  fields["key_tokens"] = selected.map.key_tokens;
  return fields;
}

ordered_json weights_json(const Tensor& weights) {
  const Tensor contiguous = weights.contiguous();
  const float* data = contiguous.data<float>();
  ordered_json heads = ordered_json::array();
  for (std::int64_t h = 0; h < weights.size(0); ++h) {
    ordered_json rows = ordered_json::array();
    for (std::int64_t i = 0; i < weights.size(1); ++i) {
      ordered_json row = ordered_json::array();
      for (std::int64_t j = 0; j < weights.size(2); ++j) row.push_back(rounded(*data++));
      rows.push_back(std::move(row));
    }
    heads.push_back(std::move(rows));
  }
  return heads;
}

void check_context(const std::vector<SelectedMap>& maps, const std::map<std::string, std::string>& context) {
  for (const auto& [key, value] : context) {
    ATTN_CHECK(key != "format", "attention export: the context may not use the key 'format'");
    for (const SelectedMap& selected : maps) {
      ATTN_CHECK(key != selected.map.name, "attention export: the context key '", key, "' is a map's name");
    }
  }
}

void save_safetensors_export(const std::vector<SelectedMap>& maps, const std::string& path,
                             const std::map<std::string, std::string>& context) {
  io::TensorMap tensors;
  io::Metadata metadata(context.begin(), context.end());
  metadata["format"] = "attn.attention_maps";
  for (const SelectedMap& selected : maps) {
    ATTN_CHECK(tensors.count(selected.map.name) == 0, "attention export: two maps are named ", selected.map.name);
    tensors[selected.map.name] = selected.map.weights.contiguous();
    ordered_json fields = map_fields(selected);
    fields.erase("name");
    metadata[selected.map.name] = fields.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  }
  io::save_safetensors(path, tensors, metadata);
}

}  // namespace

std::vector<AttentionKind> kinds_present(const std::vector<AttentionMap>& maps) {
  std::vector<AttentionKind> kinds;
  for (const AttentionMap& map : maps) {
    if (std::find(kinds.begin(), kinds.end(), map.kind) == kinds.end()) kinds.push_back(map.kind);
  }
  return kinds;
}

std::vector<SelectedMap> select_attention(const std::vector<AttentionMap>& maps, const AttentionSelection& selection) {
  ATTN_CHECK(!(selection.head && selection.average_heads),
             "attention maps: choose one head or the mean over heads, not both");
  const std::vector<const AttentionMap*> of_kind = inspect::maps_of_kind(maps, selection.kind);
  ATTN_CHECK(!of_kind.empty(), "attention maps: the model has no ", inspect::attention_kind_name(selection.kind),
             " attention; it has ", maps.empty() ? std::string("none") : kind_list(kinds_present(maps)));
  std::vector<SelectedMap> selected;
  for (const AttentionMap* map : maps_in_layers(of_kind, selection)) {
    selected.push_back(select_heads(*map, selection));
  }
  return selected;
}

std::string display_label(std::string_view piece) {
  std::string out;
  for (char c : piece) {
    switch (c) {
      case ' ': out += "\u2423"; break;
      case '\n': out += "\u21b5"; break;
      case '\t': out += "\u21e5"; break;
      default: out += c;
    }
  }
  return out;
}

std::string attention_title(const std::vector<SelectedMap>& maps) {
  ATTN_CHECK(!maps.empty(), "attention figure: expected at least one map");
  const AttentionMap& first = maps.front().map;
  std::string title = kind_title(first.kind, first.name);
  if (first.kind == AttentionKind::Pooling || first.name == "attention") return title;
  if (maps.size() == 1) return title + ", layer " + std::to_string(first.layer);
  return title + ", layers " + std::to_string(first.layer) + " to " + std::to_string(maps.back().map.layer);
}

Drawing draw_attention(const std::vector<SelectedMap>& maps, const AttentionFigureOptions& options) {
  ATTN_CHECK(!maps.empty(), "attention figure: expected at least one map");
  const bool several_layers = maps.size() > 1;
  std::vector<HeatmapPanel> panels;
  for (const SelectedMap& selected : maps) {
    const AttentionMap& map = selected.map;
    for (std::int64_t index = 0; index < map.weights.size(0); ++index) {
      panels.push_back({panel_title(selected, static_cast<std::size_t>(index), several_layers),
                        map.weights.size(1), map.weights.size(2), head_values(map.weights, index),
                        labels(map.query_tokens), labels(map.key_tokens)});
    }
  }
  HeatmapOptions heatmap = options.heatmap;
  heatmap.title = options.title.empty() ? attention_title(maps) : options.title;
  heatmap.subtitle = options.subtitle.empty() ? "rows: queries \u00b7 columns: keys" : options.subtitle;
  if (heatmap.grid_columns == 0 && several_layers) {
    // A row per layer with its heads; one panel per layer (means, one head): layers side by side.
    const std::int64_t per_layer = maps.front().map.weights.size(0);
    heatmap.grid_columns = per_layer > 1 ? per_layer : std::min<std::int64_t>(static_cast<std::int64_t>(maps.size()), 4);
  }
  return draw_heatmaps(panels, heatmap);
}

std::string attention_maps_json(const std::vector<SelectedMap>& maps, const std::map<std::string, std::string>& context) {
  check_context(maps, context);
  ordered_json document;
  document["format"] = "attn.attention_maps";
  document["context"] = ordered_json::object();
  for (const auto& [key, value] : context) document["context"][key] = value;
  document["maps"] = ordered_json::array();
  for (const SelectedMap& selected : maps) {
    ordered_json entry = map_fields(selected);
    entry["weights"] = weights_json(selected.map.weights);
    document["maps"].push_back(std::move(entry));
  }
  // Invalid UTF-8 in a token (never produced by attn's tokenizers) becomes U+FFFD.
  return document.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

void save_attention_maps(const std::vector<SelectedMap>& maps, const std::string& path,
                         const std::map<std::string, std::string>& context) {
  check_context(maps, context);
  const std::string extension = std::filesystem::path(path).extension().string();
  if (extension == ".json") {
    io::write_file_atomic(path, attention_maps_json(maps, context));
    return;
  }
  ATTN_CHECK(extension == ".safetensors", "attention export: expected a file name ending in .json or "
             ".safetensors, got '", path, "'");
  save_safetensors_export(maps, path, context);
}

}  // namespace attn::viz
