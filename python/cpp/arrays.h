// Arrays across the boundary, without copies: NumPy arrays and PyTorch tensors arrive as
// nanobind ndarrays (the buffer protocol or DLPack) and become attn tensors over the same
// memory; attn's results leave as NumPy arrays that own the attn tensor they view.
//
// Every check names the argument and what it received, as Python users expect: a wrong dtype
// is a TypeError, a wrong rank, shape or layout a ValueError.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/tensor.h"

namespace attn::python {

namespace nb = nanobind;

// Any array on the CPU, read-only (inputs) or writable (outputs the caller allocated).
using InputArray = nb::ndarray<nb::ro, nb::device::cpu>;
using OutputArray = nb::ndarray<nb::device::cpu>;

// "(2, 8, 16, 64)": a shape as NumPy prints it ("(5,)" for one dimension).
std::string shape_text(const std::vector<std::int64_t>& shape);
template <typename Array>
std::string shape_text(const Array& array);

// "float32", "uint8", ...: the array's dtype as NumPy names it.
template <typename Array>
std::string dtype_text(const Array& array);

// The attn dtype of an array: float32, float64, int64 or bool; a TypeError otherwise.
template <typename Array>
DType dtype_of(const Array& array, std::string_view name);

// Raises ValueError unless `array` has `rank` dimensions; `layout` ("[B, H, Nq, d]") is
// quoted in the message.
template <typename Array>
void require_rank(const Array& array, std::size_t rank, std::string_view name,
                  std::string_view layout);

// Raises TypeError unless `array` holds `dtype`.
template <typename Array>
void require_dtype(const Array& array, DType dtype, std::string_view name);

// Raises ValueError unless `array` is C-contiguous (size-1 dimensions may have any stride).
template <typename Array>
void require_contiguous(const Array& array, std::string_view name);

// An attn tensor over a C-contiguous input, no copy. The caller keeps the Python object
// alive for as long as the tensor (the binding calls are synchronous, and attn's results
// never alias their inputs).
Tensor borrow(const InputArray& array, std::string_view name);
std::optional<Tensor> borrow(const std::optional<InputArray>& array, std::string_view name);

// A NumPy array viewing a contiguous attn tensor; the array owns a reference to it.
nb::object to_numpy(const Tensor& tensor);

}  // namespace attn::python
