// General matrix multiply on row-major matrices, optionally batched:
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b],  op(X) = X or Xᵀ,
// with op(A) of shape [m, k], op(B) of shape [k, n], C of shape [m, n].
#pragma once

#include <cstdint>
#include <string>

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

// All of the above validate their arguments and throw attn::Error on misuse (negative sizes,
// a leading dimension shorter than a stored row, batch entries of C that overlap, null
// pointers to non-empty matrices). Sizes m, n or k may be 0; k == 0 gives C = beta * C, and
// beta == 0 never reads C (it may hold NaN). gemm uses omp_get_max_threads() threads, or one
// thread when called from inside an OpenMP parallel region.

// ---- choosing the float path explicitly (benchmarks, tests) ---------------------------
// gemm(float) picks the library and the threading itself; these let benchmarks compare the
// candidates through the same validation and batching code, and let tests reach every path.
enum class GemmLibrary { onednn, openblas };
enum class GemmThreading {
  automatic,  // what gemm() does (see docs/PERFORMANCE.md)
  library,    // one library call per batch entry, threaded by the library itself
  split,      // batch entries, or row/column blocks of one entry, shared out to OpenMP
              // threads on demand; each thread calls the library single-threaded
};
struct GemmPlan {
  GemmLibrary library = GemmLibrary::onednn;
  GemmThreading threading = GemmThreading::automatic;
};
void gemm(const GemmArgs<float>& args, const GemmPlan& plan);

// The libraries behind gemm, their versions and the OpenBLAS kernel set chosen at load
// time (which OPENBLAS_CORETYPE overrides), for benchmark logs.
std::string gemm_library_description();

}  // namespace attn::kernels
