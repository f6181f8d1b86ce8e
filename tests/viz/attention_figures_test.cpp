// Choosing, drawing and exporting attention maps: the selection by kind, layer and head with
// errors that name what the model has; the mean over heads; panels per head; and exports
// that round-trip through JSON and safetensors with their labels.
#include "attn/viz/attention_figures.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/io/safetensors.h"
#include "support/temporary_directory.h"

namespace attn::viz {
namespace {

using inspect::AttentionKind;
using inspect::AttentionMap;

// Weights [heads, 2, 3] whose entry (h, i, j) is (100 h + 10 i + j) / 1000, labelled.
AttentionMap map_of(AttentionKind kind, std::int64_t layer, std::int64_t heads, const std::string& name) {
  std::vector<float> values;
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t i = 0; i < 2; ++i) {
      for (std::int64_t j = 0; j < 3; ++j) values.push_back(static_cast<float>(100 * h + 10 * i + j) / 1000);
    }
  }
  return {name, kind, layer, Tensor::from_vector<float>({heads, 2, 3}, values), {"the", "dog"},
          {"el", "perro", "</s>"}};
}

std::vector<AttentionMap> translation_maps() {
  return {map_of(AttentionKind::EncoderSelf, 0, 4, "encoder.layers.0.self_attention"),
          map_of(AttentionKind::Cross, 0, 4, "decoder.layers.0.cross_attention"),
          map_of(AttentionKind::Cross, 1, 4, "decoder.layers.1.cross_attention"),
          map_of(AttentionKind::Cross, 2, 4, "decoder.layers.2.cross_attention")};
}

