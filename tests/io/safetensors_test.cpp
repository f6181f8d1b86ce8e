#include "attn/io/safetensors.h"
#include "support/temporary_directory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace attn::io {
namespace {

using Bytes = std::vector<std::uint8_t>;

const std::string kPythonFixture = std::string(ATTN_FIXTURE_DIR) + "/io/python_written.safetensors";

// ---- helpers ------------------------------------------------------------------------------

using attn::testing::TemporaryDirectory;

Bytes read_bytes(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(stream), {});
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream stream(path, std::ios::binary);
  stream.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

Bytes to_bytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

// A file from its parts: the 8-byte length of `header`, `header`, then `data`.
Bytes make_file(const std::string& header, const std::string& data = "",
                std::uint64_t declared_length = std::numeric_limits<std::uint64_t>::max()) {
  std::uint64_t length = declared_length == std::numeric_limits<std::uint64_t>::max()
                             ? header.size()
                             : declared_length;
  Bytes bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(std::uint8_t(length >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

SafetensorsData parse(const Bytes& bytes, const std::string& source = "test.safetensors") {
  return parse_safetensors(bytes.data(), bytes.size(), source);
}

// Parses and expects an attn::Error whose message holds every one of `fragments`.
void expect_parse_error(const Bytes& bytes, std::initializer_list<std::string> fragments) {
  try {
    parse(bytes, "bad.safetensors");
    ADD_FAILURE() << "expected an attn::Error mentioning " << *fragments.begin();
  } catch (const Error& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("bad.safetensors"), std::string::npos) << message;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message lacks '" << fragment << "': " << message;
    }
  }
}

std::vector<std::uint8_t> raw_bytes(const Tensor& tensor) {
  Tensor contiguous = tensor.contiguous();
  const auto* begin = static_cast<const std::uint8_t*>(contiguous.raw_data());
  return {begin, begin + contiguous.numel() * dtype_size(contiguous.dtype())};
}

// Same dtype, same shape, same bits (so NaN and -0.0 count as equal only to themselves).
void expect_identical(const Tensor& actual, const Tensor& expected, const std::string& name) {
  ASSERT_TRUE(actual.defined()) << name;
  EXPECT_EQ(actual.dtype(), expected.dtype()) << name;
  EXPECT_EQ(actual.shape(), expected.shape()) << name;
  EXPECT_EQ(raw_bytes(actual), raw_bytes(expected)) << name;
}

void expect_identical(const TensorMap& actual, const TensorMap& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_EQ(actual.count(name), 1u) << "missing " << name;
    expect_identical(actual.at(name), tensor, name);
  }
}

Tensor float32_from_bits(const Shape& shape, const std::vector<std::uint32_t>& bits) {
  Tensor tensor = Tensor::empty(shape, DType::Float32);
  std::memcpy(tensor.raw_data(), bits.data(), bits.size() * 4);
  return tensor;
}

Tensor bfloat16_from_bits(const Shape& shape, const std::vector<std::uint16_t>& bits) {
  Tensor tensor = Tensor::empty(shape, DType::BFloat16);
  std::memcpy(tensor.raw_data(), bits.data(), bits.size() * 2);
  return tensor;
}

// One tensor of every dtype, with values that stress bit-exactness.
TensorMap every_dtype() {
  TensorMap tensors;
  tensors["f32"] = float32_from_bits(
      {2, 3}, {0x3F800000, 0x80000000, 0x7FC00001, 0xFF800000, 0x00000001, 0x7F7FFFFF});
  tensors["f64"] =
      Tensor::from_vector<double>({3}, {0.1, -0.0, std::numeric_limits<double>::denorm_min()});
  tensors["bf16"] = bfloat16_from_bits({2, 2}, {0x3F80, 0xC000, 0x7FC1, 0x0001});
  tensors["i64"] = Tensor::from_vector<std::int64_t>(
      {4},
      {0, -1, std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()});
  tensors["mask"] = Tensor::from_list({3}, {1, 0, 1}, DType::Bool);
  return tensors;
}

std::uint64_t header_length_of(const std::string& bytes) {
  std::uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= std::uint64_t(std::uint8_t(bytes[i])) << (8 * i);
  return length;
}

// ---- round trips --------------------------------------------------------------------------

TEST(Safetensors, RoundTripsEveryDtypeBitForBit) {
  TensorMap tensors = every_dtype();
  std::string bytes = serialize_safetensors(tensors);
  SafetensorsData loaded = parse(to_bytes(bytes));
  expect_identical(loaded.tensors, tensors);
  EXPECT_TRUE(loaded.metadata.empty());
}

TEST(Safetensors, RoundTripsScalarsAndEmptyTensors) {
  TensorMap tensors;
  tensors["scalar_f32"] = Tensor::scalar(-3.5);
  tensors["scalar_i64"] = Tensor::scalar(42, DType::Int64);
  tensors["scalar_bool"] = Tensor::scalar(1, DType::Bool);
  tensors["empty_1d"] = Tensor::empty({0});
  tensors["empty_middle"] = Tensor::empty({2, 0, 3}, DType::BFloat16);
  tensors["empty_bool"] = Tensor::empty({0, 4}, DType::Bool);
  SafetensorsData loaded = parse(to_bytes(serialize_safetensors(tensors)));
  expect_identical(loaded.tensors, tensors);
  EXPECT_EQ(loaded.tensors.at("scalar_f32").dim(), 0);
  EXPECT_EQ(loaded.tensors.at("scalar_i64").item<std::int64_t>(), 42);
}

TEST(Safetensors, RoundTripsAnEmptyFile) {
  std::string bytes = serialize_safetensors({});
  EXPECT_EQ(bytes.substr(8), "{}      ");
  SafetensorsData loaded = parse(to_bytes(bytes));
  EXPECT_TRUE(loaded.tensors.empty());
  EXPECT_TRUE(loaded.metadata.empty());
}

TEST(Safetensors, WritesNonContiguousTensorsInRowMajorOrder) {
  Tensor base = Tensor::from_list({2, 3}, {1, 2, 3, 4, 5, 6});
  TensorMap tensors;
  tensors["transposed"] = base.as_strided({3, 2}, {1, 3}, 0);  // [[1, 4], [2, 5], [3, 6]]
  tensors["broadcast"] = base.as_strided({2, 3}, {0, 1}, 3);   // [[4, 5, 6], [4, 5, 6]]
  tensors["offset_row"] = base.as_strided({3}, {1}, 3);        // contiguous, nonzero offset
  ASSERT_FALSE(tensors["transposed"].is_contiguous());
  ASSERT_FALSE(tensors["broadcast"].is_contiguous());

  SafetensorsData loaded = parse(to_bytes(serialize_safetensors(tensors)));
  EXPECT_EQ(loaded.tensors.at("transposed").to_vector<float>(),
            (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(loaded.tensors.at("broadcast").to_vector<float>(),
            (std::vector<float>{4, 5, 6, 4, 5, 6}));
  EXPECT_EQ(loaded.tensors.at("offset_row").to_vector<float>(), (std::vector<float>{4, 5, 6}));
  EXPECT_TRUE(loaded.tensors.at("transposed").is_contiguous());
}

TEST(Safetensors, RoundTripsMetadata) {
  Metadata metadata{{"config", R"({"dim": 8, "name": "tiny \"model\""})"},
                    {"empty", ""},
                    {"unicode", "h\xC3\xA9llo \xE2\x9C\x93"},
                    {"Zebra", "uppercase sorts first"}};
  SafetensorsData loaded = parse(to_bytes(serialize_safetensors(every_dtype(), metadata)));
  EXPECT_EQ(loaded.metadata, metadata);
}

TEST(Safetensors, LayoutIsAlignedPaddedAndDeterministic) {
  std::string bytes = serialize_safetensors(every_dtype(), {{"key", "value"}});
  std::uint64_t header_length = header_length_of(bytes);
  EXPECT_EQ(header_length % 8, 0u);
  std::string header = bytes.substr(8, header_length);
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));
  EXPECT_EQ(header.rfind(R"({"__metadata__":{"key":"value"},"i64":{"dtype":"I64","shape":[4],)"
                         R"("data_offsets":[0,32]},"f64":)",
                         0),
            0u)
      << header;
  // Widest dtype first, so each tensor starts at a multiple of its element size.
  auto position = [&](const std::string& name) { return header.find("\"" + name + "\":"); };
  EXPECT_LT(position("i64"), position("f64"));
  EXPECT_LT(position("f64"), position("f32"));
  EXPECT_LT(position("f32"), position("bf16"));
  EXPECT_LT(position("bf16"), position("mask"));
  EXPECT_EQ(bytes, serialize_safetensors(every_dtype(), {{"key", "value"}}));
}

