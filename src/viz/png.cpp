#include "attn/viz/png.h"

#include <cairo.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "attn/core/error.h"

namespace attn::viz {
namespace {

constexpr const char* kFontFamily = "DejaVu Sans";
constexpr double kPi = 3.14159265358979323846;

struct SurfaceDeleter {
  void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};
struct ContextDeleter {
  void operator()(cairo_t* context) const { cairo_destroy(context); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

void set_color(cairo_t* context, Color color) {
  cairo_set_source_rgb(context, color.red / 255.0, color.green / 255.0, color.blue / 255.0);
}

void draw(cairo_t* context, const RectShape& rect) {
  cairo_rectangle(context, rect.x, rect.y, rect.width, rect.height);
  set_color(context, rect.fill);
  if (!rect.stroke) {
    cairo_fill(context);
    return;
  }
  cairo_fill_preserve(context);
  set_color(context, *rect.stroke);
  cairo_set_line_width(context, rect.stroke_width);
  cairo_stroke(context);
}

void draw(cairo_t* context, const TextShape& text) {
  const std::string printable = printable_text(text.text);
  cairo_select_font_face(context, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         text.font.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(context, text.font.size);
  // The anchor offset uses cairo's own measure of the text, so a centred label is centred
  // with the font actually found even if it is not DejaVu Sans.
  cairo_text_extents_t extents;
  cairo_text_extents(context, printable.c_str(), &extents);
  const double offset = text.anchor == TextAnchor::Middle ? -extents.x_advance / 2
                        : text.anchor == TextAnchor::End  ? -extents.x_advance
                                                          : 0.0;
  cairo_save(context);
  cairo_translate(context, text.at.x, text.at.y);
  cairo_rotate(context, text.rotation_degrees * kPi / 180.0);
  cairo_move_to(context, offset, 0);
  set_color(context, text.color);
  cairo_show_text(context, printable.c_str());
  cairo_restore(context);
}

void draw(cairo_t* context, const LineShape& line) {
  if (line.points.empty()) return;
  cairo_move_to(context, line.points.front().x, line.points.front().y);
  for (std::size_t i = 1; i < line.points.size(); ++i) {
    cairo_line_to(context, line.points[i].x, line.points[i].y);
  }
  const double dashes[2] = {4 * line.width, 3 * line.width};
  cairo_set_dash(context, dashes, line.dashed ? 2 : 0, 0);
  cairo_set_line_width(context, line.width);
  cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND);
  set_color(context, line.color);
  cairo_stroke(context);
  cairo_set_dash(context, nullptr, 0, 0);
}

void draw(cairo_t* context, const CircleShape& circle) {
  cairo_new_sub_path(context);
  cairo_arc(context, circle.center.x, circle.center.y, circle.radius, 0, 2 * kPi);
  set_color(context, circle.fill);
  cairo_fill(context);
}

// cairo keeps the font faces of its toy text API, and fontconfig its configuration, for the
// life of the process, so leak checkers (the tests' ASan build) report both at exit. They
// are released at exit, when nothing draws any more. fontconfig is loaded as cairo's
// dependency and attn does not link it itself, hence the lookup of FcFini.
void release_font_caches() {
  cairo_debug_reset_static_data();
  using Function = void (*)();
  if (auto fontconfig_fini = reinterpret_cast<Function>(dlsym(RTLD_DEFAULT, "FcFini"))) fontconfig_fini();
}

void release_font_caches_at_exit() {
  static const bool registered = std::atexit(release_font_caches) == 0;
  (void)registered;
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

struct ByteReader {
  std::string_view bytes;
  std::size_t position = 0;
};

cairo_status_t read_bytes(void* closure, unsigned char* data, unsigned int length) {
  auto* reader = static_cast<ByteReader*>(closure);
  if (reader->bytes.size() - reader->position < length) return CAIRO_STATUS_READ_ERROR;
  std::memcpy(data, reader->bytes.data() + reader->position, length);
  reader->position += length;
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

std::string render_png(const Drawing& drawing, double scale) {
  ATTN_CHECK(scale > 0 && scale <= 16, "render_png: expected a scale in (0, 16], got ", scale);
  release_font_caches_at_exit();
  const int width = static_cast<int>(std::ceil(drawing.width() * scale));
  const int height = static_cast<int>(std::ceil(drawing.height() * scale));
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height));
  ATTN_CHECK(cairo_surface_status(surface.get()) == CAIRO_STATUS_SUCCESS, "render_png: cannot make a ",
             width, " x ", height, " image: ", cairo_status_to_string(cairo_surface_status(surface.get())));
  Context context(cairo_create(surface.get()));
  cairo_scale(context.get(), scale, scale);
  set_color(context.get(), kWhite);
  cairo_paint(context.get());
  for (const Element& element : drawing.elements()) {
    std::visit([&](const auto& shape) { draw(context.get(), shape); }, element);
  }
  const cairo_status_t status = cairo_status(context.get());
  ATTN_CHECK(status == CAIRO_STATUS_SUCCESS, "render_png: drawing failed: ", cairo_status_to_string(status));
  std::string bytes;
  const cairo_status_t written = cairo_surface_write_to_png_stream(surface.get(), append_bytes, &bytes);
  ATTN_CHECK(written == CAIRO_STATUS_SUCCESS, "render_png: encoding failed: ", cairo_status_to_string(written));
  return bytes;
}

Color RasterImage::pixel(int x, int y) const {
  ATTN_CHECK(x >= 0 && x < width && y >= 0 && y < height, "RasterImage::pixel: (", x, ", ", y,
             ") is outside the ", width, " x ", height, " image");
  const std::uint32_t value = pixels[static_cast<std::size_t>(y) * width + x];
  return {static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 8),
          static_cast<std::uint8_t>(value)};
}

RasterImage decode_png(std::string_view bytes, const std::string& source_name) {
  ByteReader reader{bytes};
  Surface surface(cairo_image_surface_create_from_png_stream(read_bytes, &reader));
  const cairo_status_t status = cairo_surface_status(surface.get());
  ATTN_CHECK(status == CAIRO_STATUS_SUCCESS, source_name, ": not a PNG image (",
             cairo_status_to_string(status), ")");
  cairo_surface_t* image = surface.get();
  if (cairo_image_surface_get_format(image) != CAIRO_FORMAT_ARGB32 &&
      cairo_image_surface_get_format(image) != CAIRO_FORMAT_RGB24) {
    // Grey or palette images: draw them onto an ARGB surface so every pixel reads the same way.
    Surface converted(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, cairo_image_surface_get_width(image),
                                                 cairo_image_surface_get_height(image)));
    Context context(cairo_create(converted.get()));
    cairo_set_source_surface(context.get(), image, 0, 0);
    cairo_paint(context.get());
    surface = std::move(converted);
    image = surface.get();
  }
  cairo_surface_flush(image);
  RasterImage result;
  result.width = cairo_image_surface_get_width(image);
  result.height = cairo_image_surface_get_height(image);
  const int stride = cairo_image_surface_get_stride(image);
  const unsigned char* data = cairo_image_surface_get_data(image);
  result.pixels.resize(static_cast<std::size_t>(result.width) * result.height);
  for (int y = 0; y < result.height; ++y) {
    std::memcpy(&result.pixels[static_cast<std::size_t>(y) * result.width], data + static_cast<std::size_t>(y) * stride,
                static_cast<std::size_t>(result.width) * 4);
  }
  return result;
}

}  // namespace attn::viz
