// NumPy's .npy format (version 1.0): a magic string, a header that is a Python dict literal
// ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 384), }), padded so the data
// starts at a multiple of 64 bytes, then the elements in C order. numpy.load reads what
// save_npy writes; load_npy reads little-endian float32, float64 and int64 arrays in C order
// (what numpy.save writes for them) and rejects anything else by name.
#pragma once

#include <string>

#include "attn/core/tensor.h"

namespace attn::io {

// Writes `tensor` (float32, float64 or int64; any layout) atomically.
void save_npy(const std::string& path, const Tensor& tensor);
std::string serialize_npy(const Tensor& tensor);

Tensor load_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& source_name);

}  // namespace attn::io
