// The colour scales: anchors and interpolation as known answers, clamping, and the text
// colour that reads on each background.
#include "attn/viz/color.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace attn::viz {
namespace {

TEST(VizColor, HexIsLowercaseWithLeadingZeros) {
  EXPECT_EQ((Color{0x08, 0x30, 0x6b}).hex(), "#08306b");
  EXPECT_EQ((Color{255, 255, 255}).hex(), "#ffffff");
  EXPECT_EQ((Color{0, 0, 0}).hex(), "#000000");
}

TEST(VizColor, ScaleHitsTheColorBrewerAnchorsAtEighths) {
  EXPECT_EQ(scale_color(Palette::Blues, 0.0).hex(), "#f7fbff");
  EXPECT_EQ(scale_color(Palette::Blues, 0.5).hex(), "#6baed6");    // anchor 4 of 0..8
  EXPECT_EQ(scale_color(Palette::Blues, 0.875).hex(), "#08519c");  // anchor 7
  EXPECT_EQ(scale_color(Palette::Blues, 1.0).hex(), "#08306b");
  EXPECT_EQ(scale_color(Palette::Reds, 0.0).hex(), "#fff5f0");
  EXPECT_EQ(scale_color(Palette::Reds, 1.0).hex(), "#67000d");
}

TEST(VizColor, ScaleInterpolatesLinearlyBetweenAnchors) {
  // Halfway between anchors 0 (#f7fbff) and 1 (#deebf7): (247+222)/2 = 234.5 -> 235,
  // (251+235)/2 = 243, (255+247)/2 = 251.
  EXPECT_EQ(scale_color(Palette::Blues, 1.0 / 16), (Color{235, 243, 251}));
  // A quarter of the way from anchor 7 (#08519c) to 8 (#08306b): 0x51 - 0.25 * 0x21 = 72.75.
  EXPECT_EQ(scale_color(Palette::Blues, 0.875 + 0.125 / 4), (Color{8, 73, 144}));
}

TEST(VizColor, ScaleClampsAndTreatsNaNAsZero) {
  EXPECT_EQ(scale_color(Palette::Blues, -0.3), scale_color(Palette::Blues, 0.0));
  EXPECT_EQ(scale_color(Palette::Blues, 7.0), scale_color(Palette::Blues, 1.0));
  EXPECT_EQ(scale_color(Palette::Blues, std::numeric_limits<double>::quiet_NaN()),
            scale_color(Palette::Blues, 0.0));
}

TEST(VizColor, ScaleDarkensMonotonically) {
  double previous = 2.0;
  for (int i = 0; i <= 64; ++i) {
    const double luminance = relative_luminance(scale_color(Palette::Blues, i / 64.0));
    EXPECT_LT(luminance, previous) << "at " << i << "/64";
    previous = luminance;
  }
}

TEST(VizColor, TextIsBlackOnLightAndWhiteOnDarkBackgrounds) {
  EXPECT_NEAR(relative_luminance(kWhite), 1.0, 1e-12);
  EXPECT_NEAR(relative_luminance(kBlack), 0.0, 1e-12);
  EXPECT_EQ(text_color_on(scale_color(Palette::Blues, 0.0)), kBlack);
  EXPECT_EQ(text_color_on(scale_color(Palette::Blues, 1.0)), kWhite);
  EXPECT_EQ(text_color_on(scale_color(Palette::Reds, 0.2)), kBlack);
  EXPECT_EQ(text_color_on(scale_color(Palette::Reds, 0.9)), kWhite);
}

TEST(VizColor, SeriesColorsRepeatAfterTen) {
  EXPECT_EQ(series_color(0).hex(), "#1f77b4");
  EXPECT_EQ(series_color(1).hex(), "#ff7f0e");
  EXPECT_EQ(series_color(10), series_color(0));
  EXPECT_NE(series_color(3), series_color(4));
}

}  // namespace
}  // namespace attn::viz
