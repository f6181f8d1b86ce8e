// Colours of the figures: the sequential scales that shade attention weights, the colours of
// line-plot series, and the choice of a readable text colour on a shaded background.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace attn::viz {

struct Color {
  std::uint8_t red = 0, green = 0, blue = 0;

  std::string hex() const;  // "#rrggbb", lowercase
  bool operator==(const Color&) const = default;
};

inline constexpr Color kBlack{0, 0, 0};
inline constexpr Color kWhite{255, 255, 255};

// Sequential scales from near-white (weight 0) to a dark shade (the largest weight): the
// nine-colour ColorBrewer schemes of the same names (also matplotlib's "Blues" and "Reds").
// Near-white at zero keeps a sparse map readable: only the weights that matter stand out.
enum class Palette { Blues, Reds };

// The colour of `fraction` on the scale, interpolated linearly (in sRGB) between the nine
// anchors, which sit at fractions 0, 1/8, ..., 1. Fractions outside [0, 1] are clamped; NaN
// gives the colour of 0.
Color scale_color(Palette palette, double fraction);

// The i-th colour of the series palette (Tableau 10, repeating after ten).
Color series_color(std::size_t index);

// WCAG relative luminance in [0, 1].
double relative_luminance(Color color);

// Black on light backgrounds, white on dark ones (whichever contrasts more).
Color text_color_on(Color background);

}  // namespace attn::viz
