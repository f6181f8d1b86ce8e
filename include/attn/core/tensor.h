// Tensor: an n-dimensional strided view of a Storage, plus the autograd fields.
//
// The core layer holds data and metadata only. Differentiable operations, views included
// (reshape, transpose, permute, slice, expand), live in attn/ops and record themselves on
// the autograd tape; the raw accessors here never do.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "attn/core/dtype.h"
#include "attn/core/error.h"
#include "attn/core/shape.h"
#include "attn/core/storage.h"

namespace attn {

namespace autograd {
struct Node;
}

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;            // in elements; 0 for broadcast dimensions
  std::int64_t offset = 0;  // in elements, from the start of storage
  DType dtype = DType::Float32;

  // Autograd: a leaf has requires_grad and no grad_fn; an op output has a grad_fn.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (contiguous, fresh storage) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
  static Tensor scalar(double value, DType dtype = DType::Float32);  // shape []
  static Tensor arange(std::int64_t count, DType dtype = DType::Int64);
  template <typename T>
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values);
  static Tensor from_list(const Shape& shape, std::initializer_list<double> values,
                          DType dtype = DType::Float32);
  // A contiguous tensor over memory that another library owns (as torch::from_blob): no
  // copy; `release` runs when the last tensor or view over it is destroyed.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, std::function<void()> release);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked_impl().shape; }
  const Shape& strides() const { return checked_impl().strides; }
  std::int64_t offset() const { return checked_impl().offset; }
  DType dtype() const { return checked_impl().dtype; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape().size()); }
  std::int64_t size(std::int64_t dim) const;  // negative counts from the end
  std::int64_t numel() const { return shape_numel(shape()); }
  bool is_contiguous() const;
  std::string describe() const;  // "float32[2, 3]"

  // ---- data ----
  template <typename T>
  T* data() const;            // first element; throws unless dtype matches
  void* raw_data() const;     // first element, untyped
  template <typename T>
  T item() const;             // the single element of a one-element tensor, converted
  template <typename T>
  std::vector<T> to_vector() const;  // all elements in row-major order, converted
  std::shared_ptr<Storage> storage() const { return checked_impl().storage; }

  // ---- raw (non-recording) data-level helpers, used by ops and kernels ----
  Tensor as_strided(const Shape& shape, const Shape& strides, std::int64_t offset) const;
  Tensor contiguous() const;  // itself when contiguous, else a row-major copy
  Tensor clone() const;       // always a fresh row-major copy, detached
  Tensor to(DType dtype) const;  // converted copy (itself when the dtype already matches)
  void copy_from(const Tensor& source);  // same shape; converts dtype; no autograd

  // ---- autograd ----
  bool requires_grad() const { return checked_impl().requires_grad; }
  Tensor& set_requires_grad(bool requires_grad);  // leaves only
  Tensor grad() const;                            // undefined until a backward reaches it
  void set_grad(const Tensor& grad);
  void zero_grad();                               // drops the accumulated gradient
  const std::shared_ptr<autograd::Node>& grad_fn() const { return checked_impl().grad_fn; }
  bool is_leaf() const { return checked_impl().grad_fn == nullptr; }
  Tensor detach() const;  // shares storage; no history, no requires_grad
  void backward(const Tensor& grad_output = Tensor()) const;  // see autograd/engine.h

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_impl(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  TensorImpl& checked_impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace attn
