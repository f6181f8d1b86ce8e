#include "attn/core/tensor.h"

#include <cstring>

#include "attn/autograd/engine.h"

namespace attn {
namespace {

void check_extents(const Shape& shape) {
  for (std::int64_t extent : shape) {
    ATTN_CHECK(extent >= 0, "Tensor: negative extent in shape ", to_string(shape));
  }
}

std::shared_ptr<TensorImpl> contiguous_impl(const Shape& shape, DType dtype,
                                            std::shared_ptr<Storage> storage) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return impl;
}

std::shared_ptr<TensorImpl> make_contiguous_impl(const Shape& shape, DType dtype) {
  check_extents(shape);
  return contiguous_impl(shape, dtype,
                         std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype)));
}

double load_as_double(const std::byte* address, DType dtype) {
  switch (dtype) {
    case DType::Float32: { float v; std::memcpy(&v, address, 4); return v; }
    case DType::Float64: { double v; std::memcpy(&v, address, 8); return v; }
    case DType::BFloat16: { BFloat16 v; std::memcpy(&v, address, 2); return float(v); }
    case DType::Int64: { std::int64_t v; std::memcpy(&v, address, 8); return double(v); }
    case DType::Bool: return *reinterpret_cast<const std::uint8_t*>(address) != 0 ? 1.0 : 0.0;
  }
  ATTN_ASSERT(false, "unknown dtype");
}

void store_from_double(std::byte* address, DType dtype, double value) {
  switch (dtype) {
    case DType::Float32: { float v = float(value); std::memcpy(address, &v, 4); return; }
    case DType::Float64: std::memcpy(address, &value, 8); return;
    case DType::BFloat16: { BFloat16 v{static_cast<float>(value)}; std::memcpy(address, &v, 2); return; }
    case DType::Int64: { auto v = std::int64_t(value); std::memcpy(address, &v, 8); return; }
    case DType::Bool: *reinterpret_cast<std::uint8_t*>(address) = value != 0.0; return;
  }
  ATTN_ASSERT(false, "unknown dtype");
}

