#include "attn/viz/image_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"
#include "attn/viz/png.h"
#include "attn/viz/svg.h"

namespace attn::viz {

ImageFormat image_format_of(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".svg") return ImageFormat::Svg;
  if (extension == ".png") return ImageFormat::Png;
  ATTN_CHECK(false, "image file: expected a name ending in .svg or .png, got '", path, "'");
  return ImageFormat::Svg;
}

std::string encode_image(const Drawing& drawing, ImageFormat format, double png_scale) {
  return format == ImageFormat::Png ? render_png(drawing, png_scale) : render_svg(drawing);
}

void save_image(const Drawing& drawing, const std::string& path, double png_scale) {
  const ImageFormat format = image_format_of(path);
  io::write_file_atomic(path, encode_image(drawing, format, png_scale));
}

}  // namespace attn::viz
