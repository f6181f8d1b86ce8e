// Figures and exports of a model's attention maps (attn/inspect/attention_maps.h): choosing
// the maps (kind, layers, heads, or the mean over heads), drawing them as heatmaps, and
// writing their weights for other tools.
//
// Label conventions (docs/VISUALIZATION.md): rows are queries and columns keys, each row a
// distribution over the columns; tokens are shown as the model's pieces, with SentencePiece's
// "▁" (a word start) kept visible, a space piece as "␣" and a newline as "↵".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attn/inspect/attention_maps.h"
#include "attn/viz/drawing.h"
#include "attn/viz/heatmap.h"

namespace attn::viz {

enum class LayerPick { Last, All, One };

struct AttentionSelection {
  inspect::AttentionKind kind = inspect::AttentionKind::Cross;
  LayerPick layers = LayerPick::Last;
  std::int64_t layer = 0;            // with LayerPick::One
  std::optional<std::int64_t> head;  // one head; nullopt: every head
  bool average_heads = false;        // the mean over the heads instead (excludes `head`)
};

struct SelectedMap {
  inspect::AttentionMap map;        // weights [heads.size(), Nq, Nk], or [1, Nq, Nk] when averaged
  std::vector<std::int64_t> heads;  // the model's index of each head kept (all of them when averaged)
  bool averaged = false;
  std::int64_t model_heads = 1;     // heads of the attention in the model
};

// The maps of `selection.kind`, in layer order, cut to the selected layers and heads. Errors
// name what the maps have: the kinds present, the range of layers, the range of heads.
std::vector<SelectedMap> select_attention(const std::vector<inspect::AttentionMap>& maps,
                                          const AttentionSelection& selection);

// The kinds the maps have, in order of appearance.
std::vector<inspect::AttentionKind> kinds_present(const std::vector<inspect::AttentionMap>& maps);

// A piece as a label: whitespace made visible ("␣" per space, "↵" per newline, "⇥" per tab),
// everything else as it is.
std::string display_label(std::string_view piece);

struct AttentionFigureOptions {
  std::string title;     // empty: from the kind and layers, e.g. "Cross-attention, layer 2"
  std::string subtitle;  // empty: "rows: queries · columns: keys"
  HeatmapOptions heatmap;  // its title and subtitle are replaced; grid_columns 0 with several
                           // layers: a row of heads per layer, or up to 4 layers a row when
                           // each shows one panel; with one layer, as HeatmapOptions says
};

// One heatmap panel per head (or per mean), titled "head h" / "mean of H heads", prefixed by
// the layer when several layers are shown.
Drawing draw_attention(const std::vector<SelectedMap>& maps, const AttentionFigureOptions& options);

// The default title draw_attention uses.
std::string attention_title(const std::vector<SelectedMap>& maps);

// Exports, keyed by each map's name:
//   JSON         {"format": "attn.attention_maps", "context": {...}, "maps": [{"name", "kind", "layer", "heads", "averaged",
//                 "query_tokens", "key_tokens", "weights": [head][query][key]}]}, weights to
//                six significant digits;
//   safetensors  one float32 tensor [heads, Nq, Nk] per map; the metadata holds, under the
//                map's name, a JSON object of the other fields, plus "format":
//                "attn.attention_maps" and the context entries.
// `context` is free text about the input (source, target, text, model); its keys may not
// be map names or "format".
std::string attention_maps_json(const std::vector<SelectedMap>& maps,
                                const std::map<std::string, std::string>& context = {});
void save_attention_maps(const std::vector<SelectedMap>& maps, const std::string& path,
                         const std::map<std::string, std::string>& context = {});

}  // namespace attn::viz
