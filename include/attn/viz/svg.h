// SVG output of a Drawing: XML text, sized in pixels with an exact viewBox, text as <text>
// elements (crisp at any zoom, searchable, selectable), every role as a class attribute.
#pragma once

#include <string>
#include <string_view>

#include "attn/viz/drawing.h"

namespace attn::viz {

// `text` with &, <, >, " and ' escaped, for element content and attribute values alike.
// The text should already be printable (printable_text); render_svg sees to that.
std::string xml_escape(std::string_view text);

// A standalone SVG 1.1 document. Consecutive shapes with the same role share one
// <g class="ROLE"> element, which keeps maps of thousands of cells compact.
std::string render_svg(const Drawing& drawing);

}  // namespace attn::viz
