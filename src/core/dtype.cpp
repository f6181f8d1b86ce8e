#include "attn/core/dtype.h"

#include <cmath>

#include "attn/core/error.h"

namespace attn {

BFloat16::BFloat16(float value) {
  std::uint32_t widened;
  std::memcpy(&widened, &value, sizeof(widened));
  if (std::isnan(value)) {
    bits = 0x7FC0;  // a quiet NaN: truncation could turn a NaN payload into infinity
    return;
  }
  // Round to nearest, ties to even, by adding half of the dropped range plus the lowest kept bit.
  std::uint32_t rounding = 0x7FFF + ((widened >> 16) & 1);
  bits = static_cast<std::uint16_t>((widened + rounding) >> 16);
}

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::BFloat16: return 2;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  ATTN_ASSERT(false, "unknown dtype");
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::BFloat16: return "bfloat16";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  ATTN_ASSERT(false, "unknown dtype");
}

bool is_floating(DType dtype) {
  return dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::BFloat16;
}

}  // namespace attn
