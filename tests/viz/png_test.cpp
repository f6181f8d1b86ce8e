// PNG output through cairo, read back: the image has the drawing's size times the scale,
// a cell's pixels have the colour the scale gives its weight, text is drawn, bad bytes are a
// clear error; and the output format follows the file's extension.
#include "attn/viz/png.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "attn/core/error.h"
#include "attn/viz/heatmap.h"
#include "attn/viz/image_file.h"
#include "support/temporary_directory.h"

namespace attn::viz {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream content;
  content << stream.rdbuf();
  return content.str();
}

HeatmapPanel ramp_panel() {
  HeatmapPanel panel;
  panel.rows = 2;
  panel.columns = 3;
  panel.values = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
  panel.row_labels = {"<s>", "y"};
  panel.column_labels = {"\u2581No", "me", "</s>"};
  return panel;
}

TEST(VizPng, HasTheDrawingsSizeTimesTheScale) {
  Drawing drawing(123, 45);
  for (double scale : {1.0, 2.0, 1.5}) {
    const RasterImage image = decode_png(render_png(drawing, scale));
    EXPECT_EQ(image.width, static_cast<int>(std::ceil(123 * scale)));
    EXPECT_EQ(image.height, static_cast<int>(std::ceil(45 * scale)));
    EXPECT_EQ(image.pixel(0, 0), kWhite);
  }
}

TEST(VizPng, CellPixelsHaveTheScaleColourOfTheirWeight) {
  HeatmapOptions options;
  options.values = CellValues::Hide;  // no text over the cells' centres
  const Drawing drawing = draw_heatmaps({ramp_panel()}, options);
  for (double scale : {1.0, 2.0}) {
    const RasterImage image = decode_png(render_png(drawing, scale));
    std::size_t cell = 0;
    for (const Element& element : drawing.elements()) {
      const auto* rect = std::get_if<RectShape>(&element);
      if (rect == nullptr || rect->css_class != "cell") continue;
      const int x = static_cast<int>((rect->x + rect->width / 2) * scale);
      const int y = static_cast<int>((rect->y + rect->height / 2) * scale);
      EXPECT_EQ(image.pixel(x, y), scale_color(Palette::Blues, ramp_panel().values[cell]))
          << "cell " << cell << " at scale " << scale;
      ++cell;
    }
    EXPECT_EQ(cell, 6u);
  }
}

TEST(VizPng, DrawsTextWhereTheLabelsAre) {
  Drawing drawing(60, 30);
  drawing.add(TextShape{.at = {5, 22}, .text = "Wg", .font = {20, true}});
  const RasterImage image = decode_png(render_png(drawing));
  int dark = 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) dark += image.pixel(x, y).red < 128 ? 1 : 0;
  }
  EXPECT_GT(dark, 40);  // some glyph ink, whatever the font found
}

TEST(VizPng, BadBytesAreAnErrorNamingTheSource) {
  try {
    decode_png("GIF89a not a png", "figure.png");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("figure.png: not a PNG image"), std::string::npos) << error.what();
  }
  EXPECT_THROW(render_png(Drawing(10, 10), 0.0), Error);
  EXPECT_THROW(Drawing(0, 10), Error);
}

TEST(VizImageFile, FormatFollowsTheExtensionCaseInsensitively) {
  EXPECT_EQ(image_format_of("a/b/figure.svg"), ImageFormat::Svg);
  EXPECT_EQ(image_format_of("figure.PNG"), ImageFormat::Png);
  try {
    image_format_of("figure.jpg");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected a name ending in .svg or .png, got 'figure.jpg'"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(image_format_of("figure"), Error);
}

TEST(VizImageFile, SavesEitherFormatAtomically) {
  testing::TemporaryDirectory directory("attn_viz_png");
  const Drawing drawing = draw_heatmaps({ramp_panel()}, {});
  save_image(drawing, directory.file("map.png"), 2.0);
  save_image(drawing, directory.file("map.svg"));
  EXPECT_EQ(directory.entries(), (std::vector<std::string>{"map.png", "map.svg"}));  // no leftovers
  const RasterImage image = decode_png(read_file(directory.file("map.png")));
  EXPECT_EQ(image.width, static_cast<int>(std::ceil(drawing.width() * 2)));
  const std::string svg = read_file(directory.file("map.svg"));
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_THROW(save_image(drawing, directory.file("missing/map.svg")), Error);
}

}  // namespace
}  // namespace attn::viz
