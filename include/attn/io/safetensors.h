// Reading and writing the safetensors format (the format of Hugging Face's `safetensors`):
//
//   [8 bytes: N, little-endian u64] [N bytes: JSON header] [data section: raw tensor bytes]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, the
// offsets counted from the start of the data section, plus an optional "__metadata__" object
// of string values. attn reads and writes F32, F64, BF16, I64 and BOOL, and reads F16 as
// float32 (exactly); other dtypes are rejected by name. Every read is validated before any tensor memory is allocated, so a
// malformed or hostile file gives an attn::Error naming the file and the offending field,
// never a crash. docs/CHECKPOINTS.md lists the rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "attn/core/tensor.h"

namespace attn::io {

using Metadata = std::map<std::string, std::string>;
using TensorMap = std::map<std::string, Tensor>;

struct SafetensorsData {
  TensorMap tensors;  // contiguous, freshly allocated, not requiring gradients
  Metadata metadata;  // the "__metadata__" object; empty when absent
};

// The largest header accepted, as in the reference implementation: a bound on the memory a
// hostile length field can make a reader allocate.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Reads a whole file. Tensor bytes are read straight into tensor storage.
SafetensorsData load_safetensors(const std::string& path);

// Parses an in-memory file; `source_name` only labels error messages.
SafetensorsData parse_safetensors(const std::uint8_t* bytes, std::size_t size,
                                  const std::string& source_name);

// The bytes of a safetensors file. Non-contiguous tensors are written in row-major order.
// The layout matches the reference writer byte for byte: tensors ordered by dtype (widest
// element first, so every tensor starts at a multiple of its element size) and then by name;
// metadata keys sorted; the header padded with spaces to a multiple of 8 bytes.
std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata = {});

// Writes serialize_safetensors' bytes to `path` atomically (see attn/io/atomic_file.h),
// streaming tensor data rather than building the whole file in memory.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const Metadata& metadata = {});

}  // namespace attn::io
