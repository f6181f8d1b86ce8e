#include "attn/viz/color.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace attn::viz {
namespace {

using Anchors = std::array<Color, 9>;

// ColorBrewer 2.0 (Cynthia Brewer, Penn State), sequential, nine classes.
constexpr Anchors kBlues{{{0xf7, 0xfb, 0xff}, {0xde, 0xeb, 0xf7}, {0xc6, 0xdb, 0xef},
                          {0x9e, 0xca, 0xe1}, {0x6b, 0xae, 0xd6}, {0x42, 0x92, 0xc6},
                          {0x21, 0x71, 0xb5}, {0x08, 0x51, 0x9c}, {0x08, 0x30, 0x6b}}};
constexpr Anchors kReds{{{0xff, 0xf5, 0xf0}, {0xfe, 0xe0, 0xd2}, {0xfc, 0xbb, 0xa1},
                         {0xfc, 0x92, 0x72}, {0xfb, 0x6a, 0x4a}, {0xef, 0x3b, 0x2c},
                         {0xcb, 0x18, 0x1d}, {0xa5, 0x0f, 0x15}, {0x67, 0x00, 0x0d}}};

constexpr std::array<Color, 10> kTableau10{{{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e},
                                            {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
                                            {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b},
                                            {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
                                            {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf}}};

const Anchors& anchors_of(Palette palette) {
  return palette == Palette::Reds ? kReds : kBlues;
}

std::uint8_t mix(std::uint8_t low, std::uint8_t high, double t) {
  return static_cast<std::uint8_t>(std::lround(low + (high - low) * t));
}

// sRGB component (0..255) to linear light, as WCAG defines it.
double linear_component(std::uint8_t value) {
  const double c = value / 255.0;
  return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

}  // namespace

std::string Color::hex() const {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", red, green, blue);
  return text;
}

Color scale_color(Palette palette, double fraction) {
  const Anchors& anchors = anchors_of(palette);
  if (!(fraction > 0.0)) return anchors.front();  // also NaN
  if (fraction >= 1.0) return anchors.back();
  const double position = fraction * static_cast<double>(anchors.size() - 1);
  const auto index = static_cast<std::size_t>(position);
  const double t = position - static_cast<double>(index);
  const Color& low = anchors[index];
  const Color& high = anchors[index + 1];
  return {mix(low.red, high.red, t), mix(low.green, high.green, t), mix(low.blue, high.blue, t)};
}

Color series_color(std::size_t index) { return kTableau10[index % kTableau10.size()]; }

double relative_luminance(Color color) {
  return 0.2126 * linear_component(color.red) + 0.7152 * linear_component(color.green) +
         0.0722 * linear_component(color.blue);
}

Color text_color_on(Color background) {
  // Contrast ratios (L1 + 0.05) / (L2 + 0.05) against black and white; they are equal at
  // L = sqrt(1.05 * 0.05) - 0.05, about 0.179.
  return relative_luminance(background) > 0.179 ? kBlack : kWhite;
}

}  // namespace attn::viz
