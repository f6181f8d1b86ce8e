#include "attn/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <vector>

#include "attn/io/atomic_file.h"

// Tensor bytes are copied between memory and file unchanged; the format is little-endian.
static_assert(std::endian::native == std::endian::little,
              "attn::io requires a little-endian host to read and write safetensors");

// Every validation error names the format and the file: "safetensors: model.st: ...".
#define SAFETENSORS_CHECK(condition, source, ...) \
  ATTN_CHECK(condition, "safetensors: ", source, ": ", __VA_ARGS__)

namespace attn::io {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::uint64_t kLengthPrefixBytes = 8;
constexpr std::string_view kMetadataKey = "__metadata__";

// ---- dtypes -------------------------------------------------------------------------------

struct DTypeCode {
  std::string_view code;
  DType dtype;
  // Writing order: the reference writer sorts by its dtype enum, widest first, then by name.
  // With the header padded to 8 bytes this starts every tensor at a multiple of its element
  // size, and matching it makes attn's files byte-identical to the reference's.
  int layout_rank;
};

constexpr DTypeCode kDTypeCodes[] = {
    {"I64", DType::Int64, 4},     {"F64", DType::Float64, 3}, {"F32", DType::Float32, 2},
    {"BF16", DType::BFloat16, 1}, {"BOOL", DType::Bool, 0},
};

// Valid safetensors dtypes that attn has no element type for.
constexpr std::string_view kUnsupportedCodes[] = {
    "I32",     "I16",     "I8",      "U8",      "U16",     "U32", "U64",
    "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
};

const DTypeCode& code_of(DType dtype) {
  for (const DTypeCode& entry : kDTypeCodes) {
    if (entry.dtype == dtype) return entry;
  }
  ATTN_ASSERT(false, "no safetensors code for dtype ", dtype_name(dtype));
}

DType dtype_from_code(const std::string& code, const std::string& tensor,
                      const std::string& source) {
  for (const DTypeCode& entry : kDTypeCodes) {
    if (entry.code == code) return entry.dtype;
  }
  bool known = std::find(std::begin(kUnsupportedCodes), std::end(kUnsupportedCodes), code) !=
               std::end(kUnsupportedCodes);
  SAFETENSORS_CHECK(!known, source, "unsupported dtype ", code, " for tensor '", tensor,
                    "' (attn reads F32, F64, BF16, F16, I64 and BOOL)");
  SAFETENSORS_CHECK(false, source, "unknown dtype '", code, "' for tensor '", tensor, "'");
  return DType::Float32;  // unreachable
}

// ---- header parsing -----------------------------------------------------------------------

// attn has no half-precision type: F16 tensors (common in Hugging Face checkpoints) are read
// as float32, which holds every half value exactly.
constexpr std::string_view kHalfCode = "F16";

struct TensorEntry {
  std::string name;
  DType dtype = DType::Float32;
  bool stored_as_half = false;  // F16 in the file, dtype Float32 in memory
  Shape shape;
  std::uint64_t begin = 0;  // byte offsets into the data section
  std::uint64_t end = 0;
};

struct Header {
  std::vector<TensorEntry> entries;
  Metadata metadata;
};

std::uint64_t read_u64_little_endian(const std::uint8_t* bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kLengthPrefixBytes; ++i) value |= std::uint64_t(bytes[i]) << (8 * i);
  return value;
}

// Checks the declared header length against the limit and the file size before anything of
// that size is allocated.
std::uint64_t checked_header_length(std::uint64_t header_length, std::uint64_t file_size,
                                    const std::string& source) {
  SAFETENSORS_CHECK(file_size >= kLengthPrefixBytes, source, "file is ", file_size,
                    " bytes, too short for the 8-byte header length");
  SAFETENSORS_CHECK(header_length <= kMaxSafetensorsHeaderBytes, source, "header length ",
                    header_length, " exceeds the limit of ", kMaxSafetensorsHeaderBytes, " bytes");
  SAFETENSORS_CHECK(header_length <= file_size - kLengthPrefixBytes, source, "header length ",
                    header_length, " reaches past the end of the file (", file_size, " bytes)");
  return header_length;
}