TEST(Safetensors, SavesAndLoadsFiles) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  TensorMap tensors = every_dtype();
  save_safetensors(path, tensors, {{"note", "file"}});
  std::string expected = serialize_safetensors(tensors, {{"note", "file"}});
  EXPECT_EQ(read_bytes(path), to_bytes(expected));
  SafetensorsData loaded = load_safetensors(path);
  expect_identical(loaded.tensors, tensors);
  EXPECT_EQ(loaded.metadata, (Metadata{{"note", "file"}}));
}

TEST(Safetensors, LoadedTensorsAreIndependentLeaves) {
  Tensor weight = Tensor::ones({2});
  weight.set_requires_grad(true);
  SafetensorsData loaded = parse(to_bytes(serialize_safetensors({{"weight", weight}})));
  EXPECT_FALSE(loaded.tensors.at("weight").requires_grad());
  EXPECT_NE(loaded.tensors.at("weight").storage(), weight.storage());
}

// ---- interoperability with Python's safetensors ---------------------------------------------

TEST(SafetensorsInterop, ReadsTheFileWrittenByPython) {
  SafetensorsData loaded = load_safetensors(kPythonFixture);
  const TensorMap& tensors = loaded.tensors;
  ASSERT_EQ(tensors.size(), 9u);
  EXPECT_EQ(tensors.at("float32.matrix").shape(), (Shape{2, 3}));
  EXPECT_EQ(
      raw_bytes(tensors.at("float32.matrix")),
      raw_bytes(Tensor::from_list({2, 3}, {0.5, -1.25, 3.0, 1024.0, -0.0, std::ldexp(1.0, -20)})));
  expect_identical(tensors.at("float32.special"),
                   float32_from_bits({4}, {0x7F800000, 0xFF800000, 0x7FC00000, 0x00000001}),
                   "float32.special");
  EXPECT_EQ(tensors.at("float64.vector").to_vector<double>(),
            (std::vector<double>{0.1, -2.5, 1e300}));
  EXPECT_EQ(tensors.at("int64.vector").to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{0, -1, std::int64_t(1) << 62,
                                       std::numeric_limits<std::int64_t>::min()}));
  expect_identical(tensors.at("bool.mask"), Tensor::from_list({2, 2}, {1, 0, 0, 1}, DType::Bool),
                   "bool.mask");
  expect_identical(tensors.at("bfloat16.vector"),
                   bfloat16_from_bits({4}, {0x3F80, 0xC000, 0x3E20, 0x4049}), "bfloat16.vector");
  EXPECT_EQ(tensors.at("scalar").shape(), Shape{});
  EXPECT_EQ(tensors.at("scalar").item<float>(), 7.0f);
  EXPECT_EQ(tensors.at("empty").shape(), (Shape{0, 3}));
  EXPECT_EQ(tensors.at("encoder.layers.0.weight").to_vector<float>(),
            (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(loaded.metadata, (Metadata{{"writer", "tools/make_io_fixtures.py"},
                                       {"config", R"({"dim": 8, "num_heads": 2})"},
                                       {"unicode", "h\xC3\xA9llo \xE2\x9C\x93"}}));
}

// Python orders metadata keys at random (a hash map), so the headers are compared as JSON;
// everything else, the data section included, must match byte for byte.
TEST(SafetensorsInterop, RewritingThePythonFileReproducesIt) {
  Bytes original = read_bytes(kPythonFixture);
  SafetensorsData loaded = parse(original);
  Bytes rewritten = to_bytes(serialize_safetensors(loaded.tensors, loaded.metadata));
  ASSERT_EQ(rewritten.size(), original.size());
  std::uint64_t header_length =
      header_length_of(std::string(original.begin(), original.begin() + 8));
  auto header_of = [&](const Bytes& bytes) {
    return nlohmann::ordered_json::parse(bytes.begin() + 8,
                                         bytes.begin() + 8 + std::ptrdiff_t(header_length));
  };
  nlohmann::ordered_json expected = header_of(original);
  nlohmann::ordered_json actual = header_of(rewritten);
  // Compare tensor entries in order (the order fixes the data layout), metadata as a set.
  EXPECT_EQ(nlohmann::json(actual["__metadata__"]), nlohmann::json(expected["__metadata__"]));
  actual.erase("__metadata__");
  expected.erase("__metadata__");
  EXPECT_EQ(actual.dump(), expected.dump());
  EXPECT_EQ(Bytes(original.begin(), original.begin() + 8),
            Bytes(rewritten.begin(), rewritten.begin() + 8));
  EXPECT_EQ(Bytes(original.begin() + 8 + std::ptrdiff_t(header_length), original.end()),
            Bytes(rewritten.begin() + 8 + std::ptrdiff_t(header_length), rewritten.end()));
}

// ---- malformed input ----------------------------------------------------------------------

TEST(SafetensorsValidation, EveryTruncationOfAValidFileIsAnError) {
  for (const Bytes& valid :
       {read_bytes(kPythonFixture), to_bytes(serialize_safetensors(every_dtype()))}) {
    ASSERT_NO_THROW(parse(valid));
    for (std::size_t size = 0; size < valid.size(); ++size) {
      // An exact-size heap copy, so reading one byte too far is caught by the sanitizers.
      Bytes prefix(valid.begin(), valid.begin() + std::ptrdiff_t(size));
      EXPECT_THROW(parse_safetensors(prefix.data(), prefix.size(), "cut"), Error) << size;
    }
  }
}

TEST(SafetensorsValidation, EveryTruncatedFileOnDiskIsAnError) {
  TemporaryDirectory directory;
  std::string path = directory.file("cut.safetensors");
  Bytes valid = to_bytes(serialize_safetensors(every_dtype(), {{"a", "b"}}));
  write_bytes(path, valid);
  ASSERT_NO_THROW(load_safetensors(path));
  for (std::size_t size = valid.size(); size-- > 0;) {
    std::filesystem::resize_file(path, size);
    EXPECT_THROW(load_safetensors(path), Error) << size;
  }
}

TEST(SafetensorsValidation, RejectsShortFilesAndBadHeaderLengths) {
  expect_parse_error({}, {"0 bytes", "too short"});
  expect_parse_error({1, 0, 0}, {"3 bytes", "too short"});
  expect_parse_error(make_file("{}", "", 100'000'001), {"header length 100000001", "limit"});
  expect_parse_error(make_file("{}", "", std::uint64_t(1) << 63), {"exceeds the limit"});
  expect_parse_error(make_file("{}", "", std::numeric_limits<std::uint64_t>::max() - 1),
                     {"exceeds the limit"});
  expect_parse_error(make_file("{}", "", 3), {"header length 3", "reaches past the end"});
  expect_parse_error(make_file("{}", "", 0), {"not valid JSON"});
}

TEST(SafetensorsValidation, RejectsHeadersThatAreNotAJsonObject) {
  expect_parse_error(make_file("{\"a\":"), {"not valid JSON"});
  expect_parse_error(make_file("{} x"), {"not valid JSON"});
  // A JSON parser may stop at a NUL byte; the reference reader rejects it, and so does attn.
  expect_parse_error(make_file(std::string("{}\0\0", 4)), {"NUL byte at offset 2"});
  expect_parse_error(make_file(std::string("{\"a\0\":1}", 8)), {"NUL byte at offset 3"});
  expect_parse_error(make_file("{\"\xFF\":1}"), {"not valid JSON"});
  expect_parse_error(make_file("[]"), {"must be a JSON object", "array"});
  expect_parse_error(make_file("\"text\""), {"must be a JSON object", "string"});
}

TEST(SafetensorsValidation, RejectsMissingOrMistypedFields) {
  const std::string data(4, '\0');
  auto entry = [&](const std::string& fields) {
    return make_file("{\"w\":{" + fields + "}}", data);
  };
  expect_parse_error(make_file(R"({"w":[1]})", data), {"tensor 'w'", "must be an object"});
  expect_parse_error(entry(R"("shape":[1],"data_offsets":[0,4])"), {"tensor 'w'", "no \"dtype\""});
  expect_parse_error(entry(R"("dtype":"F32","data_offsets":[0,4])"),
                     {"tensor 'w'", "no \"shape\""});
  expect_parse_error(entry(R"("dtype":"F32","shape":[1])"), {"tensor 'w'", "no \"data_offsets\""});
  expect_parse_error(entry(R"("dtype":7,"shape":[1],"data_offsets":[0,4])"),
                     {"\"dtype\" must be a string"});
  expect_parse_error(entry(R"("dtype":"F32","shape":1,"data_offsets":[0,4])"),
                     {"\"shape\" must be an array"});
  expect_parse_error(entry(R"("dtype":"F32","shape":[1.0],"data_offsets":[0,4])"),
                     {"non-negative integers"});
  expect_parse_error(entry(R"("dtype":"F32","shape":[-1],"data_offsets":[0,4])"),
                     {"non-negative integers"});
  expect_parse_error(entry(R"("dtype":"F32","shape":["1"],"data_offsets":[0,4])"),
                     {"non-negative integers"});
  expect_parse_error(entry(R"("dtype":"F32","shape":[1],"data_offsets":[0])"),
                     {"\"data_offsets\" must be two"});
  expect_parse_error(entry(R"("dtype":"F32","shape":[1],"data_offsets":[0,4,8])"),
                     {"\"data_offsets\" must be two"});
  expect_parse_error(entry(R"("dtype":"F32","shape":[1],"data_offsets":[-4,4])"),
                     {"\"data_offsets\" must be two"});
  expect_parse_error(entry(R"("dtype":"F32","shape":[1],"data_offsets":{"0":4})"),
                     {"\"data_offsets\" must be two"});
}

TEST(SafetensorsValidation, NamesUnsupportedAndUnknownDtypes) {
  for (std::string code : {"I32", "I8", "U8", "U64", "F8_E4M3", "C64"}) {
    expect_parse_error(
        make_file(R"({"half":{"dtype":")" + code + R"(","shape":[0],"data_offsets":[0,0]}})"),
        {"unsupported dtype " + code + " for tensor 'half'"});
  }
  expect_parse_error(make_file(R"({"odd":{"dtype":"F99","shape":[0],"data_offsets":[0,0]}})"),
                     {"unknown dtype 'F99' for tensor 'odd'"});
  expect_parse_error(make_file(R"({"lower":{"dtype":"f32","shape":[0],"data_offsets":[0,0]}})"),
                     {"unknown dtype 'f32'"});
}

// Hugging Face checkpoints often store F16; attn reads them as float32, exactly.
TEST(SafetensorsRead, ReadsHalfPrecisionAsFloat32Exactly) {
  // 1, -2, 65504 (largest), 2^-24 (smallest subnormal), -0, +inf, NaN, 0x3555
  const std::uint16_t halves[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x7E00, 0x3555};
  std::string data;
  for (std::uint16_t half : halves) {
    data.push_back(char(half & 0xFF));
    data.push_back(char(half >> 8));
  }
  SafetensorsData file =
      parse(make_file(R"({"h":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]}})", data));
  const Tensor& tensor = file.tensors.at("h");
  ASSERT_EQ(tensor.dtype(), DType::Float32);
  ASSERT_EQ(tensor.shape(), (Shape{2, 4}));
  const float* values = tensor.data<float>();
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(values[2], 65504.0f);
  EXPECT_EQ(values[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(values[4], 0.0f);
  EXPECT_TRUE(std::signbit(values[4]));
  EXPECT_TRUE(std::isinf(values[5]) && values[5] > 0);
  EXPECT_TRUE(std::isnan(values[6]));
  EXPECT_EQ(values[7], 0.333251953125f);
  // The byte count is checked against two bytes per element.
  expect_parse_error(make_file(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})",
                               std::string(8, '\0')),
                     {"tensor 'h'", "F16 with shape [2] needs 4"});
}

// A zero extent makes a tensor empty, but its strides multiply the other extents.
TEST(SafetensorsValidation, RejectsEmptyShapesWhoseStridesOverflow) {
  expect_parse_error(
      make_file(R"({"x":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})"),
      {"tensor 'x'", "strides overflow"});
}

TEST(SafetensorsValidation, RejectsHugeShapesWithoutAllocating) {
  auto with_shape = [](const std::string& dtype, const std::string& shape) {
    return make_file(
        R"({"big":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[0,8]}})",
        std::string(8, '\0'));
  };
  expect_parse_error(with_shape("F32", "[4294967296,4294967296]"), {"tensor 'big'", "overflows"});
  expect_parse_error(with_shape("F32", "[4611686018427387904,2]"), {"overflows"});
  // Overflow is detected in order, as the reference reader does, even before a zero extent.
  expect_parse_error(with_shape("F32", "[4294967296,4294967296,0]"), {"overflows"});
  expect_parse_error(with_shape("F32", "[9223372036854775808]"), {"below 2^63"});
  expect_parse_error(with_shape("F32", "[100000000000000000000]"), {"non-negative integers"});
  expect_parse_error(with_shape("F64", "[4611686018427387904]"), {"needs more than 2^64"});
  // Fits in 64 bits but not in the file: rejected by the byte count, before any allocation.
  expect_parse_error(with_shape("F32", "[1099511627776]"), {"hold 8 bytes", "needs 4398046511104"});
}

TEST(SafetensorsValidation, RejectsOffsetsOutsideOrInconsistentWithTheData) {
  const std::string data(8, '\0');
  auto one = [&](const std::string& offsets, const std::string& shape = "[2]") {
    return make_file(
        R"({"w":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}", data);
  };
  expect_parse_error(one("[8,0]"), {"tensor 'w'", "[8, 0]", "end before they begin"});
  expect_parse_error(one("[0,16]", "[4]"),
                     {"tensor 'w'", "reach past the end of the data section (8 bytes)"});
  expect_parse_error(one("[0,18446744073709551615]"), {"reach past the end"});
  expect_parse_error(one("[0,8]", "[3]"),
                     {"tensor 'w'", "hold 8 bytes", "F32 with shape [3] needs 12"});
  expect_parse_error(one("[0,4]", "[1]"),
                     {"the data section is 8 bytes", "cover only the first 4"});
  expect_parse_error(one("[4,8]", "[1]"),
                     {"bytes [0, 4)", "before tensor 'w'", "belong to no tensor"});
}

TEST(SafetensorsValidation, RequiresTensorsToTileTheDataSectionInOrder) {
  auto two = [](const std::string& a_offsets, const std::string& b_offsets, std::size_t data_size) {
    return make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + a_offsets +
                         R"(},"b":{"dtype":"F32","shape":[1],"data_offsets":)" + b_offsets + "}}",
                     std::string(data_size, '\0'));
  };
  EXPECT_NO_THROW(parse(two("[0,8]", "[8,12]", 12)));
  // The order in the data section need not follow the order in the header.
  EXPECT_NO_THROW(parse(two("[4,12]", "[0,4]", 12)));
  expect_parse_error(two("[0,8]", "[4,8]", 12), {"tensor 'b'", "overlaps tensor 'a'"});
  expect_parse_error(two("[0,8]", "[12,16]", 16), {"bytes [8, 12)", "before tensor 'b'"});
  expect_parse_error(two("[0,8]", "[8,12]", 13), {"the data section is 13 bytes", "first 12"});
  expect_parse_error(two("[0,8]", "[12,16]", 12), {"tensor 'b'", "reach past the end"});
}

