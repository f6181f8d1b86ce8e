// Reductions move the reduced dimensions last, so each output element reduces one
// contiguous row with the SIMD kernel.
#include "attn/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attn/kernels/vector_ops.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/views.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

struct ReductionPlan {
  Tensor rows;         // [outer, inner], contiguous: one row per output element
  Shape kept_shape;    // the output shape with the reduced dimensions kept as 1
  Shape output_shape;  // the output shape as requested
};

ReductionPlan plan_reduction(const Tensor& x, std::vector<std::int64_t> dims, bool keepdim,
                             std::string_view op) {
  for (auto& dim : dims) dim = normalize_dim(dim, x.dim(), op);
  std::sort(dims.begin(), dims.end());
  ATTN_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), op,
             ": a dimension is listed twice");
  std::vector<std::int64_t> order;
  Shape kept_shape = x.shape(), output_shape;
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (std::binary_search(dims.begin(), dims.end(), d)) {
      kept_shape[d] = 1;
      inner *= x.shape()[d];
      if (keepdim) output_shape.push_back(1);
    } else {
      order.push_back(d);
      outer *= x.shape()[d];
      output_shape.push_back(x.shape()[d]);
    }
  }
  order.insert(order.end(), dims.begin(), dims.end());
  Tensor permuted = raw_permute(x, order).contiguous();
  return {raw_reshape(permuted, {outer, inner}), kept_shape, output_shape};
}

std::vector<std::int64_t> all_dims(const Tensor& x) {
  std::vector<std::int64_t> dims(x.dim());
  for (std::int64_t d = 0; d < x.dim(); ++d) dims[d] = d;
  return dims;
}

Tensor row_sums(const Tensor& rows) {
  std::int64_t outer = rows.shape()[0], inner = rows.shape()[1];
  Tensor out = Tensor::empty({outer}, rows.dtype());
  dispatch_floating(rows.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    const T* source = rows.data<T>();
    T* destination = out.data<T>();
    for (std::int64_t r = 0; r < outer; ++r) destination[r] = kernels::sum<T>(source + r * inner, inner);
  });
  return out;
}

// Index of the first maximum of every row (NaN counts as the maximum, as in PyTorch).
Tensor row_argmax(const Tensor& rows, std::string_view op) {
  std::int64_t outer = rows.shape()[0], inner = rows.shape()[1];
  ATTN_CHECK(inner > 0, op, ": cannot reduce an empty dimension");
  Tensor out = Tensor::empty({outer}, DType::Int64);
  Tensor values = rows.to(DType::Float64);
  const double* source = values.data<double>();
  for (std::int64_t r = 0; r < outer; ++r) {
    const double* row = source + r * inner;
    std::int64_t best = 0;
    for (std::int64_t i = 1; i < inner; ++i) {
      if (std::isnan(row[best])) break;
      if (row[i] > row[best] || std::isnan(row[i])) best = i;
    }
    out.data<std::int64_t>()[r] = best;
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  check_defined(x, "sum", "input");
  ReductionPlan plan = plan_reduction(x, dims, keepdim, "sum");
  Tensor result = raw_reshape(row_sums(plan.rows), plan.output_shape);
  Shape input_shape = x.shape(), kept_shape = plan.kept_shape;
  return record(result, "sum", {x}, [=](const Tensor& gradient) {
    Tensor kept = raw_reshape(gradient, kept_shape);
    return std::vector<Tensor>{raw_expand(kept, input_shape, "sum").contiguous()};
  });
}

Tensor sum(const Tensor& x) { return sum(x, all_dims(x), false); }

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  check_defined(x, "mean", "input");
  std::int64_t count = 1;
  for (std::int64_t dim : dims) count *= x.shape()[normalize_dim(dim, x.dim(), "mean")];
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor mean(const Tensor& x) { return mean(x, all_dims(x), false); }

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined(x, "argmax", "input");
  ReductionPlan plan = plan_reduction(x, {dim}, keepdim, "argmax");
  return raw_reshape(row_argmax(plan.rows, "argmax"), plan.output_shape);
}

Tensor max(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined(x, "max", "input");
  ReductionPlan plan = plan_reduction(x, {dim}, keepdim, "max");
  Tensor indices = row_argmax(plan.rows, "max");
  std::int64_t outer = plan.rows.shape()[0], inner = plan.rows.shape()[1];
  Tensor values = Tensor::empty({outer}, x.dtype());
  dispatch_floating(x.dtype(), "max", [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t r = 0; r < outer; ++r) {
      values.data<T>()[r] = plan.rows.data<T>()[r * inner + indices.data<std::int64_t>()[r]];
    }
  });
  // The backward writes each row's gradient at its argmax, then undoes the permutation.
  std::int64_t reduced = normalize_dim(dim, x.dim(), "max");
  Shape input_shape = x.shape();
  return record(raw_reshape(values, plan.output_shape), "max", {x}, [=](const Tensor& gradient) {
    Tensor rows = Tensor::zeros({outer, inner}, gradient.dtype());
    Tensor flat = gradient.contiguous();
    dispatch_floating(gradient.dtype(), "max", [&](auto tag) {
      using T = decltype(tag);
      for (std::int64_t r = 0; r < outer; ++r) {
        rows.data<T>()[r * inner + indices.data<std::int64_t>()[r]] = flat.data<T>()[r];
      }
    });
    Shape moved = input_shape;
    moved.erase(moved.begin() + reduced);
    moved.push_back(input_shape[reduced]);
    std::vector<std::int64_t> inverse(input_shape.size());
    for (std::int64_t d = 0, k = 0; d < static_cast<std::int64_t>(input_shape.size()); ++d) {
      inverse[d] = d == reduced ? static_cast<std::int64_t>(input_shape.size()) - 1 : k++;
    }
    return std::vector<Tensor>{raw_permute(raw_reshape(rows, moved), inverse).contiguous()};
  });
}

}  // namespace attn::ops
