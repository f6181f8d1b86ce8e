// Views share storage with their input; their backward rules route the gradient back into
// the input's shape.
#include "attn/ops/views.h"

#include <numeric>

#include "attn/ops/elementwise.h"
#include "attn/ops/reduce.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

Shape infer_shape(const Tensor& x, Shape shape) {
  std::int64_t known = 1;
  std::int64_t inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      ATTN_CHECK(inferred < 0, "reshape: more than one -1 in ", to_string(shape));
      inferred = static_cast<std::int64_t>(i);
    } else {
      ATTN_CHECK(shape[i] >= 0, "reshape: invalid extent in ", to_string(shape));
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    ATTN_CHECK(known != 0 && x.numel() % known == 0, "reshape: cannot reshape ", x.describe(),
               " to ", to_string(shape));
    shape[inferred] = x.numel() / known;
  }
  ATTN_CHECK(shape_numel(shape) == x.numel(), "reshape: cannot reshape ", x.describe(), " (",
             x.numel(), " elements) to ", to_string(shape));
  return shape;
}

// Zeros of `shape` with `gradient` written into the part that `view_of` selects.
Tensor scatter_into_zeros(const Tensor& gradient, const Shape& shape,
                          const std::function<Tensor(const Tensor&)>& view_of) {
  Tensor full = Tensor::zeros(shape, gradient.dtype());
  view_of(full).copy_from(gradient);
  return full;
}

}  // namespace

