// Matrix products on the GEMM kernel. Transposed views are passed to GEMM as transpose
// flags rather than copied, so the backward rules (which multiply by transposes) copy nothing
// for contiguous inputs.
#include "attn/ops/linalg.h"

#include <algorithm>

#include "attn/kernels/gemm.h"
#include "attn/ops/elementwise.h"
#include "attn/ops/views.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

// How GEMM reads one operand: a row-major matrix (possibly transposed) per batch entry.
struct MatrixOperand {
  Tensor storage;  // keeps the data alive; may be a copy
  bool transposed = false;
  std::int64_t leading_dim = 0;
  std::int64_t batch_stride = 0;
};

// The single stride that walks all batch dimensions in order, if one exists.
bool uniform_batch_stride(const Tensor& x, std::int64_t batch_rank, std::int64_t& stride) {
  stride = 0;
  bool found = false;
  std::int64_t expected = 0;
  for (std::int64_t d = batch_rank - 1; d >= 0; --d) {
    if (x.shape()[d] == 1) continue;
    if (!found) {
      stride = x.strides()[d];
      expected = stride * x.shape()[d];
      found = true;
      continue;
    }
    if (x.strides()[d] != expected) return false;
    expected *= x.shape()[d];
  }
  return true;
}

MatrixOperand as_matrix_operand(const Tensor& x) {
  std::int64_t rank = x.dim();
  std::int64_t row_stride = x.strides()[rank - 2];
  std::int64_t column_stride = x.strides()[rank - 1];
  std::int64_t rows = x.shape()[rank - 2], columns = x.shape()[rank - 1];
  MatrixOperand operand;
  // GEMM needs a leading dimension at least as long as a stored row, so views whose rows
  // overlap (a broadcast with stride 0) are copied instead.
  bool row_major = (column_stride == 1 || columns == 1) && (row_stride >= columns || rows == 1);
  bool column_major = (row_stride == 1 || rows == 1) && (column_stride >= rows || columns == 1);
  std::int64_t batch_stride = 0;
  if ((row_major || column_major) && uniform_batch_stride(x, rank - 2, batch_stride)) {
    operand.storage = x;
    operand.transposed = !row_major;
    operand.leading_dim = row_major ? row_stride : column_stride;
    operand.batch_stride = batch_stride;
    // A unit dimension has an arbitrary stride; GEMM still needs lda >= the row length.
    if (row_major && rows == 1) operand.leading_dim = columns;
    if (!row_major && columns == 1) operand.leading_dim = rows;
    operand.leading_dim = std::max<std::int64_t>({operand.leading_dim, row_major ? columns : rows, 1});
    return operand;
  }
  operand.storage = x.contiguous();
  operand.leading_dim = std::max<std::int64_t>(columns, 1);
  uniform_batch_stride(operand.storage, rank - 2, operand.batch_stride);
  return operand;
}

// a [..., m, k] x b [..., k, n] for rank >= 2 operands whose batch dimensions broadcast.
Tensor raw_matmul(const Tensor& a, const Tensor& b) {
  std::int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1];
  std::int64_t n = b.shape()[b.dim() - 1];
  ATTN_CHECK(b.shape()[b.dim() - 2] == k, "matmul: inner dimensions differ, ", a.describe(),
             " x ", b.describe());
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Shape shape_a = batch, shape_b = batch, shape_out = batch;
  shape_a.insert(shape_a.end(), {m, k});
  shape_b.insert(shape_b.end(), {k, n});
  shape_out.insert(shape_out.end(), {m, n});
  MatrixOperand left = as_matrix_operand(raw_expand(a, shape_a, "matmul"));
  MatrixOperand right = as_matrix_operand(raw_expand(b, shape_b, "matmul"));
  Tensor out = Tensor::empty(shape_out, a.dtype());
  dispatch_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    kernels::GemmArgs<T> args;
    args.batch = shape_numel(batch);
    args.m = m, args.n = n, args.k = k;
    args.transpose_a = left.transposed, args.transpose_b = right.transposed;
    args.a = left.storage.template data<T>(), args.lda = left.leading_dim;
    args.stride_a = left.batch_stride;
    args.b = right.storage.template data<T>(), args.ldb = right.leading_dim;
    args.stride_b = right.batch_stride;
    args.c = out.data<T>(), args.ldc = std::max<std::int64_t>(n, 1), args.stride_c = m * n;
    kernels::gemm(args);
  });
  return out;
}

// x [..., k] x w [k, n] as one GEMM over the flattened leading dimensions.
bool can_fold_batch(const Tensor& a, const Tensor& b) {
  return b.dim() == 2 && a.dim() > 2 && a.is_contiguous();
}

Tensor raw_matmul_folded(const Tensor& a, const Tensor& b) {
  Shape out_shape(a.shape().begin(), a.shape().end() - 1);
  out_shape.push_back(b.shape()[1]);
  Tensor flat = raw_reshape(a, {a.numel() / a.shape().back(), a.shape().back()});
  return raw_reshape(raw_matmul(flat, b), out_shape);
}

Tensor matmul_matrices(const Tensor& a, const Tensor& b) {
  check_same_dtype(a, b, "matmul");
  Tensor result = can_fold_batch(a, b) ? raw_matmul_folded(a, b) : raw_matmul(a, b);
  Tensor saved_a = a.detach(), saved_b = b.detach();
  return record(result, "matmul", {a, b}, [saved_a, saved_b](const Tensor& gradient) {
    // dA = dC Bᵀ, dB = Aᵀ dC, each summed over the batch dimensions it was broadcast along.
    Tensor grad_a = raw_matmul(gradient, raw_transpose(saved_b, -1, -2));
    Tensor grad_b;
    if (saved_b.dim() == 2 && saved_a.dim() > 2) {
      std::int64_t k = saved_a.shape().back(), n = gradient.shape().back();
      Tensor flat_a = raw_reshape(saved_a, {saved_a.numel() / k, k});
      Tensor flat_gradient = raw_reshape(gradient, {gradient.numel() / n, n});
      grad_b = raw_matmul(raw_transpose(flat_a, 0, 1), flat_gradient);
    } else {
      grad_b = raw_matmul(raw_transpose(saved_a, -1, -2), gradient);
    }
    return std::vector<Tensor>{sum_to_shape(grad_a, saved_a.shape()),
                               sum_to_shape(grad_b, saved_b.shape())};
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined(a, "matmul", "first");
  check_defined(b, "matmul", "second");
  ATTN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: operands must have at least one dimension, got ",
             a.describe(), " and ", b.describe());
  // Vectors become a row (left) or a column (right) and the added dimension is dropped.
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  return matmul_matrices(a, b);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined(x, "linear", "input");
  check_defined(weight, "linear", "weight");
  ATTN_CHECK(weight.dim() == 2, "linear: the weight must be [out, in], got ", weight.describe());
  ATTN_CHECK(x.dim() >= 1 && x.shape().back() == weight.shape()[1], "linear: input ",
             x.describe(), " does not end in the weight's input size ", weight.shape()[1]);
  Tensor y = matmul(x, transpose(weight, 0, 1));
  if (!bias.defined()) return y;
  ATTN_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0], "linear: the bias must be [",
             weight.shape()[0], "], got ", bias.describe());
  return add(y, bias);
}

}  // namespace attn::ops