// Parses the header, rejecting a key repeated within one object: plain JSON parsing would
// silently keep the last one, so two readers could disagree about the same file.
Json parse_header_json(std::string_view text, const std::string& source) {
  // The JSON parser treats a NUL byte as the end of its input, which would accept garbage
  // after it; no valid JSON text contains one.
  std::size_t nul = text.find('\0');
  SAFETENSORS_CHECK(nul == std::string_view::npos, source,
                    "header is not valid JSON: NUL byte at offset ", nul);
  std::vector<std::set<std::string>> open_objects;
  std::string repeated_key;
  auto track_keys = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Json::parse_event_t::key && !open_objects.empty() && repeated_key.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) repeated_key = key;
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), track_keys);
  } catch (const Json::exception& error) {
    SAFETENSORS_CHECK(false, source, "header is not valid JSON: ", error.what());
  }
  SAFETENSORS_CHECK(repeated_key.empty(), source, "header repeats the key '", repeated_key, "'");
  SAFETENSORS_CHECK(header.is_object(), source, "header must be a JSON object, got ",
                    header.type_name());
  return header;
}

Metadata parse_metadata(const Json& value, const std::string& source) {
  SAFETENSORS_CHECK(value.is_object(), source, "__metadata__ must be an object of strings, got ",
                    value.type_name());
  Metadata metadata;
  for (const auto& [key, text] : value.items()) {
    SAFETENSORS_CHECK(text.is_string(), source, "__metadata__ value of key '", key,
                      "' must be a string, got ", text.type_name());
    metadata.emplace(key, text.get<std::string>());
  }
  return metadata;
}

const Json& required_field(const Json& fields, const char* key, const std::string& tensor,
                           const std::string& source) {
  auto found = fields.find(key);
  SAFETENSORS_CHECK(found != fields.end(), source, "tensor '", tensor, "' has no \"", key,
                    "\" field");
  return *found;
}

bool is_non_negative_integer(const Json& value) {
  return value.is_number_unsigned() ||
         (value.is_number_integer() && value.get<std::int64_t>() >= 0);
}

DType parse_dtype(const Json& fields, const std::string& tensor, const std::string& source) {
  const Json& dtype = required_field(fields, "dtype", tensor, source);
  SAFETENSORS_CHECK(dtype.is_string(), source, "tensor '", tensor,
                    "': \"dtype\" must be a string, got ", dtype.dump());
  return dtype_from_code(dtype.get<std::string>(), tensor, source);
}

// Extents and their running product must fit in int64; the product is checked in order, as
// the reference reader does, so a zero extent late in the shape cannot hide an overflow.
Shape parse_shape(const Json& fields, const std::string& tensor, const std::string& source) {
  const Json& shape_json = required_field(fields, "shape", tensor, source);
  SAFETENSORS_CHECK(shape_json.is_array(), source, "tensor '", tensor,
                    "': \"shape\" must be an array, got ", shape_json.dump());
  Shape shape;
  std::int64_t element_count = 1;
  std::int64_t stride_product = 1;
  for (const Json& extent : shape_json) {
    SAFETENSORS_CHECK(
        is_non_negative_integer(extent) &&
            extent.get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<std::int64_t>::max()),
        source, "tensor '", tensor, "': shape ", shape_json.dump(),
        " must hold non-negative integers below 2^63");
    shape.push_back(extent.get<std::int64_t>());
    SAFETENSORS_CHECK(!__builtin_mul_overflow(element_count, shape.back(), &element_count), source,
                      "tensor '", tensor, "': shape ", shape_json.dump(),
                      " has too many elements (the count overflows 64 bits)");
    // Strides multiply the extents with a zero counted as one: a zero extent must not hide
    // extents whose product overflows.
    SAFETENSORS_CHECK(
        !__builtin_mul_overflow(stride_product, std::max<std::int64_t>(shape.back(), 1), &stride_product),
        source, "tensor '", tensor, "': shape ", shape_json.dump(),
        " is too large (its strides overflow 64 bits)");
  }
  return shape;
}

std::pair<std::uint64_t, std::uint64_t> parse_offsets(const Json& fields, const std::string& tensor,
                                                      const std::string& source) {
  const Json& offsets = required_field(fields, "data_offsets", tensor, source);
  SAFETENSORS_CHECK(offsets.is_array() && offsets.size() == 2 &&
                        is_non_negative_integer(offsets[0]) && is_non_negative_integer(offsets[1]),
                    source, "tensor '", tensor,
                    "': \"data_offsets\" must be two non-negative integers [begin, end], got ",
                    offsets.dump());
  return {offsets[0].get<std::uint64_t>(), offsets[1].get<std::uint64_t>()};
}

