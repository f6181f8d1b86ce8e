#include "attn/viz/svg.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace attn::viz {
namespace {

constexpr const char* kFontFamily = "DejaVu Sans, Verdana, Arial, sans-serif";

// Coordinates with at most two decimals and no trailing zeros: "12", "12.5", "0.25".
std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  std::string out = text;
  out.erase(out.find_last_not_of('0') + 1);
  if (out.back() == '.') out.pop_back();
  if (out == "-0") out = "0";
  return out;
}

std::string attribute(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + value + "\"";
}

std::string anchor_name(TextAnchor anchor) {
  return anchor == TextAnchor::Middle ? "middle" : anchor == TextAnchor::End ? "end" : "start";
}

// The role of an element, whichever kind it is.
const std::string& role_of(const Element& element) {
  return std::visit([](const auto& shape) -> const std::string& { return shape.css_class; }, element);
}

std::string svg_element(const RectShape& rect) {
  std::string out = "<rect" + attribute("x", number(rect.x)) + attribute("y", number(rect.y)) +
                    attribute("width", number(rect.width)) +
                    attribute("height", number(rect.height)) + attribute("fill", rect.fill.hex());
  if (rect.stroke) {
    out += attribute("stroke", rect.stroke->hex()) +
           attribute("stroke-width", number(rect.stroke_width));
  }
  if (rect.tooltip.empty()) return out + "/>";
  return out + "><title>" + xml_escape(printable_text(rect.tooltip)) + "</title></rect>";
}

std::string svg_element(const TextShape& text) {
  std::string out = "<text" + attribute("x", number(text.at.x)) + attribute("y", number(text.at.y)) +
                    attribute("font-size", number(text.font.size));
  if (text.font.bold) out += attribute("font-weight", "bold");
  if (text.anchor != TextAnchor::Start) out += attribute("text-anchor", anchor_name(text.anchor));
  if (text.color != kBlack) out += attribute("fill", text.color.hex());
  if (text.rotation_degrees != 0) {
    out += attribute("transform", "rotate(" + number(text.rotation_degrees) + " " +
                                      number(text.at.x) + " " + number(text.at.y) + ")");
  }
  return out + ">" + xml_escape(printable_text(text.text)) + "</text>";
}

std::string svg_element(const LineShape& line) {
  std::string points;
  for (const Point& point : line.points) {
    if (!points.empty()) points += ' ';
    points += number(point.x) + "," + number(point.y);
  }
  std::string out = "<polyline" + attribute("points", points) + attribute("fill", "none") +
                    attribute("stroke", line.color.hex()) +
                    attribute("stroke-width", number(line.width));
  if (line.dashed) out += attribute("stroke-dasharray", number(4 * line.width) + "," + number(3 * line.width));
  return out + attribute("stroke-linejoin", "round") + "/>";
}

std::string svg_element(const CircleShape& circle) {
  return "<circle" + attribute("cx", number(circle.center.x)) +
         attribute("cy", number(circle.center.y)) + attribute("r", number(circle.radius)) +
         attribute("fill", circle.fill.hex()) + "/>";
}

std::string header(const Drawing& drawing) {
  const std::string width = number(drawing.width()), height = number(drawing.height());
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"" +
                    attribute("version", "1.1") + attribute("width", width) +
                    attribute("height", height) +
                    attribute("viewBox", "0 0 " + width + " " + height) +
                    attribute("font-family", kFontFamily) +
                    // Spaces in text are kept as the PNG keeps them, not collapsed.
                    attribute("xml:space", "preserve") + ">\n";
  if (!drawing.title.empty()) out += "<title>" + xml_escape(printable_text(drawing.title)) + "</title>\n";
  return out + "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_svg(const Drawing& drawing) {
  std::string out = header(drawing);
  const std::vector<Element>& elements = drawing.elements();
  for (std::size_t begin = 0; begin < elements.size();) {
    // A run of elements with one role becomes one group.
    const std::string& role = role_of(elements[begin]);
    std::size_t end = begin + 1;
    while (end < elements.size() && role_of(elements[end]) == role) ++end;
    const bool grouped = !role.empty();
    if (grouped) out += "<g class=\"" + xml_escape(role) + "\">\n";
    for (std::size_t i = begin; i < end; ++i) {
      out += std::visit([](const auto& shape) { return svg_element(shape); }, elements[i]) + "\n";
    }
    if (grouped) out += "</g>\n";
    begin = end;
  }
  return out + "</svg>\n";
}

}  // namespace attn::viz
