#include "attn/viz/drawing.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

// DejaVu Sans 2.37 advance widths in thousandths of an em, for U+0020..U+007E and
// U+00A0..U+00FF (ASCII and Latin-1: the scripts of attn's corpora), read from the font with
// cairo.
constexpr std::array<std::uint16_t, 95> kRegularAscii{
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,
    636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,
    1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,
    603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500,
    500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838};
constexpr std::array<std::uint16_t, 96> kRegularLatin1{
    318, 401, 636, 636, 636, 636, 337, 500, 500, 1000, 471, 612, 838, 361, 1000, 500,
    500, 838, 401, 401, 500, 636, 636, 318, 500, 401, 471, 612, 969, 969, 969, 531,
    684, 684, 684, 684, 684, 684, 974, 698, 632, 632, 632, 632, 295, 295, 295, 295,
    775, 748, 787, 787, 787, 787, 787, 838, 787, 732, 732, 732, 732, 611, 605, 630,
    613, 613, 613, 613, 613, 613, 982, 550, 615, 615, 615, 615, 278, 278, 278, 278,
    612, 634, 612, 612, 612, 612, 612, 838, 612, 634, 634, 634, 634, 592, 635, 592};
constexpr std::array<std::uint16_t, 95> kBoldAscii{
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365,
    696, 696, 696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580,
    1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850,
    733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500,
    500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687,
    716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838};
constexpr std::array<std::uint16_t, 96> kBoldLatin1{
    348, 456, 696, 696, 636, 696, 365, 500, 500, 1000, 564, 646, 838, 415, 1000, 500,
    500, 838, 438, 438, 500, 736, 636, 380, 500, 438, 564, 646, 1035, 1035, 1035, 580,
    774, 774, 774, 774, 774, 774, 1085, 734, 683, 683, 683, 683, 372, 372, 372, 372,
    838, 837, 850, 850, 850, 850, 850, 838, 850, 812, 812, 812, 812, 724, 738, 719,
    675, 675, 675, 675, 675, 675, 1048, 593, 678, 678, 678, 678, 343, 343, 343, 343,
    687, 712, 687, 687, 687, 687, 687, 838, 687, 712, 712, 712, 712, 652, 716, 652};

// Symbols the figures use (SentencePiece's word mark, the ellipsis, the visible space, ...).
struct SymbolWidth {
  char32_t code_point;
  std::uint16_t regular, bold;
};
constexpr std::array<SymbolWidth, 13> kSymbols{{{0x2581, 769, 769},  {0x2026, 1000, 1000},
                                                {0x2423, 635, 716},  {0x21B5, 838, 838},
                                                {0x2013, 500, 500},  {0x2014, 1000, 1000},
                                                {0x2018, 318, 380},  {0x2019, 318, 380},
                                                {0x201C, 518, 657},  {0x201D, 518, 657},
                                                {0xFFFD, 1025, 1113}, {0x2022, 590, 639},
                                                {0x03B1, 659, 687}}};

constexpr char32_t kReplacement = 0xFFFD;

// East Asian wide and fullwidth blocks (Hangul, CJK, kana, fullwidth forms): one em.
bool is_wide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) ||
         (c >= 0x20000 && c <= 0x3FFFD);
}

double em_width(char32_t c, bool bold) {
  if (c >= 0x20 && c <= 0x7E) return (bold ? kBoldAscii : kRegularAscii)[c - 0x20] / 1000.0;
  if (c >= 0xA0 && c <= 0xFF) return (bold ? kBoldLatin1 : kRegularLatin1)[c - 0xA0] / 1000.0;
  for (const SymbolWidth& symbol : kSymbols) {
    if (symbol.code_point == c) return (bold ? symbol.bold : symbol.regular) / 1000.0;
  }
  return is_wide(c) ? 1.0 : 0.6;
}

// The code point at text[position] and the bytes it takes; an invalid sequence gives
// U+FFFD for one byte (a lenient decoder: figures show bad bytes, they do not reject them).
std::pair<char32_t, std::size_t> decode_one(std::string_view text, std::size_t position) {
  const auto lead = static_cast<unsigned char>(text[position]);
  if (lead < 0x80) return {lead, 1};
  std::size_t length = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (length == 0 || lead > 0xF4 || position + length > text.size()) return {kReplacement, 1};
  char32_t code_point = lead & (0xFF >> (length + 1));
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[position + i]);
    if ((next & 0xC0) != 0x80) return {kReplacement, 1};
    code_point = (code_point << 6) | (next & 0x3F);
  }
  const bool overlong = (length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000);
  const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  if (overlong || surrogate || code_point > 0x10FFFF) return {kReplacement, 1};
  return {code_point, length};
}

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Characters XML 1.0 forbids or that draw nothing useful: C0 and C1 controls, DEL, and the
// non-characters U+FFFE and U+FFFF.
bool is_unprintable(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0xFFFE || c == 0xFFFF;
}

}  // namespace

Drawing::Drawing(double width, double height) : width_(width), height_(height) {
  ATTN_CHECK(width > 0 && height > 0 && std::isfinite(width) && std::isfinite(height),
             "Drawing: expected a positive width and height, got ", width, " x ", height);
}

std::string printable_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t position = 0; position < text.size();) {
    auto [code_point, length] = decode_one(text, position);
    position += length;
    if (code_point == '\t') code_point = ' ';
    append_utf8(is_unprintable(code_point) ? kReplacement : code_point, out);
  }
  return out;
}

double text_width(std::string_view text, const Font& font) {
  double ems = 0;
  for (std::size_t position = 0; position < text.size();) {
    auto [code_point, length] = decode_one(text, position);
    position += length;
    ems += em_width(code_point, font.bold);
  }
  return ems * font.size;
}

double baseline_for_center(double center_y, const Font& font) {
  // DejaVu Sans: capitals 0.73 em tall, lowercase 0.55 em; centring the span between the
  // two keeps both kinds of label visually centred.
  return center_y + 0.32 * font.size;
}

std::string fit_text(std::string_view text, const Font& font, double max_width) {
  if (text_width(text, font) <= max_width) return std::string(text);
  const std::string ellipsis = "\u2026";
  const double budget = max_width - text_width(ellipsis, font);
  std::string out;
  double width = 0;
  for (std::size_t position = 0; position < text.size();) {
    const std::size_t length = decode_one(text, position).second;
    const std::string_view piece = text.substr(position, length);
    width += text_width(piece, font);
    if (width > budget) break;
    out += piece;
    position += length;
  }
  return out + ellipsis;
}

}  // namespace attn::viz