// The tensor's byte range must lie in the data section and hold exactly its elements.
void check_byte_range(const TensorEntry& entry, std::uint64_t data_size,
                      const std::string& source) {
  std::string where = detail::concat("tensor '", entry.name, "': data_offsets [", entry.begin, ", ",
                                     entry.end, "]");
  SAFETENSORS_CHECK(entry.begin <= entry.end, source, where, " end before they begin");
  SAFETENSORS_CHECK(entry.end <= data_size, source, where,
                    " reach past the end of the data section (", data_size, " bytes)");
  std::uint64_t needed = 0;
  const std::uint64_t element_size = entry.stored_as_half ? 2 : dtype_size(entry.dtype);
  bool overflow =
      __builtin_mul_overflow(std::uint64_t(shape_numel(entry.shape)), element_size, &needed);
  SAFETENSORS_CHECK(!overflow && entry.end - entry.begin == needed, source, where, " hold ",
                    entry.end - entry.begin, " bytes, but ",
                    entry.stored_as_half ? kHalfCode : std::string_view(code_of(entry.dtype).code),
                    " with shape ", to_string(entry.shape), " needs ",
                    overflow ? std::string("more than 2^64") : std::to_string(needed));
}

TensorEntry parse_entry(const std::string& name, const Json& fields, std::uint64_t data_size,
                        const std::string& source) {
  SAFETENSORS_CHECK(fields.is_object(), source, "tensor '", name,
                    "' must be an object with dtype, shape and data_offsets, got ",
                    fields.type_name());
  TensorEntry entry;
  entry.name = name;
  const Json& dtype = required_field(fields, "dtype", name, source);
  entry.stored_as_half = dtype.is_string() && dtype.get<std::string>() == kHalfCode;
  entry.dtype = entry.stored_as_half ? DType::Float32 : parse_dtype(fields, name, source);
  entry.shape = parse_shape(fields, name, source);
  std::tie(entry.begin, entry.end) = parse_offsets(fields, name, source);
  check_byte_range(entry, data_size, source);
  return entry;
}

// The reference rule: taken in offset order, the tensors tile the data section exactly, with
// no gap, no overlap and no trailing bytes.
void check_coverage(std::vector<TensorEntry>& entries, std::uint64_t data_size,
                    const std::string& source) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  std::uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& entry : entries) {
    SAFETENSORS_CHECK(entry.begin >= covered, source, "tensor '", entry.name, "' at bytes [",
                      entry.begin, ", ", entry.end, ") overlaps tensor '",
                      previous ? previous->name : "", "', which ends at byte ", covered);
    SAFETENSORS_CHECK(entry.begin == covered, source, "bytes [", covered, ", ", entry.begin,
                      ") of the data section before tensor '", entry.name, "' belong to no tensor");
    covered = entry.end;
    previous = &entry;
  }
  SAFETENSORS_CHECK(covered == data_size, source, "the data section is ", data_size,
                    " bytes, but the tensors cover only the first ", covered);
}

Header parse_header(std::string_view text, std::uint64_t data_size, const std::string& source) {
  Json json = parse_header_json(text, source);
  Header header;
  for (const auto& [name, value] : json.items()) {
    if (name == kMetadataKey) {
      header.metadata = parse_metadata(value, source);
    } else {
      header.entries.push_back(parse_entry(name, value, data_size, source));
    }
  }
  check_coverage(header.entries, data_size, source);
  return header;
}

// ---- tensor data --------------------------------------------------------------------------

// A bool byte other than 0 or 1 is not a valid C++ bool; reading one would be undefined.
void check_bool_values(const Tensor& tensor, const std::string& name, const std::string& source) {
  const auto* bytes = static_cast<const std::uint8_t*>(tensor.raw_data());
  for (std::int64_t i = 0; i < tensor.numel(); ++i) {
    SAFETENSORS_CHECK(bytes[i] <= 1, source, "BOOL tensor '", name, "' holds the byte ",
                      int(bytes[i]), " at element ", i, "; expected 0 or 1");
  }
}

