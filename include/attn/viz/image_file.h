// Writing a Drawing to a file whose extension picks the format: .svg or .png.
#pragma once

#include <string>
#include <string_view>

#include "attn/viz/drawing.h"

namespace attn::viz {

enum class ImageFormat { Svg, Png };

// The format of an output path, from its extension (case-insensitive); any other extension
// is an error naming the accepted ones.
ImageFormat image_format_of(const std::string& path);

// The file's bytes in `format`; `png_scale` as in render_png.
std::string encode_image(const Drawing& drawing, ImageFormat format, double png_scale = 1.0);

// Writes the drawing to `path` atomically (attn/io/atomic_file.h), in the format its
// extension names.
void save_image(const Drawing& drawing, const std::string& path, double png_scale = 1.0);

}  // namespace attn::viz
