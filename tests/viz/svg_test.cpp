// SVG output read back with a real XML parser (libxml2): the documents are well-formed,
// sized as the drawing says, one cell rect per weight, token labels as <text> with XML's
// special characters escaped, and every role findable by class.
#include "attn/viz/svg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "attn/viz/heatmap.h"
#include "attn/viz/line_plot.h"
#include "attn/viz/weighted_text.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

namespace attn::viz {
namespace {

TEST(VizSvg, EscapesTheFiveXmlSpecialCharacters) {
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  EXPECT_EQ(xml_escape("plain \u2581word"), "plain \u2581word");
}

TEST(VizSvg, PrintableTextReplacesControlsAndInvalidUtf8) {
  EXPECT_EQ(printable_text("a\tb"), "a b");
  EXPECT_EQ(printable_text(std::string("x\x01y")), "x\uFFFDy");
  EXPECT_EQ(printable_text(std::string("bad \xC3(")), "bad \uFFFD(");  // truncated sequence
  EXPECT_EQ(printable_text(std::string("\xE0\x80\x80")), "\uFFFD\uFFFD\uFFFD");  // overlong
  EXPECT_EQ(printable_text("se\u00f1or \u4e2d"), "se\u00f1or \u4e2d");
}

TEST(VizSvg, GroupsConsecutiveShapesOfOneRole) {
  Drawing drawing(10, 10);
  drawing.add(RectShape{.x = 0, .y = 0, .width = 1, .height = 1, .css_class = "cell"});
  drawing.add(RectShape{.x = 1, .y = 0, .width = 1, .height = 1, .css_class = "cell"});
  drawing.add(TextShape{.at = {1, 2}, .text = "t", .css_class = "label"});
  const std::string svg = render_svg(drawing);
  EXPECT_EQ(svg.find("<g class=\"cell\">"), svg.rfind("<g class=\"cell\">"));  // one group
  EXPECT_NE(svg.find("<g class=\"label\">"), std::string::npos);
}


// A parsed SVG document queried with XPath; the SVG namespace is bound to "s".
class SvgDocument {
 public:
  explicit SvgDocument(const std::string& text) {
    document_ = xmlReadMemory(text.data(), static_cast<int>(text.size()), "figure.svg", nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (document_ == nullptr) return;
    context_ = xmlXPathNewContext(document_);
    xmlXPathRegisterNs(context_, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
  }
  ~SvgDocument() {
    if (context_ != nullptr) xmlXPathFreeContext(context_);
    if (document_ != nullptr) xmlFreeDoc(document_);
  }
  SvgDocument(const SvgDocument&) = delete;
  SvgDocument& operator=(const SvgDocument&) = delete;

  bool well_formed() const { return document_ != nullptr; }

  std::string root_name() const { return reinterpret_cast<const char*>(xmlDocGetRootElement(document_)->name); }
  std::string root_attribute(const char* name) const { return attribute_of(xmlDocGetRootElement(document_), name); }

  std::size_t count(const std::string& xpath) const { return nodes(xpath).size(); }

  // The text content of every match, in document order.
  std::vector<std::string> texts(const std::string& xpath) const {
    std::vector<std::string> out;
    for (xmlNodePtr node : nodes(xpath)) {
      xmlChar* content = xmlNodeGetContent(node);
      out.emplace_back(reinterpret_cast<const char*>(content));
      xmlFree(content);
    }
    return out;
  }

  std::vector<std::string> attributes(const std::string& xpath, const char* name) const {
    std::vector<std::string> out;
    for (xmlNodePtr node : nodes(xpath)) out.push_back(attribute_of(node, name));
    return out;
  }

 private:
  static std::string attribute_of(xmlNodePtr node, const char* name) {
    xmlChar* value = xmlGetProp(node, BAD_CAST name);
    if (value == nullptr) return "";
    std::string out(reinterpret_cast<const char*>(value));
    xmlFree(value);
    return out;
  }

  std::vector<xmlNodePtr> nodes(const std::string& xpath) const {
    std::vector<xmlNodePtr> out;
    xmlXPathObjectPtr result = xmlXPathEvalExpression(BAD_CAST xpath.c_str(), context_);
    if (result == nullptr) return out;
    if (result->nodesetval != nullptr) {
      for (int i = 0; i < result->nodesetval->nodeNr; ++i) out.push_back(result->nodesetval->nodeTab[i]);
    }
    xmlXPathFreeObject(result);
    return out;
  }

  xmlDocPtr document_ = nullptr;
  xmlXPathContextPtr context_ = nullptr;
};

HeatmapPanel panel_with_labels(std::vector<std::string> rows, std::vector<std::string> columns) {
  HeatmapPanel panel;
  panel.rows = static_cast<std::int64_t>(rows.size());
  panel.columns = static_cast<std::int64_t>(columns.size());
  for (std::int64_t i = 0; i < panel.rows * panel.columns; ++i) panel.values.push_back(static_cast<float>(i % 5) / 4);
  panel.row_labels = std::move(rows);
  panel.column_labels = std::move(columns);
  return panel;
}

std::string number_text(double value) {
  std::string text = std::to_string(static_cast<long long>(value));
  return text;
}

TEST(VizSvg, HeatmapIsWellFormedWithExactSizeOneRectPerWeightAndEscapedLabels) {
  const std::vector<std::string> rows{"<s>", "a&b", "\"q\"", "it's"};
  const std::vector<std::string> columns{"\u2581No", "me", "</s>"};
  HeatmapPanel first = panel_with_labels(rows, columns);
  first.title = "head 0";
  HeatmapPanel second = first;
  second.title = "head 1";
  HeatmapOptions options;
  options.title = "Cross <attention> & more";
  const Drawing drawing = draw_heatmaps({first, second}, options);
  const std::string svg = render_svg(drawing);

  SvgDocument document(svg);
  ASSERT_TRUE(document.well_formed()) << svg.substr(0, 400);
  EXPECT_EQ(document.root_name(), "svg");
  const std::string width = number_text(drawing.width()), height = number_text(drawing.height());
  EXPECT_EQ(document.root_attribute("width"), width);
  EXPECT_EQ(document.root_attribute("height"), height);
  EXPECT_EQ(document.root_attribute("viewBox"), "0 0 " + width + " " + height);
  EXPECT_EQ(document.count("//s:g[@class='cell']/s:rect"), 2u * 4 * 3);
  EXPECT_EQ(document.texts("//s:g[@class='row-label']/s:text"),
            (std::vector<std::string>{"<s>", "a&b", "\"q\"", "it's", "<s>", "a&b", "\"q\"", "it's"}));
  EXPECT_EQ(document.texts("(//s:g[@class='column-label'])[1]/s:text"), columns);
  EXPECT_EQ(document.texts("//s:g[@class='panel-title']/s:text"), (std::vector<std::string>{"head 0", "head 1"}));
  EXPECT_EQ(document.texts("//s:g[@class='title']/s:text"), std::vector<std::string>{options.title});
  EXPECT_EQ(document.texts("/s:svg/s:title"), std::vector<std::string>{options.title});
  // Column labels read upwards.
  for (const std::string& transform : document.attributes("//s:g[@class='column-label']/s:text", "transform")) {
    EXPECT_EQ(transform.rfind("rotate(-90 ", 0), 0u) << transform;
  }
  // Small maps carry their values: one per cell.
  EXPECT_EQ(document.count("//s:g[@class='value']/s:text"), 2u * 4 * 3);
}

TEST(VizSvg, CellFillsFollowTheColourScaleInRowMajorOrder) {
  HeatmapPanel panel = panel_with_labels({"a", "b"}, {"x", "y", "z"});
  panel.values = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 0.3f};
  const std::string svg = render_svg(draw_heatmaps({panel}, HeatmapOptions{}));
  SvgDocument document(svg);
  ASSERT_TRUE(document.well_formed());
  const std::vector<std::string> fills = document.attributes("//s:g[@class='cell']/s:rect", "fill");
  ASSERT_EQ(fills.size(), 6u);
  for (std::size_t i = 0; i < fills.size(); ++i) {
    EXPECT_EQ(fills[i], scale_color(Palette::Blues, panel.values[i]).hex()) << "cell " << i;
  }
  EXPECT_EQ(document.texts("//s:g[@class='value']/s:text"),
            (std::vector<std::string>{"0", ".25", ".50", ".75", "1", ".30"}));
}

TEST(VizSvg, WeightedTextIsWellFormedWithOneBoxPerPieceAndTooltips) {
  WeightedTextOptions options;
  options.join = PieceJoin::SentencePiece;
  options.caption = "predicted: <pos> (p = 0.9)";
  const std::vector<std::string> pieces{"\u2581a", "\u2581great", "\u2581fil", "m", "\u2581&", "\u2581fun"};
  const std::string svg = render_svg(draw_weighted_text(pieces, {0.1, 0.5, 0.2, 0.1, 0.05, 0.05}, options));
  SvgDocument document(svg);
  ASSERT_TRUE(document.well_formed()) << svg.substr(0, 400);
  EXPECT_EQ(document.count("//s:g[@class='word']/s:rect"), pieces.size());
  EXPECT_EQ(document.texts("//s:g[@class='word-text']/s:text"),
            (std::vector<std::string>{"a", "great", "fil", "m", "&", "fun"}));
  EXPECT_EQ(document.texts("//s:g[@class='word']/s:rect/s:title")[1], "\u2581great: 0.5");
  EXPECT_EQ(document.texts("//s:g[@class='caption']/s:text"), std::vector<std::string>{options.caption});
}

TEST(VizSvg, LinePlotIsWellFormedWithSeriesMarkersAndLegend) {
  PlotPanel loss{.y_label = "loss", .series = {}};
  loss.series.push_back(Series{.name = "train loss", .points = {{50, 4}, {100, 3}, {150, 2.5}}});
  loss.series.push_back(Series{.name = "validation loss", .points = {{100, 3.2}, {150, 2.9}}, .markers = true});
  LinePlotOptions options;
  options.x_label = "step";
  const std::string svg = render_svg(draw_line_plots({loss}, options));
  SvgDocument document(svg);
  ASSERT_TRUE(document.well_formed()) << svg.substr(0, 400);
  EXPECT_EQ(document.count("//s:g[@class='series']/s:polyline"), 2u);
  EXPECT_EQ(document.count("//s:g[@class='marker']/s:circle"), 2u);
  EXPECT_EQ(document.texts("//s:g[@class='legend-text']/s:text"),
            (std::vector<std::string>{"train loss", "validation loss"}));
  EXPECT_EQ(document.texts("//s:g[@class='x-tick']/s:text").front(), "0");
  const std::vector<std::string> labels = document.texts("//s:g[@class='axis-label']/s:text");
  EXPECT_NE(std::find(labels.begin(), labels.end(), "step"), labels.end());
}

}  // namespace
}  // namespace attn::viz