// IEEE 754 binary16 to float, exactly: normals and subnormals rescaled, infinities and NaNs
// (payload kept) carried over.
float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = std::uint32_t(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  const std::uint32_t mantissa = half & 0x3FFu;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else {
    // Zero or subnormal: mantissa · 2^-24, exact in float.
    const float magnitude = std::ldexp(float(mantissa), -24);
    std::memcpy(&bits, &magnitude, sizeof(bits));
    bits |= sign;
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Reads an F16 tensor's bytes and widens them into the float32 tensor.
template <typename CopyBytes>
void read_half_tensor(Tensor& tensor, const TensorEntry& entry, CopyBytes& copy_bytes) {
  std::vector<std::uint16_t> halves(std::size_t(tensor.numel()));
  copy_bytes(halves.data(), entry.begin, entry.end - entry.begin);
  float* out = tensor.data<float>();
  for (std::size_t i = 0; i < halves.size(); ++i) {
    // Little-endian in the file, as on every machine attn runs on.
    out[i] = half_to_float(halves[i]);
  }
}

// Allocates each (already validated) tensor and fills it with
// copy_bytes(destination, begin, byte_count), begin counted from the data section.
template <typename CopyBytes>
TensorMap read_tensors(const std::vector<TensorEntry>& entries, CopyBytes&& copy_bytes,
                       const std::string& source) {
  TensorMap tensors;
  for (const TensorEntry& entry : entries) {
    Tensor tensor = Tensor::empty(entry.shape, entry.dtype);
    std::uint64_t byte_count = entry.end - entry.begin;
    if (entry.stored_as_half) {
      if (byte_count > 0) read_half_tensor(tensor, entry, copy_bytes);
    } else if (byte_count > 0) {
      copy_bytes(tensor.raw_data(), entry.begin, byte_count);
    }
    if (entry.dtype == DType::Bool) check_bool_values(tensor, entry.name, source);
    tensors.emplace(entry.name, std::move(tensor));
  }
  return tensors;
}

// A file opened for reading at explicit offsets.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path) : path_(path) {
    descriptor_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    SAFETENSORS_CHECK(descriptor_ >= 0, path, "cannot open: ", std::strerror(errno));
    struct stat status;
    if (::fstat(descriptor_, &status) != 0 || !S_ISREG(status.st_mode)) {
      ::close(descriptor_);
      SAFETENSORS_CHECK(false, path, "not a regular file");
    }
    size_ = static_cast<std::uint64_t>(status.st_size);
  }
  ~ReadOnlyFile() { ::close(descriptor_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  std::uint64_t size() const { return size_; }

  void read_at(void* destination, std::uint64_t offset, std::uint64_t count) const {
    auto* cursor = static_cast<char*>(destination);
    while (count > 0) {
      ssize_t got = ::pread(descriptor_, cursor, count, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      SAFETENSORS_CHECK(got >= 0, path_, "read failed: ", std::strerror(errno));
      SAFETENSORS_CHECK(got > 0, path_, "file ended early at byte ", offset,
                        " (was it changed while being read?)");
      cursor += got;
      offset += static_cast<std::uint64_t>(got);
      count -= static_cast<std::uint64_t>(got);
    }
  }

 private:
  std::string path_;
  int descriptor_ = -1;
  std::uint64_t size_ = 0;
};

// ---- writing ------------------------------------------------------------------------------

struct PlannedTensor {
  const std::string* name;
  const Tensor* tensor;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::vector<PlannedTensor> plan_layout(const TensorMap& tensors) {
  std::vector<PlannedTensor> plan;
  for (const auto& [name, tensor] : tensors) {
    ATTN_CHECK(name != kMetadataKey, "safetensors: cannot write a tensor named '", kMetadataKey,
               "': the name is reserved for metadata");
    ATTN_CHECK(tensor.defined(), "safetensors: cannot write tensor '", name, "': it is undefined");
    plan.push_back({&name, &tensor});
  }
  // The map is sorted by name, so a stable sort by dtype keeps names in order within a dtype.
  std::stable_sort(plan.begin(), plan.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
    return code_of(a.tensor->dtype()).layout_rank > code_of(b.tensor->dtype()).layout_rank;
  });
  std::uint64_t offset = 0;
  for (PlannedTensor& entry : plan) {
    entry.begin = offset;
    offset += std::uint64_t(entry.tensor->numel()) * dtype_size(entry.tensor->dtype());
    entry.end = offset;
  }
  return plan;
}

OrderedJson entry_json(const PlannedTensor& entry) {
  OrderedJson fields = OrderedJson::object();
  fields["dtype"] = code_of(entry.tensor->dtype()).code;
  fields["shape"] = OrderedJson::array();
  for (std::int64_t extent : entry.tensor->shape()) {
    fields["shape"].push_back(static_cast<std::uint64_t>(extent));
  }
  fields["data_offsets"] = OrderedJson::array({entry.begin, entry.end});
  return fields;
}

// Compact JSON with "__metadata__" first, padded with spaces to a multiple of 8 bytes.
std::string build_header(const std::vector<PlannedTensor>& plan, const Metadata& metadata) {
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson metadata_json = OrderedJson::object();
    for (const auto& [key, value] : metadata) metadata_json[key] = value;
    header[std::string(kMetadataKey)] = std::move(metadata_json);
  }
  for (const PlannedTensor& entry : plan) header[*entry.name] = entry_json(entry);
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& error) {
    ATTN_CHECK(false,
               "safetensors: cannot write the header: a tensor name or metadata string "
               "is not valid UTF-8 (",
               error.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// Emits the file through write_bytes(pointer, size), one tensor at a time, so a
// non-contiguous tensor is copied to row-major order only while it is being written.
template <typename WriteBytes>
void emit_file(const std::vector<PlannedTensor>& plan, const std::string& header,
               WriteBytes&& write_bytes) {
  std::uint8_t length[kLengthPrefixBytes];
  for (std::size_t i = 0; i < kLengthPrefixBytes; ++i) {
    length[i] = static_cast<std::uint8_t>(std::uint64_t(header.size()) >> (8 * i));
  }
  write_bytes(length, sizeof(length));
  write_bytes(header.data(), header.size());
  for (const PlannedTensor& entry : plan) {
    if (entry.end == entry.begin) continue;
    Tensor contiguous = entry.tensor->contiguous();
    write_bytes(contiguous.raw_data(), entry.end - entry.begin);
  }
}

}  // namespace

SafetensorsData parse_safetensors(const std::uint8_t* bytes, std::size_t size,
                                  const std::string& source_name) {
  ATTN_CHECK(bytes != nullptr || size == 0, "parse_safetensors: null bytes for a size of ", size);
  SAFETENSORS_CHECK(size >= kLengthPrefixBytes, source_name, "file is ", size,
                    " bytes, too short for the 8-byte header length");
  std::uint64_t header_length =
      checked_header_length(read_u64_little_endian(bytes), size, source_name);
  std::string_view header_text(reinterpret_cast<const char*>(bytes + kLengthPrefixBytes),
                               header_length);
  const std::uint8_t* data = bytes + kLengthPrefixBytes + header_length;
  Header header = parse_header(header_text, size - kLengthPrefixBytes - header_length, source_name);
  SafetensorsData result;
  result.tensors = read_tensors(
      header.entries,
      [&](void* destination, std::uint64_t begin, std::uint64_t count) {
        std::memcpy(destination, data + begin, count);
      },
      source_name);
  result.metadata = std::move(header.metadata);
  return result;
}

SafetensorsData load_safetensors(const std::string& path) {
  ReadOnlyFile file(path);
  SAFETENSORS_CHECK(file.size() >= kLengthPrefixBytes, path, "file is ", file.size(),
                    " bytes, too short for the 8-byte header length");
  std::uint8_t length[kLengthPrefixBytes];
  file.read_at(length, 0, kLengthPrefixBytes);
  std::uint64_t header_length =
      checked_header_length(read_u64_little_endian(length), file.size(), path);
  std::string header_text(header_length, '\0');
  file.read_at(header_text.data(), kLengthPrefixBytes, header_length);
  std::uint64_t data_start = kLengthPrefixBytes + header_length;
  Header header = parse_header(header_text, file.size() - data_start, path);
  SafetensorsData result;
  result.tensors = read_tensors(
      header.entries,
      [&](void* destination, std::uint64_t begin, std::uint64_t count) {
        file.read_at(destination, data_start + begin, count);
      },
      path);
  result.metadata = std::move(header.metadata);
  return result;
}

std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata) {
  std::vector<PlannedTensor> plan = plan_layout(tensors);
  std::string header = build_header(plan, metadata);
  std::string bytes;
  bytes.reserve(kLengthPrefixBytes + header.size() + (plan.empty() ? 0 : plan.back().end));
  emit_file(plan, header, [&](const void* data, std::size_t size) {
    bytes.append(static_cast<const char*>(data), size);
  });
  return bytes;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  std::vector<PlannedTensor> plan = plan_layout(tensors);
  std::string header = build_header(plan, metadata);
  AtomicFileWriter writer(path);
  emit_file(plan, header, [&](const void* data, std::size_t size) { writer.write(data, size); });
  writer.commit();
}

}  // namespace attn::io
