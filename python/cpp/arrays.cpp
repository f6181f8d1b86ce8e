#include "arrays.h"

#include <utility>
#include <vector>

#include "attn/core/dtype.h"
#include "attn/core/error.h"

namespace attn::python {

namespace {

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

std::optional<DType> attn_dtype(nb::dlpack::dtype dtype) {
  if (dtype == nb::dtype<float>()) return DType::Float32;
  if (dtype == nb::dtype<double>()) return DType::Float64;
  if (dtype == nb::dtype<std::int64_t>()) return DType::Int64;
  if (dtype == nb::dtype<bool>()) return DType::Bool;
  return std::nullopt;
}

std::string dlpack_dtype_name(nb::dlpack::dtype dtype) {
  const char* kind = "?";
  switch (static_cast<nb::dlpack::dtype_code>(dtype.code)) {
    case nb::dlpack::dtype_code::Int: kind = "int"; break;
    case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
    case nb::dlpack::dtype_code::Float: kind = "float"; break;
    case nb::dlpack::dtype_code::Bfloat: kind = "bfloat"; break;
    case nb::dlpack::dtype_code::Complex: kind = "complex"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: break;
  }
  return std::string(kind) + std::to_string(dtype.bits);
}

}  // namespace

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    text += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

template <typename Array>
std::string shape_text(const Array& array) {
  std::vector<std::int64_t> shape;
  for (std::size_t i = 0; i < array.ndim(); ++i) {
    shape.push_back(static_cast<std::int64_t>(array.shape(i)));
  }
  return shape_text(shape);
}

template <typename Array>
std::string dtype_text(const Array& array) {
  return dlpack_dtype_name(array.dtype());
}

template <typename Array>
DType dtype_of(const Array& array, std::string_view name) {
  std::optional<DType> dtype = attn_dtype(array.dtype());
  if (!dtype) {
    throw nb::type_error((quoted(name) + " has dtype " + dtype_text(array) +
                          "; attn takes float32, float64, int64 or bool")
                             .c_str());
  }
  return *dtype;
}

template <typename Array>
void require_rank(const Array& array, std::size_t rank, std::string_view name,
                  std::string_view layout) {
  if (array.ndim() == rank) return;
  throw nb::value_error((quoted(name) + " must have " + std::to_string(rank) + " dimensions " +
                         std::string(layout) + ", got shape " + shape_text(array))
                            .c_str());
}

template <typename Array>
void require_dtype(const Array& array, DType dtype, std::string_view name) {
  DType found = dtype_of(array, name);
  if (found == dtype) return;
  throw nb::type_error((quoted(name) + " has dtype " + std::string(dtype_name(found)) +
                        ", expected " + std::string(dtype_name(dtype)))
                           .c_str());
}

template <typename Array>
void require_contiguous(const Array& array, std::string_view name) {
  std::int64_t expected = 1;
  for (std::size_t i = array.ndim(); i-- > 0;) {
    if (array.shape(i) != 1 && array.stride(i) != expected) {
      throw nb::value_error((quoted(name) + " of shape " + shape_text(array) +
                             " is not C-contiguous; pass a contiguous copy "
                             "(numpy.ascontiguousarray, Tensor.contiguous())")
                                .c_str());
    }
    expected *= static_cast<std::int64_t>(array.shape(i));
  }
}

Tensor borrow(const InputArray& array, std::string_view name) {
  DType dtype = dtype_of(array, name);
  require_contiguous(array, name);
  Shape shape;
  for (std::size_t i = 0; i < array.ndim(); ++i) {
    shape.push_back(static_cast<std::int64_t>(array.shape(i)));
  }
  // attn never writes through an input; the const_cast only fits Tensor's one pointer type.
  void* data = const_cast<void*>(static_cast<const void*>(array.data()));
  return Tensor::borrow(data, shape, dtype, [] {});
}

std::optional<Tensor> borrow(const std::optional<InputArray>& array, std::string_view name) {
  if (!array) return std::nullopt;
  return borrow(*array, name);
}

nb::object to_numpy(const Tensor& tensor) {
  ATTN_CHECK(tensor.is_contiguous(), "to_numpy: the tensor must be contiguous");
  auto* owner = new Tensor(tensor);
  nb::capsule capsule(owner, [](void* pointer) noexcept { delete static_cast<Tensor*>(pointer); });
  std::vector<std::size_t> shape(tensor.shape().begin(), tensor.shape().end());
  nb::dlpack::dtype dtype;
  switch (tensor.dtype()) {
    case DType::Float32: dtype = nb::dtype<float>(); break;
    case DType::Float64: dtype = nb::dtype<double>(); break;
    case DType::Int64: dtype = nb::dtype<std::int64_t>(); break;
    case DType::Bool: dtype = nb::dtype<bool>(); break;
    default: ATTN_CHECK(false, "to_numpy: no NumPy dtype for ", dtype_name(tensor.dtype()));
  }
  nb::ndarray<nb::numpy> array(tensor.raw_data(), shape.size(), shape.data(), capsule, nullptr,
                               dtype);
  return array.cast();
}

#define ATTN_PYTHON_ARRAY_CHECKS(Array)                                                  \
  template std::string shape_text<Array>(const Array&);                                  \
  template std::string dtype_text<Array>(const Array&);                                  \
  template DType dtype_of<Array>(const Array&, std::string_view);                        \
  template void require_rank<Array>(const Array&, std::size_t, std::string_view,         \
                                    std::string_view);                                   \
  template void require_dtype<Array>(const Array&, DType, std::string_view);             \
  template void require_contiguous<Array>(const Array&, std::string_view);
ATTN_PYTHON_ARRAY_CHECKS(InputArray)
ATTN_PYTHON_ARRAY_CHECKS(OutputArray)
#undef ATTN_PYTHON_ARRAY_CHECKS

}  // namespace attn::python