// Visits every element of `shape` in row-major order, passing the element offsets in two
// strided layouts. The innermost dimension is a plain loop so the callback stays cheap.
template <typename Visit>
void for_each_element_pair(const Shape& shape, const Shape& strides_a, const Shape& strides_b,
                           Visit&& visit) {
  std::int64_t rank = static_cast<std::int64_t>(shape.size());
  if (shape_numel(shape) == 0) return;
  if (rank == 0) {
    visit(0, 0);
    return;
  }
  Shape index(rank, 0);
  std::int64_t inner = shape[rank - 1];
  while (true) {
    std::int64_t base_a = 0, base_b = 0;
    for (std::int64_t d = 0; d + 1 < rank; ++d) {
      base_a += index[d] * strides_a[d];
      base_b += index[d] * strides_b[d];
    }
    for (std::int64_t i = 0; i < inner; ++i) {
      visit(base_a + i * strides_a[rank - 1], base_b + i * strides_b[rank - 1]);
    }
    std::int64_t d = rank - 2;
    for (; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Element by element with the element's own type, so that each copy is one load and store.
template <typename Element>
void copy_elements(const Tensor& source, const Tensor& destination, const std::byte* source_base,
                   std::byte* destination_base) {
  const auto* from_base = reinterpret_cast<const Element*>(source_base);
  auto* to_base = reinterpret_cast<Element*>(destination_base);
  for_each_element_pair(source.shape(), source.strides(), destination.strides(),
                        [&](std::int64_t from, std::int64_t to) { to_base[to] = from_base[from]; });
}

// The same dtype on both sides: one memcpy when both are contiguous, one per row when both
// rows are contiguous (a transpose of the leading dimensions, a slice), else per element.
void copy_same_type(const Tensor& source, const Tensor& destination, const std::byte* source_base,
                    std::byte* destination_base, std::size_t element_size) {
  const std::int64_t count = source.numel();
  if (count == 0) return;
  if (source.is_contiguous() && destination.is_contiguous()) {
    std::memcpy(destination_base, source_base, static_cast<std::size_t>(count) * element_size);
    return;
  }
  const Shape& shape = source.shape();
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (rank >= 2 && source.strides().back() == 1 && destination.strides().back() == 1 &&
      shape.back() >= 16) {
    const Shape outer(shape.begin(), shape.end() - 1);
    const Shape source_outer(source.strides().begin(), source.strides().end() - 1);
    const Shape destination_outer(destination.strides().begin(), destination.strides().end() - 1);
    const std::size_t row_bytes = static_cast<std::size_t>(shape.back()) * element_size;
    for_each_element_pair(outer, source_outer, destination_outer,
                          [&](std::int64_t from, std::int64_t to) {
                            std::memcpy(destination_base + to * std::int64_t(element_size),
                                        source_base + from * std::int64_t(element_size), row_bytes);
                          });
    return;
  }
  switch (element_size) {
    case 1: return copy_elements<std::uint8_t>(source, destination, source_base, destination_base);
    case 2: return copy_elements<std::uint16_t>(source, destination, source_base, destination_base);
    case 4: return copy_elements<std::uint32_t>(source, destination, source_base, destination_base);
    case 8: return copy_elements<std::uint64_t>(source, destination, source_base, destination_base);
  }
  ATTN_ASSERT(false, "copy: unsupported element size ", element_size);
}

// Copies (and converts) the elements of `source` into the layout of `destination`.
void strided_copy(const Tensor& source, const Tensor& destination) {
  auto* source_base = static_cast<const std::byte*>(source.raw_data());
  auto* destination_base = static_cast<std::byte*>(destination.raw_data());
  DType source_type = source.dtype();
  DType destination_type = destination.dtype();
  std::size_t source_size = dtype_size(source_type);
  std::size_t destination_size = dtype_size(destination_type);
  if (source_type == destination_type) {
    copy_same_type(source, destination, source_base, destination_base, source_size);
    return;
  }
  for_each_element_pair(
      source.shape(), source.strides(), destination.strides(),
      [&](std::int64_t from, std::int64_t to) {
        double value = load_as_double(source_base + from * source_size, source_type);
        store_from_double(destination_base + to * destination_size, destination_type, value);
      });
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  return Tensor(make_contiguous_impl(shape, dtype));
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype,
                      std::function<void()> release) {
  check_extents(shape);
  return Tensor(contiguous_impl(
      shape, dtype,
      std::make_shared<Storage>(data, shape_numel(shape) * dtype_size(dtype), std::move(release))));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor tensor = empty(shape, dtype);
  std::memset(tensor.raw_data(), 0, tensor.numel() * dtype_size(dtype));
  return tensor;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor tensor = empty(shape, dtype);
  auto* base = static_cast<std::byte*>(tensor.raw_data());
  std::size_t element_size = dtype_size(dtype);
  std::int64_t count = tensor.numel();
  if (count == 0) return tensor;
  store_from_double(base, dtype, value);
  for (std::int64_t i = 1; i < count; ++i) {
    std::memcpy(base + i * element_size, base, element_size);
  }
  return tensor;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(std::int64_t count, DType dtype) {
  ATTN_CHECK(count >= 0, "arange: expected a non-negative count, got ", count);
  Tensor tensor = empty({count}, dtype);
  auto* base = static_cast<std::byte*>(tensor.raw_data());
  for (std::int64_t i = 0; i < count; ++i) {
    store_from_double(base + i * dtype_size(dtype), dtype, double(i));
  }
  return tensor;
}

template <typename T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values) {
  ATTN_CHECK(shape_numel(shape) == static_cast<std::int64_t>(values.size()),
             "Tensor::from_vector: shape ", to_string(shape), " holds ", shape_numel(shape),
             " elements, got ", values.size(), " values");
  if constexpr (std::is_same_v<T, int>) {
    Tensor tensor = empty(shape, DType::Int64);
    auto* destination = tensor.data<std::int64_t>();
    for (std::size_t i = 0; i < values.size(); ++i) destination[i] = values[i];
    return tensor;
  } else {
    Tensor tensor = empty(shape, dtype_of<T>());
    if (!values.empty()) std::memcpy(tensor.raw_data(), values.data(), values.size() * sizeof(T));
    return tensor;
  }
}

template Tensor Tensor::from_vector<float>(const Shape&, const std::vector<float>&);
template Tensor Tensor::from_vector<double>(const Shape&, const std::vector<double>&);
template Tensor Tensor::from_vector<std::int64_t>(const Shape&, const std::vector<std::int64_t>&);
template Tensor Tensor::from_vector<int>(const Shape&, const std::vector<int>&);

Tensor Tensor::from_list(const Shape& shape, std::initializer_list<double> values, DType dtype) {
  ATTN_CHECK(shape_numel(shape) == static_cast<std::int64_t>(values.size()),
             "Tensor::from_list: shape ", to_string(shape), " holds ", shape_numel(shape),
             " elements, got ", values.size(), " values");
  Tensor tensor = empty(shape, dtype);
  auto* base = static_cast<std::byte*>(tensor.raw_data());
  std::size_t i = 0;
  for (double value : values) store_from_double(base + (i++) * dtype_size(dtype), dtype, value);
  return tensor;
}

TensorImpl& Tensor::checked_impl() const {
  ATTN_CHECK(impl_ != nullptr, "Tensor: use of an undefined tensor");
  return *impl_;
}

std::int64_t Tensor::size(std::int64_t dim) const {
  return shape()[normalize_dim(dim, this->dim(), "Tensor::size")];
}

bool Tensor::is_contiguous() const {
  const Shape& extents = shape();
  const Shape& current = strides();
  std::int64_t expected = 1;
  for (std::size_t i = extents.size(); i-- > 0;) {
    if (extents[i] == 1) continue;  // the stride of a unit dimension never matters
    if (current[i] != expected) return false;
    expected *= extents[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + to_string(shape());
}

void* Tensor::raw_data() const {
  const TensorImpl& impl = checked_impl();
  return static_cast<std::byte*>(impl.storage->data()) + impl.offset * dtype_size(impl.dtype);
}

template <typename T>
T* Tensor::data() const {
  ATTN_CHECK(dtype() == dtype_of<T>(), "Tensor::data: the tensor holds ", dtype_name(dtype()),
             ", not ", dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}

template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template BFloat16* Tensor::data<BFloat16>() const;
template std::int64_t* Tensor::data<std::int64_t>() const;
template bool* Tensor::data<bool>() const;

template <typename T>
T Tensor::item() const {
  ATTN_CHECK(numel() == 1, "Tensor::item: expected a one-element tensor, got ", describe());
  double value = load_as_double(static_cast<const std::byte*>(raw_data()), dtype());
  return static_cast<T>(value);
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template bool Tensor::item<bool>() const;

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor converted = to(dtype_of<T>()).contiguous();
  const T* values = converted.data<T>();
  return std::vector<T>(values, values + converted.numel());
}

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

Tensor Tensor::as_strided(const Shape& new_shape, const Shape& new_strides,
                          std::int64_t new_offset) const {
  const TensorImpl& impl = checked_impl();
  ATTN_CHECK(new_shape.size() == new_strides.size(), "as_strided: shape ", to_string(new_shape),
             " and strides ", to_string(new_strides), " differ in rank");
  // The furthest element reached must stay inside the storage.
  std::int64_t last = new_offset;
  for (std::size_t i = 0; i < new_shape.size(); ++i) {
    ATTN_CHECK(new_shape[i] >= 0 && new_strides[i] >= 0, "as_strided: negative extent or stride");
    if (new_shape[i] > 0) last += (new_shape[i] - 1) * new_strides[i];
  }
  std::int64_t capacity = impl.storage->bytes() / dtype_size(impl.dtype);
  ATTN_CHECK(new_offset >= 0 && (shape_numel(new_shape) == 0 || last < capacity),
             "as_strided: view ", to_string(new_shape), " at offset ", new_offset,
             " reaches past the storage of ", capacity, " elements");
  auto view = std::make_shared<TensorImpl>();
  view->storage = impl.storage;
  view->shape = new_shape;
  view->strides = new_strides;
  view->offset = new_offset;
  view->dtype = impl.dtype;
  return Tensor(view);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor copy = empty(shape(), dtype());
  strided_copy(*this, copy);
  return copy;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor converted = empty(shape(), target);
  strided_copy(*this, converted);
  return converted;
}

void Tensor::copy_from(const Tensor& source) {
  ATTN_CHECK(source.shape() == shape(), "Tensor::copy_from: expected shape ", to_string(shape()),
             ", got ", to_string(source.shape()));
  strided_copy(source, *this);
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  ATTN_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad");
  ATTN_CHECK(!requires_grad || is_floating(dtype()),
             "set_requires_grad: only floating-point tensors can require gradients, got ",
             describe());
  checked_impl().requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& gradient = checked_impl().grad;
  return gradient ? Tensor(gradient) : Tensor();
}

void Tensor::set_grad(const Tensor& gradient) {
  ATTN_CHECK(!gradient.defined() || gradient.shape() == shape(), "set_grad: expected shape ",
             to_string(shape()), ", got ", gradient.describe());
  checked_impl().grad = gradient.impl_ptr();
}

void Tensor::zero_grad() { checked_impl().grad.reset(); }

Tensor Tensor::detach() const {
  const TensorImpl& impl = checked_impl();
  auto detached = std::make_shared<TensorImpl>();
  detached->storage = impl.storage;
  detached->shape = impl.shape;
  detached->strides = impl.strides;
  detached->offset = impl.offset;
  detached->dtype = impl.dtype;
  return Tensor(detached);
}

void Tensor::backward(const Tensor& grad_output) const { autograd::backward(*this, grad_output); }

}  // namespace attn
