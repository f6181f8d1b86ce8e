// PNG output of a Drawing through cairo (an ARGB image surface, antialiased, text in
// DejaVu Sans through cairo's toy text API), and reading a PNG back into pixels.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attn/viz/drawing.h"

namespace attn::viz {

// The PNG file's bytes: the drawing at `scale` device pixels per drawing pixel (2 gives a
// sharp image on high-density screens), ceil(width * scale) x ceil(height * scale) pixels,
// opaque. `scale` must be in (0, 16].
std::string render_png(const Drawing& drawing, double scale = 1.0);

// Decoded pixels, row-major, top row first.
struct RasterImage {
  int width = 0, height = 0;
  std::vector<std::uint32_t> pixels;  // 0xAARRGGBB, alpha premultiplied (cairo's ARGB32)

  Color pixel(int x, int y) const;  // the colour at (x, y); the image must be opaque there
};

// Reads PNG bytes (any PNG cairo reads: RGB, RGBA, grey, palette); throws attn::Error
// naming `source_name` when they are not a PNG image.
RasterImage decode_png(std::string_view bytes, const std::string& source_name = "PNG data");

}  // namespace attn::viz