std::string error_of(const AttentionSelection& selection) {
  try {
    select_attention(translation_maps(), selection);
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

TEST(VizAttentionFigures, DefaultSelectionIsTheLastLayerWithEveryHead) {
  const std::vector<SelectedMap> selected = select_attention(translation_maps(), {});
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].map.name, "decoder.layers.2.cross_attention");
  EXPECT_EQ(selected[0].heads, (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(selected[0].map.weights.shape(), (attn::Shape{4, 2, 3}));
  EXPECT_FALSE(selected[0].averaged);
}

TEST(VizAttentionFigures, SelectsOneLayerOneHeadOrTheMean) {
  AttentionSelection one;
  one.layers = LayerPick::One;
  one.layer = 1;
  one.head = 2;
  const std::vector<SelectedMap> head = select_attention(translation_maps(), one);
  ASSERT_EQ(head.size(), 1u);
  EXPECT_EQ(head[0].map.layer, 1);
  EXPECT_EQ(head[0].heads, std::vector<std::int64_t>{2});
  ASSERT_EQ(head[0].map.weights.shape(), (attn::Shape{1, 2, 3}));
  EXPECT_FLOAT_EQ(head[0].map.weights.data<float>()[5], 0.212f);  // head 2, row 1, column 2

  AttentionSelection mean;
  mean.layers = LayerPick::All;
  mean.average_heads = true;
  const std::vector<SelectedMap> averaged = select_attention(translation_maps(), mean);
  ASSERT_EQ(averaged.size(), 3u);
  EXPECT_TRUE(averaged[0].averaged);
  ASSERT_EQ(averaged[0].map.weights.shape(), (attn::Shape{1, 2, 3}));
  EXPECT_NEAR(averaged[0].map.weights.data<float>()[0], 0.150f, 1e-6);  // mean of 0, .1, .2, .3
}

TEST(VizAttentionFigures, ErrorsNameWhatTheModelHas) {
  AttentionSelection pooling;
  pooling.kind = AttentionKind::Pooling;
  EXPECT_NE(error_of(pooling).find("the model has no pooling attention; it has encoder_self, cross"),
            std::string::npos)
      << error_of(pooling);
  AttentionSelection layer;
  layer.layers = LayerPick::One;
  layer.layer = 5;
  EXPECT_NE(error_of(layer).find("layer 5 is out of range: the cross maps have layers 0 to 2"), std::string::npos)
      << error_of(layer);
  AttentionSelection head;
  head.head = 4;
  EXPECT_NE(error_of(head).find("head 4 is out of range: decoder.layers.2.cross_attention has heads 0 to 3"),
            std::string::npos)
      << error_of(head);
  AttentionSelection both;
  both.head = 1;
  both.average_heads = true;
  EXPECT_NE(error_of(both).find("not both"), std::string::npos);
}

std::vector<std::string> panel_titles(const Drawing& drawing) {
  std::vector<std::string> titles;
  for (const Element& element : drawing.elements()) {
    const auto* text = std::get_if<TextShape>(&element);
    if (text != nullptr && text->css_class == "panel-title") titles.push_back(text->text);
  }
  return titles;
}

TEST(VizAttentionFigures, OnePanelPerHeadTitledByHeadAndLayer) {
  const Drawing one_layer = draw_attention(select_attention(translation_maps(), {}), {});
  EXPECT_EQ(panel_titles(one_layer), (std::vector<std::string>{"head 0", "head 1", "head 2", "head 3"}));
  EXPECT_EQ(one_layer.title, "Cross-attention, layer 2");

  AttentionSelection mean;
  mean.layers = LayerPick::All;
  mean.average_heads = true;
  const Drawing layers = draw_attention(select_attention(translation_maps(), mean), {});
  EXPECT_EQ(panel_titles(layers), (std::vector<std::string>{"layer 0, mean of 4 heads", "layer 1, mean of 4 heads",
                                                            "layer 2, mean of 4 heads"}));
  EXPECT_EQ(layers.title, "Cross-attention, layers 0 to 2");
}

TEST(VizAttentionFigures, LabelsMakeWhitespaceVisible) {
  EXPECT_EQ(display_label(" "), "\u2423");
  EXPECT_EQ(display_label("a\nb"), "a\u21b5b");
  EXPECT_EQ(display_label("\u2581word"), "\u2581word");
}

TEST(VizAttentionFigures, JsonExportHoldsLabelsHeadsAndWeights) {
  AttentionSelection selection;
  selection.head = 1;
  const std::vector<SelectedMap> selected = select_attention(translation_maps(), selection);
  const nlohmann::json document = nlohmann::json::parse(attention_maps_json(selected, {{"source", "el perro"}}));
  EXPECT_EQ(document["format"], "attn.attention_maps");
  EXPECT_EQ(document["context"]["source"], "el perro");
  ASSERT_EQ(document["maps"].size(), 1u);
  const nlohmann::json& map = document["maps"][0];
  EXPECT_EQ(map["name"], "decoder.layers.2.cross_attention");
  EXPECT_EQ(map["kind"], "cross");
  EXPECT_EQ(map["layer"], 2);
  EXPECT_EQ(map["heads"], nlohmann::json::array({1}));
  EXPECT_EQ(map["averaged"], false);
  EXPECT_EQ(map["query_tokens"], nlohmann::json::array({"the", "dog"}));
  EXPECT_EQ(map["key_tokens"], nlohmann::json::array({"el", "perro", "</s>"}));
  EXPECT_DOUBLE_EQ(map["weights"][0][1][2].get<double>(), 0.112);  // six significant digits
}

TEST(VizAttentionFigures, SafetensorsExportRoundTripsWithMetadata) {
  testing::TemporaryDirectory directory("attn_viz_export");
  AttentionSelection selection;
  selection.layers = LayerPick::All;
  const std::vector<SelectedMap> selected = select_attention(translation_maps(), selection);
  save_attention_maps(selected, directory.file("maps.safetensors"), {{"target", "the dog"}});
  const io::SafetensorsData data = io::load_safetensors(directory.file("maps.safetensors"));
  ASSERT_EQ(data.tensors.size(), 3u);
  const Tensor& weights = data.tensors.at("decoder.layers.1.cross_attention");
  ASSERT_EQ(weights.shape(), (attn::Shape{4, 2, 3}));
  EXPECT_FLOAT_EQ(weights.data<float>()[3 * 6 + 4], 0.311f);
  EXPECT_EQ(data.metadata.at("format"), "attn.attention_maps");
  EXPECT_EQ(data.metadata.at("target"), "the dog");
  const nlohmann::json fields = nlohmann::json::parse(data.metadata.at("decoder.layers.1.cross_attention"));
  EXPECT_EQ(fields["layer"], 1);
  EXPECT_EQ(fields["query_tokens"], nlohmann::json::array({"the", "dog"}));

  save_attention_maps(selected, directory.file("maps.json"));
  EXPECT_THROW(save_attention_maps(selected, directory.file("maps.csv")), Error);
  EXPECT_THROW(save_attention_maps(selected, directory.file("x.json"), {{"format", "x"}}), Error);
  EXPECT_EQ(directory.entries(), (std::vector<std::string>{"maps.json", "maps.safetensors"}));
}

}  // namespace
}  // namespace attn::viz