Tensor reshape(const Tensor& x, Shape shape) {
  check_defined(x, "reshape", "input");
  shape = infer_shape(x, std::move(shape));
  Shape input_shape = x.shape();
  return record(raw_reshape(x, shape), "reshape", {x}, [input_shape](const Tensor& gradient) {
    return std::vector<Tensor>{raw_reshape(gradient, input_shape)};
  });
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = normalize_dim(start_dim, x.dim(), "flatten");
  end_dim = normalize_dim(end_dim, x.dim(), "flatten");
  ATTN_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + start_dim);
  std::int64_t merged = 1;
  for (std::int64_t d = start_dim; d <= end_dim; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  check_defined(x, "transpose", "input");
  return record(raw_transpose(x, dim0, dim1), "transpose", {x},
                [dim0, dim1](const Tensor& gradient) {
                  return std::vector<Tensor>{raw_transpose(gradient, dim0, dim1)};
                });
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& order) {
  check_defined(x, "permute", "input");
  Tensor result = raw_permute(x, order);
  std::vector<std::int64_t> inverse(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    inverse[normalize_dim(order[i], x.dim(), "permute")] = static_cast<std::int64_t>(i);
  }
  return record(result, "permute", {x}, [inverse](const Tensor& gradient) {
    return std::vector<Tensor>{raw_permute(gradient, inverse)};
  });
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step) {
  check_defined(x, "slice", "input");
  Shape input_shape = x.shape();
  return record(
      raw_slice(x, dim, start, end, step), "slice", x,
      [=](const Tensor& gradient) {
        return std::vector<Tensor>{scatter_into_zeros(
            gradient, input_shape,
            [&](const Tensor& full) { return raw_slice(full, dim, start, end, step); })};
      },
      [=](const Tensor& gradient, Tensor& input_gradient) {
        Tensor part = raw_slice(input_gradient, dim, start, end, step);
        part.copy_from(ops::add(part, gradient));  // under no-grad: plain arithmetic
      });
}

Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index) {
  check_defined(x, "select", "input");
  dim = normalize_dim(dim, x.dim(), "select");
  std::int64_t extent = x.shape()[dim];
  ATTN_CHECK(index >= -extent && index < extent, "select: index ", index,
             " is out of range for dimension ", dim, " of ", x.describe());
  if (index < 0) index += extent;
  return squeeze(slice(x, dim, index, index + 1), dim);
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  check_defined(x, "unsqueeze", "input");
  dim = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  Shape strides = x.strides();
  std::int64_t stride = dim < x.dim() ? shape[dim] * strides[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, stride);
  Shape input_shape = x.shape();
  return record(x.as_strided(shape, strides, x.offset()), "unsqueeze", {x},
                [input_shape](const Tensor& gradient) {
                  return std::vector<Tensor>{raw_reshape(gradient, input_shape)};
                });
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  check_defined(x, "squeeze", "input");
  dim = normalize_dim(dim, x.dim(), "squeeze");
  ATTN_CHECK(x.shape()[dim] == 1, "squeeze: dimension ", dim, " of ", x.describe(),
             " has extent ", x.shape()[dim], ", not 1");
  Shape shape = x.shape();
  Shape strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  Shape input_shape = x.shape();
  return record(x.as_strided(shape, strides, x.offset()), "squeeze", {x},
                [input_shape](const Tensor& gradient) {
                  return std::vector<Tensor>{raw_reshape(gradient, input_shape)};
                });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined(x, "expand", "input");
  Shape input_shape = x.shape();
  return record(raw_expand(x, shape, "expand"), "expand", {x},
                [input_shape](const Tensor& gradient) {
                  return std::vector<Tensor>{sum_to_shape(gradient, input_shape)};
                });
}

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous", "input");
  if (x.is_contiguous()) return x;
  return record(x.clone(), "contiguous", {x},
                [](const Tensor& gradient) { return std::vector<Tensor>{gradient}; });
}

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  ATTN_CHECK(!tensors.empty(), "cat: expected at least one tensor");
  const Tensor& first = tensors.front();
  dim = normalize_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[dim] = 0;
  for (const Tensor& tensor : tensors) {
    check_same_dtype(first, tensor, "cat");
    bool compatible = tensor.dim() == first.dim();
    for (std::int64_t d = 0; compatible && d < first.dim(); ++d) {
      compatible = d == dim || tensor.shape()[d] == first.shape()[d];
    }
    ATTN_CHECK(compatible, "cat: ", tensor.describe(), " does not match ", first.describe(),
               " outside dimension ", dim);
    shape[dim] += tensor.shape()[dim];
  }
  Tensor result = Tensor::empty(shape, first.dtype());
  std::vector<std::int64_t> starts;
  std::int64_t start = 0;
  for (const Tensor& tensor : tensors) {
    starts.push_back(start);
    raw_slice(result, dim, start, start + tensor.shape()[dim], 1).copy_from(tensor);
    start += tensor.shape()[dim];
  }
  std::vector<std::int64_t> extents;
  for (const Tensor& tensor : tensors) extents.push_back(tensor.shape()[dim]);
  return record(result, "cat", tensors, [=](const Tensor& gradient) {
    std::vector<Tensor> gradients;
    for (std::size_t i = 0; i < starts.size(); ++i) {
      gradients.push_back(raw_slice(gradient, dim, starts[i], starts[i] + extents[i], 1));
    }
    return gradients;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  ATTN_CHECK(!tensors.empty(), "stack: expected at least one tensor");
  dim = normalize_dim(dim, tensors.front().dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (const Tensor& tensor : tensors) {
    ATTN_CHECK(tensor.shape() == tensors.front().shape(), "stack: ", tensor.describe(),
               " does not match ", tensors.front().describe());
    expanded.push_back(unsqueeze(tensor, dim));
  }
  return cat(expanded, dim);
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  check_defined(x, "chunk", "input");
  ATTN_CHECK(chunks >= 1, "chunk: expected at least one chunk, got ", chunks);
  dim = normalize_dim(dim, x.dim(), "chunk");
  std::int64_t extent = x.shape()[dim];
  std::int64_t size = (extent + chunks - 1) / chunks;
  std::vector<Tensor> pieces;
  for (std::int64_t start = 0; start < extent || (extent == 0 && pieces.empty()); start += size) {
    pieces.push_back(slice(x, dim, start, start + size));
    if (size == 0) break;
  }
  return pieces;
}

Tensor sum_to_shape(const Tensor& gradient, const Shape& shape) {
  if (gradient.shape() == shape) return gradient;
  std::int64_t leading = gradient.dim() - static_cast<std::int64_t>(shape.size());
  ATTN_ASSERT(leading >= 0, "sum_to_shape: ", to_string(gradient.shape()), " to ", to_string(shape));
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 0; d < gradient.dim(); ++d) {
    if (d < leading || (shape[d - leading] == 1 && gradient.shape()[d] != 1)) dims.push_back(d);
  }
  Tensor reduced = dims.empty() ? gradient : sum(gradient, dims, true);
  return reshape(reduced, shape);
}

}  // namespace attn::ops
