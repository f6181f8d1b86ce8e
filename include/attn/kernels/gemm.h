// General matrix multiply on row-major matrices, optionally batched:
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b],  op(X) = X or Xᵀ,
// with op(A) of shape [m, k], op(B) of shape [k, n], C of shape [m, n].
#pragma once

#include <cstdint>

namespace attn::kernels {

template <typename T>
struct GemmArgs {
  std::int64_t batch = 1;
  std::int64_t m = 0, n = 0, k = 0;
  bool transpose_a = false;
  bool transpose_b = false;
  T alpha = 1;
  T beta = 0;
  const T* a = nullptr;
  std::int64_t lda = 0;       // row stride of A as stored
  std::int64_t stride_a = 0;  // elements between consecutive batch entries
  const T* b = nullptr;
  std::int64_t ldb = 0;
  std::int64_t stride_b = 0;
  T* c = nullptr;
  std::int64_t ldc = 0;
  std::int64_t stride_c = 0;
};

// The fast path (oneDNN for float, OpenBLAS for double; see docs/PERFORMANCE.md).
void gemm(const GemmArgs<float>& args);
void gemm(const GemmArgs<double>& args);

// Plain triple loop: the oracle for tests.
void gemm_reference(const GemmArgs<float>& args);
void gemm_reference(const GemmArgs<double>& args);

}  // namespace attn::kernels