TEST(SafetensorsValidation, AcceptsEmptyTensorsSharingAnOffset) {
  Bytes bytes = make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("e1":{"dtype":"F64","shape":[0],"data_offsets":[4,4]},)"
                          R"("e2":{"dtype":"BOOL","shape":[2,0],"data_offsets":[4,4]},)"
                          R"("e0":{"dtype":"I64","shape":[0],"data_offsets":[0,0]}})",
                          std::string("\0\0\x80\x3F", 4));
  SafetensorsData loaded = parse(bytes);
  EXPECT_EQ(loaded.tensors.size(), 4u);
  EXPECT_EQ(loaded.tensors.at("x").item<float>(), 1.0f);
  EXPECT_EQ(loaded.tensors.at("e2").shape(), (Shape{2, 0}));
}

// As in the reference reader, fields besides dtype, shape and data_offsets are ignored.
TEST(SafetensorsValidation, IgnoresUnknownEntryFields) {
  Bytes bytes = make_file(R"({"x":{"dtype":"I64","shape":[],"data_offsets":[0,8],"note":[1]}})",
                          std::string("\x05\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(parse(bytes).tensors.at("x").item<std::int64_t>(), 5);
}

TEST(SafetensorsValidation, RejectsMetadataThatIsNotAnObjectOfStrings) {
  auto with_metadata = [](const std::string& metadata) {
    return make_file(R"({"__metadata__":)" + metadata + "}");
  };
  EXPECT_EQ(parse(with_metadata(R"({"k":"v"})")).metadata, (Metadata{{"k", "v"}}));
  expect_parse_error(with_metadata(R"("text")"), {"__metadata__ must be an object of strings"});
  expect_parse_error(with_metadata("null"), {"__metadata__ must be an object of strings"});
  expect_parse_error(with_metadata(R"({"k":1})"), {"key 'k'", "must be a string", "number"});
  expect_parse_error(with_metadata(R"({"k":null})"), {"key 'k'", "must be a string"});
  expect_parse_error(with_metadata(R"({"k":{"nested":"v"}})"), {"key 'k'", "must be a string"});
}

TEST(SafetensorsValidation, RejectsRepeatedKeys) {
  const std::string tensor = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  expect_parse_error(
      make_file(R"({"w":)" + tensor + R"(,"w":)" + tensor + "}", std::string(4, '\0')),
      {"repeats the key 'w'"});
  expect_parse_error(
      make_file(R"({"w":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}})",
                std::string(4, '\0')),
      {"repeats the key 'dtype'"});
  expect_parse_error(make_file(R"({"__metadata__":{"k":"a","k":"b"}})"), {"repeats the key 'k'"});
  // The same key in different objects is no repetition.
  EXPECT_NO_THROW(parse(
      make_file(R"({"__metadata__":{"dtype":"x"},"dtype":)" + tensor + "}", std::string(4, '\0'))));
}

TEST(SafetensorsValidation, RejectsBoolBytesOtherThanZeroAndOne) {
  Bytes bytes = make_file(R"({"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                          std::string("\x01\x00\x02", 3));
  expect_parse_error(bytes, {"BOOL tensor 'mask'", "byte 2 at element 2"});
}

TEST(SafetensorsValidation, RandomCorruptionNeverCrashes) {
  Bytes valid = to_bytes(serialize_safetensors(every_dtype(), {{"config", "{}"}}));
  std::mt19937 generator(1234);
  int accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    Bytes corrupted = valid;
    int flips = 1 + int(generator() % 4);
    for (int i = 0; i < flips; ++i) {
      // Bias the damage towards the length and the header, where the parsing happens.
      std::size_t limit =
          trial % 2 == 0 ? std::min<std::size_t>(corrupted.size(), 300) : corrupted.size();
      corrupted[generator() % limit] = std::uint8_t(generator());
    }
    try {
      parse(corrupted);
      ++accepted;  // damage confined to tensor values is still a valid file
    } catch (const Error&) {
    }
  }
  EXPECT_LT(accepted, 3000);
}

TEST(SafetensorsValidation, LoadNamesTheFileThatCannotBeRead) {
  TemporaryDirectory directory;
  std::string missing = directory.file("missing.safetensors");
  try {
    load_safetensors(missing);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(missing), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("cannot open"), std::string::npos) << error.what();
  }
  std::filesystem::create_directory(directory.file("folder"));
  EXPECT_THROW(load_safetensors(directory.file("folder")), Error);
}

// ---- invalid input to the writer ------------------------------------------------------------

TEST(SafetensorsWriting, RejectsReservedUndefinedAndNonUtf8Names) {
  EXPECT_THROW(serialize_safetensors({{"__metadata__", Tensor::ones({1})}}), Error);
  EXPECT_THROW(serialize_safetensors({{"undefined", Tensor()}}), Error);
  EXPECT_THROW(serialize_safetensors({{"bad\xFF", Tensor::ones({1})}}), Error);
  EXPECT_THROW(serialize_safetensors({}, {{"key", "bad\xC3"}}), Error);
  TemporaryDirectory directory;
  EXPECT_THROW(save_safetensors(directory.file("x.safetensors"), {{"undefined", Tensor()}}), Error);
  EXPECT_TRUE(std::filesystem::is_empty(directory.file("")));
}

}  // namespace
}  // namespace attn::io
