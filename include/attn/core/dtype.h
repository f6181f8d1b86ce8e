// Element types. float32 is the working type, float64 serves gradient checks, int64 holds
// indices and bool holds masks. bfloat16 is a storage type for later mixed precision.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace attn {

enum class DType : std::uint8_t { Float32, Float64, BFloat16, Int64, Bool };

// Brain floating point: the upper 16 bits of an IEEE float32.
struct BFloat16 {
  std::uint16_t bits = 0;

  BFloat16() = default;
  explicit BFloat16(float value);  // round to nearest even; NaN stays NaN
  explicit operator float() const {
    std::uint32_t widened = static_cast<std::uint32_t>(bits) << 16;
    float value;
    std::memcpy(&value, &widened, sizeof(value));
    return value;
  }
};

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // "float32", "float64", "bfloat16", "int64", "bool"
bool is_floating(DType dtype);

template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

}  // namespace attn
