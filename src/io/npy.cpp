// The .npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include "attn/io/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"

namespace attn::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kAlignment = 64;

const char* descriptor_of(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "<f4";
    case DType::Float64:
      return "<f8";
    case DType::Int64:
      return "<i8";
    default:
      throw Error(detail::concat("npy: cannot write dtype ", dtype_name(dtype),
                                 " (attn writes float32, float64 and int64)"));
  }
}

// A Python tuple: (), (5,), (2, 384).
std::string shape_literal(const Shape& shape) {
  if (shape.size() == 1) return "(" + std::to_string(shape[0]) + ",)";
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + ")";
}

// ---- reading --------------------------------------------------------------------------

// The value after "'key':" in the header dict, up to the next top-level comma.
std::string header_value(const std::string& header, const std::string& key,
                         const std::string& source) {
  const std::size_t at = header.find("'" + key + "'");
  ATTN_CHECK(at != std::string::npos, source, ": npy header has no '", key, "': ", header);
  std::size_t begin = header.find(':', at);
  ATTN_CHECK(begin != std::string::npos, source, ": malformed npy header: ", header);
  ++begin;
  while (begin < header.size() && header[begin] == ' ') ++begin;
  std::size_t end = begin;
  int depth = 0;
  while (end < header.size() && !(depth == 0 && (header[end] == ',' || header[end] == '}'))) {
    if (header[end] == '(') ++depth;
    if (header[end] == ')') --depth;
    ++end;
  }
  return header.substr(begin, end - begin);
}

Shape parse_shape_literal(const std::string& literal, const std::string& source) {
  ATTN_CHECK(literal.size() >= 2 && literal.front() == '(' && literal.back() == ')', source,
             ": npy shape must be a tuple, got ", literal);
  Shape shape;
  std::stringstream items(literal.substr(1, literal.size() - 2));
  for (std::string item; std::getline(items, item, ',');) {
    const std::size_t first = item.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    item = item.substr(first, item.find_last_not_of(' ') - first + 1);
    ATTN_CHECK(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos &&
                   item.size() <= 15,
               source, ": npy shape holds '", item, "', not a non-negative integer");
    shape.push_back(std::stoll(item));
  }
  return shape;
}

DType dtype_of_descriptor(const std::string& literal, const std::string& source) {
  if (literal == "'<f4'") return DType::Float32;
  if (literal == "'<f8'") return DType::Float64;
  if (literal == "'<i8'") return DType::Int64;
  throw Error(detail::concat(source, ": npy dtype ", literal,
                             " is not supported (attn reads '<f4', '<f8' and '<i8')"));
}

}  // namespace

std::string serialize_npy(const Tensor& tensor) {
  ATTN_CHECK(tensor.defined(), "npy: cannot write an undefined tensor");
  std::string header = std::string("{'descr': '") + descriptor_of(tensor.dtype()) +
                       "', 'fortran_order': False, 'shape': " + shape_literal(tensor.shape()) +
                       ", }";
  // magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes.
  const std::size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  header.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  header.push_back('\n');
  std::string bytes(kMagic, kMagicSize);
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(char(header.size() & 0xFF));
  bytes.push_back(char(header.size() >> 8));
  bytes += header;
  Tensor contiguous = tensor.contiguous();
  bytes.append(static_cast<const char*>(contiguous.raw_data()),
               std::size_t(contiguous.numel()) * dtype_size(contiguous.dtype()));
  return bytes;
}

void save_npy(const std::string& path, const Tensor& tensor) {
  const std::string bytes = serialize_npy(tensor);
  AtomicFileWriter writer(path);
  writer.write(bytes);
  writer.commit();
}

Tensor parse_npy(const std::string& bytes, const std::string& source) {
  ATTN_CHECK(bytes.size() >= kMagicSize + 4 && bytes.compare(0, kMagicSize, kMagic, kMagicSize) == 0,
             source, ": not a .npy file (no \\x93NUMPY magic)");
  ATTN_CHECK(bytes[kMagicSize] == 1 && bytes[kMagicSize + 1] == 0, source,
             ": npy version ", int(bytes[kMagicSize]), ".", int(bytes[kMagicSize + 1]),
             " is not supported (attn reads 1.0)");
  const std::size_t header_size = std::size_t(std::uint8_t(bytes[8])) | (std::size_t(std::uint8_t(bytes[9])) << 8);
  ATTN_CHECK(10 + header_size <= bytes.size(), source, ": npy header of ", header_size,
             " bytes reaches past the end of the file");
  const std::string header = bytes.substr(10, header_size);
  const DType dtype = dtype_of_descriptor(header_value(header, "descr", source), source);
  ATTN_CHECK(header_value(header, "fortran_order", source) == "False", source,
             ": Fortran-order npy arrays are not supported");
  const Shape shape = parse_shape_literal(header_value(header, "shape", source), source);
  // The size is checked before anything is allocated, with overflow in mind. A tensor's
  // strides multiply the extents after each one (a zero counted as one), so their product
  // must fit in int64 even when a zero extent makes the array empty.
  std::int64_t stride_product = 1;
  for (std::int64_t extent : shape) {
    ATTN_CHECK(!__builtin_mul_overflow(stride_product, std::max<std::int64_t>(extent, 1), &stride_product),
               source, ": npy shape ", to_string(shape), " is too large");
  }
  std::uint64_t data_size = dtype_size(dtype);
  for (std::int64_t extent : shape) {
    ATTN_CHECK(!__builtin_mul_overflow(data_size, std::uint64_t(extent), &data_size), source,
               ": npy shape ", to_string(shape), " is too large");
  }
  const std::uint64_t available = bytes.size() - 10 - header_size;
  ATTN_CHECK(available == data_size, source, ": npy data holds ", available, " bytes, but ",
             to_string(shape), " of ", dtype_name(dtype), " needs ", data_size);
  Tensor tensor = Tensor::empty(shape, dtype);
  if (data_size > 0) std::memcpy(tensor.raw_data(), bytes.data() + 10 + header_size, data_size);
  return tensor;
}

Tensor load_npy(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  ATTN_CHECK(stream.good(), path, ": cannot open");
  std::stringstream contents;
  contents << stream.rdbuf();
  return parse_npy(contents.str(), path);
}

}  // namespace attn::io
